// main/app/handlers/import.ts through the contract (dispatch, as IPC and HTTP call them), on a real library
// file and real photos: a folder import, its refusals and its cancel.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hymenoptera, useImportedLibrary } from '../../../helpers/app';

const PER_CLASS = 6;
const lib = useImportedLibrary(PER_CLASS);

describe('import', () => {
  it('imported the folder: classes from folder names, every photo labeled, progress events sent', async () => {
    const { h, ds } = lib;
    const counts = await h.ok('datasets:counts', { datasetId: ds });
    expect(counts.total).toBe(2 * PER_CLASS);
    expect(counts.labeled).toBe(2 * PER_CLASS);
    expect(counts.byClass.map((c) => [c.name, c.count])).toEqual([
      ['ants', PER_CLASS],
      ['bees', PER_CLASS],
    ]);
    const progress = h.events.filter((e) => e.name === 'import:progress');
    expect(progress.length).toBeGreaterThan(0);
    const list = await h.ok('datasets:list', {});
    expect(list.map((d) => [d.name, d.photoCount, d.classCount])).toEqual([['hym', 2 * PER_CLASS, 2]]);
  });

  it('import:start refuses a missing folder, a file and a relative path; import:cancel of an unknown id is false', async () => {
    const { h, folder } = lib;
    const missing = await h.call('import:start', { folder: path.join(folder, 'nope'), datasetName: 'x' });
    expect(missing.ok ? null : missing.error.code).toBe('FOLDER_NOT_FOUND');
    const file = await h.call('import:start', { folder: fs.realpathSync(path.join(folder, 'ants', fs.readdirSync(path.join(folder, 'ants'))[0])), datasetName: 'x' });
    expect(file.ok ? null : file.error.code).toBe('FOLDER_NOT_FOUND');
    const rel = await h.call('import:start', { folder: 'photos/ants', datasetName: 'x' });
    expect(rel.ok ? null : rel.error.code).toBe('BAD_INPUT');
    expect((await h.ok('datasets:list', {})).map((d) => d.name)).toEqual(['hym']); // no dataset 'x' made
    expect(await h.ok('import:cancel', { importId: 'no-such-import' })).toEqual({ cancelled: false });
  });

  it('import:cancel stops an import in progress', async () => {
    const { h, folder } = lib;
    const big = path.join(hymenoptera, 'val');
    const { importId } = await h.ok('import:start', { folder: big, datasetName: 'cancelled' });
    expect(await h.ok('import:cancel', { importId })).toEqual({ cancelled: true });
    const done = await h.next('import:done', (e) => e.importId === importId);
    expect(done.summary?.cancelled).toBe(true);
    expect(done.summary!.added).toBeLessThan(153);
    const d = (await h.ok('datasets:list', {})).find((x) => x.name === 'cancelled')!;
    await h.ok('datasets:delete', { datasetId: d.id });
  });

});
