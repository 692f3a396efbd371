// What a worker process does with a job: train a run (scratch or the one-click ImageNet fine-tune),
// predict the dataset's photos with the best model, classify files, or check a weights file. Runs
// in the worker; reports through `send`. No database here: main is the only writer.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../../../ml/backend';
import { ensureWritableFolder, loadModel, readModelMeta, resolveCheckpointDir, snapshotParams, type LoadedModel } from '../../../ml/checkpoint';
import { runRecipe } from '../../../ml/recipe';
import { classify } from '../../../ml/infer';
import { disposeParams } from '../../../ml/model';
import type { TrainEvent } from '../../../ml/train';
import type { TransferEvent } from '../../../ml/transfer';
import { downloadWeights, importWeights, type WeightsInfo } from '../../../ml/weights/imagenet';
import { exportTfjs } from '../../../ml/weights/export-tfjs';
import { exportOnnx, preprocessingForExport } from '../../../ml/weights/onnx';
import type { ClassifyJob, ClassifyOutcome, DownloadWeightsJob, ExportJob, ExportOutcome, FromWorker, ImportWeightsJob, TrainEventMsg, TrainJob, TrainOutcome, WeightsOutcome } from './protocol';

export type Send = (msg: FromWorker) => void;

const PREDICT_CHUNK = 200; // predictions per message to main

function toMsg(e: TrainEvent | TransferEvent, stage: string): TrainEventMsg | null {
  switch (e.type) {
    case 'start':
      return { type: 'start', stage, epochs: e.epochs, startEpoch: e.startEpoch, stepsPerEpoch: e.stepsPerEpoch, trainCount: e.trainCount, valCount: e.valCount, lr: e.lr };
    case 'step':
      return { type: 'step', stage, epoch: e.epoch, step: e.step, stepsPerEpoch: e.stepsPerEpoch, loss: e.loss, acc: e.acc, imagesPerSec: e.imagesPerSec, lr: e.lr, etaSeconds: e.etaSeconds };
    case 'epoch':
      return { type: 'epoch', stage, epoch: e.epoch, trainLoss: e.trainLoss, trainAcc: e.trainAcc, valLoss: e.valLoss, valAcc: e.valAcc, valTop5: e.valTop5, lr: e.lr, seconds: e.seconds, best: e.best };
    case 'checkpoint':
      return { type: 'checkpoint', stage, kind: e.kind, dir: e.dir, epoch: e.epoch };
    case 'skip':
      return { type: 'skip', stage, path: e.path, reason: e.reason };
    default:
      return null; // lr-drop, early-stop, done: main learns the outcome from the result
  }
}

export async function runTrain(job: TrainJob, send: Send, signal: AbortSignal): Promise<TrainOutcome> {
  const transfer = job.recipe === 'finetune' && job.architecture !== 'tiny' && job.fineTune !== 'all';
  send({ type: 'backend', info: await initBackend(job.backend, { pooledAllocator: transfer }) });
  ensureWritableFolder(job.outDir);
  const k = job.classNames.length;
  let lastCaching = 0;
  const onEvent = (stage: string) => (e: TrainEvent | TransferEvent) => {
    if (e.type === 'caching') {
      // the slow first pass through conv1-5: a phase message a second at most (the status bar)
      const now = Date.now();
      if (now - lastCaching < 1000 && e.step !== e.steps) return;
      lastCaching = now;
      send({ type: 'phase', phase: 'caching', message: `computing features: batch ${e.step} of ${e.steps}, about ${Math.max(1, Math.round(e.etaSeconds / 60))} min left` });
      return;
    }
    const msg = toMsg(e, 'stage' in e ? e.stage : stage);
    if (msg) send({ type: 'train', event: msg });
  };
  const scratch = job.recipe === 'scratch' || job.architecture === 'tiny';
  let base: LoadedModel | null = null;
  if (!scratch) {
    if (!job.baseModelDir || !fs.existsSync(path.join(job.baseModelDir, 'model.json'))) throw Object.assign(new Error('the ImageNet weights are not installed: download or import them first'), { code: 'NO_WEIGHTS' });
    send({ type: 'phase', phase: 'caching', message: 'loading the ImageNet weights and caching features' });
    base = await loadModel(job.baseModelDir);
  } else send({ type: 'phase', phase: 'training', message: null });
  let result;
  try {
    result = await runRecipe({
      classNames: job.classNames,
      train: job.train,
      val: job.val,
      base: base && { params: base.params, config: base.config, preprocessing: base.preprocessing, source: base.meta.weightsSource },
      fineTune: job.fineTune,
      architecture: job.architecture,
      epochs: scratch ? job.epochs : job.fineTuneEpochs,
      headEpochs: job.headEpochs,
      batchSize: job.batchSize,
      lr: job.lr ?? undefined,
      augment: job.augment,
      seed: job.seed,
      network: job.network,
      outDir: job.outDir,
      cacheDir: job.cacheDir,
      resume: job.resume,
      signal,
      onEvent: onEvent(scratch ? 'main' : 'head'),
    });
  } finally {
    if (base) disposeParams(base.params);
  }
  disposeParams(result.params);
  let predicted = 0;
  if (result.stopped !== 'cancelled' && job.predict.length > 0 && !signal.aborted) {
    send({ type: 'phase', phase: 'predicting', message: `predicting ${job.predict.length} photos` });
    const model = await loadModel(job.outDir, 'best');
    try {
      for (let i = 0; i < job.predict.length && !signal.aborted; i += PREDICT_CHUNK) {
        const chunk = job.predict.slice(i, i + PREDICT_CHUNK);
        const res = await classify(model, chunk.map((p) => p.path), { topK: Math.min(5, k), tta: job.tta, signal });
        const rows: { photoId: number; topk: { label: string; p: number }[] }[] = [];
        res.forEach((r, j) => {
          if ('predictions' in r) rows.push({ photoId: chunk[j].photoId, topk: r.predictions });
        });
        predicted += rows.length;
        send({ type: 'predictions', rows });
      }
    } finally {
      disposeParams(model.params);
    }
  }
  return { stopped: signal.aborted && result.stopped !== 'cancelled' ? 'cancelled' : result.stopped, epochs: result.epochs, bestEpoch: result.bestEpoch, best: result.best, predicted };
}

export async function runClassify(job: ClassifyJob, send: Send, signal: AbortSignal): Promise<ClassifyOutcome> {
  send({ type: 'backend', info: await initBackend(job.backend) });
  const model = await loadModel(job.modelDir, 'best');
  let results: ClassifyOutcome['results'];
  try {
    results = await classify(model, job.files, { topK: job.topK, tta: job.tta, signal });
  } finally {
    disposeParams(model.params);
  }
  if (!job.thumbs) return { results };
  const out: ClassifyOutcome['results'] = [];
  for (const r of results) {
    if (signal.aborted) throw Object.assign(new Error('classifying was cancelled'), { code: 'CANCELLED' });
    out.push('predictions' in r ? { ...r, thumb: await thumbDataUrl(r.file).catch(() => undefined) } : r);
  }
  return { results: out };
}

const CLASSIFY_THUMB = 160; // longest side in pixels of a classified file's thumbnail: a few kB of JPEG

/** A small JPEG of `file` as a data: URL, upright (EXIF orientation applied). */
async function thumbDataUrl(file: string): Promise<string> {
  const jpeg = await sharp(file).rotate().resize(CLASSIFY_THUMB, CLASSIFY_THUMB, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 70 }).toBuffer();
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
}

const weightsOutcome = (w: WeightsInfo): WeightsOutcome => ({ modelDir: w.modelDir, verified: w.verified, sha256: w.sha256, bytes: w.bytes, importedFrom: w.importedFrom, notes: w.notes });

/** Imports a bvlcalexnet .onnx file into the data folder (checked, converted: ml/weights/imagenet.ts). */
export async function runImportWeights(job: ImportWeightsJob, signal: AbortSignal): Promise<WeightsOutcome> {
  return weightsOutcome(await importWeights(job.file, job.dataDir, { signal }));
}

/** Downloads (resumable, SHA-256 checked) and imports the zoo file. */
export async function runDownloadWeights(job: DownloadWeightsJob, send: Send, signal: AbortSignal): Promise<WeightsOutcome> {
  return weightsOutcome(await downloadWeights(job.dataDir, { signal, onProgress: (p) => send({ type: 'download', bytes: p.bytes, total: p.total }) }));
}

/**
 * Writes a run's best model in `job.format`, with labels.json and preprocessing.json beside it.
 * A cancel stops it between steps; main kills the worker on a cancel anyway and removes outDir.
 */
export async function runExport(job: ExportJob, signal: AbortSignal): Promise<ExportOutcome> {
  const stopIfCancelled = () => {
    if (signal.aborted) throw Object.assign(new Error('the export was cancelled'), { code: 'CANCELLED' });
  };
  if (job.format === 'checkpoint') {
    // our own folder, copied as it is (it loads in the app and the CLI), plus the two files every
    // export carries for other readers
    const src = resolveCheckpointDir(job.modelDir, 'best');
    const meta = await readModelMeta(src);
    stopIfCancelled();
    await fs.promises.cp(src, job.outDir, { recursive: true, errorOnExist: true, force: false });
    fs.writeFileSync(path.join(job.outDir, 'labels.json'), JSON.stringify(meta.classNames, null, 1) + '\n');
    fs.writeFileSync(path.join(job.outDir, 'preprocessing.json'), JSON.stringify(preprocessingForExport(meta.preprocessing, 'NHWC'), null, 1) + '\n');
    const files = fs.readdirSync(job.outDir).sort();
    return { dir: job.outDir, files, bytes: files.reduce((s, f) => s + fs.statSync(path.join(job.outDir, f)).size, 0) };
  }
  stopIfCancelled();
  const model = await loadModel(job.modelDir, 'best');
  try {
    stopIfCancelled();
    const m = { config: model.config, arrays: await snapshotParams(model.params), classNames: model.classNames, preprocessing: model.preprocessing };
    return job.format === 'onnx' ? await exportOnnx(m, job.outDir) : await exportTfjs(m, job.outDir);
  } finally {
    disposeParams(model.params);
  }
}
