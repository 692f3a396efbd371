// The image data pipeline: find the photos (<dir>/<class>/**/<image>), split them per class, and
// feed the trainer batches of preprocessed views, decoded ahead of time and cached in memory.
// Plain TypeScript + sharp: everything here produces typed arrays; the trainer makes tensors.
//
//   scanImageFolder(dir) -> { classes, items: {path, label}[], skipped }
//   stratifiedSplit(items, 0.2, seed) -> { train, val }
//   new BatchLoader({ items, prep, batchSize, augment, seed })
//     .batches(epoch)      training: every epoch in its own seeded order (epochOrder), views per `augment`
//     .evalBatches(views)  evaluation: the items in the given order, centre or 10-crop views
//     -> Batch { x: Float32Array [n, crop, crop, 3], y: Int32Array [n], paths [n], n, viewsPerImage }

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { byName, type FolderScan, FolderScanError, scanFolder } from './scan';
import { EngineError } from './errors';
import {
  centerView,
  computePca,
  type DecodedImage,
  loadImage,
  type Pca,
  type Preprocessing,
  randomView,
  tenCropViews,
  toInput,
  type View,
} from './preprocess';
import { limiter, mapPool } from './pool';
import { createRng } from './rng';

export { computePca, type Pca } from './preprocess';

export type Item = { path: string; label: number }; // an image file and its class index
export type Skipped = { path: string; reason: string }; // a file that is not used, and why

// ---------------------------------------------------------------------------------------------
// Content hash (the feature cache keys on it): sha256 of the bytes, hex, streamed.

/** sha256 of the file's bytes as 64 hex characters; EngineError 'BAD_IMAGE' if unreadable. */
export function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file, { highWaterMark: 1 << 20 })
      .on('data', (chunk) => h.update(chunk))
      .on('error', (e) => reject(new EngineError('BAD_IMAGE', `${file}: cannot read the file: ${e.message.replace(/\s+/g, ' ')}`)))
      .on('end', () => resolve(h.digest('hex')));
  });
}

// ---------------------------------------------------------------------------------------------
// Finding the images.

export { sniffImage } from './scan'; // main/server/server.ts and main/app/images.ts sniff uploads and served files with it

export type ImageFolder = {
  root: string; // absolute path of the scanned folder
  classes: string[]; // class names (sub-folder names) that have images, sorted; label = index here
  items: Item[]; // every image, grouped by class, in the scanner's order within a class
  skipped: Skipped[]; // files found but not used (not images, outside class folders, ...), and why
};

/**
 * Scans `<dir>/<class>/**\/<image>` (ImageFolder layout; `<dir>/train|val|test/<class>/...` too) with
 * the one folder scanner the library's import uses too (ml/scan.ts: what is a photo, hidden
 * files, links, class folders, what is skipped and why).
 * Training needs a class, so photos directly in `dir` are skipped too. Throws EngineError
 * 'NO_SUCH_FOLDER', 'NO_IMAGES' or 'TOO_FEW_CLASSES' (fewer than 2 class folders with images).
 */
export async function scanImageFolder(dir: string): Promise<ImageFolder> {
  const root = path.resolve(dir);
  const st = await stat(root).catch(() => null);
  if (!st) throw new EngineError('NO_SUCH_FOLDER', `no such folder: ${root}`);
  if (!st.isDirectory()) throw new EngineError('NO_SUCH_FOLDER', `${root} is a file, not a folder of class sub-folders`);

  let scan: FolderScan;
  try {
    scan = await scanFolder(root);
  } catch (e) {
    if (e instanceof FolderScanError) throw new EngineError('NO_SUCH_FOLDER', e.message);
    throw e;
  }
  const skipped: Skipped[] = [...scan.skipped];
  const byClass = new Map<string, string[]>(scan.classFolders.map((c) => [c, []]));
  let looseImages = 0;
  for (const p of scan.photos) {
    if (p.className === null) {
      looseImages++;
      skipped.push({ path: p.path, reason: 'not inside a class sub-folder' });
    } else byClass.get(p.className)!.push(p.path);
  }

  const classes: string[] = [];
  const items: Item[] = [];
  for (const [name, images] of byClass) {
    if (images.length === 0) {
      skipped.push({ path: path.join(root, name), reason: 'class folder without images (class left out)' });
      continue;
    }
    const label = classes.length;
    classes.push(name);
    for (const f of images) items.push({ path: f, label });
  }

  if (classes.length === 0) {
    const hint = looseImages > 0 ? ` (${looseImages} images lie directly in it: put each class's images in its own sub-folder)` : '';
    throw new EngineError('NO_IMAGES', `no images in class sub-folders of ${root}${hint}; expected ${root}/<class>/<image>`);
  }
  if (classes.length < 2)
    throw new EngineError('TOO_FEW_CLASSES', `${root} has images for only one class ('${classes[0]}'); training needs at least 2 class sub-folders with images`);
  return { root, classes, items, skipped };
}

// ---------------------------------------------------------------------------------------------
// Train / validation split.

/**
 * Splits each class separately: round(count * valFraction) of its images go to val, but at least
 * one wherever the class has >= 2 images (and at least one always stays in train). Which ones is
 * decided by `seed` alone (members sorted by path first, so input order doesn't matter); both
 * outputs keep the input order. valFraction 0 puts everything in train.
 */
export function stratifiedSplit<T extends { label: number; path?: string }>(items: T[], valFraction: number, seed: number): { train: T[]; val: T[] } {
  if (!(valFraction >= 0 && valFraction < 1)) throw new EngineError('BAD_CONFIG', `validation fraction must be in [0, 1), got ${valFraction}`);
  const byClass = new Map<number, number[]>();
  items.forEach((it, i) => {
    const list = byClass.get(it.label) ?? [];
    list.push(i);
    byClass.set(it.label, list);
  });
  const isVal = new Uint8Array(items.length);
  const rng = createRng(seed).fork('split');
  for (const [label, idx] of byClass) {
    if (valFraction === 0 || idx.length < 2) continue;
    idx.sort((a, b) => byName(items[a]!.path ?? '', items[b]!.path ?? '') || a - b);
    rng.fork(label).shuffle(idx);
    const nVal = Math.min(idx.length - 1, Math.max(1, Math.round(idx.length * valFraction)));
    for (let k = 0; k < nVal; k++) isVal[idx[k]!] = 1;
  }
  return { train: items.filter((_, i) => !isVal[i]), val: items.filter((_, i) => isVal[i]) };
}

// ---------------------------------------------------------------------------------------------
// Decoded-image cache: later epochs don't decode again.

/**
 * Decoded images held in memory up to a byte budget. When full it keeps what it has and caches no
 * more (no eviction): epochs read the data in a cycle, and for a cycle larger than the cache LRU
 * would miss every time, while keeping the first images hits budget/size of the reads.
 */
export class ImageCache {
  private readonly map = new Map<string, DecodedImage>();
  private used = 0;
  constructor(readonly maxBytes: number = 1 << 30 /* 1 GiB ~ 5,400 images at 256x256x3 */) {}
  get bytes(): number {
    return this.used;
  }
  get size(): number {
    return this.map.size;
  }
  get(key: string): DecodedImage | undefined {
    return this.map.get(key);
  }
  /** Stores `img` if it fits the budget; returns whether it did. */
  set(key: string, img: DecodedImage): boolean {
    if (this.map.has(key)) return true;
    if (this.used + img.data.byteLength > this.maxBytes) return false;
    this.map.set(key, img);
    this.used += img.data.byteLength;
    return true;
  }
  clear(): void {
    this.map.clear();
    this.used = 0;
  }
}

const cacheKey = (file: string, prep: Preprocessing): string => `${prep.resize}:${file}`;

// ---------------------------------------------------------------------------------------------
// Batches.

/**
 * The order in which epoch `epoch` of training visits `n` items: a permutation drawn from (seed,
 * epoch) alone. Training always shuffles, with or without augmentation (SGD on batches sorted by
 * class, as folders list them, trains badly); evaluation keeps the given order. Every training
 * source (BatchLoader.batches, the feature cache's featureSource) takes its order from here.
 */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  return createRng(seed).fork('shuffle').fork(epoch).shuffle(Array.from({ length: n }, (_, i) => i));
}

export type Augment = {
  randomCrop: boolean; // random crop x crop window of the resize x resize image (else centre)
  flip: boolean; // horizontal mirror with probability 1/2
  pcaStd: number; // std of the PCA colour noise's alphas (paper: 0.1); 0 = off (also off without `pca`)
};

/** The paper's training augmentation. */
export const PAPER_AUGMENT: Augment = Object.freeze({ randomCrop: true, flip: true, pcaStd: 0.1 }) as Augment;

export type Batch = {
  x: Float32Array; // [n, crop, crop, 3] HWC, normalised as prep says
  n: number; // rows in x = images in this batch * viewsPerImage
  y: Int32Array; // [n] label of each row
  paths: string[]; // [n] source file of each row
  viewsPerImage: number; // 1, or 10 with '10crop': rows i*10 .. i*10+9 are the same image
};

export type LoaderEvent = {
  type: 'batch-start' | 'batch-ready'; // a batch's decoding began / its arrays are complete
  epoch: number;
  batch: number; // index within the epoch
  time: number; // performance.now()
};

export type BatchLoaderOptions = {
  items: Item[]; // images and labels (e.g. a stratifiedSplit half)
  prep: Preprocessing; // the model's preprocessing
  batchSize: number; // rows per batch; with '10crop', floor(batchSize / 10) images (at least 1) per batch
  augment: Augment | null; // views of training batches; null = centre crops (the order is shuffled either way)
  pca?: Pca; // training set's RGB PCA for augment.pcaStd > 0; default: datasetPca of `items`, on the first training epoch
  seed: number; // shuffles and augmentations derive from (seed, epoch) only
  prefetch?: number; // batches decoded ahead of the one being consumed (default 2)
  concurrency?: number; // most decodes handed to sharp at once (default: all the prefetch window asks for, see below)
  cacheBytes?: number; // budget of the decoded-image cache (default 1 GiB); 0 = no cache
  cache?: ImageCache; // share one cache between loaders (overrides cacheBytes)
  onSkip?: (path: string, reason: string) => void; // an undecodable file, reported once, then left out
  onEvent?: (e: LoaderEvent) => void; // progress / instrumentation hook
};

export type LoaderStats = { decoded: number; cacheHits: number; skipped: number };

export class BatchLoader {
  readonly stats: LoaderStats = { decoded: 0, cacheHits: 0, skipped: 0 };
  readonly cache: ImageCache;
  private readonly limit: <T>(fn: () => Promise<T>) => Promise<T>; // decodes in flight
  private readonly bad = new Map<string, string>(); // path -> reason, skipped in every later epoch
  private readonly pending = new Map<string, Promise<DecodedImage | null>>(); // decodes in flight, by cache key
  private pca: Promise<Pca> | null = null; // the colour noise's PCA, computed once when not given

  constructor(private readonly opts: BatchLoaderOptions) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new EngineError('BAD_CONFIG', `batch size must be a positive integer, got ${opts.batchSize}`);
    if (opts.prep.crop > opts.prep.resize) throw new EngineError('BAD_CONFIG', `crop ${opts.prep.crop} is larger than resize ${opts.prep.resize}`);
    this.cache = opts.cache ?? new ImageCache(opts.cacheBytes ?? 1 << 30);
    // How many decodes run at once is bounded by libuv's thread pool (UV_THREADPOOL_SIZE, 4 by
    // default), where sharp queues its jobs. By default every image of the prefetch window is handed
    // to sharp at once: a synchronous training step blocks the JS thread, and only jobs already
    // queued can progress during it (a limiter could not start the next decode until the step ends).
    const window = (Math.max(0, opts.prefetch ?? 2) + 1) * opts.batchSize;
    this.limit = limiter(opts.concurrency ?? window);
  }

  /** Images per batch and batches per epoch for a view mode (before any corrupt file is left out). */
  shape(views: 'train' | 'center' | '10crop' = 'train'): { imagesPerBatch: number; batches: number; viewsPerImage: number } {
    const viewsPerImage = views === '10crop' ? 10 : 1;
    const imagesPerBatch = Math.max(1, Math.floor(this.opts.batchSize / viewsPerImage));
    return { imagesPerBatch, batches: Math.ceil(this.opts.items.length / imagesPerBatch), viewsPerImage };
  }

  /**
   * The decoded image (from the cache, or decoded and cached); null if the file is undecodable,
   * or if `cancelled()` is true by the time a decode slot frees up. Concurrent requests for one
   * file share a single decode.
   */
  image(file: string, cancelled: () => boolean = () => false): Promise<DecodedImage | null> {
    const key = cacheKey(file, this.opts.prep);
    const hit = this.cache.get(key);
    if (hit) {
      this.stats.cacheHits++;
      return Promise.resolve(hit);
    }
    if (this.bad.has(file)) return Promise.resolve(null);
    const pending = this.pending.get(key);
    // (a null from a decode its first requester cancelled is not an answer for this one: retry)
    if (pending) return pending.then((img) => img ?? (this.bad.has(file) ? null : this.image(file, cancelled)));
    const p = this.decode(file, key, cancelled).finally(() => this.pending.delete(key));
    this.pending.set(key, p);
    return p;
  }

  private async decode(file: string, key: string, cancelled: () => boolean): Promise<DecodedImage | null> {
    try {
      const img = await this.limit(async () => (cancelled() ? null : loadImage(file, this.opts.prep)));
      if (!img) return null;
      this.stats.decoded++;
      this.cache.set(key, img);
      return img;
    } catch (e) {
      if (!(e instanceof EngineError) || e.code !== 'BAD_IMAGE') throw e;
      this.bad.set(file, e.message);
      this.stats.skipped++;
      this.opts.onSkip?.(file, e.message);
      return null;
    }
  }

  /**
   * One epoch of training batches, in epochOrder(seed, epoch): random crop / flip / PCA noise as
   * `augment` says, or centre crops when augment is null. Batches i+1 .. i+prefetch decode while
   * the consumer works on batch i. Corrupt images are skipped (onSkip), never fatal.
   */
  async *batches(epoch: number): AsyncGenerator<Batch> {
    const { items, prep, augment, seed } = this.opts;
    const pcaStd = augment?.pcaStd ?? 0;
    const pca = pcaStd > 0 ? (this.opts.pca ?? (await (this.pca ??= datasetPca(items, prep, { seed, loader: this })))) : null;
    // every image's view depends on (seed, epoch, item index) only: the same whatever the decode
    // order, concurrency or cache state
    const viewRng = createRng(seed).fork('augment').fork(epoch);
    const centre = [centerView(prep)];
    const viewsFor = (itemIndex: number): View[] =>
      augment ? [randomView(prep, viewRng.fork(itemIndex), pca, { randomCrop: augment.randomCrop, flip: augment.flip, pcaStd })] : centre;
    yield* this.run(epoch, epochOrder(items.length, seed, epoch), this.shape('train'), viewsFor);
  }

  /** Evaluation batches: every item in the given order, its centre crop or its 10 crops (as in the paper). */
  async *evalBatches(views: 'center' | '10crop' = 'center'): AsyncGenerator<Batch> {
    const fixed = views === '10crop' ? tenCropViews(this.opts.prep) : [centerView(this.opts.prep)];
    yield* this.run(0, this.opts.items.map((_, i) => i), this.shape(views), () => fixed);
  }

  private async *run(
    epoch: number,
    order: number[],
    shape: { imagesPerBatch: number; batches: number; viewsPerImage: number },
    viewsFor: (itemIndex: number) => View[],
  ): AsyncGenerator<Batch> {
    const { items, prep } = this.opts;
    const { imagesPerBatch, batches: nBatches, viewsPerImage } = shape;
    const prefetch = Math.max(0, this.opts.prefetch ?? 2);

    let cancelled = false;
    const emit = (type: LoaderEvent['type'], batch: number): void => this.opts.onEvent?.({ type, epoch, batch, time: performance.now() });
    const S = prep.crop;
    const rowSize = S * S * 3;

    const prepare = async (b: number): Promise<Batch | null> => {
      emit('batch-start', b);
      const members = order.slice(b * imagesPerBatch, (b + 1) * imagesPerBatch);
      const imgs = await Promise.all(members.map((i) => this.image(items[i]!.path, () => cancelled)));
      if (cancelled) return null;
      const ok = members.map((m, j) => [m, imgs[j]] as const).filter((p): p is readonly [number, DecodedImage] => p[1] !== null);
      const n = ok.length * viewsPerImage;
      const x = new Float32Array(n * rowSize);
      const y = new Int32Array(n);
      const paths: string[] = [];
      let row = 0;
      for (const [i, img] of ok) {
        for (const view of viewsFor(i)) {
          toInput(img, prep, view, x.subarray(row * rowSize, (row + 1) * rowSize));
          y[row] = items[i]!.label;
          paths.push(items[i]!.path);
          row++;
        }
      }
      emit('batch-ready', b);
      return n > 0 ? { x, n, y, paths, viewsPerImage } : null;
    };

    const inflight = new Map<number, Promise<Batch | null>>();
    let started = 0;
    const startUpTo = (last: number): void => {
      for (; started <= last && started < nBatches; started++) {
        const p = prepare(started);
        p.catch(() => undefined); // rejections surface when awaited below, not as "unhandled"
        inflight.set(started, p);
      }
    };
    try {
      for (let b = 0; b < nBatches; b++) {
        startUpTo(b + prefetch);
        const batch = await inflight.get(b)!;
        inflight.delete(b);
        if (batch) yield batch; // the consumer's step on b runs while b+1..b+prefetch decode
      }
    } finally {
      cancelled = true; // the consumer stopped early: decodes still waiting for a slot are dropped
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Files to network inputs, outside the training loader (classify, evaluate, the feature cache).

/** A file's network inputs: `views` rows of crop x crop x 3, or why it could not be read. */
export type DecodedViews = { file: string; x: Float32Array; views: number } | { file: string; error: { code: string; message: string } };

/**
 * Decodes files (at most `concurrency` at once) into the given views, each file's rows together.
 * Never throws for a bad file: its entry holds the error (EngineError's code, else 'BAD_IMAGE').
 */
export function decodeViews(files: readonly string[], prep: Preprocessing, views: readonly View[], concurrency = 4): Promise<DecodedViews[]> {
  const per = prep.crop * prep.crop * 3;
  return mapPool(files, concurrency, async (file): Promise<DecodedViews> => {
    try {
      const img = await loadImage(file, prep);
      const x = new Float32Array(views.length * per);
      views.forEach((v, k) => toInput(img, prep, v, x.subarray(k * per, (k + 1) * per)));
      return { file, x, views: views.length };
    } catch (e) {
      const code = e instanceof EngineError ? e.code : 'BAD_IMAGE';
      return { file, error: { code, message: (e as Error).message.replace(/\s+/g, ' ') } };
    }
  });
}

/**
 * The RGB PCA of (a seeded sample of up to `maxImages` of) `items`, for the colour augmentation.
 * Decodes through `loader` when given, so the images land in its cache for training.
 */
export async function datasetPca(
  items: Item[],
  prep: Preprocessing,
  opts: { maxImages?: number /* sample size; 500 is plenty for a 3x3 covariance */; seed?: number; loader?: BatchLoader } = {},
): Promise<Pca> {
  const sample = items.slice();
  const maxImages = opts.maxImages ?? 500;
  if (sample.length > maxImages) createRng(opts.seed ?? 0).fork('pca').shuffle(sample).splice(maxImages);
  const loader = opts.loader ?? new BatchLoader({ items: sample, prep, batchSize: 1, augment: null, seed: 0, cacheBytes: 0 });
  const imgs = (await Promise.all(sample.map((it) => loader.image(it.path)))).filter((i): i is DecodedImage => i !== null);
  return computePca(imgs);
}
