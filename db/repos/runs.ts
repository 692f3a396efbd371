// Training runs: what was trained, how, on which backend, and how it ended. A run records the pid
// and host of the process that trains it, so that a later start can tell a run still alive in
// another process from one whose process died (kill -9, power cut): only the latter is marked
// 'interrupted'.
import os from 'node:os';
import { DbError } from '../errors';
import { type Db, now, parseJson } from './util';

export type RunStatus = 'running' | 'finished' | 'failed' | 'cancelled' | 'interrupted';
export type JsonObject = { [k: string]: unknown };
export type NewRun = {
  datasetId?: number | null;
  splitId?: number | null;
  name?: string | null;
  config?: JsonObject; // hyper-parameters: epochs, batch size, learning rate, freeze depth...
  preprocessing?: JsonObject; // resize, crop, mean/std, augmentation
  classes?: string[]; // the model's output index -> class name
  weightsSource?: string | null; // 'imagenet', 'scratch', a path
  backend?: string | null; // the TF.js backend in use
};
export type Run = {
  id: number;
  datasetId: number | null;
  splitId: number | null;
  name: string | null;
  config: JsonObject;
  preprocessing: JsonObject;
  classes: string[];
  weightsSource: string | null;
  backend: string | null;
  status: RunStatus;
  startedAt: number;
  endedAt: number | null;
  error: string | null;
  pid: number | null;
  host: string | null;
};
export type RunSummary = Run & { datasetName: string | null; durationMs: number | null; bestValAcc: number | null; epochs: number; steps: number };

type RunRow = Omit<Run, 'config' | 'preprocessing' | 'classes'> & { config: string; preprocessing: string; classes: string };
const COLS = `r.id, r.dataset_id AS datasetId, r.split_id AS splitId, r.name, r.config, r.preprocessing, r.classes, r.weights_source AS weightsSource,
  r.backend, r.status, r.started_at AS startedAt, r.ended_at AS endedAt, r.error, r.pid, r.host`;
// The names under which the engine may report validation accuracy per epoch.
const VAL_ACC = "('val_acc', 'valAcc', 'val_accuracy')";

function toRun(r: RunRow): Run {
  return { ...r, config: parseJson(r.config, {}), preprocessing: parseJson(r.preprocessing, {}), classes: parseJson(r.classes, []) };
}

/** Whether a process with that pid exists on this machine (EPERM: exists, not ours). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RunsRepo {
  private readonly st;
  constructor(private readonly db: Db) {
    const summary = `SELECT ${COLS}, d.name AS datasetName,
        CASE WHEN r.ended_at IS NULL THEN NULL ELSE r.ended_at - r.started_at END AS durationMs,
        (SELECT max(value) FROM metrics m WHERE m.run_id = r.id AND m.scope = 'epoch' AND m.name IN ${VAL_ACC}) AS bestValAcc,
        (SELECT count(DISTINCT idx) FROM metrics m WHERE m.run_id = r.id AND m.scope = 'epoch') AS epochs,
        (SELECT coalesce(max(idx), 0) FROM metrics m WHERE m.run_id = r.id AND m.scope = 'step') AS steps
      FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id`;
    this.st = {
      insert: db.prepare<Record<string, unknown>, { id: number }>(
        `INSERT INTO runs (dataset_id, split_id, name, config, preprocessing, classes, weights_source, backend, status, started_at, pid, host)
         VALUES (:datasetId, :splitId, :name, :config, :preprocessing, :classes, :weightsSource, :backend, 'running', :startedAt, :pid, :host) RETURNING id`,
      ),
      get: db.prepare<[number], RunRow>(`SELECT ${COLS} FROM runs r WHERE r.id = ?`),
      summary: db.prepare<[number], RunRow & { datasetName: string | null; durationMs: number | null; bestValAcc: number | null; epochs: number; steps: number }>(`${summary} WHERE r.id = ?`),
      list: db.prepare<[number | null, number | null, number], RunRow & { datasetName: string | null; durationMs: number | null; bestValAcc: number | null; epochs: number; steps: number }>(
        `${summary} WHERE (? IS NULL OR r.dataset_id = ?) ORDER BY r.id DESC LIMIT ?`,
      ),
      end: db.prepare<[string, number, string | null, number]>("UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ? AND status = 'running'"),
      backend: db.prepare<[string, number]>('UPDATE runs SET backend = ? WHERE id = ?'),
      resume: db.prepare<[number, string, number]>(
        "UPDATE runs SET status = 'running', ended_at = NULL, error = NULL, pid = ?, host = ? WHERE id = ? AND status IN ('interrupted', 'cancelled', 'failed')",
      ),
      running: db.prepare<[], { id: number; pid: number | null; host: string | null }>("SELECT id, pid, host FROM runs WHERE status = 'running'"),
      interrupt: db.prepare<[number, string, number]>("UPDATE runs SET status = 'interrupted', ended_at = ?, error = ? WHERE id = ? AND status = 'running'"),
      lastMetricAt: db.prepare<[number], { at: number | null }>('SELECT max(at) AS at FROM metrics WHERE run_id = ?'),
      remove: db.prepare<[number]>('DELETE FROM runs WHERE id = ?'),
    };
  }

  /** Starts a run in status 'running', owned by this process. */
  create(r: NewRun = {}): Run {
    const id = this.st.insert.get({
      datasetId: r.datasetId ?? null,
      splitId: r.splitId ?? null,
      name: r.name ?? null,
      config: JSON.stringify(r.config ?? {}),
      preprocessing: JSON.stringify(r.preprocessing ?? {}),
      classes: JSON.stringify(r.classes ?? []),
      weightsSource: r.weightsSource ?? null,
      backend: r.backend ?? null,
      startedAt: now(),
      pid: process.pid,
      host: os.hostname(),
    })!.id;
    return this.get(id);
  }

  get(id: number): Run {
    const r = this.st.get.get(id);
    if (!r) throw new DbError('RUN_NOT_FOUND', `no run with id ${id}`);
    return toRun(r);
  }

  /** A run with what a history list shows: duration, best val accuracy, epochs and steps done. */
  summary(id: number): RunSummary {
    const r = this.st.summary.get(id);
    if (!r) throw new DbError('RUN_NOT_FOUND', `no run with id ${id}`);
    return { ...toRun(r), datasetName: r.datasetName, durationMs: r.durationMs, bestValAcc: r.bestValAcc, epochs: r.epochs, steps: r.steps };
  }

  /** Newest first. */
  list(opts: { datasetId?: number; limit?: number } = {}): RunSummary[] {
    const ds = opts.datasetId ?? null;
    return this.st.list.all(ds, ds, opts.limit ?? 1000).map((r) => ({ ...toRun(r), datasetName: r.datasetName, durationMs: r.durationMs, bestValAcc: r.bestValAcc, epochs: r.epochs, steps: r.steps }));
  }

  setBackend(id: number, backend: string): void {
    this.st.backend.run(backend, id);
  }

  /** Ends a running run as finished, failed (with the error) or cancelled. */
  end(id: number, status: 'finished' | 'failed' | 'cancelled', error: string | null = null): Run {
    const run = this.get(id);
    if (run.status !== 'running') throw new DbError('BAD_RUN_STATUS', `run ${id} is already ${run.status}`);
    this.st.end.run(status, now(), error, id);
    return this.get(id);
  }

  /** Puts an interrupted, cancelled or failed run back to 'running', owned by this process (a resume). */
  resume(id: number): Run {
    const run = this.get(id);
    if (this.st.resume.run(process.pid, os.hostname(), id).changes !== 1) throw new DbError('BAD_RUN_STATUS', `run ${id} is ${run.status}: only an interrupted, cancelled or failed run can be resumed`);
    return this.get(id);
  }

  /**
   * Marks as 'interrupted' every run left 'running' by a process that no longer exists (same host,
   * dead pid) or by another host (we cannot check it; its run cannot be ours to continue either).
   * Called by openLibrary. Returns the ids marked.
   */
  recoverInterrupted(): number[] {
    const host = os.hostname();
    const marked: number[] = [];
    this.db.transaction(() => {
      for (const r of this.st.running.all()) {
        const live = r.pid !== null && r.host === host && (r.pid === process.pid || alive(r.pid));
        if (live) continue;
        const lastAt = this.st.lastMetricAt.get(r.id)?.at ?? null;
        this.st.interrupt.run(lastAt ?? now(), 'the process running it stopped without finishing it (killed or crashed); Resume continues from its last checkpoint', r.id);
        marked.push(r.id);
      }
    }).immediate();
    return marked;
  }

  remove(id: number): void {
    this.st.remove.run(id);
  }
}
