// The window's security settings as plain data (tested under Node; window.ts applies them).
import type { WebPreferences } from 'electron';

// The page may load only its own files, images from app-img://, and talk to nothing remote.
export const ELECTRON_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' app-img: data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

export function webPreferences(preload: string): WebPreferences {
  return {
    preload, // exposes window.api (preload/index.ts), nothing else
    contextIsolation: true, // the page's JavaScript cannot reach the preload's world
    sandbox: true, // the renderer process runs in Chromium's sandbox
    nodeIntegration: false, // no require() in the page
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true, // same-origin policy on
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
    navigateOnDragDrop: false, // a dropped file is an import, not a navigation
  };
}

// The sites a link in the window may open in the user's browser (the weights' host and the
// project's pages); any other address is dropped.
export const EXTERNAL_HOSTS: readonly string[] = ['huggingface.co', 'github.com', 'onnx.ai', 'www.tensorflow.org', 'papers.nips.cc', 'proceedings.neurips.cc'];

/** True for an https address on an allow-listed host (no user name, no other port). */
export function externalAllowed(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  return u.protocol === 'https:' && u.username === '' && u.password === '' && u.port === '' && EXTERNAL_HOSTS.includes(u.hostname);
}

/**
 * The renderer's dev server, trusted for IPC: only in an unpacked (development) app and only on
 * this machine; a packaged app always loads its own files, whatever the environment says.
 */
export function devServerUrl(env: NodeJS.ProcessEnv, isPackaged: boolean): string | null {
  const raw = env.ALEXNET_DEV_URL?.trim();
  if (!raw || isPackaged) return null;
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname === '127.0.0.1') ? u.href : null;
  } catch {
    return null;
  }
}
