// The preload exposes exactly the contract: one object, window.api, with invoke (known channels
// only, forwarded on the one IPC channel) and on (known events only; Electron's event object is
// stripped; the returned function unsubscribes). Electron itself cannot run here, so its two
// objects are stand-ins that record what the preload does with them; the preload is the real file.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { API_GLOBAL, IPC_EVENT, IPC_INVOKE, type AlexNetApi } from '../../preload/contract';

const exposed = new Map<string, unknown>();
const invoked: unknown[][] = [];
const listeners = new Map<string, Set<(...args: unknown[]) => void>>();

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, value: unknown) => exposed.set(key, value) },
  webUtils: { getPathForFile: (f: { name: string }) => `/home/user/Pictures/${f.name}` },
  ipcRenderer: {
    invoke: (...args: unknown[]) => {
      invoked.push(args);
      return Promise.resolve({ ok: true, value: 'sent' });
    },
    on: (ch: string, l: (...args: unknown[]) => void) => {
      if (!listeners.has(ch)) listeners.set(ch, new Set());
      listeners.get(ch)!.add(l);
    },
    removeListener: (ch: string, l: (...args: unknown[]) => void) => listeners.get(ch)?.delete(l),
  },
}));

let api: AlexNetApi;
beforeAll(async () => {
  await import('../../preload/index');
  api = exposed.get(API_GLOBAL) as AlexNetApi;
});

describe('preload', () => {
  it('exposes one object, window.api, with exactly invoke, on and pathForFile', () => {
    expect([...exposed.keys()]).toEqual(['api']);
    expect(Object.keys(api).sort()).toEqual(['invoke', 'on', 'pathForFile']);
    expect(api.pathForFile?.({ name: 'bee.jpg' } as File)).toBe('/home/user/Pictures/bee.jpg');
  });

  it('forwards known calls on the one invoke channel and refuses unknown ones without IPC', async () => {
    expect(await api.invoke('photos:list', { datasetId: 3 })).toEqual({ ok: true, value: 'sent' });
    expect(invoked).toEqual([[IPC_INVOKE, 'photos:list', { datasetId: 3 }]]);
    const bad = await (api.invoke as (c: string, r: object) => Promise<unknown>)('fs:readFile', { path: '/etc/passwd' });
    expect(bad).toEqual({ ok: false, error: { code: 'BAD_INPUT', message: "unknown call 'fs:readFile'" } });
    expect(invoked).toHaveLength(1);
  });

  it('delivers only the subscribed event, without Electron event object, until unsubscribed', () => {
    const got: unknown[][] = [];
    const off = api.on('run:epoch', (...args: unknown[]) => got.push(args));
    const fire = (name: string, payload: unknown) => {
      for (const l of listeners.get(IPC_EVENT) ?? []) l({ sender: 'electron-event-object' }, name, payload);
    };
    fire('run:epoch', { runId: 1, epoch: 2 });
    fire('run:progress', { runId: 1 });
    expect(got).toEqual([[{ runId: 1, epoch: 2 }]]);
    off();
    fire('run:epoch', { runId: 1, epoch: 3 });
    expect(got).toHaveLength(1);
    expect(listeners.get(IPC_EVENT)?.size).toBe(0);
    expect(() => (api.on as (e: string, l: () => void) => void)('ipc:raw', () => {})).toThrow(/unknown event/);
  });
});
