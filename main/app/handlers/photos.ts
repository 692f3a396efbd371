// photos:* — the grid's pages, one photo's details, a check for moved files, and adding single
// files (a classified photo "added to the dataset").
import fs from 'node:fs';
import path from 'node:path';
import { examinePhoto, IMAGE_EXTENSIONS, verifyPhotos } from '../../../db/import';
import type { PhotoQuery as DbPhotoQuery } from '../../../db/repos/photos';
import { LIMITS, type PhotoDetail, type PhotoQuery } from '../../../preload/contract';
import { absPath, bool, type IsSame, id, int, list, nullable, num, obj, oneOf, opt, str } from '../validate';
import { displayName, type AppContext } from '../context';
import { AppError } from '../errors';
import { photoItem, requireDataset, handler, type HandlerMap } from './common';

const subsetV = oneOf('train', 'val', 'test');

const photoQuery = obj({
  datasetId: id,
  sort: opt(oneOf('name', 'date', 'label', 'confidence', 'imported')),
  order: opt(oneOf('asc', 'desc')),
  classIds: opt(list(id, 1000)),
  unlabeled: opt(bool),
  predictedClassId: opt(id),
  minP: opt(num(0, 1)),
  maxP: opt(num(0, 1)),
  disagree: opt(bool),
  status: opt(list(oneOf('ok', 'unreadable', 'missing'), 3)),
  subset: opt(obj({ runId: id, subset: subsetV })),
  runId: opt(nullable(id)),
  limit: opt(int(1, LIMITS.pageSize)),
  offset: opt(int(0)),
  after: opt(str(1000)),
  withTotal: opt(bool),
});

// The contract's PhotoQuery (what the window sends; the renderer may import nothing else) and the
// library's (db/repos/photos.ts; db imports nothing of ours) are declared in their own rooms. They
// differ only where the wire and the library do: `subset` names a run on the wire and that run's
// split in the library, and the library's `status` also takes one status. Every other field must
// be the same: a field added to one and not the other, or retyped, fails to compile here.
const queriesAgree: IsSame<Omit<PhotoQuery, 'subset' | 'status'>, Omit<DbPhotoQuery, 'subset' | 'status'>> = true;
void queriesAgree;

/** The contract's query -> the library's (a run's split for `subset`), with existence checks. */
export function toDbQuery(ctx: AppContext, q: PhotoQuery): DbPhotoQuery {
  requireDataset(ctx, q.datasetId);
  const { subset, status, ...rest } = q;
  const out: DbPhotoQuery = { ...rest };
  if (status) out.status = status;
  if (q.runId !== undefined && q.runId !== null) ctx.lib.runs.get(q.runId); // RUN_NOT_FOUND
  if (subset) {
    const run = ctx.lib.runs.get(subset.runId);
    if (run.splitId === null) throw new AppError('NOT_FOUND', `run ${subset.runId} has no recorded train/val split`);
    out.subset = { splitId: run.splitId, subset: subset.subset };
  }
  return out;
}

/** A file's facts as the importer records them (db/import's examinePhoto: hash, size as displayed,
 *  EXIF date) and its thumbnail; a file that is not a readable image is refused, not added. */
async function examineFile(ctx: AppContext, file: string) {
  const st = await fs.promises.stat(file).catch(() => null);
  if (!st || !st.isFile()) throw new AppError('FOLDER_NOT_FOUND', `no such file: ${file}`);
  if (!IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase())) throw new AppError('BAD_IMAGE', `not an image file: ${path.basename(file)}`);
  const mtime = Math.round(st.mtimeMs);
  const f = await examinePhoto(file, mtime, ctx.lib.thumbnailDir);
  if (f.status !== 'ok' || f.hash === null) throw new AppError('BAD_IMAGE', `${path.basename(file)}: ${f.reason ?? 'not a readable image'}`);
  return { hash: f.hash, size: st.size, mtime, width: f.width, height: f.height, takenAt: f.takenAt, dateSource: f.dateSource };
}

export function photoHandlers(ctx: AppContext): HandlerMap<'photos:list' | 'photos:get' | 'photos:verify' | 'photos:add'> {
  const { lib } = ctx;
  return {
    'photos:list': handler(photoQuery, (q) => {
      const page = lib.photos.list(toDbQuery(ctx, q));
      return { items: page.items.map(photoItem), total: page.total, next: page.next, runId: page.runId };
    }),
    'photos:get': handler(obj({ photoId: id }), (r) => {
      const p = lib.photos.get(r.photoId);
      const predictions = lib.predictions.forPhoto(p.id).map((x) => ({ runId: x.runId, topk: x.topk.map((k) => ({ label: k.label, p: k.p, classId: k.classId ?? null })) }));
      const top = predictions[0]?.topk[0];
      const detail: PhotoDetail = {
        ...photoItem({
          ...p,
          className: p.classId === null ? null : lib.classes.get(p.classId).name,
          predictedClassId: top?.classId ?? null,
          predictedLabel: top?.label ?? null,
          p: top?.p ?? null,
        }),
        datasetId: p.datasetId,
        size: p.size,
        statusReason: p.statusReason,
        dateSource: p.dateSource,
        importedAt: p.importedAt,
        predictions,
        history: lib.labels.history(p.id).map((h) => ({ actionId: h.actionId, description: h.description, state: h.state, createdAt: h.createdAt, oldClassId: h.oldClassId, newClassId: h.newClassId })),
      };
      return detail;
    }),
    'photos:verify': handler(obj({ datasetId: id }), async (r) => {
      requireDataset(ctx, r.datasetId);
      return verifyPhotos(lib, r.datasetId);
    }),
    'photos:add': handler(obj({ datasetId: id, files: list(absPath, LIMITS.filesPerCall, 1), classId: opt(nullable(id)) }), async (r) => {
      requireDataset(ctx, r.datasetId);
      if (r.classId !== undefined && r.classId !== null) {
        const c = lib.classes.get(r.classId);
        if (c.datasetId !== r.datasetId) throw new AppError('CONFLICT', `class ${r.classId} belongs to another dataset`);
      }
      const photoIds: number[] = [];
      const skipped: { file: string; reason: string }[] = [];
      for (const file of r.files) {
        const known = lib.photos.byPath(r.datasetId, file);
        if (known) {
          photoIds.push(known.id);
          continue;
        }
        try {
          const f = await examineFile(ctx, file);
          const dup = lib.photos.byHash(r.datasetId, f.hash);
          if (dup) {
            photoIds.push(dup.id); // the same photo is already there: label that one
            continue;
          }
          photoIds.push(lib.photos.insert({ datasetId: r.datasetId, path: file, name: displayName(ctx, file), importedAt: Date.now(), status: 'ok', statusReason: null, ...f }));
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          skipped.push({ file, reason: err.message });
        }
      }
      if (r.classId !== undefined && r.classId !== null && photoIds.length) lib.labels.set(r.datasetId, photoIds, r.classId, { source: 'user' });
      if (photoIds.length) ctx.bus.emit('library:changed', { datasetId: r.datasetId, what: 'photos' });
      return { photoIds, skipped };
    }),
  };
}
