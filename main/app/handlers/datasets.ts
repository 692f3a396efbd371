// datasets:* — named collections of photos.
// Deleting a dataset forgets it and what was recorded about it; the photo files are not touched.
import { id, obj, str, noArgs } from '../validate';
import type { AppContext } from '../context';
import { AppError } from '../errors';
import { datasetInfo, requireDataset, handler, type HandlerMap } from './common';

export function datasetHandlers(ctx: AppContext): HandlerMap<'datasets:list' | 'datasets:create' | 'datasets:rename' | 'datasets:delete' | 'datasets:counts'> {
  const { lib } = ctx;
  return {
    'datasets:list': handler(noArgs, () => lib.datasets.list()),
    'datasets:create': handler(obj({ name: str() }), (r) => {
      const d = lib.datasets.create(r.name);
      return datasetInfo(ctx, d.id);
    }),
    'datasets:rename': handler(obj({ datasetId: id, name: str() }), (r) => {
      requireDataset(ctx, r.datasetId);
      lib.datasets.rename(r.datasetId, r.name);
      return datasetInfo(ctx, r.datasetId);
    }),
    'datasets:delete': handler(obj({ datasetId: id }), (r) => {
      requireDataset(ctx, r.datasetId);
      const running = ctx.training.runningRunId;
      if (running !== null && lib.runs.get(running).datasetId === r.datasetId) throw new AppError('BUSY', `run ${running} is training on this dataset; cancel it first`);
      lib.datasets.remove(r.datasetId);
      return { done: true };
    }),
    'datasets:counts': handler(obj({ datasetId: id }), (r) => {
      requireDataset(ctx, r.datasetId);
      return lib.photos.counts(r.datasetId);
    }),
  };
}
