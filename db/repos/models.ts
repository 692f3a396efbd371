// Models and checkpoints a run wrote to disk (the files live in the run's folder, not here).
import { DbError } from '../errors';
import { type Db, now, parseJson } from './util';

export type ModelKind = 'checkpoint' | 'final' | 'export';
export type NewModel = { kind: ModelKind; path: string; format?: string; epoch?: number | null; step?: number | null; metrics?: Record<string, number | null> };
export type Model = { id: number; runId: number; kind: ModelKind; format: string; path: string; epoch: number | null; step: number | null; metrics: Record<string, number | null>; createdAt: number };

type Row = Omit<Model, 'metrics'> & { metrics: string };
const COLS = 'id, run_id AS runId, kind, format, path, epoch, step, metrics, created_at AS createdAt';

export class ModelsRepo {
  private readonly st;
  constructor(private readonly db: Db) {
    this.st = {
      insert: db.prepare<[number, string, string, string, number | null, number | null, string, number], { id: number }>(
        'INSERT INTO models (run_id, kind, format, path, epoch, step, metrics, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
      ),
      get: db.prepare<[number], Row>(`SELECT ${COLS} FROM models WHERE id = ?`),
      list: db.prepare<[number], Row>(`SELECT ${COLS} FROM models WHERE run_id = ? ORDER BY id`),
      runExists: db.prepare<[number], { id: number }>('SELECT id FROM runs WHERE id = ?'),
      dropPath: db.prepare<[number, string]>('DELETE FROM models WHERE run_id = ? AND path = ?'),
    };
  }

  add(runId: number, m: NewModel): Model {
    if (!this.st.runExists.get(runId)) throw new DbError('RUN_NOT_FOUND', `no run with id ${runId}`);
    const id = this.st.insert.get(runId, m.kind, m.format ?? 'tfjs', m.path, m.epoch ?? null, m.step ?? null, JSON.stringify(m.metrics ?? {}), now())!.id;
    return this.get(id)!;
  }

  /** Records a model file, replacing the row of the same path (a resumed run rewrites its checkpoints). */
  put(runId: number, m: NewModel): Model {
    return this.db.transaction(() => {
      this.st.dropPath.run(runId, m.path);
      return this.add(runId, m);
    })();
  }

  get(id: number): Model | undefined {
    const r = this.st.get.get(id);
    return r ? { ...r, metrics: parseJson(r.metrics, {}) } : undefined;
  }

  list(runId: number): Model[] {
    return this.st.list.all(runId).map((r) => ({ ...r, metrics: parseJson(r.metrics, {}) }));
  }

  /** The checkpoint with the highest value of `metric` (e.g. 'val_acc'), if any has it. */
  best(runId: number, metric: string): Model | undefined {
    let best: Model | undefined;
    for (const m of this.list(runId)) {
      const v = m.metrics[metric];
      if (typeof v === 'number' && (best === undefined || v > (best.metrics[metric] as number))) best = m;
    }
    return best;
  }
}
