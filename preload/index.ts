// The preload script: exposes exactly the contract to the page as window.api (invoke, on, and the
// path of a dropped file), nothing more. The
// page never sees ipcRenderer or Electron's event objects. Bundled as CommonJS (sandboxed preloads
// cannot load ES modules or anything but 'electron').
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { API_GLOBAL, CHANNELS, EVENTS, IPC_EVENT, IPC_INVOKE, type AlexNetApi, type Channel, type EventName, type Events, type Reply, type Req, type Res } from './contract';

const channels = new Set<string>(CHANNELS);
const events = new Set<string>(EVENTS);

const api: AlexNetApi = {
  invoke<C extends Channel>(channel: C, req: Req<C>): Promise<Reply<Res<C>>> {
    if (!channels.has(channel)) return Promise.resolve({ ok: false, error: { code: 'BAD_INPUT', message: `unknown call '${String(channel)}'` } });
    return ipcRenderer.invoke(IPC_INVOKE, channel, req) as Promise<Reply<Res<C>>>;
  },
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
    if (!events.has(event)) throw new Error(`unknown event '${String(event)}'`);
    const wrapped = (_e: IpcRendererEvent, name: unknown, payload: unknown) => {
      if (name === event) listener(payload as Events[E]);
    };
    ipcRenderer.on(IPC_EVENT, wrapped);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT, wrapped);
    };
  },
  pathForFile(file: File): string {
    return webUtils.getPathForFile(file);
  },
};

contextBridge.exposeInMainWorld(API_GLOBAL, api);
