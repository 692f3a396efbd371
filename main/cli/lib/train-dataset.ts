// `alexnet train --dataset <name>`: trains from the library exactly as the app's Train button does
// (runs:start through the same handlers, the same worker process, the same recording of the run,
// its metrics, checkpoints and predictions in the database), and draws its progress here.
import path from 'node:path';
import { openLibrary } from '../../../db/index';
import { defaultDataDir, defaultDbFile } from '../../../db/paths';
import type { Events, RunSettings } from '../../../preload/contract';
import { createContext } from '../../app/context';
import { dispatch } from '../../app/dispatch';
import { createHandlers } from '../../app/handlers/index';
import { nodeSpawner } from '../../app/worker/spawn';
import { CliError } from '../errors';
import { ProgressBar, formatDuration } from '../progress';

export type DatasetTrainOptions = {
  dataset: string;
  db?: string;
  settings: RunSettings;
  json: boolean;
  resume?: boolean; // continue the dataset's latest run that stopped before its end (runs:resume)
};

export async function trainDataset(o: DatasetTrainOptions): Promise<number> {
  const say = (line: string) => !o.json && process.stderr.write(line + '\n');
  const emit = (obj: Record<string, unknown>) => o.json && process.stdout.write(JSON.stringify(obj) + '\n');
  const lib = openLibrary(defaultDbFile(o.db));
  const quietLog = (level: string, message: string) => level !== 'info' && say(`${level}: ${message}`);
  const ctx = createContext({ lib, dataDir: defaultDataDir(), mode: 'browser', spawn: nodeSpawner(), log: quietLog });
  const handlers = createHandlers(ctx);
  try {
    const ds = lib.datasets.require(o.dataset);
    let bar: ProgressBar | null = null;
    let runId = -1;
    let finished!: (status: string) => void;
    const done = new Promise<string>((r) => (finished = r));
    const off = ctx.bus.on((event, payload) => {
      if (event === 'run:progress') {
        const p = payload as Events['run:progress'];
        if (p.runId !== runId) return;
        if (!o.json && (!bar || p.step === 1)) bar = new ProgressBar({ label: `epoch ${p.epoch} [${p.stage}]`, total: p.stepsPerEpoch, unit: 'step' });
        bar?.update(p.step, `loss ${p.loss.toFixed(3)} acc ${p.acc.toFixed(2)} ${p.imagesPerSec.toFixed(1)} img/s run ETA ${formatDuration(p.etaSeconds)}`);
      } else if (event === 'run:epoch') {
        const p = payload as Events['run:epoch'];
        if (p.runId !== runId) return;
        bar = null;
        say(`epoch ${p.epoch} [${p.stage}] train loss ${p.trainLoss.toFixed(4)} acc ${(p.trainAcc * 100).toFixed(1)}% | val loss ${p.valLoss.toFixed(4)} acc ${(p.valAcc * 100).toFixed(1)}% top-5 ${(p.valTop5 * 100).toFixed(1)}% | lr ${p.lr.toPrecision(3)} | ${p.seconds.toFixed(1)} s${p.best ? ' *best' : ''}`);
        emit({ type: 'epoch', ...p });
      } else if (event === 'run:status') {
        const p = payload as Events['run:status'];
        if (p.runId !== runId) return;
        if (p.message) say(p.message);
        if (p.status !== 'running') finished(p.status);
      }
    });
    let started;
    if (o.resume) {
      const stopped = lib.runs.list({ datasetId: ds.id }).find((r) => r.status === 'interrupted' || r.status === 'cancelled' || r.status === 'failed');
      if (!stopped) throw new CliError(`dataset '${ds.name}' has no interrupted, cancelled or failed run to resume`, 1);
      started = await dispatch(handlers, 'runs:resume', { runId: stopped.id });
    } else started = await dispatch(handlers, 'runs:start', { datasetId: ds.id, settings: o.settings });
    if (!started.ok) throw new CliError(started.error.message, 1);
    runId = (started.value as { id: number }).id;
    say(`run ${runId} on dataset '${ds.name}' ${o.resume ? 'resumed from its last checkpoint' : 'started'}`);
    const onSigint = () => {
      say('\ncancelling after this step...');
      void dispatch(handlers, 'runs:cancel', { runId });
    };
    process.on('SIGINT', onSigint);
    const status = await done;
    process.off('SIGINT', onSigint);
    off();
    const run = lib.runs.summary(runId);
    const best = lib.models.list(runId).find((m) => m.kind === 'final');
    emit({ type: 'result', runId, status, bestValAcc: run.bestValAcc, epochs: run.epochs, error: run.error, model: best?.path ?? null });
    if (status === 'failed') throw new CliError(`run ${runId} failed: ${run.error ?? 'unknown error'}`, 1);
    say(`run ${runId} ${status}: best val acc ${run.bestValAcc === null ? 'n/a' : (run.bestValAcc * 100).toFixed(1) + '%'}${best ? `; model in ${path.dirname(best.path)}` : ''}`);
    return status === 'finished' ? 0 : 130;
  } finally {
    await ctx.training.dispose();
    lib.close();
  }
}
