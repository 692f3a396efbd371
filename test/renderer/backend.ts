// The renderer's client over the REAL handlers (main/app/dispatch on a real library with real photos),
// exactly as IPC and HTTP reach them: the managers under test talk to an actual backend.
import type { AlexNetApi, Channel, EventName, Events, Req } from '../../preload/contract';
import { Api } from '../../renderer/src/lib/api';
import { harness, photoFolder, type Harness } from '../helpers/app';

export type Backend = { h: Harness; api: Api; folder: string; datasetId: number; close(): Promise<void> };

/** A library with `perClass` ants + bees photos imported UNLABELED, and classes ants, bees. */
export async function backend(perClass: number): Promise<Backend> {
  const h = harness();
  const folder = photoFolder(perClass);
  const raw: AlexNetApi = {
    invoke: <C extends Channel>(c: C, r: Req<C>) => h.call(c, r),
    on: <E extends EventName>(e: E, l: (p: Events[E]) => void) => h.ctx.bus.on((name: EventName, p: unknown) => (name === e ? l(p as Events[E]) : undefined)),
  };
  const { importId, datasetId } = await h.ok('import:start', { folder, datasetName: 'hym', classesFromFolders: false });
  const done = await h.next('import:done', (e) => e.importId === importId);
  if (done.error) throw new Error(done.error.message);
  await h.ok('classes:create', { datasetId, name: 'ants' });
  await h.ok('classes:create', { datasetId, name: 'bees' });
  const fs = await import('node:fs');
  return {
    h,
    api: new Api(raw),
    folder,
    datasetId,
    async close() {
      await h.close();
      fs.rmSync(folder, { recursive: true, force: true });
    },
  };
}
