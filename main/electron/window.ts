// The main window, locked down as the Electron security checklist asks: context isolation,
// sandbox, no Node in the page, web security on, a strict Content-Security-Policy sent as a
// response header for every page of the session, no navigation away from our page, no new
// windows (https links to a few known sites open in the user's browser), no webviews, no permission but
// the camera (video only: Classify's live camera; the window never navigates away from our page).
import { BrowserWindow, session, shell } from 'electron';
import { ELECTRON_CSP, externalAllowed, webPreferences } from './security';

export type WindowOptions = { preload: string; indexHtml: string | null; devUrl: string | null; isTrusted: (url: string) => boolean; icon?: string };

/** Installs the CSP and permission policy on the default session (once, before any window). */
export function hardenSession(): void {
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [ELECTRON_CSP] } });
  });
  const videoOnly = (d: { mediaTypes?: string[] }) => (d.mediaTypes ?? []).length > 0 && (d.mediaTypes ?? []).every((t) => t === 'video');
  session.defaultSession.setPermissionRequestHandler((_wc, permission, callback, details) => callback(permission === 'media' && 'mediaTypes' in details && videoOnly(details)));
  session.defaultSession.setPermissionCheckHandler((_wc, permission, _origin, details) => permission === 'media' && details.mediaType === 'video');
}

export function createMainWindow(o: WindowOptions): BrowserWindow {
  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'AlexNet Studio',
    icon: o.icon,
    backgroundColor: '#1e1e1e',
    webPreferences: webPreferences(o.preload),
  });
  const wc = win.webContents;
  wc.on('will-navigate', (event, url) => {
    if (!o.isTrusted(url)) event.preventDefault();
  });
  wc.on('will-redirect', (event, url) => {
    if (!o.isTrusted(url)) event.preventDefault();
  });
  wc.on('will-attach-webview', (event) => event.preventDefault());
  wc.setWindowOpenHandler(({ url }) => {
    if (externalAllowed(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.once('ready-to-show', () => win.show());
  if (o.devUrl) void win.loadURL(o.devUrl);
  else if (o.indexHtml) void win.loadFile(o.indexHtml);
  return win;
}
