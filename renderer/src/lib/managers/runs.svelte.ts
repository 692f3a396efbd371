/// <reference types="svelte" />
// Training runs: the history, the live run (its step and epoch curves grow from run:progress and
// run:epoch), starting with good defaults or advanced settings, cancel, comparing runs, evaluation.
import type { Evaluation, Events, RunDetail, RunInfo, RunMetrics, RunPhase, RunProgress, RunSettings, Series } from '../../../../preload/contract';
import type { Api } from '../api';
import { Latest } from '../latest';

/** Curves of one run, keyed by metric name ('loss', 'acc', 'val_acc', ...). */
export type Curves = { step: Record<string, Series>; epoch: Record<string, Series> };

/** The model choices of the advanced drawer, each a set of RunSettings. */
export const MODELS = {
  finetune: { label: 'AlexNet, ImageNet weights, fine-tuned (best)', settings: { recipe: 'finetune', architecture: 'alexnet' } },
  scratch: { label: 'AlexNet from scratch (slow, needs many photos)', settings: { recipe: 'scratch', architecture: 'alexnet' } },
  tiny: { label: 'Tiny AlexNet from scratch (a quick demo)', settings: { recipe: 'scratch', architecture: 'tiny' } },
} as const satisfies Record<string, { label: string; settings: RunSettings }>;
export type ModelChoice = keyof typeof MODELS;

/** The paper's switches (sections 3.1-3.4) a run from scratch may change; the defaults are the paper's. */
export type Paper = { activation: 'relu' | 'tanh'; lrn: boolean; overlappingPool: boolean; groups: 1 | 2 };
export const PAPER: Paper = { activation: 'relu', lrn: true, overlappingPool: true, groups: 2 };

/** The advanced drawer's fields; undefined keeps the backend's default. */
export type Advanced = {
  model: ModelChoice;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  augment: boolean;
  freeze: 'none' | 'fc' | 'all';
  tenCrop: boolean;
  paper: Paper;
  backend: NonNullable<RunSettings['backend']>; // 'auto': the best that loads
};

export const DEFAULT_ADVANCED: Advanced = { model: 'finetune', augment: true, freeze: 'fc', tenCrop: false, paper: { ...PAPER }, backend: 'auto' };

/** A run's settings in words, for Compare and the summary (keys not listed show as they are). */
export const SETTING_NAMES: Record<string, string> = {
  recipe: 'Recipe',
  architecture: 'Network size',
  headEpochs: 'Epochs of the new head',
  fineTuneEpochs: 'Fine-tune epochs',
  fineTune: 'Layers fine-tuned',
  epochs: 'Epochs',
  batchSize: 'Batch size',
  lr: 'Learning rate',
  augment: 'Augmentation',
  valFraction: 'Share held out for validation',
  tta: 'Views per photo when predicting',
  seed: 'Random seed',
  backend: 'Compute backend',
  activation: 'Activation (paper 3.1)',
  groups: 'Two-GPU groups in conv2/4/5 (paper 3.2)',
  lrn: 'Local response normalisation (paper 3.3)',
  overlappingPool: 'Pooling (paper 3.4)',
  trainCount: 'Photos trained on',
  valCount: 'Photos validated on',
};

const VALUE_WORDS: Record<string, Record<string, string>> = {
  recipe: { finetune: 'fine-tune ImageNet weights', scratch: 'from scratch' },
  architecture: { alexnet: 'AlexNet', tiny: 'tiny AlexNet' },
  fineTune: { none: 'new head only', fc: 'fc6-fc8', all: 'all layers' },
  activation: { relu: 'ReLU', tanh: 'tanh' },
  groups: { '1': 'one group', '2': 'two groups' },
  overlappingPool: { true: 'overlapping 3x3, stride 2', false: '2x2, stride 2' },
  tta: { center: 'centre crop', '10crop': '10 crops' },
};

/** A setting's value in words. */
export function settingValue(key: string, v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '—';
  const w = VALUE_WORDS[key]?.[String(v)];
  if (w) return w;
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (key === 'valFraction' && typeof v === 'number') return `${Math.round(v * 100)}%`;
  return String(v);
}

/** The epochs a run plans in all (a fine-tune's head and fine-tune stages together). */
export function plannedEpochs(r: Pick<RunInfo, 'settings'>): number {
  const n = (k: string) => (typeof r.settings[k] === 'number' ? (r.settings[k] as number) : 0);
  return stageCount(r) === 2 ? n('headEpochs') + n('fineTuneEpochs') : n('epochs');
}

/** How many stages a run has: a fine-tune of pretrained weights trains the head, then more. */
export function stageCount(r: Pick<RunInfo, 'settings'>): number {
  return r.settings.recipe === 'finetune' && r.settings.architecture !== 'tiny' ? 2 : 1;
}

/** Why a finished run stopped, in words: all its epochs, or early stopping before them. */
export function stopReason(r: Pick<RunInfo, 'status' | 'epochs' | 'settings'>): string {
  if (r.status === 'cancelled') return 'cancelled';
  if (r.status === 'failed' || r.status === 'interrupted') return r.status;
  const planned = plannedEpochs(r);
  if (planned > 0 && r.epochs < planned) return `stopped early after ${r.epochs} of ${planned} epochs: validation stopped improving`;
  return `ran all ${r.epochs} epoch${r.epochs === 1 ? '' : 's'}`;
}

/**
 * Seconds left in the whole run (every stage), from the share of its planned steps done since its
 * first step: one figure that does not start over when the fine-tune stage follows the head. The
 * stage's own estimate until enough of the run has passed to extrapolate.
 */
export function runEta(p: Pick<RunProgress, 'epoch' | 'epochs' | 'step' | 'stepsPerEpoch' | 'etaSeconds'>, planned: number, elapsedSeconds: number, stages: number): number {
  const total = Math.max(planned, p.epochs);
  const done = (p.epoch - 1 + p.step / Math.max(1, p.stepsPerEpoch)) / Math.max(1, total);
  if (stages < 2 || done < 0.05 || elapsedSeconds <= 0) return p.etaSeconds;
  return (elapsedSeconds * (1 - done)) / done;
}

/** The chosen finished run, else the finished run with the best validation accuracy (newest on ties). */
export function bestModel(list: readonly RunInfo[], chosen: number | null): RunInfo | null {
  const finished = list.filter((r) => r.status === 'finished');
  return finished.find((r) => r.id === chosen) ?? [...finished].sort((a, b) => (b.bestValAcc ?? -1) - (a.bestValAcc ?? -1) || b.id - a.id)[0] ?? null;
}

/** F1 of a class: the harmonic mean of its precision and recall (0 when both are 0). */
export function f1(precision: number, recall: number): number {
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

/** The drawer -> runs:start settings ("freeze depth" maps to what unfreezes after the head). */
export function toSettings(a: Advanced): RunSettings {
  const s: RunSettings = { ...MODELS[a.model].settings, augment: a.augment, tta: a.tenCrop ? '10crop' : 'center' };
  if (a.batchSize !== undefined) s.batchSize = a.batchSize;
  if (a.lr !== undefined) s.lr = a.lr;
  if (s.recipe !== 'finetune') Object.assign(s, a.paper); // the ImageNet weights fix the network
  if (a.backend !== 'auto') s.backend = a.backend;
  if (s.recipe === 'finetune') {
    s.fineTune = a.freeze;
    if (a.epochs !== undefined) s.fineTuneEpochs = a.epochs;
  } else if (a.epochs !== undefined) s.epochs = a.epochs;
  return s;
}

/** Settings whose values differ between `runs` (the keys to highlight when comparing). */
export function configDiff(runs: Pick<RunInfo, 'settings'>[]): Set<string> {
  const keys = new Set(runs.flatMap((r) => Object.keys(r.settings)));
  const diff = new Set<string>();
  for (const k of keys) {
    const vals = new Set(runs.map((r) => JSON.stringify(r.settings[k] ?? null)));
    if (vals.size > 1) diff.add(k);
  }
  return diff;
}

function append(s: Record<string, Series>, name: string, idx: number, value: number): void {
  // assigned, then read back: the proxy Svelte stores, not the object literal (assignment_value_stale)
  if (!s[name]) s[name] = { idx: [], value: [] };
  const series = s[name];
  const last = series.idx.length - 1;
  if (last >= 0 && series.idx[last] === idx) series.value[last] = value;
  else if (last < 0 || series.idx[last] < idx) {
    series.idx.push(idx);
    series.value.push(value);
  }
}

export class Runs {
  list = $state<RunInfo[]>([]);
  /** The run being trained (or last watched), its curves and live state. */
  liveId = $state<number | null>(null);
  curves = $state<Curves>({ step: {}, epoch: {} });
  phase = $state<RunPhase | null>(null);
  progress = $state<Events['run:progress'] | null>(null);
  /** When the watched run's first step arrived (ms), for the whole run's ETA. */
  stepsSince = $state<number | null>(null);
  backend = $state<string | null>(null);
  message = $state<string | null>(null);
  lastError = $state<string | null>(null);
  /** Bumped on every new point, for charts to redraw. */
  tick = $state(0);
  compareIds = $state<number[]>([]);
  compared = $state<{ run: RunInfo; metrics: RunMetrics }[]>([]);
  evaluation = $state<Evaluation | null>(null);
  /** The run that just finished, for the summary card (null until one finishes while watched). */
  summary = $state<RunDetail | null>(null);

  running = $derived(this.list.find((r) => r.status === 'running') ?? null);
  /** The run the user chose to label and classify with (null: the best one). */
  chosenModelId = $state<number | null>(null);
  /** The model in use: the chosen finished run, else the finished run with the best validation accuracy. */
  model = $derived(bestModel(this.list, this.chosenModelId));
  /** runs:predict at work on new photos (null when idle). */
  predicting = $state<{ runId: number; done: number; total: number } | null>(null);

  // Each view below shows the answer of the call made last (an older, slower answer is dropped).
  private lists = new Latest(); // load()
  private watches = new Latest(); // watch(); start() drops them: the new run is the one watched
  private comparisons = new Latest(); // loadCompare()
  private summaries = new Latest(); // summarize(); start() drops them: a new run has no summary yet
  private evaluations = new Latest(); // evaluate(); closeEvaluation() drops them

  constructor(private readonly api: Api) {}

  async load(datasetId: number | null): Promise<void> {
    const current = this.lists.ask();
    const list = await this.api.call('runs:list', datasetId === null ? {} : { datasetId });
    if (!current()) return;
    this.list = list;
    const r = this.running;
    if (r && this.liveId !== r.id) {
      await this.watch(r.id);
      this.phase ??= 'training'; // opened (or reloaded) while it trains: its next status says more
    }
  }

  async start(datasetId: number, advanced: Advanced, name?: string): Promise<RunInfo> {
    const run = await this.api.call('runs:start', { datasetId, settings: toSettings(advanced), ...(name ? { name } : {}) });
    this.watches.drop();
    this.summaries.drop();
    this.curves = { step: {}, epoch: {} };
    this.liveId = run.id;
    this.phase = 'starting';
    this.progress = null;
    this.stepsSince = null;
    this.lastError = null;
    this.list = [run, ...this.list.filter((r) => r.id !== run.id)];
    this.summary = null;
    return run;
  }

  /** Continues a run that stopped before its end from its last checkpoint (runs:resume). */
  async resume(runId: number): Promise<RunInfo> {
    const run = await this.api.call('runs:resume', { runId });
    await this.watch(run.id); // the curves so far; live events extend them
    this.phase = 'starting';
    this.progress = null;
    this.lastError = null;
    this.list = this.list.map((r) => (r.id === run.id ? run : r));
    return run;
  }

  async cancel(): Promise<void> {
    if (this.liveId !== null) await this.api.call('runs:cancel', { runId: this.liveId });
  }

  /** Shows run `runId`'s curves from the library (then live events extend them). */
  async watch(runId: number): Promise<void> {
    const current = this.watches.ask();
    const m = await this.api.call('runs:metrics', { runId });
    if (!current()) return;
    this.liveId = runId;
    this.curves = { step: m.step, epoch: m.epoch };
    this.tick++;
  }

  onProgress(p: Events['run:progress']): void {
    if (p.runId !== this.liveId) return;
    this.progress = p;
    this.stepsSince ??= Date.now();
    if (this.phase !== 'training') {
      // steps arrive: the features are cached, and "computing features" is over
      this.phase = 'training';
      this.message = null;
    }
    const step = (p.epoch - 1) * p.stepsPerEpoch + p.step; // global step: (epoch-1) * steps + step
    append(this.curves.step, 'loss', step, p.loss);
    append(this.curves.step, 'acc', step, p.acc);
    this.tick++;
  }

  onEpoch(e: Events['run:epoch']): void {
    if (e.runId !== this.liveId) return;
    append(this.curves.epoch, 'train_loss', e.epoch, e.trainLoss);
    append(this.curves.epoch, 'train_acc', e.epoch, e.trainAcc);
    append(this.curves.epoch, 'val_loss', e.epoch, e.valLoss);
    append(this.curves.epoch, 'val_acc', e.epoch, e.valAcc);
    this.tick++;
  }

  onStatus(s: Events['run:status']): void {
    if (this.liveId === null || s.runId === this.liveId) {
      this.liveId = s.runId;
      this.phase = s.phase;
      if (s.backend) this.backend = s.backend;
      this.message = s.message;
      if (s.error) this.lastError = s.error.message;
    }
    const i = this.list.findIndex((r) => r.id === s.runId);
    if (i >= 0) this.list[i] = { ...this.list[i], status: s.status };
  }

  toggleCompare(runId: number): void {
    this.compareIds = this.compareIds.includes(runId) ? this.compareIds.filter((x) => x !== runId) : [...this.compareIds, runId];
  }

  async loadCompare(): Promise<void> {
    const current = this.comparisons.ask();
    const out: { run: RunInfo; metrics: RunMetrics }[] = [];
    for (const id of [...this.compareIds]) {
      const run = this.list.find((r) => r.id === id);
      if (run) out.push({ run, metrics: await this.api.call('runs:metrics', { runId: id }) });
    }
    if (current()) this.compared = out;
  }

  /** Loads the summary of a run that ended (best accuracy, epochs and why it stopped, time). */
  async summarize(runId: number): Promise<void> {
    const current = this.summaries.ask();
    const summary = await this.api.call('runs:get', { runId });
    if (current()) this.summary = summary;
  }

  private asked: { runId: number; subset: 'val' | 'all'; labels: 'at-end' | 'today' } | null = null; // what the latest evaluate() asked for

  /** Scores run `runId`: by default against the labels as they were when it ended (what it measured).
   *  The view shows what was asked for last: an older call answering later is dropped. */
  async evaluate(runId: number, subset: 'val' | 'all' = 'val', labels: 'at-end' | 'today' = 'at-end'): Promise<void> {
    const current = this.evaluations.ask();
    this.asked = { runId, subset, labels };
    const ev = await this.api.call('runs:evaluation', { runId, subset, worst: 24, labels });
    if (current()) this.evaluation = ev;
  }

  /** Closes the evaluation view (its run was deleted): nothing pending is shown, nothing refreshed. */
  closeEvaluation(): void {
    this.evaluations.drop();
    this.asked = null;
    this.evaluation = null;
  }

  /** Asks again for the evaluation last asked for (labels changed: an undo, a relabel), not the one
   *  shown: the user may have switched to "today's labels" while the view still shows the run's own. */
  async refreshEvaluation(): Promise<void> {
    const a = this.asked;
    if (a) await this.evaluate(a.runId, a.subset, a.labels);
  }
}
