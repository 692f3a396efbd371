// The one recipe behind every "train" button: from scratch (the paper's recipe on the user's
// photos) or, with pretrained weights, the one-click transfer recipe of transfer.ts. The command
// line (`alexnet train`) and the app's training worker both call runRecipe, so a model trained in
// either is trained the same way.
import { stratifiedSplit, type Item } from './data';
import { EngineError } from './errors';
import { makeConfig, TINY_CONFIG, DEFAULT_CONFIG } from './config';
import { PAPER_PREPROCESSING, type Preprocessing } from './preprocess';
import { initParams } from './model';
import { train, type StopAt, type TrainEvent, type TrainResult } from './train';
import { fineTune, type BaseModel, type FineTuneMode, type TransferEvent } from './transfer';

export type Freeze = 'features' | 'none';
export type RecipeEvent = TrainEvent | TransferEvent;

/** The paper's ablation switches (sections 3.1-3.4) a run from scratch may change; unset = the paper's. */
export type NetworkSwitches = { activation?: 'relu' | 'tanh'; groups?: 1 | 2; lrn?: boolean; overlappingPool?: boolean };

export type RecipeOptions = {
  classNames: string[];
  train: Item[]; // labels index classNames
  val?: Item[] | null; // null: a stratified split of `train` (valFraction), reproducible from the seed
  valFraction?: number; // 0.2
  base?: BaseModel | null; // pretrained weights (ImageNet or any model of ours); null: paper init
  freeze?: Freeze; // with base: 'features' (default) keeps conv1-5 frozen, 'none' fine-tunes everything
  fineTune?: FineTuneMode; // with base, finer than freeze: 'none' (new head only), 'fc' (+ fc6-7), 'all'
  architecture?: 'alexnet' | 'tiny'; // 'tiny': TINY_CONFIG, for tests and demos of the pipeline
  epochs?: number; // scratch: 30 (early stopping ends sooner); transfer: fine-tune epochs, 10
  headEpochs?: number; // transfer: epochs of the new head alone on cached features, 3
  batchSize?: number; // 32
  lr?: number; // scratch: 0.01 (the paper's); transfer: picked automatically when absent
  augment?: boolean; // the paper's augmentation (random crops, flips, PCA colour noise): true
  seed?: number; // 0: same seed + same backend -> same run
  network?: NetworkSwitches; // scratch only: the network pretrained weights fix
  outDir: string; // best.ckpt + last.ckpt
  cacheDir: string; // the feature cache (transfer)
  resume?: boolean; // continue from outDir/last.ckpt
  trainError?: boolean; // each epoch also measures the training error with its final weights (one more pass)
  stopAt?: StopAt[]; // stop once an epoch reaches one of these, e.g. parseStopAt('val_acc=0.9')
  signal?: AbortSignal;
  onEvent?: (e: RecipeEvent) => void;
};

// The toy network: the paper's preprocessing scaled to TINY_CONFIG's input, with inputs divided by
// ImageNet's per-channel std and He-initialised weights, so that so narrow a network trains at all.
export const TINY_PREPROCESSING: Preprocessing = {
  ...PAPER_PREPROCESSING,
  resize: Math.round(TINY_CONFIG.inputSize * (256 / 227)),
  crop: TINY_CONFIG.inputSize,
  std: [58.393, 57.12, 57.375],
};

export function describeRecipe(opts: Pick<RecipeOptions, 'base' | 'freeze'>): string {
  if (!opts.base) return 'from scratch (paper init)';
  return opts.freeze === 'none' ? `fine-tune all layers from ${opts.base.source}` : `new head + fc6-7 on frozen features of ${opts.base.source}`;
}

export async function runRecipe(opts: RecipeOptions): Promise<TrainResult> {
  const seed = opts.seed ?? 0;
  if (!opts.base) {
    if (opts.freeze === 'features') throw new EngineError('BAD_CONFIG', 'freezing the features needs pretrained weights: use --weights imagenet (or a model), or --freeze none');
    const tiny = opts.architecture === 'tiny';
    const split = opts.val ? { train: opts.train, val: opts.val } : stratifiedSplit(opts.train, opts.valFraction ?? 0.2, seed);
    const base = tiny ? TINY_CONFIG : DEFAULT_CONFIG;
    const n = opts.network ?? {};
    const config = makeConfig({
      ...base,
      numClasses: opts.classNames.length,
      ...(n.activation ? { activation: n.activation } : {}),
      ...(n.groups ? { groups: n.groups } : {}),
      ...(n.lrn === false ? { lrn: null } : {}),
      ...(n.overlappingPool === false ? { overlappingPool: false } : {}),
    });
    return train({
      config,
      params: tiny && !opts.resume ? initParams(config, seed, 'he') : undefined,
      classNames: opts.classNames,
      train: split.train,
      val: split.val,
      preprocessing: tiny ? TINY_PREPROCESSING : PAPER_PREPROCESSING,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      lr: opts.lr,
      augment: opts.augment === false ? null : undefined,
      seed,
      weightsSource: 'none',
      outDir: opts.outDir,
      resume: opts.resume,
      trainError: opts.trainError,
      stopAt: opts.stopAt,
      signal: opts.signal,
      onEvent: opts.onEvent,
    });
  }
  return fineTune({
    base: opts.base,
    classNames: opts.classNames,
    train: opts.train,
    val: opts.val ?? undefined,
    valFraction: opts.valFraction,
    outDir: opts.outDir,
    cacheDir: opts.cacheDir,
    headEpochs: opts.headEpochs,
    fineTuneEpochs: opts.epochs,
    fineTune: opts.fineTune ?? (opts.freeze === 'none' ? 'all' : 'fc'),
    lr: opts.lr,
    batchSize: opts.batchSize,
    augment: opts.augment,
    seed,
    resume: opts.resume,
    trainError: opts.trainError,
    stopAt: opts.stopAt,
    signal: opts.signal,
    onEvent: opts.onEvent,
  });
}
