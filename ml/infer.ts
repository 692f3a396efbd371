// Inference: classify image files with a trained model, centre crop or the paper's 10-crop average.
//
//   classify(model, paths, { topK, tta }) -> [{ file, predictions: [{ label, p }] }]   (input order)
//
// Files are decoded a batch ahead (decode of batch i+1 overlaps the network on batch i). A file that
// cannot be decoded is reported in its own result ({ file, error }), never fatal for the others.

import { EngineError } from './errors';
import { averageViews, predictProbs, topK as topIndices, type ModelLike, type Tta } from './evaluate';
import { centerView, loadImage, tenCropViews, toInput, type Preprocessing } from './preprocess';

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

/** Decoded network inputs of one file: `views` rows of crop x crop x 3, or the reason it failed. */
export type DecodedViews = { file: string; x: Float32Array; views: number } | { file: string; error: { code: string; message: string } };

/** Decodes files (at most `concurrency` at once) into their test-time views. Never throws for a bad file. */
export async function decodeViews(files: string[], prep: Preprocessing, tta: Tta, concurrency = 4): Promise<DecodedViews[]> {
  const views = tta === '10crop' ? tenCropViews(prep) : [centerView(prep)];
  const per = prep.crop * prep.crop * 3;
  const out: DecodedViews[] = new Array(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      const file = files[i];
      try {
        const img = await loadImage(file, prep);
        const x = new Float32Array(views.length * per);
        views.forEach((v, k) => toInput(img, prep, v, x.subarray(k * per, (k + 1) * per)));
        out[i] = { file, x, views: views.length };
      } catch (e) {
        const code = e instanceof EngineError ? e.code : 'BAD_IMAGE';
        out[i] = { file, error: { code, message: (e as Error).message.replace(/\s+/g, ' ') } };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, files.length)) }, worker));
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

/** Classifies `files`; one result per file, in the order given. */
export async function classify(model: ModelLike, files: string[], opts: ClassifyOptions = {}): Promise<ClassifyResult[]> {
  const tta = opts.tta ?? 'center';
  const batch = Math.max(1, opts.batchSize ?? 16);
  const k = Math.max(1, Math.min(opts.topK ?? 5, model.classNames.length));
  const c = model.classNames.length;
  const results: ClassifyResult[] = [];
  // pipeline: decode batch i+1 while the network runs on batch i
  let pending = decodeViews(files.slice(0, batch), model.preprocessing, tta, opts.concurrency);
  for (let start = 0; start < files.length; start += batch) {
    const decoded = await pending;
    if (opts.signal?.aborted) break;
    const nextStart = start + batch;
    if (nextStart < files.length) pending = decodeViews(files.slice(nextStart, nextStart + batch), model.preprocessing, tta, opts.concurrency);
    const probs = await probsOf(model, decoded, batch);
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
