// Predictions of a run's model, one row per (run, photo): the top-k as JSON and the top-1 as
// indexed columns. Labels are mapped to the dataset's classes by name when the caller does not
// give class ids, so review screens can compare prediction and label by id.
import { DbError } from '../errors';
import { type Db, now, parseJson } from './util';

export type TopK = { label: string; p: number; classId?: number | null }[];
export type NewPrediction = { photoId: number; topk: TopK };
export type Prediction = { runId: number; photoId: number; top1Label: string; top1ClassId: number | null; top1P: number; topk: TopK; createdAt: number };

type Row = Omit<Prediction, 'topk'> & { topk: string };
const COLS = 'run_id AS runId, photo_id AS photoId, top1_label AS top1Label, top1_class_id AS top1ClassId, top1_p AS top1P, topk, created_at AS createdAt';

export class PredictionsRepo {
  private readonly st;
  constructor(private readonly db: Db) {
    this.st = {
      run: db.prepare<[number], { datasetId: number | null }>('SELECT dataset_id AS datasetId FROM runs WHERE id = ?'),
      classes: db.prepare<[number], { id: number; name: string }>('SELECT id, name FROM classes WHERE dataset_id = ?'),
      upsert: db.prepare<[number, number, string, number | null, number, string, number, number]>(
        `INSERT OR REPLACE INTO predictions (run_id, photo_id, top1_label, top1_class_id, top1_p, topk, created_at, label_class_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT class_id FROM photos WHERE id = ?))`,
      ),
      get: db.prepare<[number, number], Row>(`SELECT ${COLS} FROM predictions WHERE run_id = ? AND photo_id = ?`),
      forPhoto: db.prepare<[number], Row>(`SELECT ${COLS} FROM predictions WHERE photo_id = ? ORDER BY run_id DESC`),
      count: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM predictions WHERE run_id = ?'),
      clear: db.prepare<[number]>('DELETE FROM predictions WHERE run_id = ?'),
      // a predicted-vs-labeled table: rows are labels, columns predictions
      confusion: db.prepare<[number], { labelId: number; predictedId: number | null; n: number }>(
        `SELECT p.class_id AS labelId, pr.top1_class_id AS predictedId, count(*) AS n
           FROM predictions pr JOIN photos p ON p.id = pr.photo_id
          WHERE pr.run_id = ? AND p.class_id IS NOT NULL GROUP BY p.class_id, pr.top1_class_id`,
      ),
    };
  }

  /** Writes (or replaces) predictions of a run, in one transaction; topk is sorted by p here. */
  write(runId: number, rows: readonly NewPrediction[]): void {
    const run = this.st.run.get(runId);
    if (!run) throw new DbError('RUN_NOT_FOUND', `no run with id ${runId}`);
    const byName = new Map(run.datasetId === null ? [] : this.st.classes.all(run.datasetId).map((c) => [c.name.toLowerCase(), c.id]));
    const t = now();
    this.db.transaction(() => {
      for (const r of rows) {
        if (r.topk.length === 0) continue;
        const topk = [...r.topk].sort((a, b) => b.p - a.p).map((k) => ({ label: k.label, p: k.p, classId: k.classId ?? byName.get(k.label.toLowerCase()) ?? null }));
        this.st.upsert.run(runId, r.photoId, topk[0].label, topk[0].classId, topk[0].p, JSON.stringify(topk), t, r.photoId);
      }
    }).immediate();
  }

  get(runId: number, photoId: number): Prediction | undefined {
    const r = this.st.get.get(runId, photoId);
    return r ? { ...r, topk: parseJson(r.topk, []) } : undefined;
  }

  forPhoto(photoId: number): Prediction[] {
    return this.st.forPhoto.all(photoId).map((r) => ({ ...r, topk: parseJson(r.topk, []) }));
  }

  count(runId: number): number {
    return this.st.count.get(runId)!.n;
  }

  clear(runId: number): void {
    this.st.clear.run(runId);
  }

  /** Counts of (label, top-1 prediction) pairs over the run's labeled photos. */
  confusion(runId: number): { labelId: number; predictedId: number | null; n: number }[] {
    return this.st.confusion.all(runId);
  }
}
