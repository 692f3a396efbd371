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

// Photo-side sort orders, each ending in id so that pages are stable, each matching an index of
// 0002_grid_speed.sql; `keyset` is the column a cursor holds. 'confidence' sorts by the top-1 p.
const ORDERS: Record<Exclude<PhotoSort, 'confidence'>, { order: (dir: string) => string; keyset: string }> = {
  name: { order: (d) => `p.name ${d}, p.id ${d}`, keyset: 'p.name' },
  date: { order: (d) => `p.taken_at ${d}, p.id ${d}`, keyset: 'p.taken_at' },
  imported: { order: (d) => `p.id ${d}`, keyset: 'p.id' }, // id order is import order
  label: { order: (d) => `p.label_rank ${d}, p.name ${d}, p.id ${d}`, keyset: '' }, // class order (unlabeled first); offset paging only
};
const SORT_NAMES: PhotoSort[] = ['name', 'date', 'label', 'confidence', 'imported'];
// What "disagree" means, written exactly as the partial index predictions_disagree is.
const DISAGREE = 'pr.label_class_id IS NOT NULL AND pr.top1_class_id IS NOT pr.label_class_id';
const STATUSES: PhotoStatus[] = ['ok', 'unreadable', 'missing'];

export const MAX_PAGE = 5000; // the largest page one query returns

export class PhotosRepo {
  private readonly st;
  private readonly cache: StatementCache;
  constructor(private readonly db: Db) {
    this.cache = new StatementCache(db);
    this.st = {
      byId: db.prepare<[number], Photo>(`SELECT ${COLS} FROM photos WHERE id = ?`),
      byPath: db.prepare<[number, string], Photo>(`SELECT ${COLS} FROM photos WHERE dataset_id = ? AND path = ?`),
      pathsUnder: db.prepare<[number, string], { path: string }>('SELECT DISTINCT path FROM photos WHERE substr(path, 1, ?) = ?'),
      byHash: db.prepare<[number, string], Photo>(`SELECT ${COLS} FROM photos WHERE dataset_id = ? AND hash = ? ORDER BY status = 'missing' DESC, id LIMIT 1`),
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
      relocate: db.prepare<[string, string, number, number]>("UPDATE photos SET path = ?, name = ?, mtime = ?, status = 'ok', status_reason = NULL WHERE id = ?"),
      setStatus: db.prepare<[string, string | null, number]>('UPDATE photos SET status = ?, status_reason = ? WHERE id = ?'),
      latestRun: db.prepare<[number], { id: number }>(
        'SELECT r.id FROM runs r WHERE r.dataset_id = ? AND EXISTS (SELECT 1 FROM predictions pr WHERE pr.run_id = r.id) ORDER BY r.id DESC LIMIT 1',
      ),
      counts: db.prepare<[number], { classKey: number; status: PhotoStatus; n: number }>('SELECT class_key AS classKey, status, n FROM photo_counts WHERE dataset_id = ? AND n > 0'),
      countFiltered: db.prepare<{ ds: number; classes: string | null; statuses: string | null }, { n: number }>(
        `SELECT coalesce(sum(n), 0) AS n FROM photo_counts WHERE dataset_id = :ds
            AND (:classes IS NULL OR class_key IN (SELECT value FROM json_each(:classes)))
            AND (:statuses IS NULL OR status IN (SELECT value FROM json_each(:statuses)))`,
      ),
      details: db.prepare<{ ids: string; run: number }, PhotoListItem>(
        `SELECT p.id, p.name, p.path, p.hash, p.width, p.height, p.taken_at AS takenAt, p.status, p.class_id AS classId, c.name AS className,
                p.label_source AS labelSource, pr.top1_class_id AS predictedClassId, pr.top1_label AS predictedLabel, pr.top1_p AS p
           FROM json_each(:ids) j JOIN photos p ON p.id = j.value LEFT JOIN classes c ON c.id = p.class_id
           LEFT JOIN predictions pr ON pr.run_id = :run AND pr.photo_id = p.id
          ORDER BY j.key`,
      ),
      classes: db.prepare<[number], { classId: number; name: string; colour: string }>('SELECT id AS classId, name, colour FROM classes WHERE dataset_id = ? ORDER BY position, id'),
    };
  }

  get(id: number): Photo {
    const p = this.st.byId.get(id);
    if (!p) throw new DbError('PHOTO_NOT_FOUND', `no photo with id ${id}`);
    return p;
  }

  /** The paths of every dataset's photos that lie under `prefix` (a folder path ending in its separator). */
  pathsUnder(prefix: string): string[] {
    return this.st.pathsUnder.all(prefix.length, prefix).map((r) => r.path);
  }

  byPath(datasetId: number, file: string): Photo | undefined {
    return this.st.byPath.get(datasetId, file);
  }

  /** A photo of the dataset with these bytes, if any (duplicate detection); a missing one first. */
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

  /** A missing photo found again at another path (same bytes): keeps its labels and history. */
  relocate(id: number, file: string, name: string, mtime: number): void {
    this.st.relocate.run(file, name, mtime, id);
  }

  setStatus(id: number, status: PhotoStatus, reason: string | null = null): void {
    this.st.setStatus.run(status, reason, id);
  }

  /** The run whose predictions the grid shows by default: the latest that has any. */
  latestPredictedRun(datasetId: number): number | null {
    return this.st.latestRun.get(datasetId)?.id ?? null;
  }

  /** Per-class counts for the sidebar: a few rows of photo_counts, kept by triggers. */
  counts(datasetId: number): ClassCounts {
    const byId = new Map<number, number>();
    const byStatus: Record<PhotoStatus, number> = { ok: 0, unreadable: 0, missing: 0 };
    let total = 0;
    for (const r of this.st.counts.all(datasetId)) {
      byId.set(r.classKey, (byId.get(r.classKey) ?? 0) + r.n);
      byStatus[r.status] += r.n;
      total += r.n;
    }
    const unlabeled = byId.get(0) ?? 0;
    const byClass = this.st.classes.all(datasetId).map((c) => ({ ...c, count: byId.get(c.classId) ?? 0 }));
    return { total, labeled: total - unlabeled, unlabeled, byStatus, byClass };
  }

  /**
   * One page of the grid: sorted, filtered, with label and top-1 prediction. Two steps: the page's
   * ids from an index (no row is read for the photos skipped by an offset), then the 500 rows.
   */
  list(q: PhotoQuery): PhotoPage {
    const sort = q.sort ?? 'name';
    const desc = q.order === 'desc';
    const dir = desc ? 'DESC' : 'ASC';
    const limit = q.limit ?? 500;
    const offset = q.offset ?? 0;
    if (!SORT_NAMES.includes(sort)) throw new DbError('BAD_QUERY', `unknown sort '${sort}'; use ${SORT_NAMES.join(', ')}`);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new DbError('BAD_QUERY', `page size must be 1-${MAX_PAGE}, got ${limit}`);
    if (!Number.isInteger(offset) || offset < 0) throw new DbError('BAD_QUERY', `offset must be a non-negative integer, got ${offset}`);
    const runId = q.runId === undefined ? this.latestPredictedRun(q.datasetId) : q.runId;
    const params: Record<string, unknown> = { ds: q.datasetId, limit, offset };

    // Filters on the photo, and the same class filter phrased on predictions.label_class_id.
    const pw = ['p.dataset_id = :ds'];
    const classOnPred: string[] = [];
    if (q.classIds || q.unlabeled) {
      const ids = q.classIds ?? [];
      params.classes = JSON.stringify(ids);
      const inList = (col: string) => (ids.length === 1 ? `${col} = json_extract(:classes, '$[0]')` : `${col} IN (SELECT value FROM json_each(:classes))`);
      const one = (col: string) => (ids.length && q.unlabeled ? `(${inList(col)} OR ${col} IS NULL)` : ids.length ? inList(col) : `${col} IS NULL`);
      pw.push(one('p.class_id'));
      classOnPred.push(one('pr.label_class_id'));
    }
    let statuses: PhotoStatus[] | null = null;
    if (q.status !== undefined) {
      statuses = (Array.isArray(q.status) ? q.status : [q.status]).filter((x) => STATUSES.includes(x));
      pw.push(`p.status IN (${statuses.map((x) => `'${x}'`).join(', ') || 'NULL'})`);
    }
    let subsetJoin = '';
    if (q.subset) {
      subsetJoin = 'JOIN split_members sm ON sm.photo_id = p.id AND sm.split_id = :split AND sm.subset = :subset';
      params.split = q.subset.splitId;
      params.subset = q.subset.subset;
    }
    // Filters on the prediction.
    const rw: string[] = [];
    if (q.predictedClassId !== undefined) {
      rw.push('pr.top1_class_id = :pcls');
      params.pcls = q.predictedClassId;
    }
    if (q.maxP !== undefined) {
      rw.push('pr.top1_p < :maxp');
      params.maxp = q.maxP;
    }
    if (q.minP !== undefined) {
      rw.push('pr.top1_p >= :minp');
      params.minp = q.minP;
    }
    if (q.disagree) rw.push(DISAGREE);
    const needsPrediction = rw.length > 0;
    if (needsPrediction && runId === null) return { items: [], total: q.withTotal === false ? null : 0, next: null, runId };

    // Keyset paging: (key, id) strictly after the cursor in the sort direction.
    let cursorWhere = '';
    if (q.after !== undefined) {
      const cursor = decodeCursor(q.after);
      const keyset = sort === 'confidence' ? '' : ORDERS[sort].keyset;
      if (!keyset) throw new DbError('BAD_QUERY', `keyset paging works with sort name, date or imported; use offset for '${sort}'`);
      const cmp = desc ? '<' : '>';
      cursorWhere = sort === 'imported' ? ` AND p.id ${cmp} :cid` : ` AND (${keyset}, p.id) ${cmp} (:ckey, :cid)`;
      if (sort !== 'imported') params.ckey = cursor[0];
      params.cid = cursor[1];
      params.offset = 0;
    }
    const where = pw.join(' AND ') + cursorWhere;
    const run = (sql: string, extra: Record<string, unknown> = {}) => this.cache.get(sql).pluck().all({ ...params, ...extra }) as number[];

    // The number of matches, for the scrollbar (and, with prediction filters, to pick a plan).
    let counted: number | null = null;
    const countTotal = (): number => {
      if (counted !== null) return counted;
      const countParams: Record<string, unknown> = { ...params, run: runId };
      for (const k of ['limit', 'offset', 'ckey', 'cid']) delete countParams[k];
      if (!needsPrediction && !q.subset) {
        // Straight from photo_counts.
        const ck = q.classIds || q.unlabeled ? [...(q.classIds ?? []), ...(q.unlabeled ? [0] : [])] : null;
        counted = this.st.countFiltered.get({ ds: q.datasetId, classes: ck ? JSON.stringify(ck) : null, statuses: statuses ? JSON.stringify(statuses) : null })!.n;
      } else if (needsPrediction && !q.subset && statuses === null) {
        // Only the predictions table: the label is there too (label_class_id).
        if (!q.classIds && !q.unlabeled) delete countParams.classes;
        delete countParams.ds;
        counted = this.cache.get(`SELECT count(*) FROM predictions pr ${q.disagree && q.predictedClassId === undefined ? 'INDEXED BY predictions_disagree' : ''} WHERE pr.run_id = :run AND ${[...rw, ...classOnPred].join(' AND ')}`).pluck().get(countParams) as number;
      } else {
        if (!needsPrediction) delete countParams.run;
        const predJoin = needsPrediction ? `JOIN predictions pr ON pr.run_id = :run AND pr.photo_id = p.id AND ${rw.join(' AND ')}` : '';
        counted = this.cache.get(`SELECT count(*) FROM photos p ${subsetJoin} ${predJoin} WHERE ${pw.join(' AND ')}`).pluck().get(countParams) as number;
      }
      return counted;
    };

    let ids: number[];
    if (needsPrediction) {
      const order = sort === 'confidence' ? `pr.top1_p ${dir}, pr.photo_id ${dir}` : ORDERS[sort].order(dir);
      // Two plans for a photo-side sort with a predicted class: when its matches are a good share of
      // the dataset, walk the sort index and keep the matching photos (stops after one page); when
      // they are few, collect them from predictions_by_class and sort them. The count decides.
      // Other prediction filters (disagree, p alone) match too many photos to collect: SQLite walks
      // the sort index and probes each photo's prediction, which also stops after one page.
      const scanIndex = sort === 'name' ? 'photos_by_name' : sort === 'date' ? 'photos_by_date' : sort === 'label' ? 'photos_by_label' : null;
      const plainFilters = !q.classIds && !q.unlabeled && !q.subset && q.predictedClassId !== undefined; // one predicted class: a small IN-set
      if (scanIndex && plainFilters && countTotal() * 20 >= this.st.countFiltered.get({ ds: q.datasetId, classes: null, statuses: null })!.n) {
        ids = run(
          `SELECT p.id FROM photos p INDEXED BY ${scanIndex} WHERE ${where}
              AND p.id IN (SELECT pr.photo_id FROM predictions pr WHERE pr.run_id = :run AND ${rw.join(' AND ')})
            ORDER BY ${order} LIMIT :limit OFFSET :offset`,
          { run: runId },
        );
      } else {
        ids = run(
          `SELECT p.id FROM predictions pr JOIN photos p ON p.id = pr.photo_id ${subsetJoin}
            WHERE pr.run_id = :run AND ${rw.join(' AND ')} AND ${where} ORDER BY ${order} LIMIT :limit OFFSET :offset`,
          { run: runId },
        );
      }
    } else if (sort === 'confidence') {
      // Predicted photos by p (through predictions_by_p), then the unpredicted ones by name.
      const predicted =
        runId === null
          ? []
          : run(
              `SELECT p.id FROM predictions pr CROSS JOIN photos p ${subsetJoin}
                WHERE pr.run_id = :run AND p.id = pr.photo_id AND ${where} ORDER BY pr.top1_p ${dir}, pr.photo_id ${dir} LIMIT :limit OFFSET :offset`,
              { run: runId },
            );
      ids = predicted;
      if (predicted.length < limit) {
        // Where the unpredicted part starts: 0 when this page holds its beginning, else past the predicted ones.
        let unOffset = runId === null ? offset : 0;
        if (runId !== null && predicted.length === 0) {
          const nPredicted = this.cache.get(`SELECT count(*) FROM predictions pr CROSS JOIN photos p ${subsetJoin} WHERE pr.run_id = :run AND p.id = pr.photo_id AND ${where}`).pluck().get({ ...params, run: runId }) as number;
          unOffset = Math.max(0, offset - nPredicted);
        }
        const notPredicted = runId === null ? '' : ' AND NOT EXISTS (SELECT 1 FROM predictions x WHERE x.run_id = :run AND x.photo_id = p.id)';
        ids = ids.concat(
          run(`SELECT p.id FROM photos p ${subsetJoin} WHERE ${where}${notPredicted} ORDER BY p.name, p.id LIMIT :limit OFFSET :offset`, {
            run: runId ?? undefined,
            limit: limit - predicted.length,
            offset: unOffset,
          }),
        );
      }
    } else {
      ids = run(`SELECT p.id FROM photos p ${subsetJoin} WHERE ${where} ORDER BY ${ORDERS[sort].order(dir)} LIMIT :limit OFFSET :offset`);
    }

    const items = this.st.details.all({ ids: JSON.stringify(ids), run: runId ?? -1 });

    const total = q.withTotal === false ? null : countTotal();
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
    // exactly what encodeCursor writes: a sort key (text, number or null) and a photo id
    const key: unknown = Array.isArray(v) ? v[0] : undefined;
    const keyOk = key === null || (typeof key === 'string' && key.length <= 4096) || (typeof key === 'number' && Number.isFinite(key));
    if (Array.isArray(v) && v.length === 2 && keyOk && Number.isSafeInteger(v[1])) return v as [string | number | null, number];
  } catch {
    // fall through to the error below
  }
  throw new DbError('BAD_QUERY', 'the page cursor is not one this library made');
}
