import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Batch, BatchLoader, datasetPca, epochOrder, hashFile, ImageCache, type Item, type LoaderEvent, PAPER_AUGMENT, scanImageFolder, stratifiedSplit } from '../../ml/data';
import { EngineError } from '../../ml/errors';
import { centerView, loadImage, PAPER_PREPROCESSING, tenCropViews, toInput } from '../../ml/preprocess';
import { engineError } from '../helpers/engine-error';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const datasets = path.resolve(repoRoot, '../shared/datasets');
const hymTrain = path.join(datasets, 'hymenoptera/train');
const P = PAPER_PREPROCESSING;
const ROW = P.crop * P.crop * 3;

let tmp: string;
let real: Item[]; // a few real photos of both classes
beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'alexnet-data-'));
  const ants = readdirSync(path.join(hymTrain, 'ants')).sort().slice(0, 8);
  const bees = readdirSync(path.join(hymTrain, 'bees')).sort().slice(0, 8);
  real = [...ants.map((f) => ({ path: path.join(hymTrain, 'ants', f), label: 0 })), ...bees.map((f) => ({ path: path.join(hymTrain, 'bees', f), label: 1 }))];
  await loadImage(real[0]!.path, P); // warm sharp up so timings below measure decoding, not start-up
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function collect(gen: AsyncGenerator<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of gen) out.push(b);
  return out;
}

const tinyJpeg = (colour: { r: number; g: number; b: number }): Promise<Buffer> =>
  sharp({ create: { width: 40, height: 30, channels: 3, background: colour } }).jpeg().toBuffer();

describe('scanImageFolder', () => {
  it('scans hymenoptera/train: two sorted classes, every photo, quirky names included', async () => {
    const f = await scanImageFolder(hymTrain);
    expect(f.root).toBe(hymTrain);
    expect(f.classes).toEqual(['ants', 'bees']);
    const onDisk = (c: string): number => readdirSync(path.join(hymTrain, c)).filter((n) => !n.startsWith('.')).length;
    expect(f.items.filter((i) => i.label === 0)).toHaveLength(onDisk('ants'));
    expect(f.items.filter((i) => i.label === 1)).toHaveLength(onDisk('bees'));
    expect(f.skipped).toEqual([]);
    const paths = f.items.map((i) => i.path);
    expect(paths).toContain(path.join(hymTrain, 'ants', 'formica.jpeg'));
    expect(paths).toContain(path.join(hymTrain, 'ants', 'ant photos.jpg'));
    expect(f.items.every((i) => path.basename(path.dirname(i.path)) === f.classes[i.label])).toBe(true);
  });

  it('recurses, sniffs contents, skips hidden files and folders, lists non-images with a reason', async () => {
    const root = path.join(tmp, 'scan');
    const jpg = await tinyJpeg({ r: 200, g: 10, b: 10 });
    const files: Record<string, Buffer | string> = {
      'cat/a.JPG': jpg,
      'cat/sub/deeper/b.png': await sharp(jpg).png().toBuffer(),
      'cat/noextension': jpg, // a JPEG without an extension is still an image
      'cat/fake.jpg': '<html>not a photo</html>',
      'cat/notes.txt': 'hello',
      'cat/empty.jpeg': '',
      'cat/.hidden.jpg': jpg,
      'dog/c.webp': await sharp(jpg).webp().toBuffer(),
      'dog/d.gif': await sharp(jpg).gif().toBuffer(),
      'dog/e.jpeg': jpg,
      '.git/x.jpg': jpg,
      'README.md': 'readme',
      'loose.jpg': jpg,
    };
    for (const [rel, data] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), data);
    }
    mkdirSync(path.join(root, 'empty-class'));
    symlinkSync(path.join(root, 'dog'), path.join(root, 'dog', 'loop')); // a symlink loop must not hang
    symlinkSync('.', path.join(root, 'loop')); // `ln -s . loop`: not a class holding every photo again
    const f = await scanImageFolder(root);
    expect(f.classes).toEqual(['cat', 'dog']);
    const rel = (p: string): string => path.relative(root, p);
    expect(f.items.map((i) => [rel(i.path), i.label])).toEqual([
      ['cat/a.JPG', 0],
      ['cat/noextension', 0],
      ['cat/sub/deeper/b.png', 0],
      ['dog/c.webp', 1],
      ['dog/d.gif', 1],
      ['dog/e.jpeg', 1],
    ]);
    const why = Object.fromEntries(f.skipped.map((s) => [rel(s.path), s.reason]));
    expect(Object.keys(why).sort()).toEqual(['README.md', 'cat/.hidden.jpg', 'cat/empty.jpeg', 'cat/fake.jpg', 'cat/notes.txt', 'dog/loop', 'empty-class', 'loop', 'loose.jpg']);
    expect(why.loop).toBe('link to a folder (not followed)'); // the words of the library's import
    expect(why['dog/loop']).toBe('link to a folder (not followed)');
    expect(why['cat/fake.jpg']).toMatch(/not an image.*\.jpg/);
    expect(why['cat/empty.jpeg']).toMatch(/empty/);
    expect(why['loose.jpg']).toMatch(/class sub-folder/);
    expect(why['cat/.hidden.jpg']).toBe('hidden file'); // (.git/ is a hidden folder: not entered, not listed)
    // Every listed image really decodes.
    for (const it of f.items) expect((await loadImage(it.path, P)).data.length).toBe(256 * 256 * 3);
  });

  it('sorts classes by name, the same on every machine', async () => {
    const root = path.join(tmp, 'order');
    const jpg = await tinyJpeg({ r: 1, g: 2, b: 3 });
    for (const c of ['zebra', 'Bee', 'apple', 'Ant 2', 'ant10', 'ant9']) {
      mkdirSync(path.join(root, c), { recursive: true });
      writeFileSync(path.join(root, c, 'x.jpg'), jpg);
    }
    const f = await scanImageFolder(root);
    expect(f.classes).toEqual(['Ant 2', 'Bee', 'ant10', 'ant9', 'apple', 'zebra']);
    expect(f.items.map((i) => i.label)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('errors: missing folder, a file, empty, one class, images only at the top', async () => {
    expect((await engineError(scanImageFolder(path.join(tmp, 'nope')))).code).toBe('NO_SUCH_FOLDER');
    expect((await engineError(scanImageFolder(path.join(hymTrain, 'ants', 'formica.jpeg')))).code).toBe('NO_SUCH_FOLDER');
    const empty = path.join(tmp, 'empty');
    mkdirSync(path.join(empty, 'a'), { recursive: true });
    writeFileSync(path.join(empty, 'a', 'readme.txt'), 'no photos');
    expect((await engineError(scanImageFolder(empty))).code).toBe('NO_IMAGES');
    const one = path.join(tmp, 'one');
    mkdirSync(path.join(one, 'only', 'nested'), { recursive: true });
    mkdirSync(path.join(one, 'other'));
    writeFileSync(path.join(one, 'only', 'nested', 'x.jpg'), await tinyJpeg({ r: 9, g: 9, b: 9 }));
    const e = await engineError(scanImageFolder(one));
    expect(e.code).toBe('TOO_FEW_CLASSES');
    expect(e.message).toContain('only');
    const flat = path.join(tmp, 'flat');
    mkdirSync(flat);
    writeFileSync(path.join(flat, 'x.jpg'), await tinyJpeg({ r: 9, g: 9, b: 9 }));
    const f = await engineError(scanImageFolder(flat));
    expect(f.code).toBe('NO_IMAGES');
    expect(f.message).toMatch(/1 images lie directly/);
    for (const err of [e, f]) expect(err.message).not.toContain('\n');
  });
});

describe('stratifiedSplit', () => {
  it('splits every class in proportion, reproducibly from the seed', async () => {
    const { items } = await scanImageFolder(hymTrain);
    const { train, val } = stratifiedSplit(items, 0.2, 7);
    expect(train.length + val.length).toBe(items.length);
    expect(new Set([...train, ...val].map((i) => i.path)).size).toBe(items.length);
    for (const label of [0, 1]) {
      const n = items.filter((i) => i.label === label).length;
      expect(val.filter((i) => i.label === label)).toHaveLength(Math.round(n * 0.2));
    }
    const again = stratifiedSplit(items, 0.2, 7);
    expect(again.val.map((i) => i.path)).toEqual(val.map((i) => i.path));
    const other = stratifiedSplit(items, 0.2, 8);
    expect(other.val.map((i) => i.path)).not.toEqual(val.map((i) => i.path));
    // Input order does not matter; output keeps input order.
    const rev = stratifiedSplit(items.slice().reverse(), 0.2, 7);
    expect(new Set(rev.val.map((i) => i.path))).toEqual(new Set(val.map((i) => i.path)));
    const idx = val.map((v) => items.indexOf(v));
    expect(idx).toEqual(idx.slice().sort((a, b) => a - b));
  });

  it('tiny classes: one val image from 2+, none from 1, at least one train', () => {
    const mk = (label: number, n: number): Item[] => Array.from({ length: n }, (_, i) => ({ path: `/x/${label}/${i}.jpg`, label }));
    const items = [...mk(0, 1), ...mk(1, 2), ...mk(2, 3), ...mk(3, 40)];
    const { train, val } = stratifiedSplit(items, 0.1, 1);
    const count = (xs: Item[], l: number): number => xs.filter((i) => i.label === l).length;
    expect([0, 1, 2, 3].map((l) => count(val, l))).toEqual([0, 1, 1, 4]);
    expect([0, 1, 2, 3].map((l) => count(train, l))).toEqual([1, 1, 2, 36]);
    expect(stratifiedSplit(items, 0.9, 1).train.filter((i) => i.label === 1)).toHaveLength(1);
    expect(stratifiedSplit(items, 0, 1).val).toEqual([]);
    for (const bad of [-0.1, 1, Number.NaN]) expect(() => stratifiedSplit(items, bad, 1)).toThrow(EngineError);
  });
});

describe('hashFile', () => {
  it('is the sha256 of the bytes; BAD_IMAGE when unreadable', async () => {
    const f = real[0]!.path;
    expect(await hashFile(f)).toBe(createHash('sha256').update(readFileSync(f)).digest('hex'));
    expect(await hashFile(real[1]!.path)).not.toBe(await hashFile(f));
    expect((await engineError(hashFile(path.join(tmp, 'missing.jpg')))).code).toBe('BAD_IMAGE');
  });
});

describe('ImageCache', () => {
  it('keeps images up to its byte budget and then stops caching', async () => {
    const img = await loadImage(real[0]!.path, P);
    const c = new ImageCache(img.data.byteLength * 2);
    expect(c.set('a', img)).toBe(true);
    expect(c.set('b', img)).toBe(true);
    expect(c.set('c', img)).toBe(false);
    expect([c.size, c.bytes]).toEqual([2, img.data.byteLength * 2]);
    expect(c.get('a')).toBe(img);
    expect(c.get('c')).toBeUndefined();
  });
});

describe('BatchLoader', () => {
  it('training epoch: shapes, every image once, shuffled per epoch, deterministic per (seed, epoch)', async () => {
    const pca = await datasetPca(real, P, { maxImages: 8, seed: 1 });
    const make = (seed: number): BatchLoader => new BatchLoader({ items: real, prep: P, batchSize: 6, augment: PAPER_AUGMENT, pca, seed });
    const L = make(3);
    const e0 = await collect(L.batches(0));
    expect(e0.map((b) => b.n)).toEqual([6, 6, 4]);
    for (const b of e0) {
      expect(b.x.length).toBe(b.n * ROW);
      expect([b.y.length, b.paths.length, b.viewsPerImage]).toEqual([b.n, b.n, 1]);
      b.paths.forEach((p, i) => expect(b.y[i]).toBe(real.find((r) => r.path === p)!.label));
      expect(b.x.every(Number.isFinite)).toBe(true);
    }
    const order0 = e0.flatMap((b) => b.paths);
    expect(order0.slice().sort()).toEqual(real.map((r) => r.path).sort());
    expect(order0).not.toEqual(real.map((r) => r.path));
    const e1 = await collect(L.batches(1));
    expect(e1.flatMap((b) => b.paths)).not.toEqual(order0);
    expect(L.stats.decoded).toBe(real.length); // epoch 1 came from the cache
    expect(L.stats.cacheHits).toBe(real.length);

    const fresh = await collect(make(3).batches(0)); // new loader, cold cache: same bytes
    expect(fresh.flatMap((b) => b.paths)).toEqual(order0);
    fresh.forEach((b, i) => expect(Buffer.from(b.x.buffer).equals(Buffer.from(e0[i]!.x.buffer))).toBe(true));
    const other = await collect(make(4).batches(0));
    expect(Buffer.from(other[0]!.x.buffer).equals(Buffer.from(e0[0]!.x.buffer))).toBe(false);

    // The PCA colour noise is in the batches: same crops without it, each row shifted by one
    // constant (R, G, B) offset.
    const plain = await collect(new BatchLoader({ items: real, prep: P, batchSize: 6, augment: { ...PAPER_AUGMENT, pcaStd: 0 }, pca, seed: 3, cache: L.cache }).batches(0));
    expect(plain[0]!.paths).toEqual(e0[0]!.paths);
    for (let row = 0; row < 2; row++) {
      const base = row * ROW;
      const off = [0, 1, 2].map((k) => e0[0]!.x[base + k]! - plain[0]!.x[base + k]!);
      expect(Math.hypot(...off)).toBeGreaterThan(0.01);
      for (let i = 0; i < ROW; i += 997 * 3) for (let k = 0; k < 3; k++) expect(e0[0]!.x[base + i + k]! - plain[0]!.x[base + i + k]!).toBeCloseTo(off[k]!, 3);
    }
  });

  it('evaluation: items in order, centre crops equal to toInput; 10crop gives 10 consecutive views per image', async () => {
    const items = real.slice(0, 5);
    const L = new BatchLoader({ items, prep: P, batchSize: 20, augment: null, seed: 0 });
    const centre = await collect(L.evalBatches());
    expect(centre).toHaveLength(1);
    expect(centre[0]!.paths).toEqual(items.map((i) => i.path));
    const img0 = await loadImage(items[0]!.path, P);
    expect(Array.from(centre[0]!.x.subarray(0, ROW))).toEqual(Array.from(toInput(img0, P, centerView(P))));

    const ten = await collect(L.evalBatches('10crop'));
    expect(ten.map((b) => [b.n, b.viewsPerImage])).toEqual([
      [20, 10],
      [20, 10],
      [10, 10],
    ]); // batchSize 20 = 2 images x 10 views
    const b0 = ten[0]!;
    expect(b0.paths).toEqual([...Array(10).fill(items[0]!.path), ...Array(10).fill(items[1]!.path)]);
    expect(Array.from(b0.y)).toEqual([...Array(10).fill(items[0]!.label), ...Array(10).fill(items[1]!.label)]);
    tenCropViews(P).forEach((v, k) => {
      const want = toInput(img0, P, v);
      expect(Buffer.from(b0.x.buffer, k * ROW * 4, ROW * 4).equals(Buffer.from(want.buffer))).toBe(true);
    });
    expect(L.stats.decoded).toBe(5); // the 10-crop pass reused the cache
  });

  it('training batches mix the classes of a class-sorted list, augmented or not; evaluation keeps the order', async () => {
    // `real` is sorted by class, as scanImageFolder lists a folder: 8 ants, then 8 bees
    const mixed = (b: Batch): boolean => new Set(b.y).size === 2;
    for (const augment of [PAPER_AUGMENT, { ...PAPER_AUGMENT, pcaStd: 0 }, null]) {
      const L = new BatchLoader({ items: real, prep: P, batchSize: 8, augment, seed: 0 });
      for (const epoch of [1, 2]) {
        const e = await collect(L.batches(epoch));
        expect(e.every(mixed)).toBe(true);
        expect(e.flatMap((b) => b.paths)).toEqual(epochOrder(real.length, 0, epoch).map((i) => real[i]!.path));
      }
      expect((await collect(L.evalBatches())).flatMap((b) => b.paths)).toEqual(real.map((r) => r.path));
    }
    // the order is the same with augmentation and without: it depends on (seed, epoch) only
    expect(epochOrder(16, 0, 1)).not.toEqual(epochOrder(16, 0, 2));
    expect(epochOrder(16, 1, 1)).not.toEqual(epochOrder(16, 0, 1));
    expect(epochOrder(16, 0, 1).slice().sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });

  it('PCA colour noise is on whenever augment asks for it: without a given PCA the loader computes it from its items', async () => {
    const items = real.slice(6, 10);
    const own = new BatchLoader({ items, prep: P, batchSize: 4, augment: PAPER_AUGMENT, seed: 2 });
    const given = new BatchLoader({ items, prep: P, batchSize: 4, augment: PAPER_AUGMENT, pca: await datasetPca(items, P, { seed: 2 }), seed: 2, cache: own.cache });
    const none = new BatchLoader({ items, prep: P, batchSize: 4, augment: { ...PAPER_AUGMENT, pcaStd: 0 }, seed: 2, cache: own.cache });
    const [a] = await collect(own.batches(1));
    const [b] = await collect(given.batches(1));
    const [c] = await collect(none.batches(1));
    expect(Buffer.from(a!.x.buffer).equals(Buffer.from(b!.x.buffer))).toBe(true);
    expect(Buffer.from(a!.x.buffer).equals(Buffer.from(c!.x.buffer))).toBe(false);
  });

  it('skips a corrupt JPEG with onSkip (once) and the epoch goes on', async () => {
    const bytes = readFileSync(real[0]!.path);
    const bad = path.join(tmp, 'truncated.jpg');
    writeFileSync(bad, bytes.subarray(0, Math.floor(bytes.length / 3)));
    const items = [...real.slice(0, 3), { path: bad, label: 1 }, ...real.slice(8, 10)];
    const skips: [string, string][] = [];
    const L = new BatchLoader({ items, prep: P, batchSize: 4, augment: PAPER_AUGMENT, seed: 1, onSkip: (p, r) => skips.push([p, r]) });
    for (const epoch of [0, 1]) {
      const got = (await collect(L.batches(epoch))).flatMap((b) => b.paths);
      expect(got).toHaveLength(5);
      expect(got).not.toContain(bad);
    }
    expect(skips).toHaveLength(1);
    expect(skips[0]![0]).toBe(bad);
    expect(skips[0]![1]).toContain(bad);
    expect(L.stats.skipped).toBe(1);
  });

  it('respects the cache budget', async () => {
    const items = real.slice(0, 6);
    const L = new BatchLoader({ items, prep: P, batchSize: 3, augment: null, seed: 0, cacheBytes: 2 * 256 * 256 * 3 });
    await collect(L.batches(0));
    await collect(L.batches(1));
    expect(L.cache.size).toBe(2);
    expect(L.stats.decoded).toBe(6 + 4);
    expect(L.stats.cacheHits).toBe(2);
  });

  it('decodes batch i+1 while the consumer is busy with batch i (blocking steps, like a TF step)', async () => {
    // Each step blocks the JS thread, as a synchronous TF.js step does; sharp decodes on libuv's
    // threads meanwhile. Batches of 2 distinct photos, no cache reuse within the epoch.
    const block = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    const run = async (prefetch: number): Promise<{ events: LoaderEvent[]; asked: number[]; waited: number[] }> => {
      const events: LoaderEvent[] = [];
      const L = new BatchLoader({ items: real.slice(0, 10), prep: P, batchSize: 2, augment: null, seed: 0, cacheBytes: 0, prefetch, onEvent: (e) => events.push(e) });
      const asked: number[] = [];
      const waited: number[] = [];
      const gen = L.batches(0);
      for (let b = 0; ; b++) {
        const t = performance.now();
        asked.push(t);
        const r = await gen.next();
        if (r.done) break;
        waited.push(performance.now() - t);
        block(250); // the "training step"
      }
      return { events, asked, waited };
    };
    const at = (events: LoaderEvent[], type: LoaderEvent['type'], b: number): number => events.find((e) => e.type === type && e.batch === b)!.time;

    const withPrefetch = await run(2);
    const cold0 = at(withPrefetch.events, 'batch-ready', 0) - at(withPrefetch.events, 'batch-start', 0); // decode time of one batch, nothing to hide it
    for (let b = 1; b < 5; b++) expect(at(withPrefetch.events, 'batch-start', b)).toBeLessThan(withPrefetch.asked[b]!);
    const meanWait = withPrefetch.waited.slice(1).reduce((a, b) => a + b, 0) / 4;
    expect(meanWait).toBeLessThan(0.5 * cold0); // the decode was hidden behind the step

    const none = await run(0); // control: without prefetch, a batch starts only when asked for
    for (let b = 1; b < 5; b++) expect(at(none.events, 'batch-start', b)).toBeGreaterThanOrEqual(none.asked[b]!);
    const meanWaitNone = none.waited.slice(1).reduce((a, b) => a + b, 0) / 4;
    expect(meanWaitNone).toBeGreaterThan(meanWait);
  });

  it('a consumer that stops early leaves no stray work or errors behind', async () => {
    // One decode at a time, 3 batches (6 images) queued ahead when the consumer stops after batch 0.
    const L = new BatchLoader({ items: real, prep: P, batchSize: 2, augment: { ...PAPER_AUGMENT, pcaStd: 0 }, seed: 0, cacheBytes: 0, prefetch: 3, concurrency: 1 });
    for await (const b of L.batches(0)) {
      expect(b.n).toBe(2);
      break;
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(L.stats.decoded).toBeLessThanOrEqual(3); // batch 0, and at most the decode already running
    expect((await collect(L.batches(1))).reduce((a, b) => a + b.n, 0)).toBe(real.length);
    // Two consumers asking for the same files at once share the decodes.
    const M = new BatchLoader({ items: real.slice(0, 4), prep: P, batchSize: 4, augment: null, seed: 0 });
    const [a, b] = await Promise.all([collect(M.batches(0)), collect(M.batches(0))]);
    expect(a[0]!.paths).toEqual(b[0]!.paths);
    expect(M.stats.decoded).toBe(4);
  });
});
