// Classes of a dataset: name, colour, hotkey (1-9) and order. Deleting or merging a class changes
// labels; those are reported (how many photos) so the UI can ask first.
import { DbError } from '../errors';
import { type Db, now } from './util';

export type LabelClass = { id: number; datasetId: number; name: string; colour: string; hotkey: string | null; position: number; createdAt: number };
export type ClassOptions = { colour?: string; hotkey?: string | null };

// A palette of distinct colours (Tableau 10), given to new classes in turn.
export const CLASS_PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const COLS = 'id, dataset_id AS datasetId, name, colour, hotkey, position, created_at AS createdAt';

function checkColour(colour: string): string {
  const c = colour.toLowerCase();
  if (!/^#[0-9a-f]{6}$/.test(c)) throw new DbError('BAD_CLASS', `a class colour must look like #1f77b4, got '${colour}'`);
  return c;
}

/** A class name, trimmed: 1-200 characters, no slash, backslash or NUL, not '.' or '..' (it becomes a folder name on export). */
function checkName(name: string): string {
  const clean = name.trim();
  if (!clean || clean.length > 200 || /[/\\\0]/.test(clean) || clean === '.' || clean === '..') {
    throw new DbError('BAD_CLASS', `a class name must be 1-200 characters without / or \\, and not '.' or '..', got '${name}'`);
  }
  return clean;
}

function checkHotkey(hotkey: string | null): string | null {
  if (hotkey !== null && !/^[1-9]$/.test(hotkey)) throw new DbError('BAD_CLASS', `a class hotkey must be one digit 1-9, got '${hotkey}'`);
  return hotkey;
}

export class ClassesRepo {
  private readonly st;
  constructor(private readonly db: Db) {
    this.st = {
      list: db.prepare<[number], LabelClass>(`SELECT ${COLS} FROM classes WHERE dataset_id = ? ORDER BY position, id`),
      byId: db.prepare<[number], LabelClass>(`SELECT ${COLS} FROM classes WHERE id = ?`),
      byName: db.prepare<[number, string], LabelClass>(`SELECT ${COLS} FROM classes WHERE dataset_id = ? AND name = ?`),
      byHotkey: db.prepare<[number, string], LabelClass>(`SELECT ${COLS} FROM classes WHERE dataset_id = ? AND hotkey = ?`),
      nextPos: db.prepare<[number], { n: number }>('SELECT coalesce(max(position) + 1, 0) AS n FROM classes WHERE dataset_id = ?'),
      usedKeys: db.prepare<[number], { hotkey: string }>('SELECT hotkey FROM classes WHERE dataset_id = ? AND hotkey IS NOT NULL'),
      insert: db.prepare<[number, string, string, string | null, number, number], LabelClass>(
        `INSERT INTO classes (dataset_id, name, colour, hotkey, position, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING ${COLS}`,
      ),
      rename: db.prepare<[string, number]>('UPDATE classes SET name = ? WHERE id = ?'),
      colour: db.prepare<[string, number]>('UPDATE classes SET colour = ? WHERE id = ?'),
      hotkey: db.prepare<[string | null, number]>('UPDATE classes SET hotkey = ? WHERE id = ?'),
      position: db.prepare<[number, number]>('UPDATE classes SET position = ? WHERE id = ?'),
      count: db.prepare<[number], { n: number }>('SELECT coalesce(sum(n), 0) AS n FROM photo_counts WHERE class_key = ?'),
      remove: db.prepare<[number]>('DELETE FROM classes WHERE id = ?'),
      // actions whose every change named a deleted class are gone from the undo stack too
      dropEmptyActions: db.prepare<[number]>('DELETE FROM label_actions WHERE dataset_id = ? AND NOT EXISTS (SELECT 1 FROM label_changes c WHERE c.action_id = label_actions.id)'),
      clearLabels: db.prepare<[number, number, number]>('UPDATE photos SET class_id = NULL, label_source = NULL, labeled_at = ? WHERE dataset_id = ? AND class_id = ?'),
      moveLabels: db.prepare<[number, number, number, number]>('UPDATE photos SET class_id = ?, labeled_at = ? WHERE dataset_id = ? AND class_id = ?'),
    };
  }

  list(datasetId: number): LabelClass[] {
    return this.st.list.all(datasetId);
  }

  get(id: number): LabelClass {
    const c = this.st.byId.get(id);
    if (!c) throw new DbError('CLASS_NOT_FOUND', `no class with id ${id}`);
    return c;
  }

  byName(datasetId: number, name: string): LabelClass | undefined {
    return this.st.byName.get(datasetId, name.trim());
  }

  /** A new class at the end of the list; colour from the palette and the first free hotkey by default. */
  create(datasetId: number, name: string, opts: ClassOptions = {}): LabelClass {
    const clean = checkName(name);
    if (this.byName(datasetId, clean)) throw new DbError('CLASS_EXISTS', `the dataset already has a class '${clean}'`);
    const position = this.st.nextPos.get(datasetId)!.n;
    const colour = checkColour(opts.colour ?? CLASS_PALETTE[position % CLASS_PALETTE.length]);
    let hotkey: string | null;
    if (opts.hotkey !== undefined) {
      hotkey = checkHotkey(opts.hotkey);
      if (hotkey && this.st.byHotkey.get(datasetId, hotkey)) throw new DbError('BAD_CLASS', `hotkey ${hotkey} is already used by another class`);
    } else {
      const used = new Set(this.st.usedKeys.all(datasetId).map((r) => r.hotkey));
      hotkey = ['1', '2', '3', '4', '5', '6', '7', '8', '9'].find((k) => !used.has(k)) ?? null;
    }
    return this.st.insert.get(datasetId, clean, colour, hotkey, position, now())!;
  }

  /** The class of that name, created if absent. */
  ensure(datasetId: number, name: string): LabelClass {
    return this.byName(datasetId, name) ?? this.create(datasetId, name);
  }

  rename(id: number, name: string): LabelClass {
    const c = this.get(id);
    const clean = checkName(name);
    const other = this.byName(c.datasetId, clean);
    if (other && other.id !== id) throw new DbError('CLASS_EXISTS', `the dataset already has a class '${clean}'`);
    this.st.rename.run(clean, id);
    return this.get(id);
  }

  setColour(id: number, colour: string): void {
    this.get(id);
    this.st.colour.run(checkColour(colour), id);
  }

  /** Gives the class a hotkey (or none); a class that had that key loses it. */
  setHotkey(id: number, hotkey: string | null): void {
    const c = this.get(id);
    const key = checkHotkey(hotkey);
    this.db.transaction(() => {
      const holder = key ? this.st.byHotkey.get(c.datasetId, key) : undefined;
      if (holder && holder.id !== id) this.st.hotkey.run(null, holder.id);
      this.st.hotkey.run(key, id);
    })();
  }

  /** Sets the order: `ids` lists every class of the dataset once. */
  reorder(datasetId: number, ids: number[]): void {
    const current = this.list(datasetId).map((c) => c.id);
    if (ids.length !== current.length || new Set(ids).size !== ids.length || !ids.every((id) => current.includes(id))) {
      throw new DbError('BAD_CLASS', 'reorder must list every class of the dataset exactly once');
    }
    this.db.transaction(() => ids.forEach((id, i) => this.st.position.run(i, id)))();
  }

  /** How many photos carry this label (for "delete bees? 120 photos lose their label"). */
  photoCount(id: number): number {
    return this.st.count.get(id)!.n;
  }

  /** Deletes the class; its photos become unlabeled. Returns how many photos it touched. */
  remove(id: number): number {
    const c = this.get(id);
    return this.db.transaction(() => {
      const n = this.st.clearLabels.run(now(), c.datasetId, id).changes;
      this.st.remove.run(id); // the label history that names this class goes with it
      this.st.dropEmptyActions.run(c.datasetId);
      return n;
    })();
  }

  /** Moves every photo of `fromId` to `intoId` and deletes `fromId`. Returns the photos moved. */
  merge(fromId: number, intoId: number): number {
    const from = this.get(fromId);
    const into = this.get(intoId);
    if (from.datasetId !== into.datasetId) throw new DbError('BAD_CLASS', 'can only merge classes of the same dataset');
    if (fromId === intoId) return 0;
    return this.db.transaction(() => {
      const n = this.st.moveLabels.run(intoId, now(), from.datasetId, fromId).changes;
      this.st.remove.run(fromId);
      this.st.dropEmptyActions.run(from.datasetId);
      return n;
    })();
  }
}
