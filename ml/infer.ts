// Inference: classify image files with a trained model, centre crop or the paper's 10-crop average.
//
//   classify(model, paths, { topK, tta }) -> [{ file, predictions: [{ label, p }] }]   (input order)
//
// Files are decoded a batch ahead (predict.ts: predictBatches). A file that
// cannot be decoded is reported in its own result ({ file, error }), never fatal for the others.

import { predictBatches, topK as topIndices, type ModelLike, type Tta } from './predict';

export type Prediction = { label: string; p: number };
export type ClassifyResult =
  | { file: string; predictions: Prediction[] }
  | { file: string; error: { code: string; message: string } };

export type ClassifyOptions = {
  topK?: number; // how many labels per file, most probable first (default 5, at most the class count)
  tta?: Tta; // 'center' (default) or '10crop' (average of the softmax over the paper's 10 views)
  batchSize?: number; // images per forward pass (default 16)
  concurrency?: number; // decodes in flight (default 4)
  signal?: AbortSignal;
};

/** Classifies `files`; one result per file, in the order given. */
export async function classify(model: ModelLike, files: string[], opts: ClassifyOptions = {}): Promise<ClassifyResult[]> {
  const tta = opts.tta ?? 'center';
  const batch = Math.max(1, opts.batchSize ?? 16);
  const k = Math.max(1, Math.min(opts.topK ?? 5, model.classNames.length));
  const c = model.classNames.length;
  const results: ClassifyResult[] = [];
  for await (const { decoded, probs } of predictBatches(model, files, { tta, batchSize: batch, concurrency: opts.concurrency, signal: opts.signal })) {
    let j = 0;
    for (const d of decoded) {
      if ('error' in d) {
        results.push({ file: d.file, error: d.error });
        continue;
      }
      const p = probs[j++];
      results.push({ file: d.file, predictions: topIndices(p, c, 0, k).map((i) => ({ label: model.classNames[i], p: p[i] })) });
    }
  }
  return results;
}
