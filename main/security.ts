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
