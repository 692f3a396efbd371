// IPC: one Electron channel carries every call of the contract (IPC_INVOKE: channel + request ->
// Reply) and one carries every pushed event (IPC_EVENT: name + payload). A call is handled only
// when it comes from our own page (the sender frame's URL is the bundled renderer, or the dev
// server in development): anything else — an iframe, a page navigated elsewhere — gets FORBIDDEN.
// Electron is only a type here, so this file is tested under Node with fake events.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IpcMain, WebContents } from 'electron';
import { IPC_EVENT, IPC_INVOKE, type Reply } from '../../preload/contract';
import type { EventBus } from '../app/context';
import { dispatch } from '../app/dispatch';
import type { Handlers } from '../app/handlers/index';
import type { Log } from '../app/log';

/** The part of Electron's IpcMainInvokeEvent we look at. */
export type SenderEvent = { senderFrame: { url: string } | null };

/**
 * Whether `url` is our page: a file inside the bundled renderer folder, or (development only) a
 * page of the dev server's exact origin. Query and hash are allowed, nothing else differs.
 */
export function trustedPage(rendererDir: string, devUrl?: string | null): (url: string) => boolean {
  const root = path.resolve(rendererDir);
  const devOrigin = devUrl ? new URL(devUrl).origin : null;
  return (url) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return false;
    }
    if (devOrigin && u.origin === devOrigin && (u.protocol === 'http:' || u.protocol === 'https:')) return true;
    if (u.protocol !== 'file:' || u.host !== '') return false;
    const file = path.resolve(fileURLToPath(u));
    return file.startsWith(root + path.sep);
  };
}

export const FORBIDDEN_REPLY: Reply<never> = { ok: false, error: { code: 'FORBIDDEN', message: "calls are accepted only from the app's own window" } };

/** The invoke handler: sender check, then the same dispatch as every transport. */
export function makeInvokeHandler(handlers: Handlers, isTrusted: (url: string) => boolean, log?: Log) {
  return async (event: SenderEvent, channel: unknown, req: unknown): Promise<Reply<unknown>> => {
    const url = event.senderFrame?.url ?? '';
    if (!isTrusted(url)) {
      log?.('warn', `refused IPC call ${String(channel).slice(0, 60)} from ${url.slice(0, 200) || 'an unknown frame'}`);
      return FORBIDDEN_REPLY;
    }
    return dispatch(handlers, channel, req, log);
  };
}

/** Registers the invoke handler on ipcMain; returns a function that removes it. */
export function registerIpc(ipcMain: IpcMain, handlers: Handlers, isTrusted: (url: string) => boolean, log?: Log): () => void {
  const handler = makeInvokeHandler(handlers, isTrusted, log);
  ipcMain.handle(IPC_INVOKE, (event, channel: unknown, req: unknown) => handler(event, channel, req));
  return () => ipcMain.removeHandler(IPC_INVOKE);
}

/** Sends every bus event to the window (while it exists). */
export function forwardEvents(bus: EventBus, target: () => WebContents | null): () => void {
  return bus.on((name, payload) => {
    const wc = target();
    if (wc && !wc.isDestroyed()) wc.send(IPC_EVENT, name, payload);
  });
}
