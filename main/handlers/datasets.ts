// datasets:* — named collections of photos.
// Deleting a dataset forgets it and what was recorded about it; the photo files are not touched.
import { check, id, obj, str } from '../validate';
import type { AppContext } from '../context';
import { AppError } from '../errors';
import { datasetInfo, requireDataset, type HandlerMap } from './common';

export function datasetHandlers(ctx: AppContext): HandlerMap<'datasets:list' | 'datasets:create' | 'datasets:rename' | 'datasets:delete' | 'datasets:counts'> {
  const { lib } = ctx;
  return {
    'datasets:list': (req) => {
      check(obj({}), req);
      return lib.datasets.list();
    },
    'datasets:create': (req) => {
      const r = check(obj({ name: str() }), req);
      const d = lib.datasets.create(r.name);
      return datasetInfo(ctx, d.id);
    },
    'datasets:rename': (req) => {
      const r = check(obj({ datasetId: id, name: str() }), req);
      requireDataset(ctx, r.datasetId);
      lib.datasets.rename(r.datasetId, r.name);
      return datasetInfo(ctx, r.datasetId);
    },
    'datasets:delete': (req) => {
      const r = check(obj({ datasetId: id }), req);
      requireDataset(ctx, r.datasetId);
      const running = ctx.training.runningRunId;
      if (running !== null && lib.runs.get(running).datasetId === r.datasetId) throw new AppError('BUSY', `run ${running} is training on this dataset; cancel it first`);
      lib.datasets.remove(r.datasetId);
      return { done: true };
    },
    'datasets:counts': (req) => {
      const r = check(obj({ datasetId: id }), req);
      requireDataset(ctx, r.datasetId);
      return lib.photos.counts(r.datasetId);
    },
  };
}
