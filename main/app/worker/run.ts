// One-off worker jobs (classify, export, weights import and download, the backend probe): a fresh
// worker process each, awaited, so the main event loop never computes. Training, which reports as it
// goes and writes the library, is the training host's (training-host.ts).
import type { BackendInfo } from '../../../preload/contract';
import { AppError, toErrorPayload } from '../errors';
import type { Log } from '../log';
import type { ClassifyJob, DownloadWeightsJob, ExportJob, ImportWeightsJob, Outcome, ProbeJob } from './protocol';
import type { Spawner } from './spawn';

export type OneOffJob = ClassifyJob | ImportWeightsJob | DownloadWeightsJob | ExportJob | ProbeJob;

/**
 * Runs a job in a fresh worker; rejects with an AppError on its error or crash; abort cancels it.
 * killOnCancel: for a job with nothing to finish cleanly (an export, a classify), abort kills the
 * worker and the promise rejects with CANCELLED only once the process has exited, so the caller's
 * clean-up never races its writes.
 */
export function runWorkerJob<J extends OneOffJob>(
  spawn: Spawner,
  job: J,
  opts: { signal?: AbortSignal; killOnCancel?: boolean; log?: Log; onBackend?: (b: BackendInfo) => void; onDownload?: (bytes: number, total: number | null) => void } = {},
): Promise<Outcome<J>> {
  return new Promise((resolve, reject) => {
    const cancelled = () => new AppError('CANCELLED', `the ${job.kind} was cancelled`);
    if (opts.signal?.aborted) return reject(cancelled());
    const worker = spawn<J>();
    let answered = false;
    let killed = false;
    const onAbort = () => {
      if (!opts.killOnCancel) return worker.send({ type: 'cancel' });
      killed = true;
      worker.kill('SIGKILL');
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.onMessage((m) => {
      if (m.type === 'backend') opts.onBackend?.(m.info);
      else if (m.type === 'download') opts.onDownload?.(m.bytes, m.total);
      else if (killed) return; // cancelled: the exit answers
      else if (m.type === 'result') {
        answered = true;
        resolve(m.value);
      } else if (m.type === 'error') {
        answered = true;
        const p = toErrorPayload(m.error, () => opts.log?.('error', `worker job ${job.kind} failed: ${m.error.code} ${m.error.message}\n${m.stack ?? ''}`));
        reject(new AppError(p.code, p.code === 'INTERNAL' ? `${job.kind} failed: ${m.error.message}` : p.message));
      }
    });
    worker.onExit((code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (killed && !answered) reject(cancelled());
      else if (!answered) reject(new AppError('INTERNAL', `the ${job.kind} process stopped unexpectedly (${signal ?? `exit code ${code}`})`));
    });
    worker.send({ type: 'job', job });
  });
}
