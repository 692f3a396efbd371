// cluster:export / cluster:import: "Train on a cluster..." and "Import cluster result..." on the
// Train screen, through the same code as `alexnet cluster export|import` (main/cluster.ts).
import path from 'node:path';
import { exportClusterJob, importClusterResult } from '../cluster';
import { dataPaths, type AppContext } from '../context';
import { check, id, int, obj, opt, str, absPath } from '../validate';
import { requireDataset, type HandlerMap } from './common';
import { DEFAULT_SETTINGS, runInfo, settingsV } from './runs';

export function clusterHandlers(ctx: AppContext): HandlerMap<'cluster:export' | 'cluster:import'> {
  return {
    'cluster:export': async (req) => {
      const r = check(obj({ datasetId: id, folder: absPath, settings: opt(settingsV), fromRunId: opt(id), shardSize: opt(int(1, 1_000_000)) }), req);
      const ds = requireDataset(ctx, r.datasetId);
      const s = { ...DEFAULT_SETTINGS, ...(r.settings ?? {}) };
      const recipe = s.recipe === 'finetune' ? 'transfer' : 'full';
      const from = r.fromRunId !== undefined ? String(r.fromRunId) : recipe === 'transfer' ? 'imagenet' : 'none';
      // a new folder inside the one picked, named after the dataset and the time
      const slug = ds.name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40) || 'dataset';
      const out = path.join(r.folder, `alexnet-job-${slug}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);
      const res = await exportClusterJob(ctx.lib, ctx.dataDir, {
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
      });
      return { folder: res.dir, files: res.files.length, bytes: res.bytes, train: res.train, val: res.val, shards: res.shards };
    },
    'cluster:import': async (req) => {
      const r = check(obj({ datasetId: id, folder: absPath, name: opt(str()) }), req);
      requireDataset(ctx, r.datasetId);
      const res = await importClusterResult(ctx.lib, { result: r.folder, dataset: r.datasetId, name: r.name, runsDir: dataPaths(ctx).runs, spawn: ctx.spawn, log: ctx.log });
      ctx.bus.emit('library:changed', { datasetId: r.datasetId, what: 'runs' });
      return { run: runInfo(ctx.lib.runs.summary(res.runId)), predicted: res.predicted };
    },
  };
}
