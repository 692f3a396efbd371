// Datasets: named collections of photos, each with its own classes.
import { DbError } from '../errors';
import { type Db, now } from './util';

export type Dataset = { id: number; name: string; root: string | null; createdAt: number };
export type DatasetSummary = Dataset & { photoCount: number; labeledCount: number; classCount: number };

const COLS = 'id, name, root, created_at AS createdAt';

export class DatasetsRepo {
  private readonly st;
  constructor(private readonly db: Db) {
    this.st = {
      insert: db.prepare<[string, string | null, number], Dataset>(`INSERT INTO datasets (name, root, created_at) VALUES (?, ?, ?) RETURNING ${COLS}`),
      byId: db.prepare<[number], Dataset>(`SELECT ${COLS} FROM datasets WHERE id = ?`),
      byName: db.prepare<[string], Dataset>(`SELECT ${COLS} FROM datasets WHERE name = ?`),
      list: db.prepare<[], DatasetSummary>(
        `SELECT d.id, d.name, d.root, d.created_at AS createdAt,
                (SELECT count(*) FROM photos p WHERE p.dataset_id = d.id) AS photoCount,
                (SELECT count(*) FROM photos p WHERE p.dataset_id = d.id AND p.class_id IS NOT NULL) AS labeledCount,
                (SELECT count(*) FROM classes c WHERE c.dataset_id = d.id) AS classCount
           FROM datasets d ORDER BY d.name`,
      ),
      setRoot: db.prepare<[string, number]>('UPDATE datasets SET root = ? WHERE id = ?'),
      rename: db.prepare<[string, number]>('UPDATE datasets SET name = ? WHERE id = ?'),
      remove: db.prepare<[number]>('DELETE FROM datasets WHERE id = ?'),
    };
  }

  create(name: string, root: string | null = null): Dataset {
    const clean = name.trim();
    if (!clean) throw new DbError('BAD_QUERY', 'a dataset needs a non-empty name');
    if (this.st.byName.get(clean)) throw new DbError('DATASET_EXISTS', `a dataset named '${clean}' already exists`);
    return this.st.insert.get(clean, root, now())!;
  }

  get(id: number): Dataset | undefined {
    return this.st.byId.get(id);
  }

  byName(name: string): Dataset | undefined {
    return this.st.byName.get(name.trim());
  }

  /** By name or numeric id; throws DATASET_NOT_FOUND with the names that do exist. */
  require(nameOrId: string | number): Dataset {
    const d = typeof nameOrId === 'number' ? this.get(nameOrId) : this.byName(nameOrId) ?? (/^\d+$/.test(nameOrId) ? this.get(Number(nameOrId)) : undefined);
    if (d) return d;
    const names = this.list().map((x) => x.name);
    throw new DbError('DATASET_NOT_FOUND', `no dataset '${nameOrId}'${names.length ? `; datasets: ${names.join(', ')}` : '; the library has no datasets yet'}`);
  }

  /** The dataset of that name, created if absent. */
  ensure(name: string, root: string | null = null): Dataset {
    return this.byName(name) ?? this.create(name, root);
  }

  list(): DatasetSummary[] {
    return this.st.list.all();
  }

  setRoot(id: number, root: string): void {
    this.st.setRoot.run(root, id);
  }

  rename(id: number, name: string): void {
    const clean = name.trim();
    const other = this.byName(clean);
    if (other && other.id !== id) throw new DbError('DATASET_EXISTS', `a dataset named '${clean}' already exists`);
    this.st.rename.run(clean, id);
  }

  /** Forgets the dataset and everything recorded about it; the photo files are not touched. */
  remove(id: number): void {
    this.st.remove.run(id);
  }
}
