// The Library manager's import state against the real handlers: an import of a few photos can end
// (import:done) before the window hears import:start's answer. It must not be shown as running
// afterwards: the Import button would stay disabled for good (CI's loop e2e once waited 30 s on it).
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlexNetApi, Channel, EventName, Events, Req } from '../../preload/contract';
import { Api } from '../../renderer/src/lib/api';
import { Library } from '../../renderer/src/lib/managers/library.svelte';
import { harness, photoFolder, type Harness } from '../helpers/app';

let h: Harness;
let folder: string;
beforeAll(() => {
  h = harness();
  folder = photoFolder(2);
});
afterAll(async () => {
  await h.close();
  fs.rmSync(folder, { recursive: true, force: true });
});

/** The real handlers and events; with `doneFirst`, import:start answers only after its import:done was delivered. */
function library(doneFirst: boolean): Library {
  const raw: AlexNetApi = {
    invoke: async <C extends Channel>(c: C, r: Req<C>) => {
      const reply = await h.call(c, r);
      if (doneFirst && c === 'import:start' && reply.ok) {
        const { importId } = reply.value as { importId: string };
        await h.next('import:done', (e) => e.importId === importId);
      }
      return reply;
    },
    on: <E extends EventName>(e: E, l: (p: Events[E]) => void) => h.ctx.bus.on((name: EventName, p: unknown) => (name === e ? l(p as Events[E]) : undefined)),
  };
  const api = new Api(raw);
  const lib = new Library(api);
  api.on('import:progress', (p) => lib.onProgress(p));
  api.on('import:done', (e) => void lib.onDone(e));
  return lib;
}

describe('an import', () => {
  it('that ends before import:start is answered is not left running', async () => {
    const lib = library(true);
    await lib.startImport(folder, 'new');
    expect(lib.importing).toBeNull();
  });

  it('answered in the usual order, ends with its import:done', async () => {
    const lib = library(false);
    const importId = await lib.startImport(folder, 'new');
    await expect.poll(() => lib.importing, { timeout: 30_000 }).toBeNull();
    expect(lib.lastImport).not.toBeNull();
    expect(importId).toMatch(/\S/);
  });
});
