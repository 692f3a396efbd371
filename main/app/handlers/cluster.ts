// cluster:export / cluster:import: "Train on a cluster..." and "Import cluster result..." on the
// Train screen, through the same code as `alexnet cluster export|import` (main/app/cluster.ts). One job at
// a time: its progress (with an ETA) as cluster:progress, cluster:cancel aborts it (CANCELLED).
import path from 'node:path';
import { exportClusterJob, importClusterResult } from '../cluster';
import type { ClusterPhase } from '../../../preload/contract';
import { dataPaths, type AppContext } from '../context';
import { AppError } from '../errors';
import { id, int, noArgs, obj, opt, str, absPath } from '../validate';
import { handler, requireDataset, type HandlerMap } from './common';
import { DEFAULT_SETTINGS, PAPER_SWITCHES, runInfo, settingsV } from './runs';

const PROGRESS_MS = 250; // at most four cluster:progress a second (a phase's start and end always)

/** cluster:progress for one job: each phase's ETA from its own rate since it started (done 0). */
function progressEmitter(ctx: AppContext, job: 'export' | 'import', datasetId: number) {
  let phase: ClusterPhase | null = null;
  let started = 0;
  let last = 0;
  return (p: ClusterPhase, done: number, total: number) => {
    const now = Date.now();
    if (p !== phase) [phase, started, last] = [p, now, 0];
    else if (done > 0 && done < total && now - last < PROGRESS_MS) return;
    last = now;
    const elapsed = (now - started) / 1000;
    const etaSeconds = done > 0 && elapsed > 0 ? (elapsed / done) * (total - done) : null;
    ctx.bus.emit('cluster:progress', { job, datasetId, phase: p, done, total, etaSeconds });
  };
}

export function clusterHandlers(ctx: AppContext): HandlerMap<'cluster:export' | 'cluster:import' | 'cluster:cancel'> {
  let active: AbortController | null = null; // the export or import at work
  async function exclusive<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (active) throw new AppError('BUSY', 'a cluster export or import is already running; wait for it or cancel it');
    const controller = new AbortController();
    active = controller;
    try {
      return await work(controller.signal);
    } finally {
      active = null;
    }
  }
  return {
    'cluster:export': handler(obj({ datasetId: id, folder: absPath, settings: opt(settingsV), fromRunId: opt(id), shardSize: opt(int(1, 1_000_000)) }), async (r) => {
      const ds = requireDataset(ctx, r.datasetId);
      const s = { ...DEFAULT_SETTINGS, ...(r.settings ?? {}) };
      // the job's alexnet.py is the paper's network at full size: refuse what it would silently drop
      if (s.architecture !== 'alexnet') throw new AppError('BAD_INPUT', 'a cluster job trains the full AlexNet: choose "AlexNet from scratch" or the ImageNet fine-tune, not the tiny network');
      const changed = PAPER_SWITCHES.filter((k) => s[k] !== DEFAULT_SETTINGS[k]);
      if (changed.length) throw new AppError('BAD_INPUT', `a cluster job trains the paper's network as published: set ${changed.join(', ')} back to the paper's choice`);
      const recipe = s.recipe === 'finetune' ? 'transfer' : 'full';
      const from = r.fromRunId !== undefined ? String(r.fromRunId) : recipe === 'transfer' ? 'imagenet' : 'none';
      // a new folder inside the one picked, named after the dataset and the time
      const slug = ds.name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40) || 'dataset';
      const out = path.join(r.folder, `alexnet-job-${slug}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);
      const onProgress = progressEmitter(ctx, 'export', ds.id);
      const res = await exclusive((signal) =>
        exportClusterJob(ctx.lib, ctx.dataDir, {
          signal,
          onProgress,
          dataset: ds.id,
          out,
          recipe,
          from,
          shardSize: r.shardSize,
          headEpochs: s.headEpochs,
          fineTune: s.fineTune,
          epochs: recipe === 'transfer' ? s.fineTuneEpochs : s.epochs,
          batchSize: s.batchSize,
          lr: s.lr,
          seed: s.seed,
          valFraction: s.valFraction,
        }),
      );
      return { folder: res.dir, files: res.files.length, bytes: res.bytes, train: res.train, val: res.val, shards: res.shards };
    }),
    'cluster:import': handler(obj({ datasetId: id, folder: absPath, name: opt(str()) }), async (r) => {
      requireDataset(ctx, r.datasetId);
      const onProgress = progressEmitter(ctx, 'import', r.datasetId);
      const res = await exclusive((signal) => importClusterResult(ctx.lib, { result: r.folder, dataset: r.datasetId, name: r.name, runsDir: dataPaths(ctx).runs, spawn: ctx.spawn, backend: ctx.settings.backend, log: ctx.log, signal, onProgress }));
      ctx.bus.emit('library:changed', { datasetId: r.datasetId, what: 'runs' });
      return { run: runInfo(ctx.lib.runs.summary(res.runId)), predicted: res.predicted };
    }),
    'cluster:cancel': handler(noArgs, () => {
      if (!active) return { cancelled: false };
      active.abort();
      return { cancelled: true };
    }),
  };
}
