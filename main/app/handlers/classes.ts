// classes:* — a dataset's classes: create, rename/recolour/re-key, reorder, merge, delete.
import { id, list, nullable, obj, opt, str } from '../validate';
import type { AppContext } from '../context';
import { AppError } from '../errors';
import { classInfo, requireDataset, handler, type HandlerMap } from './common';

const colour = str(7);
const hotkey = nullable(str(1));

export function classHandlers(ctx: AppContext): HandlerMap<'classes:list' | 'classes:create' | 'classes:update' | 'classes:reorder' | 'classes:merge' | 'classes:delete'> {
  const { lib } = ctx;
  const listInfo = (datasetId: number) => lib.classes.list(datasetId).map((c) => ({ ...c, photoCount: lib.classes.photoCount(c.id) }));
  return {
    'classes:list': handler(obj({ datasetId: id }), (r) => {
      requireDataset(ctx, r.datasetId);
      return listInfo(r.datasetId);
    }),
    'classes:create': handler(obj({ datasetId: id, name: str(), colour: opt(colour), hotkey: opt(hotkey) }), (r) => {
      requireDataset(ctx, r.datasetId);
      const c = lib.classes.create(r.datasetId, r.name, { colour: r.colour, hotkey: r.hotkey });
      return classInfo(ctx, c.id);
    }),
    'classes:update': handler(obj({ classId: id, name: opt(str()), colour: opt(colour), hotkey: opt(hotkey) }), (r) => {
      lib.classes.get(r.classId); // CLASS_NOT_FOUND before any change
      // all or nothing: a bad colour after a good rename must not leave the rename behind
      lib.transaction(() => {
        if (r.name !== undefined) lib.classes.rename(r.classId, r.name);
        if (r.colour !== undefined) lib.classes.setColour(r.classId, r.colour);
        if (r.hotkey !== undefined) lib.classes.setHotkey(r.classId, r.hotkey);
      });
      return classInfo(ctx, r.classId);
    }),
    'classes:reorder': handler(obj({ datasetId: id, classIds: list(id, 1000) }), (r) => {
      requireDataset(ctx, r.datasetId);
      lib.classes.reorder(r.datasetId, r.classIds);
      return listInfo(r.datasetId);
    }),
    'classes:merge': handler(obj({ fromId: id, intoId: id }), (r) => {
      if (r.fromId === r.intoId) throw new AppError('BAD_INPUT', 'cannot merge a class into itself');
      return { moved: lib.classes.merge(r.fromId, r.intoId) };
    }),
    'classes:delete': handler(obj({ classId: id }), (r) => {
      return { unlabeled: lib.classes.remove(r.classId) };
    }),
  };
}
