// The worker process's entry: receives one job, runs it, answers with one 'result' or 'error', and
// exits. Runs as a Node child (process.send) or an Electron utilityProcess (process.parentPort).
import { env } from '@tensorflow/tfjs-core';
import { initBackend } from '../../../ml/backend';
import { diskFullError } from '../../../ml/errors';
import { runClassify, runDownloadWeights, runExport, runImportWeights, runTrain, type Send } from './jobs';
import type { FromWorker, Job, Outcomes, ToWorker } from './protocol';

type ParentPort = { on(ev: 'message', cb: (e: { data: unknown }) => void): void; postMessage(msg: unknown): void };
const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

// The parent can go away at any moment (killed, or it killed us after a cancel): a message that
// cannot be delivered ends this process quietly, never with an EPIPE stack trace.
const send: Send = (msg: FromWorker) => {
  if (parentPort) parentPort.postMessage(msg);
  else if (process.connected) process.send?.(msg, undefined, {}, (err) => err && process.exit(0));
  else process.exit(0);
};
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => process.exit(0));

// TF.js's advice to scripts ("install the node backend") is not for the app's log: the app picks
// its backend itself and says which one runs (app:backend) and why the better ones did not load
env().set('PROD', true);

const controller = new AbortController();
let started = false;

// One runner per kind of job, each returning that kind's outcome (protocol.ts's Outcomes: what the
// host's 'result' message is typed as).
type JobOf = { [K in Job['kind']]: Extract<Job, { kind: K }> };
const runners: { [K in Job['kind']]: (job: JobOf[K]) => Promise<Outcomes[K]> } = {
  train: (job) => runTrain(job, send, controller.signal),
  classify: (job) => runClassify(job, send, controller.signal),
  export: (job) => runExport(job, controller.signal),
  'import-weights': (job) => runImportWeights(job, controller.signal),
  'download-weights': (job) => runDownloadWeights(job, send, controller.signal),
  probe: (job) => initBackend(job.backend),
};
const runJob = <K extends Job['kind']>(kind: K, job: JobOf[K]): Promise<Outcomes[K]> => runners[kind](job);

async function run(job: Job): Promise<void> {
  try {
    const value = await runJob(job.kind, job);
    send({ type: 'result', value });
  } catch (thrown) {
    const err = diskFullError(thrown, 'the data folder'); // a raw ENOSPC becomes "the disk is full (<path>)"
    const e = err as { code?: unknown; message?: unknown; stack?: unknown };
    const code = typeof e?.code === 'string' ? e.code : 'INTERNAL';
    const message = typeof e?.message === 'string' ? e.message : String(err);
    send({ type: 'error', error: { code, message }, stack: typeof e?.stack === 'string' ? e.stack : null });
  }
  // give the channel a moment to flush, then leave (tfjs may hold handles open)
  setTimeout(() => process.exit(0), 50);
}

function onMessage(raw: unknown): void {
  const msg = raw as ToWorker;
  if (msg?.type === 'cancel') controller.abort();
  else if (msg?.type === 'job' && !started) {
    started = true;
    void run(msg.job);
  }
}

if (parentPort) parentPort.on('message', (e) => onMessage(e.data));
else process.on('message', onMessage);
// the parent went away: stop (Node fork closes the channel)
process.on('disconnect', () => process.exit(0));
