// Metrics of a run, per step and per epoch. A fast run reports hundreds of steps a second, so
// writes go through a MetricWriter that buffers rows and commits them in one transaction every
// `maxRows` rows or `maxDelayMs` milliseconds; what it has committed survives a kill -9 (WAL).
import { DbError } from '../errors';
import { type Db, now } from './util';

export type MetricScope = 'step' | 'epoch';
export type MetricPoint = { scope: MetricScope; name: string; idx: number; epoch?: number | null; value: number; at?: number };
export type MetricRow = { name: string; idx: number; epoch: number | null; value: number | null; at: number };
export type WriterOptions = {
  maxRows?: number; // commit when this many rows are waiting (default 500)
  maxDelayMs?: number; // ...or when the oldest waiting row is this old (default 1000 ms)
  onCommit?: (committed: number) => void; // called after each commit with the total so far
  // a timed commit that failed (a full disk): the rows stay buffered for close() to retry or
  // discard(); without it the error is thrown by the next add() or flush() instead of escaping a timer
  onError?: (err: unknown) => void;
};

export class MetricsRepo {
  private readonly st;
  constructor(private readonly db: Db) {
    this.st = {
      upsert: db.prepare<[number, string, string, number, number | null, number | null, number]>(
        'INSERT OR REPLACE INTO metrics (run_id, scope, name, idx, epoch, value, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      series: db.prepare<[number, string], MetricRow>('SELECT name, idx, epoch, value, at FROM metrics WHERE run_id = ? AND scope = ? ORDER BY name, idx'),
      names: db.prepare<[number], { scope: MetricScope; name: string; n: number }>('SELECT scope, name, count(*) AS n FROM metrics WHERE run_id = ? GROUP BY scope, name ORDER BY scope, name'),
      count: db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM metrics WHERE run_id = ?'),
      lastEpoch: db.prepare<[number], { name: string; idx: number; value: number | null }>(
        "SELECT name, idx, value FROM metrics m WHERE run_id = ? AND scope = 'epoch' AND idx = (SELECT max(idx) FROM metrics WHERE run_id = m.run_id AND scope = 'epoch')",
      ),
      runExists: db.prepare<[number], { id: number }>('SELECT id FROM runs WHERE id = ?'),
    };
  }

  /** Writes many points in one transaction. NaN and Infinity are stored as NULL. */
  write(runId: number, points: readonly MetricPoint[]): void {
    if (points.length === 0) return;
    if (!this.st.runExists.get(runId)) throw new DbError('RUN_NOT_FOUND', `no run with id ${runId}`);
    const t = now();
    this.db.transaction(() => {
      for (const p of points) this.st.upsert.run(runId, p.scope, p.name, p.idx, p.epoch ?? null, Number.isFinite(p.value) ? p.value : null, p.at ?? t);
    }).immediate();
  }

  /** Points of one scope, grouped by name, in step/epoch order: { loss: [...], acc: [...] }. */
  series(runId: number, scope: MetricScope): Record<string, MetricRow[]> {
    const out: Record<string, MetricRow[]> = {};
    for (const r of this.st.series.all(runId, scope)) (out[r.name] ??= []).push(r);
    return out;
  }

  names(runId: number): { scope: MetricScope; name: string; n: number }[] {
    return this.st.names.all(runId);
  }

  count(runId: number): number {
    return this.st.count.get(runId)!.n;
  }

  /** The metrics of the last epoch recorded: { epoch, values: { loss, acc, val_loss, ... } }. */
  lastEpoch(runId: number): { epoch: number; values: Record<string, number | null> } | null {
    const rows = this.st.lastEpoch.all(runId);
    if (rows.length === 0) return null;
    return { epoch: rows[0].idx, values: Object.fromEntries(rows.map((r) => [r.name, r.value])) };
  }

  writer(runId: number, opts: WriterOptions = {}): MetricWriter {
    return new MetricWriter(this, runId, opts);
  }
}

/** Buffers points and commits them in batches; call close() (or flush()) at the end of a run. */
export class MetricWriter {
  private buffer: MetricPoint[] = [];
  private timer: NodeJS.Timeout | null = null;
  private committedRows = 0;
  private failed: unknown = null; // a timed commit's error, not yet reported
  private readonly maxRows: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly repo: MetricsRepo,
    readonly runId: number,
    private readonly opts: WriterOptions,
  ) {
    this.maxRows = opts.maxRows ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 1000;
  }

  get committed(): number {
    return this.committedRows;
  }

  get pending(): number {
    return this.buffer.length;
  }

  add(p: MetricPoint): void {
    if (this.failed !== null) {
      const err = this.failed;
      this.failed = null;
      throw err;
    }
    this.buffer.push({ ...p, at: p.at ?? now() });
    if (this.buffer.length >= this.maxRows) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.timedFlush(), this.maxDelayMs);
      this.timer.unref(); // a pending flush must not keep the process alive
    }
  }

  /** Adds several named values for one step or epoch: writer.log('step', 12, { loss, acc }). */
  log(scope: MetricScope, idx: number, values: Record<string, number>, epoch?: number): void {
    for (const [name, value] of Object.entries(values)) this.add({ scope, name, idx, value, epoch });
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    try {
      this.repo.write(this.runId, batch);
    } catch (err) {
      this.buffer = batch.concat(this.buffer); // not committed: kept for a retry or discard()
      throw err;
    }
    this.committedRows += batch.length;
    this.opts.onCommit?.(this.committedRows);
  }

  /** Drops the rows not yet committed (a run that failed for a full disk). */
  discard(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.buffer = [];
    this.failed = null;
  }

  private timedFlush(): void {
    try {
      this.flush();
    } catch (err) {
      if (this.opts.onError) this.opts.onError(err);
      else this.failed = err;
    }
  }

  close(): void {
    this.flush();
  }
}
