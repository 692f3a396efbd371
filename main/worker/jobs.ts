// What a worker process does with a job: train a run (scratch or the one-click ImageNet fine-tune),
// predict the dataset's photos with the best model, classify files, or check a weights file. Runs
// in the worker; reports through `send`. No database here: main is the only writer.
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../../ml/backend';
import { loadModel } from '../../ml/checkpoint';
import { DEFAULT_CONFIG, TINY_CONFIG, makeConfig } from '../../ml/config';
import { TINY_PREPROCESSING } from '../../ml/recipe';
import { classify } from '../../ml/infer';
import { disposeParams, paramsToArrays } from '../../ml/model';
import { PAPER_PREPROCESSING } from '../../ml/preprocess';
import { train, type TrainEvent } from '../../ml/train';
import { fineTune, type TransferEvent } from '../../ml/transfer';
import { downloadWeights, importWeights, type WeightsInfo } from '../../ml/weights/imagenet';
import { exportOnnx } from '../../ml/weights/onnx';
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
  send({ type: 'backend', info: await initBackend('auto') });
  fs.mkdirSync(job.outDir, { recursive: true });
  const k = job.classNames.length;
  const onEvent = (stage: string) => (e: TrainEvent | TransferEvent) => {
    const msg = toMsg(e, 'stage' in e ? e.stage : stage);
    if (msg) send({ type: 'train', event: msg });
  };
  let result;
  if (job.recipe === 'scratch' || job.architecture === 'tiny') {
    const tiny = job.architecture === 'tiny';
    send({ type: 'phase', phase: 'training', message: null });
    result = await train({
      config: makeConfig({ ...(tiny ? TINY_CONFIG : DEFAULT_CONFIG), numClasses: k }),
      classNames: job.classNames,
      train: job.train,
      val: job.val,
      preprocessing: tiny ? TINY_PREPROCESSING : PAPER_PREPROCESSING,
      epochs: job.epochs,
      batchSize: job.batchSize,
      lr: job.lr ?? undefined,
      augment: job.augment ? undefined : null,
      seed: job.seed,
      weightsSource: 'none',
      outDir: job.outDir,
      signal,
      onEvent: onEvent('main'),
    });
  } else {
    if (!job.baseModelDir || !fs.existsSync(path.join(job.baseModelDir, 'model.json'))) throw Object.assign(new Error('the ImageNet weights are not installed: download or import them first'), { code: 'NO_WEIGHTS' });
    send({ type: 'phase', phase: 'caching', message: 'loading the ImageNet weights and caching features' });
    const base = await loadModel(job.baseModelDir);
    const params = base.params;
    try {
      result = await fineTune({
        base: { params, config: base.config, preprocessing: base.preprocessing, source: base.meta.weightsSource },
        classNames: job.classNames,
        train: job.train,
        val: job.val,
        outDir: job.outDir,
        cacheDir: job.cacheDir,
        headEpochs: job.headEpochs,
        fineTuneEpochs: job.fineTuneEpochs,
        fineTune: job.fineTune,
        lr: job.lr ?? undefined,
        batchSize: job.batchSize,
        augment: job.augment,
        seed: job.seed,
        signal,
        onEvent: onEvent('head'),
      });
    } finally {
      disposeParams(params);
    }
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
  send({ type: 'backend', info: await initBackend('auto') });
  const model = await loadModel(job.modelDir, 'best');
  try {
    return { results: await classify(model, job.files, { topK: job.topK, tta: job.tta, signal }) };
  } finally {
    disposeParams(model.params);
  }
}

const weightsOutcome = (w: WeightsInfo): WeightsOutcome => ({ modelDir: w.modelDir, verified: w.verified, sha256: w.sha256, bytes: w.bytes, importedFrom: w.importedFrom, notes: w.notes });

/** Imports a bvlcalexnet .onnx file into the data folder (checked, converted: ml/weights/imagenet.ts). */
export async function runImportWeights(job: ImportWeightsJob): Promise<WeightsOutcome> {
  return weightsOutcome(await importWeights(job.file, job.dataDir));
}

/** Downloads (resumable, SHA-256 checked) and imports the zoo file. */
export async function runDownloadWeights(job: DownloadWeightsJob, send: Send, signal: AbortSignal): Promise<WeightsOutcome> {
  return weightsOutcome(await downloadWeights(job.dataDir, { signal, onProgress: (p) => send({ type: 'download', bytes: p.bytes, total: p.total }) }));
}

/** Writes a run's best model as ONNX (+ labels.json, preprocessing.json). */
export async function runExport(job: ExportJob): Promise<ExportOutcome> {
  const model = await loadModel(job.modelDir, 'best');
  try {
    return await exportOnnx({ config: model.config, arrays: paramsToArrays(model.params), classNames: model.classNames, preprocessing: model.preprocessing }, job.outDir);
  } finally {
    disposeParams(model.params);
  }
}
