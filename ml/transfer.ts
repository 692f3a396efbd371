// Transfer learning, one click: an ImageNet AlexNet becomes a classifier of the user's classes.
//
// Reference recipe: fastai's fine_tune (freeze_epochs=1 training only the new head, then unfreeze
// with discriminative learning rates) and Caffe's "fine-tune CaffeNet on Flickr Style" example
// (pretrained layers at base_lr 0.001, the new fc8 at 10x). Ours:
//
//   0. fc8 is replaced by a fresh head for the user's k classes (paper init: N(0, 0.01), bias 0).
//   1. 'head' stage: only fc8 trains, on pool5 features from the feature cache. Cheap: after the
//      first epoch no convolution runs at all. Its rate, unless given, is picked the fastai way
//      (lr_find) but cheaper: one cached-feature epoch per candidate in HEAD_LR_CANDIDATES from the
//      same fresh head, keeping the lowest validation loss (so features of any scale work).
//   2. 'finetune' stage, by default 'fc': fc6 and fc7 unfreeze at a tenth of fc8's rate. conv1..5
//      stay frozen, so pool5 is still cached and this stage is cheap too. On the few hundred photos
//      users bring, retraining conv layers mostly overfits, and on CPU backends it is 10-30x
//      slower. 'all' unfreezes everything with geometric (fastai "slice") multipliers from
//      conv1 at 1/100 to fc7 at 1/10, reading images (with the paper's crops and flips) again.
//   Both stages watch the validation loss: LR / 10 on a plateau, early stop, and best.ckpt only
//   ever replaced by a model better than every earlier one.
//
// Class imbalance: the loss weights each class by n / (k n_c) (train's default). Too few images:
// EngineError 'TOO_FEW_IMAGES' names the class (a class needs at least 1 image to train on and 1
// to validate on, so 2 when the validation set is split off).

import * as tf from '@tensorflow/tfjs-core';
import { PARAM_NAMES, type AlexNetConfig, type ParamName, type Params } from './config';
import { stratifiedSplit, type Item } from './data';
import { EngineError } from './errors';
import { featureSource, FeatureCache, type FeatureCacheStats, type FeatureDtype } from './feature-cache';
import { readModelMeta, resolveCheckpointDir, type EpochMetrics } from './checkpoint';
import { disposeParams, forward, ownVariable } from './model';
import type { Preprocessing } from './preprocess';
import { derivedSeed, imageSource, train, type Augment, type StopAt, type SourceBatch, type TrainEvent, type TrainResult, type TrainSource } from './train';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { readTensor } from './backend';

export type FineTuneMode = 'none' | 'fc' | 'all';

export type BaseModel = {
  params: Params; // pretrained weights (not modified; fc8 is ignored)
  config: AlexNetConfig; // their config (numClasses is replaced)
  preprocessing: Preprocessing; // their preprocessing (e.g. CAFFE_PREPROCESSING for BVLC weights)
  source: string; // recorded as weightsSource ('imagenet', a file path)
};

export type TransferOptions = {
  base: BaseModel;
  classNames: string[];
  train: Item[]; // labels index classNames
  val?: Item[]; // default: a stratified split of `train`
  valFraction?: number; // 0.2 when val is not given
  outDir?: string | null; // best.ckpt / last.ckpt
  cacheDir: string; // feature cache folder
  headEpochs?: number; // 3: nearly free on cached features (fastai uses 1 because its epochs are not)
  fineTuneEpochs?: number; // 10, early stopping usually ends it sooner
  fineTune?: FineTuneMode; // 'fc' (default), 'all' or 'none'
  lr?: number; // the new head's rate; default: picked by a short LR search on cached features (see pickHeadLr); pretrained layers get 1/10 or less
  batchSize?: number; // 32
  cacheViews?: number; // K cached training views per image (6), see feature-cache.ts
  cacheDtype?: FeatureDtype; // 'float16'
  augment?: boolean; // sample among the cached views / the paper's augmentation for 'all' (true)
  seed?: number; // 0
  resume?: boolean; // continue an interrupted run from outDir/last.ckpt
  trainError?: boolean; // both stages: the training error with each epoch's final weights (see train)
  stopAt?: StopAt[]; // the run ends in whichever stage first reaches one (see train)
  signal?: AbortSignal;
  onEvent?: (e: TransferEvent) => void;
};

export type TransferEvent =
  | (TrainEvent & { stage: 'head' | 'finetune' })
  | { type: 'lr-find'; stage: 'head'; trials: { lr: number; valLoss: number }[]; lr: number }
  // the first learning-rate trial runs every image through conv1-5 once to fill the feature cache:
  // the slow part of a first run, reported per batch so that it shows progress and an ETA
  | { type: 'caching'; stage: 'head'; step: number; steps: number; etaSeconds: number };

// Candidate head rates for the automatic pick, largest first. 0.01 is Caffe's fine-tuning rate for a
// new fc8 (base 0.001 x lr_mult 10); the smaller ones cover feature sets with a larger norm, where
// 0.01 makes SGD with momentum 0.9 oscillate.
export const HEAD_LR_CANDIDATES = [0.01, 0.003, 0.001, 0.0003, 0.0001];

export type TransferResult = TrainResult & { cache: FeatureCacheStats; split: { train: number; val: number } };

const CONV_LAYERS = ['conv1', 'conv2', 'conv3', 'conv4', 'conv5'] as const;

/** Learning-rate multipliers of each stage. */
export function stageMultipliers(stage: 'head' | FineTuneMode): Partial<Record<ParamName, number>> {
  const m: Partial<Record<ParamName, number>> = {};
  for (const n of PARAM_NAMES) m[n] = 0;
  m['fc8.w'] = 1;
  m['fc8.b'] = 1;
  if (stage === 'fc' || stage === 'all') {
    for (const n of ['fc6.w', 'fc6.b', 'fc7.w', 'fc7.b'] as const) m[n] = 0.1;
  }
  if (stage === 'all') {
    // geometric from conv1 (1/100) to fc7 (1/10): fastai's slice(lr/100, lr/10) over the body
    const layers = [...CONV_LAYERS, 'fc6', 'fc7'];
    layers.forEach((l, i) => {
      const mult = 0.01 * 10 ** (i / (layers.length - 1));
      m[`${l}.w` as ParamName] = mult;
      m[`${l}.b` as ParamName] = mult;
    });
  }
  return m;
}

/** The base's body with a fresh head of k outputs (new variables; the base is not touched). */
export function withNewHead(base: BaseModel, k: number, seed: number): { params: Params; config: AlexNetConfig } {
  const config: AlexNetConfig = { ...base.config, numClasses: k };
  const params = {} as Params;
  for (const n of PARAM_NAMES) {
    if (n === 'fc8.w') params[n] = ownVariable(tf.randomNormal([config.fcUnits, k], 0, 0.01, 'float32', seed >>> 0));
    else if (n === 'fc8.b') params[n] = ownVariable(tf.zeros([k]));
    else params[n] = ownVariable(base.params[n].clone());
  }
  return { params, config };
}

/** Checks every class can be trained and validated; EngineError 'TOO_FEW_IMAGES' otherwise. */
export function checkCounts(classNames: string[], trainItems: Item[], valItems: Item[] | null): void {
  const count = (items: Item[]): number[] => {
    const c = new Array<number>(classNames.length).fill(0);
    for (const it of items) c[it.label]++;
    return c;
  };
  const tr = count(trainItems);
  if (valItems === null) {
    tr.forEach((n, c) => {
      if (n < 2) {
        throw new EngineError('TOO_FEW_IMAGES', `class "${classNames[c]}" has ${n} image${n === 1 ? '' : 's'}: at least 2 are needed (one to train on, one to validate on)`);
      }
    });
    return;
  }
  const va = count(valItems);
  tr.forEach((n, c) => {
    if (n < 1) throw new EngineError('TOO_FEW_IMAGES', `class "${classNames[c]}" has no training image`);
    if (va[c] < 1) throw new EngineError('TOO_FEW_IMAGES', `class "${classNames[c]}" has no validation image`);
  });
}

/**
 * fc7 activations of one epoch's training batches (training mode: the dropout masks train() would
 * draw for (seed, epoch, step)) and of the validation batches (no dropout), computed once from the
 * cached pool5 source and served as a 'fc7' source for that epoch. Reports the pass as 'caching'
 * progress: on a first run it is what fills the feature cache.
 */
export async function headFeatures(
  source: TrainSource,
  params: Params,
  config: AlexNetConfig,
  seed: number,
  batchSize: number,
  epoch: number,
  onEvent?: (e: TransferEvent) => void,
  signal?: AbortSignal,
): Promise<TrainSource> {
  const toFc7 = async (b: SourceBatch, training: boolean, dropSeed?: number): Promise<SourceBatch> => {
    const t = tf.tidy(() => forward(params, config, tf.tensor(b.x, b.shape, 'float32'), { training, seed: dropSeed, from: source.from, to: 'fc7' }));
    const x = await readTensor(t);
    t.dispose();
    return { x, shape: [b.y.length, config.fcUnits], y: b.y, paths: b.paths };
  };
  const steps = Math.ceil(source.trainCount / batchSize);
  const trainB: SourceBatch[] = [];
  const t0 = performance.now();
  let step = 0;
  for await (const b of source.trainBatches(epoch)) {
    trainB.push(await toFc7(b, true, derivedSeed(seed, 'dropout', epoch * 1_000_003 + step)));
    step++;
    const per = (performance.now() - t0) / 1000 / step;
    onEvent?.({ type: 'caching', stage: 'head', step, steps, etaSeconds: per * Math.max(0, steps - step) });
    if (signal?.aborted) break;
    await new Promise<void>((resolve) => setImmediate(resolve)); // progress and cancel need the event loop
  }
  const valB: SourceBatch[] = [];
  if (!signal?.aborted) for await (const b of source.valBatches()) valB.push(await toFc7(b, false));
  const only = epoch;
  return {
    from: 'fc7',
    trainCount: source.trainCount,
    valCount: source.valCount,
    async *trainBatches(e: number) {
      if (e !== only) throw new Error(`headFeatures: computed for epoch ${only}, asked for ${e}`);
      yield* trainB;
    },
    async *valBatches() {
      yield* valB;
    },
  };
}

/** The augmentation of 'all' when reading images: the paper's crops and flips, no PCA noise (as in the cached views). */
export const FINE_TUNE_AUGMENT: Augment = Object.freeze({ randomCrop: true, flip: true, pcaStd: 0 }) as Augment;

/**
 * Where the second stage's batches come from: the cached features while conv1-5 stay frozen
 * ('none', 'fc'), else the images (FINE_TUNE_AUGMENT when `augment`). Both shuffle every epoch.
 */
export function secondStageSource(
  mode: FineTuneMode,
  cached: TrainSource,
  opts: { train: Item[]; val: Item[]; preprocessing: Preprocessing; batchSize: number; augment: boolean; seed: number; onSkip: (path: string, reason: string) => void },
): TrainSource {
  if (mode !== 'all') return cached;
  return imageSource({ ...opts, augment: opts.augment ? FINE_TUNE_AUGMENT : null });
}

/** The one-click recipe (see the header). Returns the final weights (the caller disposes them). */
export async function fineTune(opts: TransferOptions): Promise<TransferResult> {
  const k = opts.classNames.length;
  const seed = opts.seed ?? 0;
  const batchSize = opts.batchSize ?? 32;
  const mode: FineTuneMode = opts.fineTune ?? 'fc';
  const headEpochs = opts.headEpochs ?? 3;
  const ftEpochs = mode === 'none' ? 0 : (opts.fineTuneEpochs ?? 10);
  const augment = opts.augment ?? true;

  // -- data
  checkCounts(opts.classNames, opts.train, opts.val ?? null);
  const split = opts.val ? { train: opts.train, val: opts.val } : stratifiedSplit(opts.train, opts.valFraction ?? 0.2, seed);
  if (!opts.val) checkCounts(opts.classNames, split.train, split.val);

  // -- where a resumed run stands
  let resumeStage: 'head' | 'finetune' | null = null;
  let resumeOffset = 0; // epochs the head stage took, when resuming the second stage
  let resumedLr: number | null = null; // the head rate an interrupted run had picked
  if (opts.resume && opts.outDir && existsSync(path.join(opts.outDir, 'last.ckpt'))) {
    const meta = await readModelMeta(resolveCheckpointDir(path.join(opts.outDir, 'last.ckpt')));
    resumeStage = meta.trainState?.stage === 'finetune' ? 'finetune' : 'head';
    const off = meta.trainOptions.stageOffset;
    resumeOffset = typeof off === 'number' ? off : 0;
    const picked = meta.trainOptions.headLr;
    if (opts.lr === undefined && typeof picked === 'number') resumedLr = picked;
  }

  // -- model and cache (the cache keys on the conv weights, which no stage but 'all' changes).
  // `params` stays alive for the cache's misses until the end, even when a resume loads its own.
  const { params, config } = withNewHead(opts.base, k, seed);
  const cache = await FeatureCache.create({
    dir: opts.cacheDir,
    params,
    config,
    preprocessing: opts.base.preprocessing,
    views: opts.cacheViews,
    dtype: opts.cacheDtype,
    batchSize,
  });
  let stage: 'head' | 'finetune' = resumeStage ?? 'head';
  const cached = featureSource({
    cache,
    train: split.train,
    val: split.val,
    batchSize,
    seed,
    augment,
    onSkip: (p, reason) => opts.onEvent?.({ type: 'skip', path: p, reason, stage }),
  });
  const common = {
    config,
    classNames: opts.classNames,
    train: split.train,
    val: split.val,
    preprocessing: opts.base.preprocessing,
    batchSize,
    seed,
    weightsSource: opts.base.source,
    outDir: opts.outDir ?? null,
    signal: opts.signal,
    trainError: opts.trainError,
    stopAt: opts.stopAt,
    classWeighting: 'balanced' as const,
    extraMeta: { recipe: 'fine-tune', fineTune: mode, headEpochs, fineTuneEpochs: ftEpochs, cacheViews: cache.views } as Record<string, unknown>,
  };

  // -- the head's learning rate: given, resumed, or the best of one cached-feature epoch per candidate
  let lr: number;
  if (opts.lr !== undefined) lr = opts.lr;
  else if (resumedLr !== null) lr = resumedLr;
  else {
    const trials: { lr: number; valLoss: number }[] = [];
    // Every trial trains only fc8, for the same first epoch, on the same batches with the same
    // dropout masks: its fc7 activations are computed once (this pass also fills the feature cache),
    // and each trial is then an fc8-only epoch, identical to one run through fc6-fc7 each time.
    const fc7 = await headFeatures(cached, params, config, seed, batchSize, 1, opts.onEvent, opts.signal);
    try {
      for (const cand of HEAD_LR_CANDIDATES) {
        if (opts.signal?.aborted) break;
        const trial = { ...params, 'fc8.w': ownVariable(params['fc8.w'].clone()), 'fc8.b': ownVariable(params['fc8.b'].clone()) };
        const r = await train({ ...common, outDir: null, trainError: false, stopAt: [], params: trial, epochs: 1, lr: cand, lrMult: stageMultipliers('head'), source: fc7, stage: 'lr-find' });
        trial['fc8.w'].dispose();
        trial['fc8.b'].dispose();
        const v = r.metrics[0]?.valLoss ?? NaN;
        trials.push({ lr: cand, valLoss: Number.isFinite(v) ? v : Infinity });
      }
    } finally {
      fc7.close?.();
    }
    const best = trials.reduce((a, b) => (b.valLoss < a.valLoss ? b : a), trials[0] ?? { lr: 0.01, valLoss: Infinity });
    lr = best.lr;
    opts.onEvent?.({ type: 'lr-find', stage: 'head', trials, lr });
  }
  common.extraMeta.headLr = lr;

  // -- stage 1: the head alone
  const finish = (r: TrainResult): TransferResult => {
    if (r.params !== params) disposeParams(params);
    return { ...r, cache: cache.stats, split: { train: split.train.length, val: split.val.length } };
  };
  let prev: TrainResult | null = null;
  if (resumeStage !== 'finetune') {
    const result = await train({
      ...common,
      params: resumeStage === 'head' ? undefined : params,
      epochs: headEpochs,
      lr,
      lrMult: stageMultipliers('head'),
      source: cached,
      stage: 'head',
      resume: resumeStage === 'head',
      onEvent: (e) => opts.onEvent?.({ ...e, stage: 'head' }),
    });
    if (result.stopped === 'cancelled' || result.stopped === 'target' || ftEpochs === 0) return finish(result);
    prev = result;
  }

  // -- stage 2: unfreeze (fc6-fc8, or everything)
  stage = 'finetune';
  const metricsSoFar: EpochMetrics[] = prev ? prev.metrics : [];
  const offset = prev ? prev.epochs : resumeOffset;
  const r2 = await train({
    ...common,
    extraMeta: { ...common.extraMeta, stageOffset: offset },
    params: prev ? prev.params : undefined,
    epochs: ftEpochs,
    epochOffset: offset,
    metricsSoFar,
    initialBest: prev && prev.best !== null ? { value: prev.best, epoch: prev.bestEpoch } : null,
    lr,
    lrMult: stageMultipliers(mode),
    source: secondStageSource(mode, cached, {
      train: split.train,
      val: split.val,
      preprocessing: opts.base.preprocessing,
      batchSize,
      augment,
      seed,
      onSkip: (p, reason) => opts.onEvent?.({ type: 'skip', path: p, reason, stage: 'finetune' }),
    }),
    augment: mode === 'all' && augment ? FINE_TUNE_AUGMENT : null, // recorded in the checkpoint
    stage: 'finetune',
    resume: resumeStage === 'finetune',
    onEvent: (e) => opts.onEvent?.({ ...e, stage: 'finetune' }),
  });
  return finish(r2);
}
