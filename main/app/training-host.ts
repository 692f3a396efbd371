// The training host: owns the one training worker process. It starts a run's job, relays the
// worker's events to the window (steps throttled to a few per second, every epoch delivered),
// writes what the worker reports into the library (main is the only writer: metrics through the
// batched MetricWriter, predictions, the models, the run's end), cancels on request, and turns a
// worker that dies without an answer (crash, kill -9, out of memory) into a failed run with an
// error, never a run left 'running'. One-off jobs (classify, export, weights) run through
// worker/run.ts's runWorkerJob instead: a worker process each, so the main event loop never computes.
import fs from 'node:fs';
import path from 'node:path';
import type { Library } from '../../db/index';
import type { MetricWriter } from '../../db/repos/metrics';
import type { AppErrorPayload, BackendInfo, EventName, Events, RunPhase, RunStatus } from '../../preload/contract';
import { isDiskFull } from '../../ml/errors';
import { AppError, diskFullPayload, mapCode } from './errors';
import type { FromWorker, TrainEventMsg, TrainJob, TrainOutcome } from './worker/protocol';
import type { Spawner, WorkerHandle } from './worker/spawn';
import type { Log } from './log';

export type Emit = <E extends EventName>(event: E, payload: Events[E]) => void;

export type TrainingHostOptions = {
  lib: Library;
  spawn: Spawner;
  emit: Emit;
  log?: Log;
  progressIntervalMs?: number; // at most one run:progress per this many ms (default 250: four a second)
  cancelGraceMs?: number; // after a cancel, how long the worker may take to stop before it is killed (default 15 s)
  onBackend?: (info: BackendInfo) => void;
};

type Active = {
  runId: number;
  job: TrainJob;
  worker: WorkerHandle;
  writer: MetricWriter;
  answered: boolean; // a result or an error arrived
  cancelRequested: boolean;
  killTimer: NodeJS.Timeout | null;
  pending: Events['run:progress'] | null; // the latest step not yet sent
  lastSent: number; // when the last run:progress went out
  flushTimer: NodeJS.Timeout | null;
  backend: string | null;
  stepsPerEpoch: number;
  epochs: number;
  lastEpochSeen: number;
  done: Promise<RunStatus>;
  resolve: (s: RunStatus) => void;
};

const stageOf = (s: string): 'head' | 'finetune' | 'main' => (s === 'head' || s === 'finetune' ? s : 'main');

export class TrainingHost {
  private active: Active | null = null;
  private readonly interval: number;
  private readonly grace: number;
  private readonly log: Log;

  constructor(private readonly opts: TrainingHostOptions) {
    this.interval = opts.progressIntervalMs ?? 250;
    this.grace = opts.cancelGraceMs ?? 15_000;
    this.log = opts.log ?? (() => {});
  }

  /** The run in progress, or null. */
  get runningRunId(): number | null {
    return this.active?.runId ?? null;
  }

  /** The worker's pid (tests kill it). */
  get workerPid(): number | undefined {
    return this.active?.worker.pid;
  }

  /** Starts the job of a run that the caller created in status 'running'. BUSY while another runs. */
  start(job: TrainJob): Promise<RunStatus> {
    if (this.active) throw new AppError('BUSY', `run ${this.active.runId} is still training; cancel it or wait for it to finish`);
    const { lib } = this.opts;
    const worker = this.opts.spawn<TrainJob>();
    let resolve!: (s: RunStatus) => void;
    const done = new Promise<RunStatus>((r) => (resolve = r));
    const a: Active = {
      runId: job.runId,
      job,
      worker,
      // a timed commit that fails (a full disk) ends the run instead of escaping as an uncaught error
      writer: lib.metrics.writer(job.runId, { maxRows: 500, maxDelayMs: 1000, onError: (err) => this.onStorageError(a, err) }),
      answered: false,
      cancelRequested: false,
      killTimer: null,
      pending: null,
      lastSent: 0,
      flushTimer: null,
      backend: null,
      stepsPerEpoch: 0,
      epochs: 0,
      lastEpochSeen: 0,
      done,
      resolve,
    };
    this.active = a;
    worker.onMessage((m) => this.onMessage(a, m));
    worker.onExit((code, signal) => this.onExit(a, code, signal));
    worker.send({ type: 'job', job });
    this.status(a, 'running', 'starting', null, null);
    return done;
  }

  /** Asks the run to stop after its current step (its last checkpoint stays: see ml/train.ts for how often one is written). */
  cancel(runId: number): boolean {
    const a = this.active;
    if (!a || a.runId !== runId) return false;
    if (a.cancelRequested) return true;
    a.cancelRequested = true;
    a.worker.send({ type: 'cancel' });
    a.killTimer = setTimeout(() => {
      this.log('warn', `run ${runId}: the worker did not stop within ${this.grace} ms of a cancel; killing it`);
      a.worker.kill('SIGKILL');
    }, this.grace);
    a.killTimer.unref();
    return true;
  }

  /** Resolves with the run's final status once it ended (immediately for a run not in progress). */
  async wait(runId: number): Promise<RunStatus> {
    if (this.active?.runId === runId) return this.active.done;
    return this.opts.lib.runs.get(runId).status;
  }

  /** Stops the worker at once (app quit); the run ends as cancelled. */
  async dispose(): Promise<void> {
    const a = this.active;
    if (!a) return;
    a.cancelRequested = true;
    a.worker.kill('SIGKILL');
    await a.done;
  }

  // -- the worker's messages

  private onMessage(a: Active, m: FromWorker<TrainJob>): void {
    if (this.active !== a) return;
    const { lib } = this.opts;
    try {
      switch (m.type) {
        case 'backend':
          a.backend = m.info.name;
          lib.runs.setBackend(a.runId, m.info.name);
          this.opts.onBackend?.(m.info);
          this.status(a, 'running', 'training', null, null);
          break;
        case 'phase':
          this.status(a, 'running', m.phase, null, m.message);
          break;
        case 'train':
          this.onTrainEvent(a, m.event);
          break;
        case 'predictions':
          lib.predictions.write(a.runId, m.rows.map((r) => ({ photoId: r.photoId, topk: r.topk })));
          break;
        case 'result':
          a.answered = true;
          this.finish(a, m.value, null);
          break;
        case 'error': {
          a.answered = true;
          const code = mapCode(m.error.code) ?? (m.error.code === 'INTERNAL' ? 'INTERNAL' : null);
          if (!code || code === 'INTERNAL') this.log('error', `run ${a.runId}: worker error ${m.error.code}: ${m.error.message}\n${m.stack ?? ''}`);
          const err: AppErrorPayload = code && code !== 'INTERNAL' ? { code, message: m.error.message } : { code: 'INTERNAL', message: `training failed: ${m.error.message}` };
          this.finish(a, null, err);
          break;
        }
      }
    } catch (err) {
      if (isDiskFull(err)) this.onStorageError(a, err);
      else this.log('error', `run ${a.runId}: could not record a worker message (${m.type})`, err);
    }
  }

  /** The library could not take the run's records (a full disk most often): the run fails now. */
  private onStorageError(a: Active, err: unknown): void {
    if (this.active !== a) return;
    a.answered = true;
    const payload = isDiskFull(err) ? diskFullPayload(err, this.opts.lib.file) : { code: 'INTERNAL' as const, message: `the run's records could not be written: ${(err as Error).message}` };
    this.log('error', `run ${a.runId}: ${payload.message}`, err);
    this.finish(a, null, payload);
  }

  private onTrainEvent(a: Active, e: TrainEventMsg): void {
    const stage = stageOf(e.stage);
    if (e.type === 'start') {
      a.stepsPerEpoch = e.stepsPerEpoch;
      a.epochs = e.epochs;
    } else if (e.type === 'step') {
      const idx = (e.epoch - 1) * e.stepsPerEpoch + e.step; // global step: unique across stages (epochs are numbered on)
      a.writer.log('step', idx, { loss: e.loss, acc: e.acc, lr: e.lr }, e.epoch);
      a.pending = { runId: a.runId, stage, epoch: e.epoch, epochs: a.epochs, step: e.step, stepsPerEpoch: e.stepsPerEpoch, loss: e.loss, acc: e.acc, lr: e.lr, imagesPerSec: e.imagesPerSec, etaSeconds: e.etaSeconds };
      this.throttleProgress(a);
    } else if (e.type === 'epoch') {
      this.flushProgress(a); // the last step of the epoch goes out before the epoch
      a.lastEpochSeen = e.epoch;
      a.writer.log('epoch', e.epoch, { train_loss: e.trainLoss, train_acc: e.trainAcc, val_loss: e.valLoss, val_acc: e.valAcc, val_top5: e.valTop5, lr: e.lr, seconds: e.seconds });
      a.writer.flush(); // an epoch is worth a commit of its own
      this.opts.emit('run:epoch', { runId: a.runId, stage, epoch: e.epoch, trainLoss: e.trainLoss, trainAcc: e.trainAcc, valLoss: e.valLoss, valAcc: e.valAcc, valTop5: e.valTop5, lr: e.lr, seconds: e.seconds, best: e.best });
    } else if (e.type === 'skip') {
      this.log('warn', `run ${a.runId}: skipped ${e.path}: ${e.reason}`);
    }
  }

  private throttleProgress(a: Active): void {
    const now = Date.now();
    if (now - a.lastSent >= this.interval) {
      this.flushProgress(a);
      return;
    }
    if (!a.flushTimer) {
      a.flushTimer = setTimeout(() => this.flushProgress(a), this.interval - (now - a.lastSent));
      a.flushTimer.unref();
    }
  }

  private flushProgress(a: Active): void {
    if (a.flushTimer) clearTimeout(a.flushTimer);
    a.flushTimer = null;
    if (!a.pending) return;
    const p = a.pending;
    a.pending = null;
    a.lastSent = Date.now();
    this.opts.emit('run:progress', p);
  }

  private onExit(a: Active, code: number | null, signal: string | null): void {
    if (a.killTimer) clearTimeout(a.killTimer);
    if (this.active !== a || a.answered) return;
    // No answer: the worker crashed or was killed. A kill we asked for after a cancel is a cancel.
    if (a.cancelRequested) {
      this.finish(a, { stopped: 'cancelled', epochs: a.lastEpochSeen, bestEpoch: 0, best: null, predicted: 0 }, null);
      return;
    }
    const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
    this.finish(a, null, { code: 'INTERNAL', message: `the training process stopped unexpectedly: it ${how}; its last checkpoint is kept and Resume continues from it` });
  }

  private finish(a: Active, outcome: TrainOutcome | null, error: AppErrorPayload | null): void {
    if (this.active !== a) return;
    this.active = null;
    a.worker.kill('SIGKILL'); // it exits by itself after answering; make sure, before its files are swept
    if (a.killTimer) clearTimeout(a.killTimer);
    this.flushProgress(a);
    const { lib } = this.opts;
    let status: RunStatus = error ? 'failed' : outcome?.stopped === 'cancelled' ? 'cancelled' : 'finished';
    if (error?.code === 'DISK_FULL') {
      // free what a half-done write of ours holds, so that the run's end can be recorded
      sweepTemporaryFiles(a.job, a.worker.pid);
      a.writer.discard();
    }
    try {
      a.writer.close();
    } catch (err) {
      a.writer.discard();
      this.log('error', `run ${a.runId}: metrics could not be written`, err);
    }
    const record = (): void => {
      this.recordModels(a.runId, outcome);
      const run = lib.runs.get(a.runId);
      if (run.status === 'running') lib.runs.end(a.runId, status === 'finished' ? 'finished' : status === 'cancelled' ? 'cancelled' : 'failed', error ? error.message : null);
      else status = run.status; // deleted or ended meanwhile
    };
    try {
      try {
        record();
      } catch (err) {
        // a full disk: give back the library's reserve (db/index.ts) and record the end in its room
        if (!isDiskFull(err) || !lib.releaseReserve()) throw err;
        record();
      }
    } catch (err) {
      this.log('error', `run ${a.runId}: could not record its end`, err);
    }
    this.status(a, status, 'done', error, null);
    a.resolve(status);
  }

  /** The run folder's checkpoints as model rows (best = 'final', last = 'checkpoint'). */
  private recordModels(runId: number, outcome: TrainOutcome | null): void {
    const { lib } = this.opts;
    let dir: string;
    try {
      const cfg = lib.runs.get(runId).config;
      dir = typeof cfg.outDir === 'string' ? cfg.outDir : '';
    } catch {
      return;
    }
    if (!dir) return;
    const best = path.join(dir, 'best.ckpt');
    const last = path.join(dir, 'last.ckpt');
    if (fs.existsSync(best)) lib.models.put(runId, { kind: 'final', path: best, format: 'alexnet-studio', epoch: outcome?.bestEpoch ?? null });
    // last.ckpt may be older than the run's last epoch (a cancelled run: see ml/train.ts): its own epoch
    if (fs.existsSync(last)) lib.models.put(runId, { kind: 'checkpoint', path: last, format: 'alexnet-studio', epoch: checkpointEpoch(last) ?? outcome?.epochs ?? null });
  }

  private status(a: Active, status: RunStatus, phase: RunPhase, error: AppErrorPayload | null, message: string | null): void {
    this.opts.emit('run:status', { runId: a.runId, status, phase, error, backend: a.backend, message });
  }
}

/** The epoch a checkpoint folder holds (its model.json), or null when it cannot be read. */
function checkpointEpoch(dir: string): number | null {
  try {
    const e = (JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { epoch?: unknown }).epoch;
    return typeof e === 'number' ? e : null;
  } catch {
    return null;
  }
}

/**
 * Removes the temporary files a killed or failed training worker can leave: `<ckpt>.tmp` folders
 * in the run's folder (ml/checkpoint.ts) and the feature cache's `<entry>.<pid>.tmp` files.
 */
export function sweepTemporaryFiles(job: Pick<TrainJob, 'outDir' | 'cacheDir'>, pid: number | undefined): void {
  const rm = (p: string) => fs.rmSync(p, { recursive: true, force: true });
  try {
    for (const f of fs.readdirSync(job.outDir)) if (f.endsWith('.tmp')) rm(path.join(job.outDir, f));
  } catch {
    // no run folder yet
  }
  if (pid === undefined) return;
  try {
    for (const f of fs.readdirSync(job.cacheDir, { recursive: true, encoding: 'utf8' })) if (f.endsWith(`.${pid}.tmp`)) rm(path.join(job.cacheDir, f));
  } catch {
    // no feature cache yet
  }
}
