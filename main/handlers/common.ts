// Helpers shared by the handlers: existence checks that answer NOT_FOUND, and the library's rows
// turned into the contract's shapes.
import type { Dataset } from '../../db/repos/datasets';
import type { LabelAction } from '../../db/repos/labels';
import type { PhotoListItem } from '../../db/repos/photos';
import type { Channel, ClassInfo, LabelActionInfo, LabelResult, PhotoItem, Res } from '../../preload/contract';
import type { AppContext } from '../context';
import { AppError } from '../errors';

export type Handler<C extends Channel> = (req: unknown) => Promise<Res<C>> | Res<C>;
export type HandlerMap<K extends Channel> = { [C in K]: Handler<C> };

export function requireDataset(ctx: AppContext, id: number): Dataset {
  const d = ctx.lib.datasets.get(id);
  if (!d) throw new AppError('NOT_FOUND', `no dataset with id ${id}`);
  return d;
}

export function datasetInfo(ctx: AppContext, id: number) {
  const d = ctx.lib.datasets.list().find((x) => x.id === id);
  if (!d) throw new AppError('NOT_FOUND', `no dataset with id ${id}`);
  return d;
}

export function classInfo(ctx: AppContext, id: number): ClassInfo {
  const c = ctx.lib.classes.get(id);
  return { ...c, photoCount: ctx.lib.classes.photoCount(id) };
}

export function photoItem(p: PhotoListItem): PhotoItem {
  return {
    id: p.id,
    name: p.name,
    path: p.path,
    width: p.width,
    height: p.height,
    takenAt: p.takenAt,
    status: p.status,
    classId: p.classId,
    className: p.className,
    labelSource: p.labelSource,
    predictedClassId: p.predictedClassId,
    predictedLabel: p.predictedLabel,
    p: p.p,
  };
}

export function actionInfo(a: LabelAction | null): LabelActionInfo | null {
  return a ? { id: a.id, kind: a.kind, description: a.description, state: a.state, changed: a.changed } : null;
}

export function labelResult(ctx: AppContext, datasetId: number, a: LabelAction | null): LabelResult {
  const peek = ctx.lib.labels.peek(datasetId);
  return { action: actionInfo(a), counts: ctx.lib.photos.counts(datasetId), undo: peek.undo, redo: peek.redo };
}
