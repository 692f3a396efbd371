// main/app/handlers/photos.ts through the contract (dispatch, as IPC and HTTP call them), on a real library
// file and real photos.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hymenoptera, useImportedLibrary } from '../../../helpers/app';

const PER_CLASS = 6;
const lib = useImportedLibrary(PER_CLASS);

describe('photos', () => {
  it('photos:list pages by name with a keyset cursor and filters by class', async () => {
    const { h, ds } = lib;
    const [ants] = await h.ok('classes:list', { datasetId: ds });
    const p1 = await h.ok('photos:list', { datasetId: ds, limit: 5 });
    expect(p1.items).toHaveLength(5);
    expect(p1.total).toBe(2 * PER_CLASS);
    const p2 = await h.ok('photos:list', { datasetId: ds, limit: 5, after: p1.next! });
    const names = [...p1.items, ...p2.items].map((p) => p.name);
    expect(names).toEqual([...names].sort());
    expect(new Set([...p1.items, ...p2.items].map((p) => p.id)).size).toBe(10);
    const onlyAnts = await h.ok('photos:list', { datasetId: ds, classIds: [ants.id], limit: 100 });
    expect(onlyAnts.total).toBe(PER_CLASS);
    expect(onlyAnts.items.every((p) => p.className === 'ants')).toBe(true);
    const desc = await h.ok('photos:list', { datasetId: ds, sort: 'name', order: 'desc', limit: 1 });
    expect(desc.items[0].name).toBe([...names, ...(await h.ok('photos:list', { datasetId: ds, limit: 100 })).items.map((p) => p.name)].sort().at(-1));
  });

  it('photos:get returns the file facts, label and history', async () => {
    const { h, ds } = lib;
    const [first] = (await h.ok('photos:list', { datasetId: ds, limit: 1 })).items;
    const d = await h.ok('photos:get', { photoId: first.id });
    expect(d.path).toBe(first.path);
    expect(d.size).toBe(fs.statSync(first.path).size);
    expect(d.width).toBeGreaterThan(0);
    expect(d.className).toBe(first.className);
    expect(d.predictions).toEqual([]);
    const missing = await h.call('photos:get', { photoId: 999_999 });
    expect(missing.ok ? null : missing.error.code).toBe('NOT_FOUND');
  });

  it('photos:verify marks a photo whose file is gone as missing, and back', async () => {
    const { h, ds, folder } = lib;
    const victim = path.join(folder, 'bees', fs.readdirSync(path.join(folder, 'bees')).sort()[0]);
    const target = fs.readlinkSync(victim);
    fs.rmSync(victim);
    const v1 = await h.ok('photos:verify', { datasetId: ds });
    expect(v1).toMatchObject({ checked: 2 * PER_CLASS, missing: 1 });
    const missing = await h.ok('photos:list', { datasetId: ds, status: ['missing'] });
    expect(missing.items.map((p) => p.path)).toEqual([victim]);
    fs.symlinkSync(target, victim);
    expect(await h.ok('photos:verify', { datasetId: ds })).toMatchObject({ reappeared: 1 });
  });

  it('photos:add adds a single file with a label (undoable), and reports a bad file', async () => {
    const { h, ds, folder } = lib;
    const [, bees] = await h.ok('classes:list', { datasetId: ds });
    const valBees = path.join(hymenoptera, 'val', 'bees');
    const file = path.join(valBees, fs.readdirSync(valBees).sort()[0]);
    const bogus = path.join(folder, 'notes.txt');
    fs.writeFileSync(bogus, 'not a photo');
    const broken = path.join(folder, 'broken.jpg'); // an image's name, not an image's bytes (db/import's examinePhoto says so)
    fs.writeFileSync(broken, 'not a jpeg either');
    const r = await h.ok('photos:add', { datasetId: ds, files: [file, bogus, broken], classId: bees.id });
    expect(r.photoIds).toHaveLength(1);
    expect(r.skipped[0]).toEqual({ file: bogus, reason: 'not an image file: notes.txt' });
    expect(r.skipped[1].file).toBe(broken);
    expect(r.skipped[1].reason).toMatch(/^broken\.jpg: not a readable image: /);
    fs.rmSync(broken);
    const p = await h.ok('photos:get', { photoId: r.photoIds[0] });
    expect(p).toMatchObject({ path: file, classId: bees.id, labelSource: 'user' });
    expect((await h.ok('labels:peek', { datasetId: ds })).undo).toBe('Label 1 photo as bees');
    // adding it again adds nothing new
    expect((await h.ok('photos:add', { datasetId: ds, files: [file] })).photoIds).toEqual(r.photoIds);
    await h.ok('labels:undo', { datasetId: ds });
    fs.rmSync(bogus);
  });
});
