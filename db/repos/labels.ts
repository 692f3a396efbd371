// Labels with history. Every labeling action, one photo or 10,000 selected at once, is one row in
// label_actions plus one label_changes row per photo whose label actually changed (old -> new).
// Undo applies the old values of the latest 'done' action; redo re-applies the earliest 'undone'
// one; a new action discards what could have been redone (as in every editor).
import { DbError } from '../errors';
import { type Db, now } from './util';

export type LabelSource = 'user' | 'folder' | 'prediction';
export type LabelActionKind = 'set' | 'clear' | 'accept' | 'import';
export type LabelAction = {
  id: number;
  datasetId: number;
  kind: LabelActionKind;
  source: LabelSource;
  description: string;
  undoable: boolean;
  state: 'done' | 'undone' | 'discarded';
  createdAt: number;
  changed: number; // photos whose label this action changed
};
export type LabelHistoryEntry = { actionId: number; kind: LabelActionKind; description: string; state: string; createdAt: number; oldClassId: number | null; newClassId: number | null; source: string | null };
export type SetLabelOptions = { source?: LabelSource; kind?: LabelActionKind; description?: string; undoable?: boolean };

type ActionRow = Omit<LabelAction, 'undoable' | 'changed'> & { undoable: number };
const ACOLS = 'id, dataset_id AS datasetId, kind, source, description, undoable, state, created_at AS createdAt';

export class LabelsRepo {
  private readonly st;
  constructor(private readonly db: Db) {
    this.st = {
      discardRedo: db.prepare<[number]>("UPDATE label_actions SET state = 'discarded' WHERE dataset_id = ? AND state = 'undone'"),
      insertAction: db.prepare<[number, string, string, string, number, number], { id: number }>(
        'INSERT INTO label_actions (dataset_id, kind, source, description, undoable, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
      ),
      // One statement records the change of every listed photo of the dataset whose label differs.
      recordChanges: db.prepare<{ action: number; ids: string; ds: number; cls: number | null; src: string | null }>(
        `INSERT INTO label_changes (action_id, photo_id, old_class_id, old_source, new_class_id, new_source)
         SELECT :action, p.id, p.class_id, p.label_source, :cls, :src
           FROM photos p
          WHERE p.id IN (SELECT value FROM json_each(:ids)) AND p.dataset_id = :ds
            AND (p.class_id IS NOT :cls OR p.label_source IS NOT :src)`,
      ),
      applyNew: db.prepare<[number, number]>(
        `UPDATE photos SET class_id = c.new_class_id, label_source = c.new_source, labeled_at = ?,
                label_rank = (SELECT position FROM classes k WHERE k.id = c.new_class_id)
           FROM label_changes c WHERE c.action_id = ? AND photos.id = c.photo_id`,
      ),
      applyOld: db.prepare<[number, number]>(
        `UPDATE photos SET class_id = c.old_class_id, label_source = c.old_source, labeled_at = ?,
                label_rank = (SELECT position FROM classes k WHERE k.id = c.old_class_id)
           FROM label_changes c WHERE c.action_id = ? AND photos.id = c.photo_id`,
      ),
      deleteAction: db.prepare<[number]>('DELETE FROM label_actions WHERE id = ?'),
      lastDone: db.prepare<[number], ActionRow>(`SELECT ${ACOLS} FROM label_actions WHERE dataset_id = ? AND state = 'done' AND undoable = 1 ORDER BY id DESC LIMIT 1`),
      firstUndone: db.prepare<[number], ActionRow>(`SELECT ${ACOLS} FROM label_actions WHERE dataset_id = ? AND state = 'undone' ORDER BY id ASC LIMIT 1`),
      setState: db.prepare<[string, number]>('UPDATE label_actions SET state = ? WHERE id = ?'),
      changeCount: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM label_changes WHERE action_id = ?'),
      classOf: db.prepare<[number], { datasetId: number; name: string }>('SELECT dataset_id AS datasetId, name FROM classes WHERE id = ?'),
      history: db.prepare<[number], LabelHistoryEntry>(
        `SELECT a.id AS actionId, a.kind, a.description, a.state, a.created_at AS createdAt,
                c.old_class_id AS oldClassId, c.new_class_id AS newClassId, c.new_source AS source
           FROM label_changes c JOIN label_actions a ON a.id = c.action_id
          WHERE c.photo_id = ? ORDER BY a.id`,
      ),
      predicted: db.prepare<{ run: number; ids: string; ds: number }, { photoId: number; classId: number }>(
        `SELECT pr.photo_id AS photoId, pr.top1_class_id AS classId FROM predictions pr JOIN photos p ON p.id = pr.photo_id
          WHERE pr.run_id = :run AND p.dataset_id = :ds AND pr.top1_class_id IS NOT NULL AND pr.photo_id IN (SELECT value FROM json_each(:ids))`,
      ),
    };
  }

  private toAction(row: ActionRow): LabelAction {
    return { ...row, undoable: row.undoable === 1, changed: this.st.changeCount.get(row.id)!.n };
  }

  /**
   * Labels `photoIds` (photos of `datasetId`; others are ignored) as `classId`, or clears their
   * label with null, as ONE undoable action. Returns the action, or null when nothing changed
   * (labeling bees as bees is not an action to undo).
   */
  set(datasetId: number, photoIds: readonly number[], classId: number | null, opts: SetLabelOptions = {}): LabelAction | null {
    const source: LabelSource = opts.source ?? 'user';
    let className = '';
    if (classId !== null) {
      const c = this.st.classOf.get(classId);
      if (!c || c.datasetId !== datasetId) throw new DbError('CLASS_NOT_FOUND', `class ${classId} is not a class of dataset ${datasetId}`);
      className = c.name;
    }
    const kind: LabelActionKind = opts.kind ?? (classId === null ? 'clear' : 'set');
    const n = photoIds.length;
    const description = opts.description ?? (classId === null ? `Clear the label of ${n} photo${n === 1 ? '' : 's'}` : `Label ${n} photo${n === 1 ? '' : 's'} as ${className}`);
    return this.db.transaction((): LabelAction | null => {
      const action = this.st.insertAction.get(datasetId, kind, source, description, opts.undoable === false ? 0 : 1, now())!.id;
      const changed = this.st.recordChanges.run({ action, ids: JSON.stringify(photoIds), ds: datasetId, cls: classId, src: classId === null ? null : source }).changes;
      if (changed === 0) {
        this.st.deleteAction.run(action);
        return null;
      }
      if (opts.undoable !== false) this.st.discardRedo.run(datasetId);
      this.st.applyNew.run(now(), action);
      return this.toAction(this.db.prepare<[number], ActionRow>(`SELECT ${ACOLS} FROM label_actions WHERE id = ?`).get(action)!);
    }).immediate();
  }

  clear(datasetId: number, photoIds: readonly number[]): LabelAction | null {
    return this.set(datasetId, photoIds, null);
  }

  /**
   * Accepts the top-1 prediction of `runId` as the label of each listed photo: one action, even
   * though photos may go to different classes. Photos without a mapped prediction are skipped.
   */
  acceptPredictions(datasetId: number, runId: number, photoIds: readonly number[]): LabelAction | null {
    const rows = this.st.predicted.all({ run: runId, ids: JSON.stringify(photoIds), ds: datasetId });
    if (rows.length === 0) return null;
    const n = rows.length;
    return this.db.transaction((): LabelAction | null => {
      const action = this.st.insertAction.get(datasetId, 'accept', 'prediction', `Accept the prediction for ${n} photo${n === 1 ? '' : 's'}`, 1, now())!.id;
      let changed = 0;
      const byClass = new Map<number, number[]>();
      for (const r of rows) byClass.set(r.classId, [...(byClass.get(r.classId) ?? []), r.photoId]);
      for (const [cls, ids] of byClass) changed += this.st.recordChanges.run({ action, ids: JSON.stringify(ids), ds: datasetId, cls, src: 'prediction' }).changes;
      if (changed === 0) {
        this.st.deleteAction.run(action);
        return null;
      }
      this.st.discardRedo.run(datasetId);
      this.st.applyNew.run(now(), action);
      return this.toAction(this.db.prepare<[number], ActionRow>(`SELECT ${ACOLS} FROM label_actions WHERE id = ?`).get(action)!);
    }).immediate();
  }

  /** Reverts the latest labeling action of the dataset; null when there is nothing to undo. */
  undo(datasetId: number): LabelAction | null {
    return this.db.transaction((): LabelAction | null => {
      const row = this.st.lastDone.get(datasetId);
      if (!row) return null;
      this.st.applyOld.run(now(), row.id);
      this.st.setState.run('undone', row.id);
      return this.toAction({ ...row, state: 'undone' });
    }).immediate();
  }

  /** Re-applies the action undone last; null when there is nothing to redo. */
  redo(datasetId: number): LabelAction | null {
    return this.db.transaction((): LabelAction | null => {
      const row = this.st.firstUndone.get(datasetId);
      if (!row) return null;
      this.st.applyNew.run(now(), row.id);
      this.st.setState.run('done', row.id);
      return this.toAction({ ...row, state: 'done' });
    }).immediate();
  }

  /** What Edit > Undo / Redo would do now, for the menu's labels. */
  peek(datasetId: number): { undo: string | null; redo: string | null } {
    return { undo: this.st.lastDone.get(datasetId)?.description ?? null, redo: this.st.firstUndone.get(datasetId)?.description ?? null };
  }

  /** Every recorded change of one photo's label, oldest first. */
  history(photoId: number): LabelHistoryEntry[] {
    return this.st.history.all(photoId);
  }
}
