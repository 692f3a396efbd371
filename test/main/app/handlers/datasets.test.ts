// main/app/handlers/datasets.ts through the contract (dispatch, as IPC and HTTP call them), on a real library
// file and real photos.
import { describe, expect, it } from 'vitest';
import { useImportedLibrary } from '../../../helpers/app';

const PER_CLASS = 6;
const lib = useImportedLibrary(PER_CLASS);

describe('datasets', () => {
  it('datasets:create/rename/delete, with CONFLICT on a taken name and NOT_FOUND after delete', async () => {
    const { h } = lib;
    const d = await h.ok('datasets:create', { name: 'scratch' });
    expect(d.photoCount).toBe(0);
    const dup = await h.call('datasets:create', { name: 'scratch' });
    expect(dup.ok ? null : dup.error.code).toBe('CONFLICT');
    const renamed = await h.ok('datasets:rename', { datasetId: d.id, name: 'scratch 2' });
    expect(renamed.name).toBe('scratch 2');
    const taken = await h.call('datasets:rename', { datasetId: d.id, name: 'hym' });
    expect(taken.ok ? null : taken.error.code).toBe('CONFLICT');
    await h.ok('datasets:delete', { datasetId: d.id });
    const gone = await h.call('datasets:counts', { datasetId: d.id });
    expect(gone.ok ? null : gone.error).toEqual({ code: 'NOT_FOUND', message: `no dataset with id ${d.id}` });
  });
});
