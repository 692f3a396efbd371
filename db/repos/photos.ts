// Photos and the grid's listing query. The listing is built from a few fixed pieces (sort, filters)
// so every variant is one prepared statement, cached; indexes in 0001_init.sql are made for them
// (bench/db.ts times each at 100,000 photos).
import { DbError } from '../errors';
import type { LabelSource } from './labels';
import { type Db, StatementCache } from './util';

export type PhotoStatus = 'ok' | 'unreadable' | 'missing';
export type Photo = {
  id: number;
  datasetId: number;
  path: string;
  name: string;
  hash: string | null;
  size: number;
  mtime: number | null;
  width: number | null;
  height: number | null;
  takenAt: string | null;
  dateSource: 'exif' | 'mtime' | null;
  importedAt: number;
  status: PhotoStatus;
  statusReason: string | null;
  classId: number | null;
  labelSource: LabelSource | null;
  labeledAt: number | null;
};
export type NewPhoto = Omit<Photo, 'id' | 'classId' | 'labelSource' | 'labeledAt' | 'statusReason'> & { statusReason?: string | null };

export type PhotoSort = 'name' | 'date' | 'label' | 'confidence' | 'imported';
export type PhotoQuery = {
  datasetId: number;
  sort?: PhotoSort; // default 'name'
  order?: 'asc' | 'desc'; // default 'asc' (confidence asc = least confident first)
  classIds?: number[]; // labeled as one of these
  unlabeled?: boolean; // no label yet
  predictedClassId?: number; // top-1 prediction is this class
  maxP?: number; // top-1 probability below this ("predicted as X with p < 0.6")
  minP?: number; // top-1 probability at least this
  disagree?: boolean; // labeled, predicted, and the two differ
  status?: PhotoStatus | PhotoStatus[]; // e.g. 'missing'; default: every status
  subset?: { splitId: number; subset: 'train' | 'val' | 'test' };
  runId?: number | null; // whose predictions; default the dataset's latest run with predictions
  limit?: number; // page size, default 500, at most 5000
  offset?: number; // for offset paging
  after?: string; // for keyset paging: the `next` cursor of the previous page (sorts name, date, imported)
  withTotal?: boolean; // also count every match (for the scrollbar); default true
};
export type PhotoListItem = {
  id: number;
  name: string;
  path: string;
  hash: string | null;
  width: number | null;
  height: number | null;
  takenAt: string | null;
  status: PhotoStatus;
  classId: number | null;
  className: string | null;
  labelSource: LabelSource | null;
  predictedClassId: number | null;
  predictedLabel: string | null;
  p: number | null;
};
export type PhotoPage = { items: PhotoListItem[]; total: number | null; next: string | null; runId: number | null };
export type ClassCounts = {
  total: number;
  labeled: number;
  unlabeled: number;
  byStatus: Record<PhotoStatus, number>;
  byClass: { classId: number; name: string; colour: string; count: number }[];
};

const COLS = `id, dataset_id AS datasetId, path, name, hash, size, mtime, width, height, taken_at AS takenAt,
  date_source AS dateSource, imported_at AS importedAt, status, status_reason AS statusReason,
  class_id AS classId, label_source AS labelSource, labeled_at AS labeledAt`;

// Sort orders, each ending in id so that pages are stable; `keyset` is the column a cursor holds.
const SORTS: Record<PhotoSort, { order: (dir: string) => string; keyset: string | null }> = {
  name: { order: (d) => `p.name ${d}, p.id ${d}`, keyset: 'p.name' },
  date: { order: (d) => `p.taken_at ${d}, p.id ${d}`, keyset: 'p.taken_at' },
  imported: { order: (d) => `p.id ${d}`, keyset: 'p.id' }, // id order is import order
  label: { order: (d) => `p.class_id IS NULL, c.position ${d}, p.name ${d}, p.id ${d}`, keyset: null }, // class order, unlabeled last
  confidence: { order: (d) => `pr.top1_p IS NULL, pr.top1_p ${d}, p.id ${d}`, keyset: null }, // unpredicted last
};

export const MAX_PAGE = 5000; // the largest page one query returns

export class PhotosRepo {
  private readonly st;
  private readonly cache: StatementCache;
  constructor(private readonly db: Db) {
    this.cache = new StatementCache(db);
    this.st = {
      byId: db.prepare<[number], Photo>(`SELECT ${COLS} FROM photos WHERE id = ?`),
      byPath: db.prepare<[number, string], Photo>(`SELECT ${COLS} FROM photos WHERE dataset_id = ? AND path = ?`),
      byHash: db.prepare<[number, string], Photo>(`SELECT ${COLS} FROM photos WHERE dataset_id = ? AND hash = ? ORDER BY id LIMIT 1`),
      inDataset: db.prepare<[number], Photo>(`SELECT ${COLS} FROM photos WHERE dataset_id = ? ORDER BY id`),
      insert: db.prepare<Record<string, unknown>, { id: number }>(
        `INSERT INTO photos (dataset_id, path, name, hash, size, mtime, width, height, taken_at, date_source, imported_at, status, status_reason)
         VALUES (:datasetId, :path, :name, :hash, :size, :mtime, :width, :height, :takenAt, :dateSource, :importedAt, :status, :statusReason)
         RETURNING id`,
      ),
      updateFile: db.prepare<Record<string, unknown>>(
        `UPDATE photos SET hash = :hash, size = :size, mtime = :mtime, width = :width, height = :height, taken_at = :takenAt,
           date_source = :dateSource, status = :status, status_reason = :statusReason WHERE id = :id`,
      ),
      setStatus: db.prepare<[string, string | null, number]>('UPDATE photos SET status = ?, status_reason = ? WHERE id = ?'),
      latestRun: db.prepare<[number], { id: number }>(
        'SELECT r.id FROM runs r WHERE r.dataset_id = ? AND EXISTS (SELECT 1 FROM predictions pr WHERE pr.run_id = r.id) ORDER BY r.id DESC LIMIT 1',
      ),
      countByClass: db.prepare<[number], { classId: number | null; n: number }>('SELECT class_id AS classId, count(*) AS n FROM photos WHERE dataset_id = ? GROUP BY class_id'),
      countByStatus: db.prepare<[number], { status: PhotoStatus; n: number }>("SELECT status, count(*) AS n FROM photos WHERE dataset_id = ? AND status <> 'ok' GROUP BY status"),
      classes: db.prepare<[number], { classId: number; name: string; colour: string }>('SELECT id AS classId, name, colour FROM classes WHERE dataset_id = ? ORDER BY position, id'),
    };
  }

  get(id: number): Photo {
    const p = this.st.byId.get(id);
    if (!p) throw new DbError('PHOTO_NOT_FOUND', `no photo with id ${id}`);
    return p;
  }

  byPath(datasetId: number, file: string): Photo | undefined {
    return this.st.byPath.get(datasetId, file);
  }

  /** The first photo of the dataset with these bytes, if any (duplicate detection). */
  byHash(datasetId: number, hash: string): Photo | undefined {
    return this.st.byHash.get(datasetId, hash);
  }

  all(datasetId: number): Photo[] {
    return this.st.inDataset.all(datasetId);
  }

  /** Inserts one photo (call inside a transaction when inserting many). */
  insert(p: NewPhoto): number {
    return this.st.insert.get({ ...p, statusReason: p.statusReason ?? null })!.id;
  }

  /** Records new file facts of a photo the user edited in place (same path, new bytes). */
  updateFile(id: number, f: Pick<Photo, 'hash' | 'size' | 'mtime' | 'width' | 'height' | 'takenAt' | 'dateSource' | 'status' | 'statusReason'>): void {
    this.st.updateFile.run({ ...f, id });
  }

  setStatus(id: number, status: PhotoStatus, reason: string | null = null): void {
    this.st.setStatus.run(status, reason, id);
  }

  /** The run whose predictions the grid shows by default: the latest that has any. */
  latestPredictedRun(datasetId: number): number | null {
    return this.st.latestRun.get(datasetId)?.id ?? null;
  }

  /** Per-class counts for the sidebar: one GROUP BY over an index, no table scan. */
  counts(datasetId: number): ClassCounts {
    const byId = new Map<number | null, number>(this.st.countByClass.all(datasetId).map((r) => [r.classId, r.n]));
    const byStatus: Record<PhotoStatus, number> = { ok: 0, unreadable: 0, missing: 0 };
    let total = 0;
    for (const n of byId.values()) total += n;
    let notOk = 0;
    for (const r of this.st.countByStatus.all(datasetId)) {
      byStatus[r.status] = r.n;
      notOk += r.n;
    }
    byStatus.ok = total - notOk;
    const unlabeled = byId.get(null) ?? 0;
    const byClass = this.st.classes.all(datasetId).map((c) => ({ ...c, count: byId.get(c.classId) ?? 0 }));
    return { total, labeled: total - unlabeled, unlabeled, byStatus, byClass };
  }

  /** One page of the grid: sorted, filtered, with label and top-1 prediction. */
  list(q: PhotoQuery): PhotoPage {
    const sort = q.sort ?? 'name';
    const desc = q.order === 'desc';
    const limit = q.limit ?? 500;
    if (!(sort in SORTS)) throw new DbError('BAD_QUERY', `unknown sort '${sort}'; use ${Object.keys(SORTS).join(', ')}`);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new DbError('BAD_QUERY', `page size must be 1-${MAX_PAGE}, got ${limit}`);
    const offset = q.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0) throw new DbError('BAD_QUERY', `offset must be a non-negative integer, got ${offset}`);

    const runId = q.runId === undefined ? this.latestPredictedRun(q.datasetId) : q.runId;
    const params: Record<string, unknown> = { ds: q.datasetId, run: runId ?? -1, limit, offset };
    const where = ['p.dataset_id = :ds'];
    const needsPrediction = q.predictedClassId !== undefined || q.maxP !== undefined || q.minP !== undefined || q.disagree === true;
    if (q.classIds && q.unlabeled) {
      where.push(`(p.class_id IN (SELECT value FROM json_each(:classes)) OR p.class_id IS NULL)`);
      params.classes = JSON.stringify(q.classIds);
    } else if (q.classIds) {
      if (q.classIds.length === 1) {
        where.push('p.class_id = :class');
        params.class = q.classIds[0];
      } else {
        where.push('p.class_id IN (SELECT value FROM json_each(:classes))');
        params.classes = JSON.stringify(q.classIds);
      }
    } else if (q.unlabeled) where.push('p.class_id IS NULL');
    if (q.predictedClassId !== undefined) {
      where.push('pr.top1_class_id = :pcls');
      params.pcls = q.predictedClassId;
    }
    if (q.maxP !== undefined) {
      where.push('pr.top1_p < :maxp');
      params.maxp = q.maxP;
    }
    if (q.minP !== undefined) {
      where.push('pr.top1_p >= :minp');
      params.minp = q.minP;
    }
    if (q.disagree) where.push('p.class_id IS NOT NULL AND pr.top1_class_id IS NOT p.class_id');
    if (q.status !== undefined) {
      const list = Array.isArray(q.status) ? q.status : [q.status];
      where.push(`p.status IN (${list.map((s) => `'${s === 'ok' || s === 'missing' || s === 'unreadable' ? s : 'ok'}'`).join(', ')})`);
    }
    let subsetJoin = '';
    if (q.subset) {
      subsetJoin = 'JOIN split_members sm ON sm.photo_id = p.id AND sm.split_id = :split AND sm.subset = :subset';
      params.split = q.subset.splitId;
      params.subset = q.subset.subset;
    }
    const filters = where.join(' AND ');
    // Keyset paging: (key, id) strictly after the cursor in the sort direction.
    let cursorWhere = '';
    const { order, keyset } = SORTS[sort];
    if (q.after !== undefined) {
      const cursor = decodeCursor(q.after);
      if (!keyset) throw new DbError('BAD_QUERY', `keyset paging works with sort name, date or imported; use offset for '${sort}'`);
      cursorWhere = sort === 'imported' ? ` AND p.id ${desc ? '<' : '>'} :cid` : ` AND (${keyset}, p.id) ${desc ? '<' : '>'} (:ckey, :cid)`;
      if (sort !== 'imported') params.ckey = cursor[0];
      params.cid = cursor[1];
      params.offset = 0;
    }
    const usePred = needsPrediction || sort === 'confidence';
    const predJoin = usePred ? `${needsPrediction ? 'JOIN' : 'LEFT JOIN'} predictions pr ON pr.run_id = :run AND pr.photo_id = p.id` : '';
    if (!usePred) delete params.run;
    const sql = `SELECT p.id, p.name, p.path, p.hash, p.width, p.height, p.taken_at AS takenAt, p.status, p.class_id AS classId,
        c.name AS className, p.label_source AS labelSource, ${usePred ? 'pr.top1_class_id' : 'NULL'} AS predictedClassId,
        ${usePred ? 'pr.top1_label' : 'NULL'} AS predictedLabel, ${usePred ? 'pr.top1_p' : 'NULL'} AS p
      FROM photos p ${subsetJoin} LEFT JOIN classes c ON c.id = p.class_id ${predJoin}
      WHERE ${filters}${cursorWhere} ORDER BY ${order(desc ? 'DESC' : 'ASC')} LIMIT :limit OFFSET :offset`;
    const items = this.cache.get(sql).all(params) as PhotoListItem[];
    // Predictions of the page's photos when the query itself did not need them (a second, tiny lookup).
    if (!usePred && runId !== null && items.length > 0) {
      const preds = this.cache
        .get('SELECT photo_id AS id, top1_class_id AS cls, top1_label AS label, top1_p AS p FROM predictions WHERE run_id = ? AND photo_id IN (SELECT value FROM json_each(?))')
        .all(runId, JSON.stringify(items.map((i) => i.id))) as { id: number; cls: number | null; label: string; p: number }[];
      const byId = new Map(preds.map((r) => [r.id, r]));
      for (const it of items) {
        const r = byId.get(it.id);
        if (r) Object.assign(it, { predictedClassId: r.cls, predictedLabel: r.label, p: r.p });
      }
    }
    let total: number | null = null;
    if (q.withTotal !== false) {
      const countParams: Record<string, unknown> = { ...params };
      for (const k of ['limit', 'offset', 'ckey', 'cid']) delete countParams[k];
      const predCount = needsPrediction ? 'JOIN predictions pr ON pr.run_id = :run AND pr.photo_id = p.id' : '';
      total = (this.cache.get(`SELECT count(*) AS n FROM photos p ${subsetJoin} ${predCount} WHERE ${filters}`).get(countParams) as { n: number }).n;
    }
    const last = items[items.length - 1];
    let next: string | null = null;
    if (last && items.length === limit) {
      if (sort === 'name') next = encodeCursor([last.name, last.id]);
      else if (sort === 'date') next = encodeCursor([last.takenAt, last.id]);
      else if (sort === 'imported') next = encodeCursor([last.id, last.id]);
    }
    return { items, total, next, runId };
  }
}

function encodeCursor(v: [string | number | null, number]): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

function decodeCursor(s: string): [string | number | null, number] {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[1] === 'number') return v as [string | number | null, number];
  } catch {
    // fall through to the error below
  }
  throw new DbError('BAD_QUERY', 'the page cursor is not one this library made');
}
