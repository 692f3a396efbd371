// Every domain's handlers through the contract (dispatch, as IPC and HTTP call them), on a real
// library file and real photos: datasets, import, photos, classes, labels; input validation
// (malformed calls refused, nothing changed); error mapping.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, INTERNAL_MESSAGE, toErrorPayload } from '../../main/errors';
import { CHANNELS, type Channel } from '../../preload/contract';
import { DbError } from '../../db/errors';
import { EngineError } from '../../ml/errors';
import { harness, hymenoptera, importDataset, photoFolder, type Harness } from './helpers';

const PER_CLASS = 6;
let h: Harness;
let folder: string;
let ds: number;

beforeAll(async () => {
  h = harness();
  folder = photoFolder(PER_CLASS);
  ds = await importDataset(h, folder);
});

afterAll(async () => {
  await h.close();
  fs.rmSync(folder, { recursive: true, force: true });
});

describe('registry', () => {
  it('has a handler for every channel of the contract', () => {
    for (const c of CHANNELS) {
      const x = h.handlers[c];
      expect([typeof x.input, typeof x.run], c).toEqual(['function', 'function']); // handler()'s { input, run }
    }
    expect(Object.keys(h.handlers).sort()).toEqual([...CHANNELS].sort());
  });

  it('refuses an unknown channel', async () => {
    const r = await h.raw('photos:destroy', {});
    expect(r).toEqual({ ok: false, error: { code: 'BAD_INPUT', message: "unknown call 'photos:destroy'" } });
  });
});

describe('app', () => {
  it('app:info names the mode, the library and the image URL templates', async () => {
    const info = await h.ok('app:info', {});
    expect(info.mode).toBe('browser');
    expect(info.dbFile).toBe(path.join(h.dataDir, 'library.sqlite'));
    expect(info.imageUrl.thumb).toContain('{id}');
    expect(info.runningRunId).toBeNull();
  });

  it('dialog:pick is UNSUPPORTED without a native dialog', async () => {
    const r = await h.call('dialog:pick', { kind: 'folder' });
    expect(r.ok ? null : r.error.code).toBe('UNSUPPORTED');
  });
});

describe('import and datasets', () => {
  it('imported the folder: classes from folder names, every photo labeled, progress events sent', async () => {
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
    const big = path.join(hymenoptera, 'val');
    const { importId } = await h.ok('import:start', { folder: big, datasetName: 'cancelled' });
    expect(await h.ok('import:cancel', { importId })).toEqual({ cancelled: true });
    const done = await h.next('import:done', (e) => e.importId === importId);
    expect(done.summary?.cancelled).toBe(true);
    expect(done.summary!.added).toBeLessThan(153);
    const d = (await h.ok('datasets:list', {})).find((x) => x.name === 'cancelled')!;
    await h.ok('datasets:delete', { datasetId: d.id });
  });

  it('datasets:create/rename/delete, with CONFLICT on a taken name and NOT_FOUND after delete', async () => {
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

describe('photos', () => {
  it('photos:list pages by name with a keyset cursor and filters by class', async () => {
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

describe('classes and labels', () => {
  it('create, update, reorder; merge and delete report the photos they touch', async () => {
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

  it('labels:set, undo, redo: one action per call, counts and the undo text come back', async () => {
    const [ants, bees] = (await h.ok('classes:list', { datasetId: ds })).filter((c) => c.name !== 'hornets').sort((a, b) => a.name.localeCompare(b.name));
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
    const s = await h.ok('suggestions:list', { datasetId: ds });
    expect(s).toEqual({ items: [], total: 0, next: null, runId: null });
  });
});

describe('input validation', () => {
  // [channel, malformed request, what the message must name]
  const cases: [Channel, unknown, string][] = [
    ['datasets:create', {}, 'request.name'],
    ['datasets:create', { name: '' }, 'request.name'],
    ['datasets:create', { name: 'x'.repeat(201) }, 'request.name'],
    ['datasets:create', { name: 'ok', extra: 1 }, 'request.extra'],
    ['datasets:rename', { datasetId: '1', name: 'x' }, 'request.datasetId'],
    ['datasets:delete', { datasetId: 0 }, 'request.datasetId'],
    ['datasets:delete', { datasetId: 1.5 }, 'request.datasetId'],
    ['datasets:list', { all: true }, 'request.all'],
    ['photos:list', { datasetId: 1, limit: 100_000 }, 'request.limit'],
    ['photos:list', { datasetId: 1, sort: 'size' }, 'request.sort'],
    ['photos:list', { datasetId: 1, minP: 2 }, 'request.minP'],
    ['photos:list', { datasetId: 1, classIds: [1, 'a'] }, 'request.classIds[1]'],
    ['photos:list', null, 'request'],
    ['photos:list', [1], 'request'],
    ['photos:add', { datasetId: 1, files: ['../etc/passwd'] }, 'request.files[0]'],
    ['photos:add', { datasetId: 1, files: [] }, 'request.files'],
    ['classes:create', { datasetId: 1, name: 'a\0b' }, 'request.name'],
    ['classes:update', { classId: 1, hotkey: 12 }, 'request.hotkey'],
    ['labels:set', { datasetId: 1, photoIds: [], classId: 1 }, 'request.photoIds'],
    ['labels:set', { datasetId: 1, photoIds: [1], classId: -1 }, 'request.classId'],
    ['labels:set', { datasetId: 1, photoIds: [1] }, 'request.classId'],
    ['labels:undo', { datasetId: Number.NaN }, 'request.datasetId'],
    ['runs:start', { datasetId: 1, settings: { epochs: 0 } }, 'request.settings.epochs'],
    ['runs:start', { datasetId: 1, settings: { lr: 'fast' } }, 'request.settings.lr'],
    ['runs:start', { datasetId: 1, settings: { batchSize: 1e9 } }, 'request.settings.batchSize'],
    ['runs:start', { datasetId: 1, settings: { backend: 'quantum' } }, 'request.settings.backend'],
    ['runs:evaluation', { runId: 1, subset: 'test' }, 'request.subset'],
    ['models:export', { runId: 1, format: 'pt', folder: '/tmp' }, 'request.format'],
    ['classify:files', { runId: 1, files: ['relative.jpg'] }, 'request.files[0]'],
    ['weights:import', { file: 'C:relative' }, 'request.file'],
    ['import:start', { folder: 42 }, 'request.folder'],
  ];

  it.each(cases)('%s refuses %j with BAD_INPUT naming the field', async (channel, req, field) => {
    const r = await h.raw(channel, req);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('BAD_INPUT');
    expect(r.error.message.startsWith(field + ' ')).toBe(true);
  });

  it('a malformed call changes nothing in the library', async () => {
    const snapshot = async () =>
      JSON.stringify([
        await h.ok('datasets:list', {}),
        await h.ok('classes:list', { datasetId: ds }),
        await h.ok('photos:list', { datasetId: ds, limit: 1000 }),
        await h.ok('labels:peek', { datasetId: ds }),
      ]);
    const before = await snapshot();
    for (const [channel, req] of cases) await h.raw(channel, req);
    // also well-typed calls that fail on content: unknown ids
    await h.raw('labels:set', { datasetId: ds, photoIds: [1, 999_999], classId: null });
    await h.raw('classes:merge', { fromId: 999_999, intoId: 1 });
    expect(await snapshot()).toBe(before);
  });
});

describe('error mapping', () => {
  it('maps library and engine codes, keeps their message, hides unknown errors', () => {
    expect(toErrorPayload(new DbError('CLASS_EXISTS', 'the dataset already has a class x'))).toEqual({ code: 'CONFLICT', message: 'the dataset already has a class x' });
    expect(toErrorPayload(new EngineError('TOO_FEW_IMAGES', 'class "a" has 1 image'))).toEqual({ code: 'TOO_FEW_IMAGES', message: 'class "a" has 1 image' });
    expect(toErrorPayload(new EngineError('NOT_ALEXNET', 'not the BVLC AlexNet ONNX file: x'))).toMatchObject({ code: 'BAD_WEIGHTS' });
    expect(toErrorPayload(new AppError('BUSY', 'run 3 is training'))).toEqual({ code: 'BUSY', message: 'run 3 is training' });
    const logged: unknown[] = [];
    const sys = Object.assign(new Error("ENOENT: no such file, open '/secret/path'"), { code: 'ENOENT' });
    expect(toErrorPayload(sys, (e) => logged.push(e))).toEqual({ code: 'INTERNAL', message: INTERNAL_MESSAGE });
    expect(toErrorPayload(new TypeError('x is undefined'), (e) => logged.push(e))).toEqual({ code: 'INTERNAL', message: INTERNAL_MESSAGE });
    expect(logged).toHaveLength(2);
  });
});
