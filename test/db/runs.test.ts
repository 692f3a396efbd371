import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLibrary } from '../../db/index';
import { repoRoot, useTempLibrary } from './helpers';

const { dir, lib } = useTempLibrary();

describe('runs, metrics and models', () => {
  it('round-trip a run: config, preprocessing, classes, metrics per step and epoch, checkpoints, status', () => {
    const ds = lib.datasets.create('d');
    const config = { epochs: 3, batchSize: 32, lr: 0.001, freeze: 'features' };
    const preprocessing = { size: 227, mean: [123.68, 116.78, 103.94], crop: 'center' };
    const run = lib.runs.create({ datasetId: ds.id, name: 'first', config, preprocessing, classes: ['ants', 'bees'], weightsSource: 'imagenet:bvlc', backend: 'cpu' });
    expect(run.status).toBe('running');
    const w = lib.metrics.writer(run.id, { maxRows: 7 });
    for (let step = 1; step <= 30; step++) w.log('step', step, { loss: 2 / step, acc: step / 30 }, Math.ceil(step / 10));
    for (let epoch = 1; epoch <= 3; epoch++) w.log('epoch', epoch, { loss: 1 / epoch, val_acc: 0.5 + epoch / 10, bad: epoch === 2 ? NaN : 1 });
    expect(w.pending).toBeGreaterThan(0); // batched: not everything is written yet
    w.close();
    expect(w.pending).toBe(0);
    expect(lib.metrics.count(run.id)).toBe(30 * 2 + 3 * 3);
    const steps = lib.metrics.series(run.id, 'step');
    expect(steps.loss.map((r) => r.idx)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(steps.loss[9].value).toBeCloseTo(0.2);
    expect(steps.acc[29].epoch).toBe(3);
    expect(lib.metrics.series(run.id, 'epoch').bad[1].value).toBeNull(); // NaN stored as NULL
    expect(lib.metrics.lastEpoch(run.id)).toEqual({ epoch: 3, values: { loss: 1 / 3, val_acc: 0.8, bad: 1 } });
    lib.models.add(run.id, { kind: 'checkpoint', path: '/runs/1/epoch-1', epoch: 1, metrics: { val_acc: 0.6 } });
    lib.models.add(run.id, { kind: 'checkpoint', path: '/runs/1/epoch-2', epoch: 2, metrics: { val_acc: 0.7 } });
    lib.models.add(run.id, { kind: 'final', path: '/runs/1/final', epoch: 3, metrics: { val_acc: 0.65 } });
    expect(lib.models.best(run.id, 'val_acc')!.path).toBe('/runs/1/epoch-2');
    const ended = lib.runs.end(run.id, 'finished');
    expect(ended.status).toBe('finished');
    expect(ended.endedAt).toBeGreaterThanOrEqual(ended.startedAt);
    expect(() => lib.runs.end(run.id, 'failed', 'late')).toThrow(expect.objectContaining({ code: 'BAD_RUN_STATUS' }));
    const back = lib.runs.summary(run.id);
    expect(back).toMatchObject({ config, preprocessing, classes: ['ants', 'bees'], weightsSource: 'imagenet:bvlc', backend: 'cpu', datasetName: 'd', epochs: 3, steps: 30 });
    expect(back.bestValAcc).toBeCloseTo(0.8);
    const failed = lib.runs.create({ name: 'oops' });
    lib.runs.end(failed.id, 'failed', 'out of memory');
    expect(lib.runs.list().map((r) => [r.name, r.status, r.error])).toEqual([
      ['oops', 'failed', 'out of memory'],
      ['first', 'finished', null],
    ]);
    expect(() => lib.runs.get(999)).toThrow(expect.objectContaining({ code: 'RUN_NOT_FOUND' }));
  });
});

describe('crash safety', () => {
  it('a writer killed with SIGKILL mid-run leaves a valid database, its run interrupted and every committed metric', async () => {
    const file = path.join(dir, 'crash.sqlite');
    openLibrary(file).close(); // created and migrated before the child starts
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test/db/fixtures/metrics-writer.ts'), file], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let committed = 0;
    let runId = 0;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`child wrote too little: ${buf} ${stderr}`)), 60_000);
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const run = /run (\d+)/.exec(buf);
        if (run) runId = Number(run[1]);
        const all = [...buf.matchAll(/committed (\d+)/g)];
        if (all.length) committed = Number(all[all.length - 1][1]);
        if (committed >= 2000) {
          clearTimeout(timer);
          child.kill('SIGKILL'); // mid-loop: a batch is being built or written right now
          resolve();
        }
      });
    });
    expect(await exited).toBe('SIGKILL');

    const after = openLibrary(file);
    try {
      expect(after.db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(after.recoveredRuns).toEqual([runId]);
      const run = after.runs.get(runId);
      expect(run.status).toBe('interrupted');
      expect(run.error).toMatch(/killed or crashed/);
      expect(run.endedAt).not.toBeNull();
      const rows = after.metrics.count(runId);
      expect(rows).toBeGreaterThanOrEqual(committed); // nothing the child saw committed is lost
      expect(rows % 40).toBe(0); // and only whole batches: no half-written transaction
      // contiguous steps 1..n: the batches that made it are complete
      const loss = after.metrics.series(runId, 'step').loss;
      expect(loss.map((r) => r.idx)).toEqual(Array.from({ length: loss.length }, (_, i) => i + 1));
    } finally {
      after.close();
    }
    // a second open finds nothing more to recover
    const again = openLibrary(file);
    expect(again.recoveredRuns).toEqual([]);
    again.close();
  });

  it('leaves alone a run that a live process is still running', () => {
    const run = lib.runs.create({ name: 'alive' }); // this very process
    expect(lib.runs.recoverInterrupted()).not.toContain(run.id);
    expect(lib.runs.get(run.id).status).toBe('running');
    lib.runs.end(run.id, 'cancelled');
  });
});
