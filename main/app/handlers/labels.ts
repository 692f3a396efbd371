// labels:* and suggestions:list — labeling with undo/redo, accepting predictions, and the
// "least confident first" queue of suggestions.
import { LIMITS } from '../../../preload/contract';
import { id, int, list, nullable, obj, opt } from '../validate';
import type { AppContext } from '../context';
import { AppError } from '../errors';
import { labelResult, photoItem, requireDataset, handler, type HandlerMap } from './common';

export function labelHandlers(ctx: AppContext): HandlerMap<'labels:set' | 'labels:accept' | 'labels:undo' | 'labels:redo' | 'labels:peek' | 'suggestions:list'> {
  const { lib } = ctx;
  /** Every id must be a photo of the dataset: a stale or foreign id refuses the whole call. */
  const checkPhotos = (datasetId: number, ids: number[]) => {
    for (const pid of ids) {
      const p = lib.photos.get(pid); // PHOTO_NOT_FOUND
      if (p.datasetId !== datasetId) throw new AppError('CONFLICT', `photo ${pid} belongs to another dataset`);
    }
  };
  const datasetOnly = obj({ datasetId: id });
  return {
    'labels:set': handler(obj({ datasetId: id, photoIds: list(id, LIMITS.idsPerCall, 1), classId: nullable(id) }), (r) => {
      requireDataset(ctx, r.datasetId);
      checkPhotos(r.datasetId, r.photoIds);
      return labelResult(ctx, r.datasetId, lib.labels.set(r.datasetId, r.photoIds, r.classId, { source: 'user' }));
    }),
    'labels:accept': handler(obj({ datasetId: id, runId: id, photoIds: list(id, LIMITS.idsPerCall, 1) }), (r) => {
      requireDataset(ctx, r.datasetId);
      if (lib.runs.get(r.runId).datasetId !== r.datasetId) throw new AppError('CONFLICT', `run ${r.runId} was trained on another dataset`);
      checkPhotos(r.datasetId, r.photoIds);
      return labelResult(ctx, r.datasetId, lib.labels.acceptPredictions(r.datasetId, r.runId, r.photoIds));
    }),
    'labels:undo': handler(datasetOnly, (r) => {
      requireDataset(ctx, r.datasetId);
      return labelResult(ctx, r.datasetId, lib.labels.undo(r.datasetId));
    }),
    'labels:redo': handler(datasetOnly, (r) => {
      requireDataset(ctx, r.datasetId);
      return labelResult(ctx, r.datasetId, lib.labels.redo(r.datasetId));
    }),
    'labels:peek': handler(datasetOnly, (r) => {
      requireDataset(ctx, r.datasetId);
      return lib.labels.peek(r.datasetId);
    }),
    'suggestions:list': handler(obj({ datasetId: id, runId: opt(id), limit: opt(int(1, LIMITS.pageSize)), offset: opt(int(0)) }), (r) => {
      requireDataset(ctx, r.datasetId);
      if (r.runId !== undefined) lib.runs.get(r.runId);
      const page = lib.photos.list({ datasetId: r.datasetId, runId: r.runId, unlabeled: true, minP: 0, sort: 'confidence', order: 'asc', limit: r.limit ?? 100, offset: r.offset ?? 0 });
      return { items: page.items.map(photoItem), total: page.total, next: page.next, runId: page.runId };
    }),
  };
}
