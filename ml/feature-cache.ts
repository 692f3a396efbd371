// Cache of frozen-layer outputs (pool5 features) for transfer learning, on disk.
//
// While conv1..conv5 are frozen their output for a given image view never changes, so it is
// computed once and kept:
//
//   <dir>/<namespace>/<h[0:2]>/<h>.<viewSet>.bin     raw float16 (or float32), [views, features]
//
//   h          sha256 of the image file's bytes (renaming or moving a photo keeps its entry)
//   namespace  sha256 of the conv weights' bytes + the config switches that shape the features
//              (input size, channels, groups, LRN, pooling, activation) + the preprocessing + dtype:
//              other weights or another preprocessing can never read stale features
//   viewSet    'c1' (centre crop: validation) or 'k<K>' (the K training views below)
//
// Augmentation: the paper's random crops + flips would need a new forward per epoch. Instead each
// training image gets a fixed set of K views, computed together the first time it is seen, and each
// epoch samples one of them per image (seeded by seed, epoch and the image). The first K of:
// centre, centre flipped, then the four corners alternating plain/flipped. With K = 6 the head sees
// six translations/mirrors of every photo for the price of one 6-view forward pass, after which an
// epoch costs no convolution at all, and a second run on the same photos costs nothing either. What
// is lost: the continuum of crop offsets (29 x 29 x 2 per image) and PCA colour noise (a pixel-space
// change, so each noise draw would be a new forward); with a frozen feature extractor and a small
// dataset these matter little next to a 10-30x cheaper epoch.
//
// float16 halves the disk footprint (9,216 x 6 x 2 = 110 KB per training image; memory keeps float32); pool5
// values are post-ReLU maxima whose relative precision (1e-3) is far below the head's noise.

import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { PARAM_NAMES, pool5Features, type AlexNetConfig, type Params } from './config';
import { decodeViews, epochOrder, hashFile, type Item } from './data';
import { EngineError, diskFullError } from './errors';
import { forward } from './model';
import { tenCropViews, type Preprocessing, type View } from './preprocess';
import { createRng } from './rng';
import type { SourceBatch, TrainSource } from './train';
import { readTensor } from './backend';

export type FeatureDtype = 'float16' | 'float32';

export type FeatureCacheOptions = {
  dir: string; // cache folder (the app's data folder in production)
  params: Params; // the (frozen) weights whose conv layers produce the features
  config: AlexNetConfig;
  preprocessing: Preprocessing;
  views?: number; // K training views per image, 1..10 (default 6; see the header)
  dtype?: FeatureDtype; // on-disk encoding (default float16)
  batchSize?: number; // rows (image views) per forward pass on a miss (default 32)
  memoryBytes?: number; // features also kept in memory up to this budget (default 512 MiB)
  concurrency?: number; // decodes in flight on a miss (default 4)
};

/** Counters, for progress and for tests ("the second epoch did not decode anything"). */
export type FeatureCacheStats = {
  hits: number; // entries found (memory or disk)
  diskReads: number; // of which read from disk
  misses: number; // entries computed
  decodes: number; // image files decoded
  forwardRows: number; // image views pushed through conv1..pool5
};

// The K training views: index order into tenCropViews (centre, TL, TR, BL, BR, then flipped).
const VIEW_ORDER = [0, 5, 1, 9, 7, 3, 6, 4, 2, 8];

export type ViewSet = 'center' | 'train';

// --- float16 <-> float32 (IEEE 754 half, round to nearest even) -------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toHalf(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> 0
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h; // a carry into the exponent is the correct rounding
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

export function encodeFeatures(x: Float32Array, dtype: FeatureDtype): Buffer {
  if (dtype === 'float32') return Buffer.from(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  const h = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) h[i] = toHalf(x[i]);
  return Buffer.from(h.buffer);
}

// every half's float32 value, built on first use (256 KB): decoding a cached entry is then one
// table lookup per value instead of fromHalf's arithmetic, which was a visible share of a fine-tune
// run's main-thread time (bench/README.md ("Engine choices"))
let halfTable: Float32Array | null = null;
function halves(): Float32Array {
  if (halfTable === null) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = fromHalf(h);
  }
  return halfTable;
}

export function decodeFeatures(buf: Uint8Array, dtype: FeatureDtype): Float32Array {
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf); // aligned
  if (dtype === 'float32') return new Float32Array(copy.buffer);
  const h = new Uint16Array(copy.buffer);
  const table = halves();
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = table[h[i]];
  return out;
}

// --- the cache ---------------------------------------------------------------------------------------

export type FeatureResult = { path: string; x: Float32Array; views: number } | { path: string; error: string };

export class FeatureCache {
  readonly stats: FeatureCacheStats = { hits: 0, diskReads: 0, misses: 0, decodes: 0, forwardRows: 0 };
  readonly features: number; // floats per view (9216 for the paper's network)
  readonly views: number;
  readonly dtype: FeatureDtype;
  private readonly memory = new Map<string, Float32Array>();
  private memoryUsed = 0;
  private readonly hashes = new Map<string, string>(); // path -> content hash, for this process

  private constructor(
    private readonly opts: FeatureCacheOptions,
    readonly namespace: string, // hex digest: weights + feature-shaping config + preprocessing + dtype
  ) {
    this.features = pool5Features(opts.config);
    this.views = Math.min(10, Math.max(1, Math.floor(opts.views ?? 6)));
    this.dtype = opts.dtype ?? 'float16';
  }

  /** Builds a cache for these weights (hashing the conv layers' bytes). */
  static async create(opts: FeatureCacheOptions): Promise<FeatureCache> {
    const h = createHash('sha256');
    for (const name of PARAM_NAMES) {
      if (!name.startsWith('conv')) continue; // only conv1..conv5 shape pool5
      const d = await readTensor(opts.params[name]);
      h.update(name).update(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    }
    const c = opts.config;
    h.update(JSON.stringify({ inputSize: c.inputSize, channels: c.channels, groups: c.groups, lrn: c.lrn, pool: c.overlappingPool, act: c.activation }));
    h.update(JSON.stringify(opts.preprocessing));
    h.update(opts.dtype ?? 'float16');
    return new FeatureCache(opts, h.digest('hex').slice(0, 32));
  }

  /** The views of a view set, in stored order. */
  viewList(set: ViewSet): View[] {
    const ten = tenCropViews(this.opts.preprocessing);
    return set === 'center' ? [ten[0]] : VIEW_ORDER.slice(0, this.views).map((i) => ten[i]);
  }

  private file(hash: string, set: ViewSet): string {
    const tag = set === 'center' ? 'c1' : `k${this.views}`;
    return path.join(this.opts.dir, this.namespace, hash.slice(0, 2), `${hash}.${tag}.bin`);
  }

  private async contentHash(p: string): Promise<string> {
    let h = this.hashes.get(p);
    if (!h) {
      h = await hashFile(p);
      this.hashes.set(p, h);
    }
    return h;
  }

  /**
   * Features of each file for a view set: [views, features] float32, from memory, disk, or computed
   * (decode + forward to pool5) and stored. A file that cannot be read or decoded gives { error }.
   */
  async get(paths: string[], set: ViewSet): Promise<FeatureResult[]> {
    const nViews = set === 'center' ? 1 : this.views;
    const want = nViews * this.features;
    const out: FeatureResult[] = new Array(paths.length);
    const missing: { i: number; key: string; file: string }[] = [];
    await Promise.all(
      paths.map(async (p, i) => {
        let hash: string;
        try {
          hash = await this.contentHash(p);
        } catch (e) {
          out[i] = { path: p, error: (e as Error).message };
          return;
        }
        const file = this.file(hash, set);
        const mem = this.memory.get(file);
        if (mem) {
          this.stats.hits++;
          out[i] = { path: p, x: mem, views: nViews };
          return;
        }
        try {
          const buf = await readFile(file);
          const x = decodeFeatures(buf, this.dtype);
          if (x.length === want) {
            this.stats.hits++;
            this.stats.diskReads++;
            this.remember(file, x);
            out[i] = { path: p, x, views: nViews };
            return;
          }
        } catch {
          // not cached yet
        }
        missing.push({ i, key: hash, file });
      }),
    );
    if (missing.length > 0) await this.compute(paths, missing, set, out);
    return out;
  }

  private remember(file: string, x: Float32Array): void {
    const budget = this.opts.memoryBytes ?? 512 * 1024 ** 2;
    if (this.memoryUsed + x.byteLength > budget) return;
    this.memory.set(file, x);
    this.memoryUsed += x.byteLength;
  }

  private async compute(paths: string[], missing: { i: number; file: string }[], set: ViewSet, out: FeatureResult[]): Promise<void> {
    const prep = this.opts.preprocessing;
    const views = this.viewList(set);
    const S = prep.crop;
    if (S !== this.opts.config.inputSize) throw new EngineError('BAD_CONFIG', `preprocessing crops ${S} but the network takes ${this.opts.config.inputSize}`);
    const per = S * S * 3;
    const F = this.features;
    const rowsPerPass = Math.max(views.length, this.opts.batchSize ?? 32);
    const imagesPerPass = Math.max(1, Math.floor(rowsPerPass / views.length));
    type Decoded = { m: (typeof missing)[number]; x: Float32Array } | null;
    // decode (a few at a time) and build the views of one group of images
    const decodeGroup = async (group: typeof missing): Promise<Decoded[]> => {
      const decoded = await decodeViews(group.map((m) => paths[m.i]), prep, views, this.opts.concurrency ?? 4);
      return decoded.map((d, j) => {
        const m = group[j];
        if ('error' in d) {
          out[m.i] = { path: paths[m.i], error: d.error.message };
          return null;
        }
        this.stats.decodes++;
        return { m, x: d.x };
      });
    };
    const groups: (typeof missing)[] = [];
    for (let s = 0; s < missing.length; s += imagesPerPass) groups.push(missing.slice(s, s + imagesPerPass));
    // Pipelined: the next group decodes (libuv's threads, sharp) while this one runs through the
    // network (TensorFlow's threads), instead of each side waiting for the other.
    const start = (group: typeof missing): Promise<Decoded[]> => {
      const p = decodeGroup(group);
      p.catch(() => undefined); // awaited below; this only keeps a group abandoned by a throw from being an unhandled rejection
      return p;
    };
    let ahead: Promise<Decoded[]> | null = groups.length > 0 ? start(groups[0]) : null;
    for (let g = 0; g < groups.length; g++) {
      const decoded = await (ahead as Promise<Decoded[]>);
      ahead = g + 1 < groups.length ? start(groups[g + 1]) : null;
      const ok = decoded.filter((d): d is NonNullable<Decoded> => d !== null);
      if (ok.length === 0) continue;
      const rows = ok.length * views.length;
      const x = new Float32Array(rows * per);
      ok.forEach((d, j) => x.set(d.x, j * views.length * per));
      const feats = tf.tidy(() => {
        const t = tf.tensor4d(x, [rows, S, S, 3]);
        return forward(this.opts.params, this.opts.config, t, { training: false, to: 'pool5' });
      });
      const all = await readTensor(feats);
      feats.dispose();
      this.stats.forwardRows += rows;
      for (let j = 0; j < ok.length; j++) {
        const { m } = ok[j];
        let f: Float32Array = all.slice(j * views.length * F, (j + 1) * views.length * F);
        const buf = encodeFeatures(f, this.dtype);
        if (this.dtype === 'float16') f = decodeFeatures(buf, 'float16'); // hits and misses see the same values
        await mkdir(path.dirname(m.file), { recursive: true });
        const tmp = `${m.file}.${process.pid}.tmp`;
        try {
          await writeFile(tmp, buf);
          await rename(tmp, m.file); // atomic: a reader sees a whole entry or none
        } catch (err) {
          await rm(tmp, { force: true }); // a full disk keeps no half-written entry of ours
          throw diskFullError(err, tmp);
        }
        this.stats.misses++;
        this.remember(m.file, f);
        out[m.i] = { path: paths[m.i], x: f, views: views.length };
      }
    }
  }
}

// --- a training source over cached features -----------------------------------------------------------

/**
 * Batches of pool5 features for train(): training batches in epochOrder(seed, epoch), one of the K
 * cached views per image, drawn per (seed, epoch, image) (the centre view without augment);
 * validation batches, and the training images for the end-of-epoch training error, in order from
 * the centre view. Unreadable images are reported once through onSkip and left out.
 */
export function featureSource(opts: {
  cache: FeatureCache;
  train: Item[];
  val: Item[];
  batchSize: number;
  seed: number;
  augment: boolean; // false: always the centre view (view 0) in training too
  onSkip?: (path: string, reason: string) => void;
}): TrainSource {
  const { cache } = opts;
  const F = cache.features;
  const reported = new Set<string>();
  const skip = (p: string, reason: string): void => {
    if (reported.has(p)) return;
    reported.add(p);
    opts.onSkip?.(p, reason);
  };
  async function* run(items: Item[], set: ViewSet, pick: (itemIndex: number) => number, order: number[]): AsyncGenerator<SourceBatch> {
    for (let s = 0; s < order.length; s += opts.batchSize) {
      const idx = order.slice(s, s + opts.batchSize);
      const res = await cache.get(idx.map((i) => items[i].path), set);
      const ok: { i: number; x: Float32Array; views: number }[] = [];
      res.forEach((r, j) => ('error' in r ? skip(r.path, r.error) : ok.push({ i: idx[j], x: r.x, views: r.views })));
      if (ok.length === 0) continue;
      const x = new Float32Array(ok.length * F);
      const y = new Int32Array(ok.length);
      ok.forEach((o, j) => {
        const v = Math.min(pick(o.i), o.views - 1);
        x.set(o.x.subarray(v * F, (v + 1) * F), j * F);
        y[j] = items[o.i].label;
      });
      yield { x, shape: [ok.length, F], y, paths: ok.map((o) => items[o.i].path) };
    }
  }
  return {
    from: 'pool5',
    trainCount: opts.train.length,
    valCount: opts.val.length,
    trainBatches(epoch) {
      const order = epochOrder(opts.train.length, opts.seed, epoch);
      const viewRng = createRng(opts.seed).fork('view').fork(epoch);
      const set: ViewSet = opts.augment ? 'train' : 'center';
      return run(opts.train, set, (i) => (opts.augment ? viewRng.fork(i).int(cache.views) : 0), order);
    },
    valBatches() {
      return run(opts.val, 'center', () => 0, opts.val.map((_, i) => i));
    },
    trainEvalBatches() {
      // view 0 of either set is the centre crop: the features training already cached
      return run(opts.train, opts.augment ? 'train' : 'center', () => 0, opts.train.map((_, i) => i));
    },
  };
}
