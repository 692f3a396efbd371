// main/app/handlers/labels.ts through the contract (dispatch, as IPC and HTTP call them), on a real library
// file and real photos: labels and suggestions.
import { describe, expect, it } from 'vitest';
import { useImportedLibrary } from '../../../helpers/app';

const PER_CLASS = 6;
const lib = useImportedLibrary(PER_CLASS);

describe('labels', () => {
  it('labels:set, undo, redo: one action per call, counts and the undo text come back', async () => {
    const { h, ds } = lib;
    const [ants, bees] = (await h.ok('classes:list', { datasetId: ds })).sort((a, b) => a.name.localeCompare(b.name));
    const beePhotos = (await h.ok('photos:list', { datasetId: ds, classIds: [bees.id], limit: 2 })).items.map((p) => p.id);
    const before = await h.ok('datasets:counts', { datasetId: ds });
    const set = await h.ok('labels:set', { datasetId: ds, photoIds: beePhotos, classId: ants.id });
    expect(set.action).toMatchObject({ kind: 'set', changed: 2, description: 'Label 2 photos as ants' });
    expect(set.undo).toBe('Label 2 photos as ants');
    expect(set.counts.byClass.find((c) => c.classId === ants.id)!.count).toBe(before.byClass.find((c) => c.classId === ants.id)!.count + 2);
    const undo = await h.ok('labels:undo', { datasetId: ds });
    expect(undo.action?.state).toBe('undone');
    expect(undo.counts).toEqual(before);
    expect(undo.redo).toBe('Label 2 photos as ants');
    const redo = await h.ok('labels:redo', { datasetId: ds });
    expect(redo.counts).toEqual(set.counts);
    await h.ok('labels:undo', { datasetId: ds });
    const clear = await h.ok('labels:set', { datasetId: ds, photoIds: beePhotos.slice(0, 1), classId: null });
    expect(clear.counts.unlabeled).toBe(before.unlabeled + 1);
    const unl = await h.ok('photos:list', { datasetId: ds, unlabeled: true });
    expect(unl.items.map((p) => p.id)).toContain(beePhotos[0]);
    expect(unl.items.every((p) => p.classId === null)).toBe(true);
    expect(unl.total).toBe(before.unlabeled + 1);
    await h.ok('labels:undo', { datasetId: ds });
  });

  it('labels:set refuses a photo of another dataset and a class of another dataset, changing nothing', async () => {
    const { h, ds } = lib;
    const other = await h.ok('datasets:create', { name: 'other' });
    const otherClass = await h.ok('classes:create', { datasetId: other.id, name: 'x' });
    const [p] = (await h.ok('photos:list', { datasetId: ds, limit: 1 })).items;
    const before = await h.ok('datasets:counts', { datasetId: ds });
    const r1 = await h.call('labels:set', { datasetId: other.id, photoIds: [p.id], classId: otherClass.id });
    expect(r1.ok ? null : r1.error.code).toBe('CONFLICT');
    const r2 = await h.call('labels:set', { datasetId: ds, photoIds: [p.id], classId: otherClass.id });
    expect(r2.ok ? null : r2.error.code).toBe('NOT_FOUND');
    expect(await h.ok('datasets:counts', { datasetId: ds })).toEqual(before);
    await h.ok('datasets:delete', { datasetId: other.id });
  });

  it('suggestions:list is empty before any run has predicted', async () => {
    const { h, ds } = lib;
    const s = await h.ok('suggestions:list', { datasetId: ds });
    expect(s).toEqual({ items: [], total: 0, next: null, runId: null });
  });
});
