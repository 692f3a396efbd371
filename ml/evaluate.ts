// Evaluation: top-1 / top-5 accuracy, per-class precision and recall, the confusion matrix and the
// most confidently wrong images, with a single centre crop or the paper's 10-crop average
// (section 4.1: "averaging the predictions made by the network's softmax layer on the ten patches").
//
// The metric arithmetic (computeReport, averageViews) is plain TypeScript on probability arrays, so
// it is tested against hand-made predictions; `evaluate` runs a model over labelled images with it.

import * as tf from '@tensorflow/tfjs-core';
import { estimateMemoryBytes, WASM_HEAP_LIMIT_BYTES } from './backend';
import type { AlexNetConfig, Params } from './config';
import { decodeViews, probsOf } from './infer';
import { forward } from './model';
import type { Preprocessing } from './preprocess';

export type ClassStats = {
  precision: number; // TP / predicted as this class (0 when never predicted)
  recall: number; // TP / truly this class (0 when absent)
  support: number; // images truly of this class
  predicted: number; // images predicted as this class
};

export type Mistake = { path: string; true: string; predicted: string; p: number };

export type EvalReport = {
  n: number; // images evaluated
  top1: number; // fraction whose most probable class is the true one
  top5: number; // fraction whose true class is among the 5 most probable (all classes if fewer)
  loss: number; // mean cross-entropy of the true class
  classNames: string[];
  perClass: Record<string, ClassStats>;
  confusion: number[][]; // confusion[true][predicted] = count
  mostConfidentlyWrong: Mistake[]; // wrong predictions, highest predicted probability first
  skipped: { path: string; reason: string }[]; // images that could not be read
};

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

/** Every metric from probabilities [n, c] (rows sum to 1), true labels and image paths. */
export function computeReport(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  classNames: string[],
  paths: string[],
  opts: { worst?: number; skipped?: { path: string; reason: string }[] } = {},
): EvalReport {
  const c = classNames.length;
  const n = labels.length;
  if (probs.length !== n * c) throw new Error(`computeReport: ${probs.length} probabilities for ${n} images x ${c} classes`);
  const confusion = Array.from({ length: c }, () => new Array<number>(c).fill(0));
  let top1 = 0;
  let top5 = 0;
  let loss = 0;
  const wrong: Mistake[] = [];
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    const top = topK(probs, c, i, 5);
    const pred = top[0];
    confusion[y][pred]++;
    if (pred === y) top1++;
    else wrong.push({ path: paths[i], true: classNames[y], predicted: classNames[pred], p: probs[i * c + pred] });
    if (top.includes(y)) top5++;
    loss -= Math.log(Math.max(probs[i * c + y], 1e-12));
  }
  const perClass: Record<string, ClassStats> = {};
  for (let k = 0; k < c; k++) {
    const tp = confusion[k][k];
    const support = confusion[k].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[k], 0);
    perClass[classNames[k]] = {
      precision: predicted > 0 ? tp / predicted : 0,
      recall: support > 0 ? tp / support : 0,
      support,
      predicted,
    };
  }
  wrong.sort((a, b) => b.p - a.p);
  return {
    n,
    top1: n > 0 ? top1 / n : 0,
    top5: n > 0 ? top5 / n : 0,
    loss: n > 0 ? loss / n : 0,
    classNames,
    perClass,
    confusion,
    mostConfidentlyWrong: wrong.slice(0, opts.worst ?? 10),
    skipped: opts.skipped ?? [],
  };
}

export type Tta = 'center' | '10crop';

/** What evaluate and classify need of a model (a LoadedModel fits). */
export type ModelLike = { params: Params; config: AlexNetConfig; classNames: string[]; preprocessing: Preprocessing };

/** Softmax probabilities [rows, c] of normalised input rows [rows, S, S, 3], in chunks of `chunk` rows. */
export async function predictProbs(model: ModelLike, x: Float32Array, rows: number, chunk = 32): Promise<Float32Array> {
  const s = model.config.inputSize;
  const c = model.config.numClasses;
  const per = s * s * 3;
  const out = new Float32Array(rows * c);
  // wasm's heap stops at 4 GB: shrink the chunk until the estimate fits (other backends: as asked)
  if (tf.getBackend() === 'wasm') {
    while (chunk > 1 && estimateMemoryBytes(model.config, chunk, false) > WASM_HEAP_LIMIT_BYTES) chunk = Math.floor(chunk / 2);
  }
  for (let r = 0; r < rows; r += chunk) {
    const m = Math.min(chunk, rows - r);
    const p = tf.tidy(() => {
      const xt = tf.tensor4d(x.subarray(r * per, (r + m) * per), [m, s, s, 3]);
      return tf.softmax(forward(model.params, model.config, xt, { training: false, fixedWeights: true }));
    });
    out.set((await p.data()) as Float32Array, r * c);
    p.dispose();
  }
  return out;
}

/** Evaluates `model` on labelled images (labels index model.classNames). Unreadable images are skipped and listed. */
export async function evaluate(
  model: ModelLike,
  items: { path: string; label: number }[],
  opts: { tta?: Tta; batchSize?: number; worst?: number; signal?: AbortSignal } = {},
): Promise<EvalReport> {
  const tta = opts.tta ?? 'center';
  const batch = Math.max(1, opts.batchSize ?? (tta === '10crop' ? 4 : 16)); // images per forward (x10 views for 10crop)
  const skipped: { path: string; reason: string }[] = [];
  const probs: number[] = [];
  const labels: number[] = [];
  const paths: string[] = [];
  const decodeChunk = (start: number) => decodeViews(items.slice(start, start + batch).map((it) => it.path), model.preprocessing, tta);
  let pending = decodeChunk(0);
  for (let start = 0; start < items.length; start += batch) {
    const decoded = await pending;
    if (opts.signal?.aborted) break;
    if (start + batch < items.length) pending = decodeChunk(start + batch); // decode ahead
    const p = await probsOf(model, decoded, batch);
    let j = 0;
    decoded.forEach((d, k) => {
      if ('error' in d) {
        skipped.push({ path: d.file, reason: d.error.message });
        return;
      }
      for (const v of p[j++]) probs.push(v);
      labels.push(items[start + k].label);
      paths.push(d.file);
    });
  }
  return computeReport(probs, labels, model.classNames, paths, { worst: opts.worst, skipped });
}
