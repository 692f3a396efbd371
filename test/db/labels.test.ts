import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { importFolder } from '../../db/import';
import { trainingSet } from '../../db/training';
import type { Library } from '../../db/index';
import type { PhotoListItem } from '../../db/repos/photos';
import { hymenoptera, useTempLibrary } from './helpers';

const { lib } = useTempLibrary();
let ds: number;
let ants: number;
let bees: number;
let ids: number[];
beforeAll(async () => {
  // the real photos, without folder labels: labeling starts from scratch
  const s = await importFolder(lib, path.join(hymenoptera, 'val'), { dataset: 'bugs', classesFromFolders: false, thumbnails: false });
  ds = s.datasetId;
  ants = lib.classes.create(ds, 'ants').id;
  bees = lib.classes.create(ds, 'bees').id;
  ids = lib.photos.all(ds).map((p) => p.id);
});

const labelOf = (id: number) => lib.photos.get(id).classId;
/** photo_counts (kept by triggers) must always agree with a plain GROUP BY over photos. */
function expectCountsConsistent() {
  const truth = lib.db.prepare('SELECT coalesce(class_id, 0) AS k, status, count(*) AS n FROM photos WHERE dataset_id = ? GROUP BY 1, 2 ORDER BY 1, 2').all(ds);
  const kept = lib.db.prepare('SELECT class_key AS k, status, n FROM photo_counts WHERE dataset_id = ? AND n > 0 ORDER BY 1, 2').all(ds);
  expect(kept).toEqual(truth);
}

describe('classes', () => {
  it('get palette colours and hotkeys 1..9 in order, and validate what the user types', () => {
    const cs = lib.classes.list(ds);
    expect(cs.map((c) => [c.name, c.hotkey, c.position])).toEqual([
      ['ants', '1', 0],
      ['bees', '2', 1],
    ]);
    expect(cs[0].colour).toMatch(/^#[0-9a-f]{6}$/);
    expect(cs[0].colour).not.toBe(cs[1].colour);
    expect(() => lib.classes.create(ds, 'ANTS')).toThrow(expect.objectContaining({ code: 'CLASS_EXISTS' }));
    expect(() => lib.classes.create(ds, '  ')).toThrow(expect.objectContaining({ code: 'BAD_CLASS' }));
    expect(() => lib.classes.setColour(ants, 'red')).toThrow(expect.objectContaining({ code: 'BAD_CLASS' }));
    expect(() => lib.classes.setHotkey(ants, '0')).toThrow(expect.objectContaining({ code: 'BAD_CLASS' }));
  });
});

describe('labeling with undo and redo', () => {
  it('labels one photo, then 100 at once as ONE action, and undoes/redoes each as a whole', () => {
    const one = lib.labels.set(ds, [ids[0]], ants)!;
    expect(one.changed).toBe(1);
    expect(labelOf(ids[0])).toBe(ants);
    const bulk = lib.labels.set(ds, ids.slice(0, 100), bees)!;
    expect(bulk.changed).toBe(100);
    expect(bulk.description).toBe('Label 100 photos as bees');
    expect(lib.labels.peek(ds).undo).toBe('Label 100 photos as bees');
    expectCountsConsistent();

    expect(lib.labels.undo(ds)!.id).toBe(bulk.id);
    expect(labelOf(ids[0])).toBe(ants); // back to the label before the bulk action
    expect(ids.slice(1, 100).every((id) => labelOf(id) === null)).toBe(true);
    expect(lib.photos.counts(ds).byClass.map((c) => c.count)).toEqual([1, 0]);
    expect(lib.labels.undo(ds)!.id).toBe(one.id);
    expect(labelOf(ids[0])).toBeNull();
    expect(lib.labels.undo(ds)).toBeNull(); // nothing left
    expectCountsConsistent();

    expect(lib.labels.redo(ds)!.id).toBe(one.id);
    expect(lib.labels.redo(ds)!.id).toBe(bulk.id);
    expect(lib.labels.redo(ds)).toBeNull();
    expect(ids.slice(0, 100).every((id) => labelOf(id) === bees)).toBe(true);
    expect(lib.photos.counts(ds).byClass.map((c) => c.count)).toEqual([0, 100]);
    expectCountsConsistent();
  });

  it('a new action after an undo discards the redo; labeling with the same label is no action', () => {
    lib.labels.undo(ds);
    expect(lib.labels.peek(ds).redo).toMatch(/100 photos/);
    lib.labels.set(ds, [ids[150]], ants);
    expect(lib.labels.peek(ds).redo).toBeNull();
    expect(lib.labels.set(ds, [ids[150]], ants)).toBeNull();
    expect(lib.labels.peek(ds).undo).toMatch(/1 photo as ants/);
  });

  it('keeps every change of a photo in its history, clears labels, and refuses a class of another dataset', () => {
    lib.labels.set(ds, [ids[150]], bees);
    lib.labels.clear(ds, [ids[150]]);
    const h = lib.labels.history(ids[150]);
    expect(h.map((e) => [e.oldClassId, e.newClassId])).toEqual([
      [null, ants],
      [ants, bees],
      [bees, null],
    ]);
    const other = lib.datasets.create('other');
    const foreign = lib.classes.create(other.id, 'x');
    expect(() => lib.labels.set(ds, [ids[0]], foreign.id)).toThrow(expect.objectContaining({ code: 'CLASS_NOT_FOUND' }));
    // photos of another dataset are ignored, not relabeled
    expect(lib.labels.set(other.id, [ids[0]], foreign.id)).toBeNull();
  });

  it('reorders classes (label sort follows) and deletes a class, unlabeling its photos', () => {
    lib.labels.set(ds, ids.slice(0, 10), ants);
    lib.labels.set(ds, ids.slice(10, 20), bees);
    const byLabel = () => lib.photos.list({ datasetId: ds, sort: 'label', limit: 5000 }).items.filter((i) => i.classId !== null).map((i) => i.className);
    expect(byLabel()[0]).toBe('ants');
    lib.classes.reorder(ds, [bees, ants]);
    expect(byLabel()[0]).toBe('bees');
    const tmp = lib.classes.create(ds, 'wasps');
    lib.labels.set(ds, ids.slice(20, 25), tmp.id);
    expect(lib.classes.photoCount(tmp.id)).toBe(5);
    expect(lib.classes.remove(tmp.id)).toBe(5);
    expect(ids.slice(20, 25).every((id) => labelOf(id) === null)).toBe(true);
    expectCountsConsistent();
    lib.labels.undo(ds); // the wasps action went with its class; undo takes back the one before
    expect(ids.slice(10, 20).every((id) => labelOf(id) === null)).toBe(true);
    lib.labels.redo(ds);
    expectCountsConsistent();
  });
});

describe('splits', () => {
  beforeAll(() => {
    // label by the real folder: 70 ants, 83 bees
    const photos = lib.photos.all(ds);
    lib.labels.set(ds, photos.filter((p) => p.path.includes(`${path.sep}ants${path.sep}`)).map((p) => p.id), ants);
    lib.labels.set(ds, photos.filter((p) => p.path.includes(`${path.sep}bees${path.sep}`)).map((p) => p.id), bees);
  });

  it('are stratified: each class split in the requested proportions', () => {
    const s = lib.splits.create(ds, { train: 0.7, val: 0.2, test: 0.1, seed: 7 });
    const c = lib.splits.counts(s.id);
    const n = lib.photos.counts(ds).byClass;
    for (const cls of c.byClass) {
      const total = n.find((x) => x.classId === cls.classId)!.count;
      expect(cls.train + cls.val + cls.test).toBe(total);
      expect(cls.val).toBe(Math.round(total * 0.2));
      expect(cls.test).toBe(Math.round(total * 0.1));
    }
    expect(c.train + c.val + c.test).toBe(lib.photos.counts(ds).labeled);
  });

  it('are reproducible from the seed, and differ with another seed', () => {
    const a = lib.splits.members(lib.splits.create(ds, { train: 0.8, seed: 1 }).id, 'val').map((m) => m.photoId).sort();
    const b = lib.splits.members(lib.splits.create(ds, { train: 0.8, seed: 1 }).id, 'val').map((m) => m.photoId).sort();
    const c = lib.splits.members(lib.splits.create(ds, { train: 0.8, seed: 2 }).id, 'val').map((m) => m.photoId).sort();
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.length).toBe(Math.round(70 * 0.2) + Math.round(83 * 0.2));
  });

  it('feed a training run: classes in order, photos per subset, the latest split reused', () => {
    const t = trainingSet(lib, 'bugs');
    expect(t.splitId).toBe(lib.splits.latest(ds)!.id);
    expect(t.classes).toEqual(lib.classes.list(ds).map((c) => c.name));
    expect(t.train.length + t.val.length + t.test.length).toBe(lib.photos.counts(ds).labeled);
    for (const item of [...t.train, ...t.val]) expect(t.classes[item.classIndex]).toBe(item.label);
    expect(trainingSet(lib, 'bugs', { split: { train: 0.5, seed: 3 } }).val.length).toBeGreaterThan(t.val.length);
  });

  it('refuse fractions that do not add up', () => {
    expect(() => lib.splits.create(ds, { train: 0.8, val: 0.5 })).toThrow(expect.objectContaining({ code: 'BAD_SPLIT' }));
  });
});

describe('the grid listing', () => {
  let run: number;
  const page = (q: Partial<Parameters<Library['photos']['list']>[0]>) => lib.photos.list({ datasetId: ds, limit: 5000, ...q });
  beforeAll(() => {
    const r = lib.runs.create({ datasetId: ds, classes: ['ants', 'bees'] });
    run = r.id;
    // a deterministic "model": p grows with the photo's position; every 4th photo predicted wrong
    const photos = lib.photos.all(ds).filter((p) => p.classId !== null);
    lib.predictions.write(
      run,
      photos.map((p, i) => {
        const right = lib.classes.get(p.classId!).name;
        const top = i % 4 === 0 ? (right === 'ants' ? 'bees' : 'ants') : right;
        const pTop = 0.5 + (0.49 * i) / photos.length;
        return { photoId: p.id, topk: [{ label: right === top ? (top === 'ants' ? 'bees' : 'ants') : right, p: 1 - pTop }, { label: top, p: pTop }] };
      }),
    );
    lib.runs.end(run, 'finished');
  });

  it('sorts by name, date and label, with stable keyset pages that match offset pages', () => {
    const all = page({ sort: 'name' });
    const names = all.items.map((i) => i.name);
    const lower = names.map((n) => n.toLowerCase()); // names sort case-insensitively (IMG_1 next to img_2)
    expect(lower).toEqual([...lower].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(all.total).toBe(ids.length);
    const first = page({ sort: 'name', limit: 50 });
    const second = page({ sort: 'name', limit: 50, after: first.next! });
    expect(second.items.map((i) => i.id)).toEqual(page({ sort: 'name', limit: 50, offset: 50 }).items.map((i) => i.id));
    expect(second.total).toBe(ids.length);
    const dates = page({ sort: 'date', order: 'desc' }).items.map((i) => i.takenAt!);
    expect(dates).toEqual([...dates].sort().reverse());
  });

  it('filters by class and unlabeled, with totals that match', () => {
    const a = page({ classIds: [ants] });
    expect(a.items.every((i) => i.classId === ants && i.className === 'ants')).toBe(true);
    expect(a.total).toBe(70);
    lib.labels.clear(ds, [a.items[0].id]);
    const u = page({ unlabeled: true });
    expect(u.items.map((i) => i.id)).toEqual([a.items[0].id]);
    expect(u.total).toBe(1);
    expect(page({ classIds: [ants], unlabeled: true }).total).toBe(70);
    lib.labels.undo(ds);
    expect(page({ unlabeled: true }).total).toBe(0);
  });

  it('shows the latest run\'s top-1, filters "predicted as X with p < 0.6" and sorts by confidence', () => {
    const all = page({});
    expect(all.runId).toBe(run);
    expect(all.items.every((i) => i.p !== null && i.predictedLabel !== null)).toBe(true);
    const q = page({ predictedClassId: bees, maxP: 0.6 });
    const truth = all.items.filter((i) => i.predictedClassId === bees && i.p! < 0.6);
    expect(q.items.map((i) => i.id).sort()).toEqual(truth.map((i) => i.id).sort());
    expect(q.total).toBe(truth.length);
    expect(truth.length).toBeGreaterThan(0);
    const conf = page({ sort: 'confidence' }).items.map((i) => i.p!);
    expect(conf).toEqual([...conf].sort((x, y) => x - y));
    const confPage = page({ sort: 'confidence', limit: 20, offset: 20 }).items.map((i) => i.id);
    expect(confPage).toEqual(page({ sort: 'confidence' }).items.slice(20, 40).map((i) => i.id));
  });

  it('finds label/prediction disagreements, and follows relabeling at once', () => {
    const all = page({}).items;
    const truth = (items: PhotoListItem[]) => items.filter((i) => i.classId !== null && i.predictedClassId !== i.classId).map((i) => i.id).sort();
    const d = page({ disagree: true });
    expect(d.items.map((i) => i.id).sort()).toEqual(truth(all));
    expect(d.total).toBe(truth(all).length);
    // accept the prediction for the disagreeing photos: one undoable action, and no disagreement left
    const accepted = lib.labels.acceptPredictions(ds, run, d.items.map((i) => i.id))!;
    expect(accepted.changed).toBe(d.items.length);
    expect(page({ disagree: true }).total).toBe(0);
    expect(lib.photos.get(d.items[0].id).labelSource).toBe('prediction');
    lib.labels.undo(ds);
    expect(page({ disagree: true }).total).toBe(d.total);
    const byConf = page({ disagree: true, sort: 'confidence', order: 'desc' }).items.map((i) => i.p!);
    expect(byConf).toEqual([...byConf].sort((x, y) => y - x));
  });

  it('restricts to a split subset, and refuses a bad page size or sort', () => {
    const split = lib.splits.latest(ds)!;
    const val = page({ subset: { splitId: split.id, subset: 'val' } });
    expect(val.total).toBe(lib.splits.counts(split.id).val);
    expect(() => page({ limit: 0 })).toThrow(expect.objectContaining({ code: 'BAD_QUERY' }));
    expect(() => page({ sort: 'size' as never })).toThrow(expect.objectContaining({ code: 'BAD_QUERY' }));
    expect(() => page({ sort: 'label', after: 'abc' })).toThrow(expect.objectContaining({ code: 'BAD_QUERY' }));
  });
});
