// Training: the paper's recipe (SGD, momentum 0.9, weight decay 5e-4, learning rate divided by 10
// when the validation metric stops improving) plus what fastai users expect: a default learning
// rate that works, early stopping, best-checkpoint keeping, a seed for reproducible runs.
//
//   train(opts) -> TrainResult
//     for each epoch: shuffle (epochOrder: seeded by seed + epoch, augmented or not) -> steps (forward, weighted cross-entropy,
//     gradients of the trainable parameters only, SGD update) -> validation -> plateau schedule ->
//     last.ckpt (+ best.ckpt when the monitored metric improved)
//
// No I/O of its own beyond checkpoints; progress goes out as typed events. Cancel with an
// AbortSignal at any time: the run stops after the current step and the folder keeps the
// checkpoint of the last finished epoch. Reproducibility: every random choice (init, shuffling,
// augmentation, dropout masks) is derived from (seed, epoch, step), never from state carried between
// epochs, so a resumed run takes exactly the steps an uninterrupted one would have.

import * as tf from '@tensorflow/tfjs-core';
import { type AlexNetConfig, type ParamName, type Params } from './config';
import { BatchLoader, PAPER_AUGMENT, type Augment, type Item } from './data';
import { collectGarbage, memoryGuard, readTensor, reserveCpuPool, trainingPoolBytes } from './backend';
import { EngineError } from './errors';
import { initParams, disposeParams, forward, type Stage } from './model';
import { Sgd } from './optimizer';
import type { Pca, Preprocessing } from './preprocess';
import { createRng } from './rng';
import { initialState, loadCheckpoint, saveCheckpoint, snapshotParams, syncCheckpoint, type CheckpointInput, type EpochMetrics, type TrainState } from './checkpoint';
export { initialState };
import path from 'node:path';

export type { Augment, Item };

/** One batch as a source hands it to the trainer: inputs for forward(from) and labels. */
export type SourceBatch = { x: Float32Array; shape: number[]; y: Int32Array; paths: string[] };

/**
 * Where batches come from. The default reads images (BatchLoader, augmented unless augment is null); transfer
 * learning passes a feature-cache source whose batches are pool5 features (from = 'pool5').
 */
export type TrainSource = {
  from: Stage;
  trainCount: number; // training images (for steps per epoch and ETA)
  valCount: number;
  trainBatches(epoch: number): AsyncGenerator<SourceBatch>; // in epochOrder(seed, epoch), never sorted
  valBatches(): AsyncGenerator<SourceBatch>;
  trainEvalBatches?(): AsyncGenerator<SourceBatch>; // the training images as validation sees them (for trainError)
  close?(): void;
};

/** A metric the run stops at (stopAt): accuracies once they reach the value, errors and losses once they fall to it. */
export type StopMetric = 'val_acc' | 'val_err' | 'val_loss' | 'train_err';
export type StopAt = { metric: StopMetric; value: number };
const STOP_METRICS: readonly StopMetric[] = ['val_acc', 'val_err', 'val_loss', 'train_err'];

/** 'val_acc=0.9' -> { metric: 'val_acc', value: 0.9 }; EngineError 'BAD_CONFIG' for anything else. */
export function parseStopAt(text: string): StopAt {
  const m = /^\s*([a-z_0-9]+)\s*=\s*([^\s]+)\s*$/.exec(text);
  const metric = STOP_METRICS.find((s) => s === m?.[1]);
  const value = m ? Number(m[2]) : NaN;
  if (!m || !metric) throw new EngineError('BAD_CONFIG', `stop-at takes <metric>=<value> with a metric among ${STOP_METRICS.join(', ')}, got '${text}'`);
  if (!Number.isFinite(value) || value < 0 || (metric !== 'val_loss' && value > 1)) {
    throw new EngineError('BAD_CONFIG', `stop-at ${metric}: the value must be a number${metric === 'val_loss' ? ' >= 0' : ' in [0, 1]'}, got '${m[2]}'`);
  }
  return { metric, value };
}

/** The stopAt target an epoch reached, if any (the first of `targets` that is). */
export function reachedTarget(m: EpochMetrics, targets: readonly StopAt[]): (StopAt & { reached: number }) | null {
  for (const t of targets) {
    const v = t.metric === 'val_acc' ? m.valAcc : t.metric === 'val_err' ? 1 - m.valAcc : t.metric === 'val_loss' ? m.valLoss : m.trainErr;
    if (v === undefined || !Number.isFinite(v)) continue;
    if (t.metric === 'val_acc' ? v >= t.value : v <= t.value) return { ...t, reached: v };
  }
  return null;
}

export type PlateauOptions = {
  monitor: 'valLoss' | 'valError'; // the metric watched (lower is better)
  lrPatience: number; // epochs without improvement before lr /= lrFactor's inverse
  lrFactor: number; // 0.1: the paper divides by 10
  maxLrDrops: number; // the paper divided 3 times in total
  earlyStopPatience: number; // epochs without improvement before stopping; 0 = never
  minDelta: number; // an improvement must beat the best by more than this (relative)
};

export const DEFAULT_PLATEAU: PlateauOptions = {
  monitor: 'valLoss', // smoother than the error rate on the small validation sets users have
  lrPatience: 2, // two flat epochs -> divide (the paper did it by eye; fastai's ReduceLROnPlateau default is 1)
  lrFactor: 0.1, // the paper's /10
  maxLrDrops: 3, // the paper: "reduced three times prior to termination"
  earlyStopPatience: 5, // long enough to see the effect of two LR drops
  minDelta: 1e-4, // relative: ignores noise-level gains
};

export type TrainOptions = {
  config: AlexNetConfig; // numClasses must equal classNames.length
  classNames: string[];
  train: Item[]; // labels index classNames
  val: Item[];
  preprocessing: Preprocessing;
  epochs?: number; // 30 by default: early stopping usually ends sooner
  batchSize?: number; // 32 (the paper used 128; 32 fits every backend's memory)
  lr?: number; // base learning rate: 0.01 from scratch (the paper's), see transfer.ts for fine-tuning
  momentum?: number; // 0.9
  weightDecay?: number; // 5e-4
  lrMult?: Partial<Record<ParamName, number>>; // per-parameter multipliers; 0 = frozen
  plateau?: Partial<PlateauOptions>;
  augment?: Augment | null; // default: the paper's random crops + flips + PCA colour noise 0.1; null: centre crops (still shuffled)
  pca?: Pca; // eigen-decomposition of the training set's RGB covariance (for PCA noise); default: computed from `train`
  trainError?: boolean; // after each epoch, one more pass over the training images (as validation sees them) for EpochMetrics.trainErr
  stopAt?: StopAt[]; // stop once an epoch reaches one of these (train_err turns trainError on)
  classWeighting?: 'balanced' | 'none'; // 'balanced': loss weight n/(k n_c) per class (default)
  seed?: number; // 0 by default: same seed + same backend -> same losses
  params?: Params; // starting weights (taken over: train disposes or returns them); default paper init
  weightsSource?: string; // recorded in the checkpoint ('none', 'imagenet', a file...)
  outDir?: string | null; // folder for best.ckpt/last.ckpt; null = keep nothing
  resume?: boolean; // continue from outDir/last.ckpt
  signal?: AbortSignal;
  onEvent?: (e: TrainEvent) => void;
  source?: TrainSource; // overrides image loading
  stage?: string; // recorded in checkpoints (multi-stage recipes)
  epochOffset?: number; // epoch numbering starts after this (multi-stage recipes)
  metricsSoFar?: EpochMetrics[]; // earlier stages' metrics, kept in checkpoints
  extraMeta?: Record<string, unknown>; // merged into trainOptions in model.json
  saveOptimizer?: boolean; // write optimizer.bin into last.ckpt (default true)
  checkpointSeconds?: number; // an epoch that did not improve is checkpointed only this long after the previous checkpoint (default 30; 0: every epoch)
  initialBest?: { value: number; epoch: number } | null; // an earlier stage's best: best.ckpt is only replaced by a better model
};

export type TrainEvent =
  | { type: 'start'; epochs: number; startEpoch: number; stepsPerEpoch: number; trainCount: number; valCount: number; lr: number; trainable: ParamName[] }
  | { type: 'step'; epoch: number; step: number; stepsPerEpoch: number; loss: number; acc: number; imagesPerSec: number; lr: number; etaSeconds: number }
  | ({ type: 'epoch'; best: boolean } & EpochMetrics)
  | { type: 'checkpoint'; kind: 'best' | 'last'; dir: string; epoch: number }
  | { type: 'lr-drop'; epoch: number; from: number; to: number }
  | { type: 'early-stop'; epoch: number; bestEpoch: number }
  | { type: 'target-reached'; epoch: number; metric: StopMetric; value: number; target: number }
  | { type: 'skip'; path: string; reason: string }
  | { type: 'done'; stopped: StopReason; epochs: number; bestEpoch: number; best: number | null; seconds: number };

export type StopReason = 'completed' | 'early-stop' | 'target' | 'cancelled';

export type TrainResult = {
  params: Params; // final weights (the caller disposes them)
  config: AlexNetConfig;
  classNames: string[];
  metrics: EpochMetrics[];
  epochs: number; // finished epochs (including earlier stages and resumed ones)
  bestEpoch: number;
  best: number | null;
  stopped: StopReason;
  state: TrainState;
};

// ---------------------------------------------------------------------------------------------
// The plateau schedule (LR drop + early stop), separate so it can be tested on synthetic sequences

export type PlateauDecision = { improved: boolean; lrDrop: boolean; stop: boolean };

/** Feeds one epoch's monitored value (lower is better) into the state; mutates and returns decisions. */
export function plateauStep(state: TrainState, value: number, epoch: number, opts: PlateauOptions): PlateauDecision {
  const improved = state.bestValue === null || value < state.bestValue - Math.abs(state.bestValue) * opts.minDelta;
  let lrDrop = false;
  if (improved) {
    state.bestValue = value;
    state.bestEpoch = epoch;
    state.plateauCount = 0;
    state.earlyStopCount = 0;
  } else {
    state.plateauCount++;
    state.earlyStopCount++;
    if (state.plateauCount >= opts.lrPatience && state.lrDrops < opts.maxLrDrops) {
      state.lr *= opts.lrFactor;
      state.lrDrops++;
      state.plateauCount = 0;
      lrDrop = true;
    }
  }
  const stop = opts.earlyStopPatience > 0 && state.earlyStopCount >= opts.earlyStopPatience;
  return { improved, lrDrop, stop };
}


// ---------------------------------------------------------------------------------------------
// Helpers

/** A 31-bit seed for (seed, label, n): used for dropout masks per step. */
export function derivedSeed(seed: number, label: string, n: number): number {
  return createRng(seed).fork(label).fork(n).int(2 ** 31);
}

/** Loss weights per class: n / (k * n_c) ('balanced') or 1. A class with no image gets 0. */
export function classWeights(items: Item[], k: number, mode: 'balanced' | 'none'): Float32Array {
  const w = new Float32Array(k).fill(1);
  if (mode === 'none') return w;
  const counts = new Array<number>(k).fill(0);
  for (const it of items) counts[it.label]++;
  for (let c = 0; c < k; c++) w[c] = counts[c] > 0 ? items.length / (k * counts[c]) : 0;
  return w;
}

/** Weighted mean softmax cross-entropy: sum_i w[y_i] CE_i / sum_i w[y_i]. */
export function weightedCrossEntropy(logits: tf.Tensor, y: tf.Tensor1D, w: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[1] as number;
    const logp = tf.logSoftmax(logits as tf.Tensor2D);
    const oneHot = tf.oneHot(y, k);
    const ce = tf.neg(tf.sum(tf.mul(logp, oneHot), 1)); // [N]
    const wi = tf.gather(w, y); // [N]
    return tf.div(tf.sum(tf.mul(ce, wi)), tf.maximum(tf.sum(wi), 1e-12)) as tf.Scalar;
  });
}

/** The default image source: BatchLoader's training batches (shuffled, augmented or not), centre crops for validation. */
export function imageSource(opts: {
  train: Item[];
  val: Item[];
  preprocessing: Preprocessing;
  batchSize: number;
  augment: Augment | null;
  pca?: Pca;
  seed: number;
  onSkip: (path: string, reason: string) => void;
}): TrainSource {
  const crop = opts.preprocessing.crop;
  const toBatch = (b: { x: Float32Array; y: Int32Array; paths: string[] }): SourceBatch => {
    const rows = b.x.length / (crop * crop * 3);
    return { x: b.x, shape: [rows, crop, crop, 3], y: b.y, paths: b.paths };
  };
  const trainLoader = new BatchLoader({
    items: opts.train,
    prep: opts.preprocessing,
    batchSize: opts.batchSize,
    augment: opts.augment,
    pca: opts.pca,
    seed: opts.seed,
    onSkip: opts.onSkip,
  });
  const valLoader = new BatchLoader({
    items: opts.val,
    prep: opts.preprocessing,
    batchSize: opts.batchSize,
    augment: null,
    seed: opts.seed,
    onSkip: opts.onSkip,
  });
  return {
    from: 'input',
    trainCount: opts.train.length,
    valCount: opts.val.length,
    async *trainBatches(epoch) {
      for await (const b of trainLoader.batches(epoch)) yield toBatch(b);
    },
    async *valBatches() {
      for await (const b of valLoader.evalBatches('center')) yield toBatch(b);
    },
    async *trainEvalBatches() {
      for await (const b of trainLoader.evalBatches('center')) yield toBatch(b); // the training epochs' image cache
    },
  };
}

function checkData(opts: TrainOptions): void {
  const k = opts.classNames.length;
  if (opts.config.numClasses !== k) {
    throw new EngineError('BAD_CONFIG', `the network has ${opts.config.numClasses} outputs but there are ${k} classes`);
  }
  const tr = new Array<number>(k).fill(0);
  const va = new Array<number>(k).fill(0);
  for (const it of opts.train) tr[it.label]++;
  for (const it of opts.val) va[it.label]++;
  for (let c = 0; c < k; c++) {
    if (tr[c] < 1) throw new EngineError('TOO_FEW_IMAGES', `class "${opts.classNames[c]}" has no training image (need at least 1)`);
  }
  if (opts.val.length === 0) throw new EngineError('TOO_FEW_IMAGES', 'no validation image: give a validation folder or a validation split');
}

// ---------------------------------------------------------------------------------------------
// The loop: where a run starts (fresh or resumed), one epoch of steps, the checkpoint writer, and
// train() tying them together.

type StartingPoint = { params: Params; config: AlexNetConfig; state: TrainState; metrics: EpochMetrics[]; startEpoch: number };

/**
 * Weights, plateau state, metrics and first epoch: from outDir/last.ckpt when resuming (its
 * optimizer state goes into `sgd`; opts.params is disposed), else opts.params or a paper init.
 */
async function startingPoint(opts: TrainOptions, sgd: Sgd, stage: string, seed: number): Promise<StartingPoint> {
  const epochOffset = opts.epochOffset ?? 0;
  if (!(opts.resume && opts.outDir)) {
    const state = initialState(sgd.lr, stage);
    if (opts.initialBest) {
      state.bestValue = opts.initialBest.value;
      state.bestEpoch = opts.initialBest.epoch;
    }
    const params = opts.params ?? initParams(opts.config, seed);
    return { params, config: opts.config, state, metrics: [...(opts.metricsSoFar ?? [])], startEpoch: epochOffset + 1 };
  }
  const { model, optimizer } = await loadCheckpoint(path.join(opts.outDir, 'last.ckpt'), 'last');
  if (opts.params) disposeParams(opts.params);
  if (model.classNames.join('\n') !== opts.classNames.join('\n')) {
    disposeParams(model.params);
    throw new EngineError('BAD_MODEL_DIR', `cannot resume ${opts.outDir}: it was trained on classes ${model.classNames.join(', ')}, not ${opts.classNames.join(', ')}`);
  }
  if (optimizer) sgd.importState(optimizer, model.params);
  const saved = model.meta.trainState;
  const state = saved && saved.stage === stage ? { ...saved } : initialState(sgd.lr, stage);
  return { params: model.params, config: model.config, state, metrics: model.meta.metrics, startEpoch: model.meta.epoch + 1 };
}

/** What one epoch of steps needs; `timing` carries the ETA's running averages between epochs. */
type EpochRun = {
  params: Params;
  config: AlexNetConfig;
  sgd: Sgd;
  varList: tf.Variable[];
  nameOf: Map<string, ParamName>;
  classW: tf.Tensor1D;
  source: TrainSource;
  seed: number;
  stepsPerEpoch: number;
  lastEpoch: number;
  signal?: AbortSignal;
  emit: (e: TrainEvent) => void;
  timing: { stepSeconds: number; valSeconds: number };
};

/** One epoch of SGD steps with step events; the mean loss and accuracy, or cancelled. */
async function trainEpoch(run: EpochRun, epoch: number): Promise<{ trainLoss: number; trainAcc: number; cancelled: boolean }> {
  const { source, sgd, stepsPerEpoch, lastEpoch, timing } = run;
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  let step = 0;
  let ts = performance.now(); // a step's time includes waiting for its batch (decoding, cache misses)
  for await (const b of source.trainBatches(epoch)) {
    const n = b.y.length;
    const dropSeed = derivedSeed(run.seed, 'dropout', epoch * 1_000_003 + step);
    const { loss, acc } = await trainStep(run.params, run.config, sgd, run.varList, run.nameOf, b, run.classW, source.from, dropSeed);
    lossSum += loss * n;
    correct += acc * n;
    seen += n;
    step++;
    const now = performance.now();
    const dt = (now - ts) / 1000;
    ts = now;
    timing.stepSeconds = timing.stepSeconds === 0 ? dt : 0.9 * timing.stepSeconds + 0.1 * dt;
    const stepsLeft = stepsPerEpoch - step + (lastEpoch - epoch) * stepsPerEpoch;
    run.emit({
      type: 'step',
      epoch,
      step,
      stepsPerEpoch,
      loss,
      acc,
      imagesPerSec: n / Math.max(dt, 1e-9),
      lr: sgd.lr,
      etaSeconds: stepsLeft * timing.stepSeconds + (lastEpoch - epoch + 1) * timing.valSeconds,
    });
    if (run.signal?.aborted) break;
    // Let the event loop turn: with cached features a whole epoch can run without any I/O wait,
    // and the checkpoint being written, progress messages to the app and a cancel request all
    // need the loop.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { trainLoss: seen > 0 ? lossSum / seen : NaN, trainAcc: seen > 0 ? correct / seen : NaN, cancelled: Boolean(run.signal?.aborted) };
}

/**
 * best.ckpt and last.ckpt, written in the background while the next epoch trains: the epoch's
 * weights (and velocities) are copied out at once (snapshotParams, exportState), then hashed and
 * written off the training loop's path, one save at a time. On an improving epoch best.ckpt
 * hard-links last.ckpt's weights.bin instead of writing it again. Per-epoch saves are not fsynced
 * (a killed process still leaves a whole checkpoint; a power cut may cost the latest ones, which
 * their SHA-256 then reports); the run's final last.ckpt and best.ckpt are, by finish(). A failed
 * write (a full disk) fails the run at the next save or at finish().
 * How often (due): every improving epoch (best.ckpt is always the best model so far) and the run's
 * last epoch; an epoch that did not improve only when `everySeconds` have passed since the previous
 * checkpoint. A save of the paper's network with its velocities is 480 MB: saving every epoch of a
 * one-click fine-tune (epochs of a few seconds each) would take a large share of its time and write
 * gigabytes (bench/README.md ("Engine choices")). A
 * cancelled or killed run resumes from its last checkpoint: it redoes at most ~30 s of training.
 */
class CheckpointWriter {
  private lastSave = performance.now(); // when the previous checkpoint was queued (the run's start at first)
  private saving: Promise<void> = Promise.resolve();
  private error: unknown = null;

  constructor(
    private readonly outDir: string | null, // null: keep nothing
    private readonly everySeconds: number,
    private readonly emit: (e: TrainEvent) => void,
  ) {}

  /** Whether this epoch is checkpointed; when it is, the clock restarts. */
  due(improved: boolean, ends: boolean): boolean {
    if (!(improved || ends || (performance.now() - this.lastSave) / 1000 >= this.everySeconds)) return false;
    this.lastSave = performance.now();
    return true;
  }

  /** Copies the epoch's weights (and, given `sgd`, its velocities) now; writes them behind the caller's back. */
  async save(input: Omit<CheckpointInput, 'params' | 'optimizer'>, params: Params, sgd: Sgd | null, improved: boolean): Promise<void> {
    if (!this.outDir) return;
    this.throwError();
    const outDir = this.outDir;
    const snapshot = { ...input, params: await snapshotParams(params) };
    const optimizer = sgd ? await sgd.exportState(params) : null;
    const lastDir = path.join(outDir, 'last.ckpt');
    const previous = this.saving;
    this.saving = (async () => {
      await previous;
      if (this.error !== null) return;
      await saveCheckpoint(lastDir, { ...snapshot, optimizer }, { durable: false });
      this.emit({ type: 'checkpoint', kind: 'last', dir: lastDir, epoch: input.epoch });
      if (improved) {
        const bestDir = path.join(outDir, 'best.ckpt');
        await saveCheckpoint(bestDir, { ...snapshot, optimizer: null }, { weightsFrom: lastDir, durable: false });
        this.emit({ type: 'checkpoint', kind: 'best', dir: bestDir, epoch: input.epoch });
      }
    })().catch((e: unknown) => {
      this.error ??= e;
    });
  }

  /** Waits for the writes, makes them durable (fsync); throws a save's error. */
  async finish(): Promise<void> {
    await this.saving;
    this.throwError();
    if (!this.outDir) return;
    for (const kind of ['last', 'best']) await syncCheckpoint(path.join(this.outDir, `${kind}.ckpt`));
  }

  /** Waits for the writes without throwing: never leave one running behind a thrown error. */
  async settle(): Promise<void> {
    await this.saving;
  }

  private throwError(): void {
    if (this.error !== null) throw this.error;
  }
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const emit = (e: TrainEvent): void => opts.onEvent?.(e);
  const k = opts.classNames.length;
  const seed = opts.seed ?? 0;
  const epochs = opts.epochs ?? 30;
  const batchSize = opts.batchSize ?? 32;
  const plateau: PlateauOptions = { ...DEFAULT_PLATEAU, ...(opts.plateau ?? {}) };
  const augment: Augment | null = opts.augment === undefined ? PAPER_AUGMENT : opts.augment;
  const stage = opts.stage ?? 'main';
  const epochOffset = opts.epochOffset ?? 0;
  const stopAt = opts.stopAt ?? [];
  const measureTrainErr = Boolean(opts.trainError) || stopAt.some((t) => t.metric === 'train_err');
  checkData(opts);

  // -- weights, optimiser, state: fresh or resumed (a resumed run takes its checkpoint's config)
  const sgd = new Sgd({ lr: opts.lr ?? 0.01, momentum: opts.momentum, weightDecay: opts.weightDecay, lrMult: opts.lrMult });
  const { params, config, state, metrics, startEpoch } = await startingPoint(opts, sgd, stage, seed);
  sgd.lr = state.lr;
  const lastEpoch = epochOffset + epochs;

  const source =
    opts.source ??
    imageSource({
      train: opts.train,
      val: opts.val,
      preprocessing: opts.preprocessing,
      batchSize,
      augment,
      pca: opts.pca,
      seed,
      onSkip: (p, reason) => emit({ type: 'skip', path: p, reason }),
    });
  if (measureTrainErr && !source.trainEvalBatches) throw new EngineError('BAD_CONFIG', 'this training source cannot measure the training error (trainError, stop-at train_err)');
  if (source.from === 'input') memoryGuard(config, batchSize, true); // OUT_OF_MEMORY before wasm corrupts tensors
  // the native CPU pool in one region (ml/backend.ts); from cached features no convolution runs
  reserveCpuPool(trainingPoolBytes(config, batchSize, source.from === 'input'));
  // the arrays the weights (and a resumed optimiser state) were read from; a full collection costs
  // tens of ms, so only where memory binds (the one-click recipe's stages on cached features run
  // train() seven times)
  if (source.from === 'input') collectGarbage();
  const stepsPerEpoch = Math.ceil(source.trainCount / batchSize);
  const trainable = sgd.trainable();
  const run: EpochRun = {
    params,
    config,
    sgd,
    varList: trainable.map((n) => params[n]),
    nameOf: new Map<string, ParamName>(trainable.map((n) => [params[n].name, n])),
    classW: tf.tensor1d(classWeights(opts.train, k, opts.classWeighting ?? 'balanced')),
    source,
    seed,
    stepsPerEpoch,
    lastEpoch,
    signal: opts.signal,
    emit,
    timing: { stepSeconds: 0, valSeconds: 0 },
  };

  const trainOptions = {
    epochs,
    batchSize,
    lr: opts.lr ?? 0.01,
    momentum: sgd.momentum,
    weightDecay: sgd.weightDecay,
    lrMult: sgd.lrMult,
    plateau,
    augment,
    classWeighting: opts.classWeighting ?? 'balanced',
    ...(opts.extraMeta ?? {}),
  };
  const writer = new CheckpointWriter(opts.outDir ?? null, opts.checkpointSeconds ?? 30, emit);

  emit({ type: 'start', epochs: lastEpoch, startEpoch, stepsPerEpoch, trainCount: source.trainCount, valCount: source.valCount, lr: sgd.lr, trainable });

  let stopped: StopReason = 'completed';
  try {
    for (let epoch = startEpoch; epoch <= lastEpoch; epoch++) {
      if (opts.signal?.aborted) {
        stopped = 'cancelled';
        break;
      }
      const te = performance.now();
      const t = await trainEpoch(run, epoch);
      if (t.cancelled) {
        stopped = 'cancelled';
        break;
      }
      const tv = performance.now();
      const val = await validate(params, config, source);
      run.timing.valSeconds = (performance.now() - tv) / 1000;
      const m: EpochMetrics = { epoch, trainLoss: t.trainLoss, trainAcc: t.trainAcc, valLoss: val.loss, valAcc: val.top1, valTop5: val.top5, lr: sgd.lr, seconds: 0 };
      if (measureTrainErr) m.trainErr = 1 - (await validate(params, config, source, 'train')).top1;
      m.seconds = (performance.now() - te) / 1000;
      metrics.push(m);
      const value = plateau.monitor === 'valLoss' ? m.valLoss : 1 - m.valAcc;
      const d = plateauStep(state, value, epoch, plateau);
      emit({ type: 'epoch', ...m, best: d.improved });
      if (d.lrDrop) {
        emit({ type: 'lr-drop', epoch, from: sgd.lr, to: state.lr });
        sgd.lr = state.lr;
      }
      const target = reachedTarget(m, stopAt);
      if (writer.due(d.improved, d.stop || target !== null || epoch === lastEpoch)) {
        const input = {
          config,
          classNames: opts.classNames,
          preprocessing: opts.preprocessing,
          epoch,
          metrics: [...metrics],
          trainOptions,
          seed,
          weightsSource: opts.weightsSource ?? 'none',
          trainState: { ...state },
        };
        await writer.save(input, params, opts.saveOptimizer !== false ? sgd : null, d.improved);
      }
      if (target) {
        emit({ type: 'target-reached', epoch, metric: target.metric, value: target.reached, target: target.value });
        stopped = 'target';
        break;
      }
      if (d.stop && epoch < lastEpoch) {
        emit({ type: 'early-stop', epoch, bestEpoch: state.bestEpoch });
        stopped = 'early-stop';
        break;
      }
    }
    await writer.finish(); // the last checkpoint is on disk before train() returns
  } finally {
    await writer.settle();
    run.classW.dispose();
    sgd.disposeState();
    source.close?.();
  }
  const finished = metrics.length > 0 ? metrics[metrics.length - 1].epoch : epochOffset;
  emit({ type: 'done', stopped, epochs: finished, bestEpoch: state.bestEpoch, best: state.bestValue, seconds: (performance.now() - t0) / 1000 });
  return { params, config, classNames: opts.classNames, metrics, epochs: finished, bestEpoch: state.bestEpoch, best: state.bestValue, stopped, state };
}

/**
 * One SGD step on one batch; returns the batch's loss and accuracy. Leaves no tensor behind. Async:
 * on the webgpu backend results can only be read asynchronously.
 */
export async function trainStep(
  params: Params,
  config: AlexNetConfig,
  sgd: Sgd,
  varList: tf.Variable[],
  nameOf: Map<string, ParamName>,
  b: SourceBatch,
  classW: tf.Tensor1D,
  from: Stage,
  dropSeed: number,
): Promise<{ loss: number; acc: number }> {
  let logitsKept: tf.Tensor | null = null;
  let scale = 1;
  const lossAndAcc = tf.tidy(() => {
    const x = tf.tensor(b.x, b.shape, 'float32');
    const y = tf.tensor1d(b.y, 'int32');
    // the loss times -lr (of the largest trainable parameter): its gradient then arrives as the very
    // term the update adds (Sgd.gradScale)
    scale = sgd.gradScale(params);
    const { value, grads } = tf.variableGrads(() => {
      const logits = forward(params, config, x, { training: true, seed: dropSeed, from });
      logitsKept = tf.keep(logits);
      return tf.mul(weightedCrossEntropy(logits, y, classW), scale) as tf.Scalar;
    }, varList);
    const named: Partial<Record<ParamName, tf.Tensor>> = {};
    for (const [vn, g] of Object.entries(grads)) {
      const n = nameOf.get(vn);
      if (n) named[n] = g;
    }
    sgd.apply(params, named, scale);
    const logits = logitsKept as unknown as tf.Tensor;
    const accT = tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32'));
    const out = tf.stack([value, accT]); // one read for both
    logits.dispose();
    return out;
  });
  const [lossValue, acc] = await readTensor(lossAndAcc);
  lossAndAcc.dispose();
  return { loss: lossValue / scale, acc };
}

/**
 * Loss (unweighted cross-entropy), top-1 and top-5 over the source's validation batches, or with
 * 'train' over its training images as validation sees them (no augmentation, no dropout).
 */
export async function validate(
  params: Params,
  config: AlexNetConfig,
  source: TrainSource,
  which: 'val' | 'train' = 'val',
): Promise<{ loss: number; top1: number; top5: number; n: number }> {
  let loss = 0;
  let top1 = 0;
  let top5 = 0;
  let n = 0;
  const k = config.numClasses;
  const batches = which === 'val' ? source.valBatches() : source.trainEvalBatches?.();
  if (!batches) throw new EngineError('BAD_CONFIG', 'this training source has no evaluation batches of its training images');
  for await (const b of batches) {
    const sums = tf.tidy(() => {
      const x = tf.tensor(b.x, b.shape, 'float32');
      const y = tf.tensor1d(b.y, 'int32');
      const logits = forward(params, config, x, { training: false, from: source.from }) as tf.Tensor2D;
      const ce = tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(y, k)), 1));
      const { indices } = tf.topk(logits, Math.min(5, k));
      const hit = tf.cast(tf.equal(indices, tf.expandDims(y, 1)), 'float32'); // [N, 5]
      return tf.stack([tf.sum(ce), tf.sum(tf.slice(hit, [0, 0], [-1, 1])), tf.sum(hit)]);
    });
    const [l, t1, t5] = await readTensor(sums);
    sums.dispose();
    loss += l;
    top1 += t1;
    top5 += t5;
    n += b.y.length;
  }
  return { loss: n > 0 ? loss / n : NaN, top1: n > 0 ? top1 / n : 0, top5: n > 0 ? top5 / n : 0, n };
}
