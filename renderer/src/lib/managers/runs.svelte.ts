/// <reference types="svelte" />
// Training runs: the history, the live run (its step and epoch curves grow from run:progress and
// run:epoch), starting with good defaults or advanced settings, cancel, comparing runs, evaluation.
import type { Evaluation, Events, RunInfo, RunMetrics, RunPhase, RunSettings, Series } from '../../../../preload/contract';
import type { Api } from '../api';

/** Curves of one run, keyed by metric name ('loss', 'acc', 'val_acc', ...). */
export type Curves = { step: Record<string, Series>; epoch: Record<string, Series> };

/** The model choices of the advanced drawer, each a set of RunSettings. */
export const MODELS = {
  finetune: { label: 'AlexNet, ImageNet weights, fine-tuned (best)', settings: { recipe: 'finetune', architecture: 'alexnet' } },
  scratch: { label: 'AlexNet from scratch (slow, needs many photos)', settings: { recipe: 'scratch', architecture: 'alexnet' } },
  tiny: { label: 'Tiny AlexNet from scratch (a quick demo)', settings: { recipe: 'scratch', architecture: 'tiny' } },
} as const satisfies Record<string, { label: string; settings: RunSettings }>;
export type ModelChoice = keyof typeof MODELS;

/** The advanced drawer's fields; undefined keeps the backend's default. */
export type Advanced = { model: ModelChoice; epochs?: number; batchSize?: number; lr?: number; augment: boolean; freeze: 'none' | 'fc' | 'all'; tenCrop: boolean };

export const DEFAULT_ADVANCED: Advanced = { model: 'finetune', augment: true, freeze: 'fc', tenCrop: false };

/** The drawer -> runs:start settings ("freeze depth" maps to what unfreezes after the head). */
export function toSettings(a: Advanced): RunSettings {
  const s: RunSettings = { ...MODELS[a.model].settings, augment: a.augment, tta: a.tenCrop ? '10crop' : 'center' };
  if (a.batchSize !== undefined) s.batchSize = a.batchSize;
  if (a.lr !== undefined) s.lr = a.lr;
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
  const series = (s[name] ??= { idx: [], value: [] });
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
  backend = $state<string | null>(null);
  message = $state<string | null>(null);
  lastError = $state<string | null>(null);
  /** Bumped on every new point, for charts to redraw. */
  tick = $state(0);
  compareIds = $state<number[]>([]);
  compared = $state<{ run: RunInfo; metrics: RunMetrics }[]>([]);
  evaluation = $state<Evaluation | null>(null);

  running = $derived(this.list.find((r) => r.status === 'running') ?? null);

  constructor(private readonly api: Api) {}

  async load(datasetId: number | null): Promise<void> {
    this.list = await this.api.call('runs:list', datasetId === null ? {} : { datasetId });
    const r = this.running;
    if (r && this.liveId !== r.id) await this.watch(r.id);
  }

  async start(datasetId: number, advanced: Advanced, name?: string): Promise<RunInfo> {
    const run = await this.api.call('runs:start', { datasetId, settings: toSettings(advanced), ...(name ? { name } : {}) });
    this.curves = { step: {}, epoch: {} };
    this.liveId = run.id;
    this.phase = 'starting';
    this.progress = null;
    this.lastError = null;
    this.list = [run, ...this.list.filter((r) => r.id !== run.id)];
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
    const m = await this.api.call('runs:metrics', { runId });
    this.liveId = runId;
    this.curves = { step: m.step, epoch: m.epoch };
    this.tick++;
  }

  onProgress(p: Events['run:progress']): void {
    if (p.runId !== this.liveId) return;
    this.progress = p;
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
    const out: { run: RunInfo; metrics: RunMetrics }[] = [];
    for (const id of this.compareIds) {
      const run = this.list.find((r) => r.id === id);
      if (run) out.push({ run, metrics: await this.api.call('runs:metrics', { runId: id }) });
    }
    this.compared = out;
  }

  async evaluate(runId: number, subset: 'val' | 'all' = 'val'): Promise<void> {
    this.evaluation = await this.api.call('runs:evaluation', { runId, subset, worst: 24 });
  }
}
