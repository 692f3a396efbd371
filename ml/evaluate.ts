// Evaluation: top-1 / top-5 accuracy, per-class precision and recall, the confusion matrix and the
// most confidently wrong images, with a single centre crop or the paper's 10-crop average
// (section 4.1: "averaging the predictions made by the network's softmax layer on the ten patches").
//
// The metric arithmetic (computeReport) is plain TypeScript on probability arrays, so it is tested
// against hand-made predictions; `evaluate` runs a model over labelled images with it (predict.ts).

import { predictBatches, topK, type ModelLike, type Tta } from './predict';

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
  let start = 0;
  for await (const { decoded, probs: p } of predictBatches(model, items.map((it) => it.path), { tta, batchSize: batch, signal: opts.signal })) {
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
    start += decoded.length;
  }
  return computeReport(probs, labels, model.classNames, paths, { worst: opts.worst, skipped });
}
