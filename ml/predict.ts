// Predictions, shared by evaluate.ts and infer.ts: the model a prediction needs, the test-time
// views (a centre crop, or the paper's 10 crops averaged: section 4.1, "averaging the predictions
// made by the network's softmax layer on the ten patches"), softmax probabilities in chunks, top-k.

import * as tf from '@tensorflow/tfjs-core';
import { batchFits, readTensor } from './backend';
import type { AlexNetConfig, Params } from './config';
import { decodeViews, type DecodedViews } from './data';
import { forward } from './model';
import { centerView, tenCropViews, type Preprocessing, type View } from './preprocess';

export type Tta = 'center' | '10crop';

/** The views of a test-time mode, in the order their rows come. */
export function ttaViews(prep: Preprocessing, tta: Tta): View[] {
  return tta === '10crop' ? tenCropViews(prep) : [centerView(prep)];
}

/** What evaluate and classify need of a model (a LoadedModel fits). */
export type ModelLike = { params: Params; config: AlexNetConfig; classNames: string[]; preprocessing: Preprocessing };

/** Softmax probabilities [rows, c] of normalised input rows [rows, S, S, 3], in chunks of `chunk` rows. */
export async function predictProbs(model: ModelLike, x: Float32Array, rows: number, chunk = 32): Promise<Float32Array> {
  const s = model.config.inputSize;
  const c = model.config.numClasses;
  const per = s * s * 3;
  const out = new Float32Array(rows * c);
  // wasm's heap stops at 4 GB, a GPU's buffers at its device's limit: shrink the chunk until it fits
  while (chunk > 1 && !batchFits(model.config, chunk, false)) chunk = Math.floor(chunk / 2);
  for (let r = 0; r < rows; r += chunk) {
    const m = Math.min(chunk, rows - r);
    const p = tf.tidy(() => {
      const xt = tf.tensor4d(x.subarray(r * per, (r + m) * per), [m, s, s, 3]);
      return tf.softmax(forward(model.params, model.config, xt, { training: false, fixedWeights: true }));
    });
    out.set(await readTensor(p), r * c);
    p.dispose();
  }
  return out;
}

/** Indices of the k largest entries of row `r` of a [n, c] array, largest first (ties: lower index first). */
export function topK(probs: ArrayLike<number>, c: number, r: number, k: number): number[] {
  const idx = Array.from({ length: c }, (_, i) => i);
  idx.sort((a, b) => probs[r * c + b] - probs[r * c + a] || a - b);
  return idx.slice(0, Math.min(k, c));
}

/**
 * Averages probabilities over views: rows are laid out image-major ([n images][v views][c]),
 * result is [n][c]. The paper's 10-crop prediction is averageViews(softmax, n, 10, c).
 */
export function averageViews(probs: Float32Array, n: number, views: number, c: number): Float32Array {
  if (probs.length !== n * views * c) throw new Error(`averageViews: ${probs.length} values, expected ${n}x${views}x${c}`);
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++)
    for (let v = 0; v < views; v++)
      for (let j = 0; j < c; j++) out[i * c + j] += probs[(i * views + v) * c + j] / views;
  return out;
}

/**
 * Probabilities [n, c] (view-averaged) for the decoded entries that succeeded, in order. Runs the
 * network on `batchSize` images (x their views) at a time.
 */
export async function probsOf(model: ModelLike, decoded: DecodedViews[], batchSize: number): Promise<Float32Array[]> {
  const ok = decoded.filter((d): d is Extract<DecodedViews, { x: Float32Array }> => 'x' in d);
  const c = model.config.numClasses;
  const res: Float32Array[] = [];
  for (let i = 0; i < ok.length; i += batchSize) {
    const chunk = ok.slice(i, i + batchSize);
    const views = chunk[0].views;
    const per = chunk[0].x.length;
    const x = new Float32Array(chunk.length * per);
    chunk.forEach((d, k) => x.set(d.x, k * per));
    const p = await predictProbs(model, x, chunk.length * views, batchSize * views);
    const avg = views > 1 ? averageViews(p, chunk.length, views, c) : p;
    for (let k = 0; k < chunk.length; k++) res.push(avg.slice(k * c, (k + 1) * c));
  }
  return res;
}

/**
 * The files' probabilities, one batch of `batchSize` files at a time, in order: each batch's
 * decoded entries (errors included) and the view-averaged probabilities of those that decoded.
 * Batch i+1 decodes while the network runs on batch i. Stops early when `signal` aborts.
 */
export async function* predictBatches(
  model: ModelLike,
  files: readonly string[],
  opts: { tta: Tta; batchSize: number; concurrency?: number; signal?: AbortSignal },
): AsyncGenerator<{ decoded: DecodedViews[]; probs: Float32Array[] }> {
  const views = ttaViews(model.preprocessing, opts.tta);
  const decode = (start: number) => decodeViews(files.slice(start, start + opts.batchSize), model.preprocessing, views, opts.concurrency);
  let pending = decode(0);
  for (let start = 0; start < files.length; start += opts.batchSize) {
    const decoded = await pending;
    if (opts.signal?.aborted) return;
    if (start + opts.batchSize < files.length) pending = decode(start + opts.batchSize); // decode ahead
    yield { decoded, probs: await probsOf(model, decoded, opts.batchSize) };
  }
}
