// Splits: train/val/test assignments of a dataset's labeled, readable photos, stratified (each class
// split in the same proportions) and reproducible: the same seed and the same photos give the same
// split whatever order they were imported in (photos are ordered by content hash before shuffling).
import { DbError } from '../errors';
import { type Db, now } from './util';

export type Subset = 'train' | 'val' | 'test';
export type SplitOptions = { train?: number; val?: number; test?: number; seed?: number };
export type Split = { id: number; datasetId: number; seed: number; train: number; val: number; test: number; createdAt: number };
export type SplitCounts = Record<Subset, number> & { byClass: { classId: number; name: string; train: number; val: number; test: number }[] };
export type SplitMember = { photoId: number; path: string; hash: string | null; classId: number; className: string; subset: Subset };

/** mulberry32: a tiny seeded PRNG, enough for shuffling. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCOLS = 'id, dataset_id AS datasetId, seed, train, val, test, created_at AS createdAt';

export class SplitsRepo {
  private readonly st;
  constructor(private readonly db: Db) {
    this.st = {
      labeled: db.prepare<[number], { id: number; classId: number; className: string }>(
        `SELECT p.id, p.class_id AS classId, c.name AS className FROM photos p JOIN classes c ON c.id = p.class_id
          WHERE p.dataset_id = ? AND p.status = 'ok' ORDER BY c.name, p.hash, p.path, p.id`,
      ),
      insert: db.prepare<[number, number, number, number, number, number], Split>(`INSERT INTO splits (dataset_id, seed, train, val, test, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING ${SCOLS}`),
      member: db.prepare<[number, number, string]>('INSERT INTO split_members (split_id, photo_id, subset) VALUES (?, ?, ?)'),
      get: db.prepare<[number], Split>(`SELECT ${SCOLS} FROM splits WHERE id = ?`),
      latest: db.prepare<[number], Split>(`SELECT ${SCOLS} FROM splits WHERE dataset_id = ? ORDER BY id DESC LIMIT 1`),
      members: db.prepare<[number], SplitMember>(
        `SELECT p.id AS photoId, p.path, p.hash, p.class_id AS classId, c.name AS className, m.subset
           FROM split_members m JOIN photos p ON p.id = m.photo_id JOIN classes c ON c.id = p.class_id
          WHERE m.split_id = ? ORDER BY m.subset, c.position, p.id`,
      ),
      counts: db.prepare<[number], { classId: number; name: string; subset: Subset; n: number }>(
        `SELECT c.id AS classId, c.name, m.subset, count(*) AS n
           FROM split_members m JOIN photos p ON p.id = m.photo_id JOIN classes c ON c.id = p.class_id
          WHERE m.split_id = ? GROUP BY c.id, m.subset ORDER BY c.position, c.id`,
      ),
    };
  }

  /** Splits the labeled photos; each class gets round(n*val) val and round(n*test) test photos. */
  create(datasetId: number, opts: SplitOptions = {}): Split {
    const train = opts.train ?? 0.8; // default 80 % train
    const val = opts.val ?? 1 - train - (opts.test ?? 0); // the rest goes to val unless given
    const test = opts.test ?? 0; // no test set unless asked
    const seed = opts.seed ?? 42; // fixed default so that "split again" gives the same answer
    if ([train, val, test].some((f) => !(f >= 0 && f <= 1)) || Math.abs(train + val + test - 1) > 1e-6) {
      throw new DbError('BAD_SPLIT', `split fractions must be in [0, 1] and add up to 1, got train ${train}, val ${val}, test ${test}`);
    }
    if (!Number.isInteger(seed)) throw new DbError('BAD_SPLIT', `the split seed must be an integer, got ${seed}`);
    const rows = this.st.labeled.all(datasetId);
    if (rows.length === 0) throw new DbError('BAD_SPLIT', 'the dataset has no labeled, readable photos to split');
    const byClass = new Map<number, number[]>();
    for (const r of rows) byClass.set(r.classId, [...(byClass.get(r.classId) ?? []), r.id]);
    const rand = mulberry32(seed);
    return this.db.transaction(() => {
      const split = this.st.insert.get(datasetId, seed, train, val, test, now())!;
      for (const ids of byClass.values()) {
        // Fisher-Yates with the seeded generator
        for (let i = ids.length - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [ids[i], ids[j]] = [ids[j], ids[i]];
        }
        const nVal = Math.round(ids.length * val);
        const nTest = Math.min(ids.length - nVal, Math.round(ids.length * test));
        ids.forEach((id, i) => this.st.member.run(split.id, id, i < nVal ? 'val' : i < nVal + nTest ? 'test' : 'train'));
      }
      return split;
    }).immediate();
  }

  get(id: number): Split {
    const s = this.st.get.get(id);
    if (!s) throw new DbError('BAD_SPLIT', `no split with id ${id}`);
    return s;
  }

  latest(datasetId: number): Split | undefined {
    return this.st.latest.get(datasetId);
  }

  members(splitId: number, subset?: Subset): SplitMember[] {
    const all = this.st.members.all(splitId);
    return subset ? all.filter((m) => m.subset === subset) : all;
  }

  counts(splitId: number): SplitCounts {
    const out: SplitCounts = { train: 0, val: 0, test: 0, byClass: [] };
    const byClass = new Map<number, SplitCounts['byClass'][number]>();
    for (const r of this.st.counts.all(splitId)) {
      out[r.subset] += r.n;
      const c = byClass.get(r.classId) ?? { classId: r.classId, name: r.name, train: 0, val: 0, test: 0 };
      c[r.subset] = r.n;
      byClass.set(r.classId, c);
    }
    out.byClass = [...byClass.values()];
    return out;
  }
}
