// main/app/handlers/classes.ts through the contract (dispatch, as IPC and HTTP call them), on a real library
// file and real photos.
import { describe, expect, it } from 'vitest';
import { useImportedLibrary } from '../../../helpers/app';

const PER_CLASS = 6;
const lib = useImportedLibrary(PER_CLASS);

describe('classes', () => {
  it('create, update, reorder; merge and delete report the photos they touch', async () => {
    const { h, ds } = lib;
    const wasps = await h.ok('classes:create', { datasetId: ds, name: 'wasps' });
    expect(wasps).toMatchObject({ name: 'wasps', hotkey: '3', photoCount: 0 });
    const upd = await h.ok('classes:update', { classId: wasps.id, name: 'hornets', colour: '#112233', hotkey: '9' });
    expect(upd).toMatchObject({ name: 'hornets', colour: '#112233', hotkey: '9' });
    // a bad colour after a good rename changes nothing
    const bad = await h.call('classes:update', { classId: wasps.id, name: 'yellowjackets', colour: 'yellow' });
    expect(bad.ok ? null : bad.error.code).toBe('BAD_INPUT');
    expect((await h.ok('classes:list', { datasetId: ds })).find((c) => c.id === wasps.id)?.name).toBe('hornets');
    const ids = (await h.ok('classes:list', { datasetId: ds })).map((c) => c.id);
    const re = await h.ok('classes:reorder', { datasetId: ds, classIds: [...ids].reverse() });
    expect(re.map((c) => c.id)).toEqual([...ids].reverse());

    const photos = (await h.ok('photos:list', { datasetId: ds, limit: 3 })).items.map((p) => p.id);
    await h.ok('labels:set', { datasetId: ds, photoIds: photos, classId: wasps.id });
    expect(await h.ok('classes:merge', { fromId: wasps.id, intoId: ids[0] })).toEqual({ moved: 3 });
    const again = await h.ok('classes:create', { datasetId: ds, name: 'wasps' });
    await h.ok('labels:set', { datasetId: ds, photoIds: photos.slice(0, 2), classId: again.id });
    expect(await h.ok('classes:delete', { classId: again.id })).toEqual({ unlabeled: 2 });
    const self = await h.call('classes:merge', { fromId: ids[0], intoId: ids[0] });
    expect(self.ok ? null : self.error.code).toBe('BAD_INPUT');
  });

});
