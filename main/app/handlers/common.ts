// Helpers shared by the handlers: existence checks that answer NOT_FOUND, and the library's rows
// turned into the contract's shapes.
import type { Dataset } from '../../../db/repos/datasets';
import type { LabelAction } from '../../../db/repos/labels';
import type { PhotoListItem } from '../../../db/repos/photos';
import type { Channel, ClassInfo, LabelActionInfo, LabelResult, PhotoItem, Req, Res } from '../../../preload/contract';
import type { AppContext } from '../context';
import { AppError } from '../errors';
import type { SameType, Validator } from '../validate';

/** One call: dispatch turns the unknown request into Req<C> with `input` (a BAD_INPUT error
 *  otherwise), then `run` answers it. Build it with handler(), which checks the types. */
export type Handler<C extends Channel> = { input: Validator<Req<C>>; run(req: Req<C>): Promise<Res<C>> | Res<C> };
export type HandlerMap<K extends Channel> = { [C in K]: Handler<C> };

/** A handler of channel C (taken from where it is used: a HandlerMap's key): `input`'s output must be
 *  exactly Req<C> (validate.ts's SameType), so a contract change the validator misses fails to compile. */
export function handler<C extends Channel, T extends Req<C>>(input: Validator<T> & SameType<T, Req<C>>, run: (req: Req<C>) => Promise<Res<C>> | Res<C>): Handler<C> {
  return { input, run };
}

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
