// cluster:export and cluster:import as the app's long jobs: cluster:progress (each phase from 0 to its
// total, with an ETA), one at a time (BUSY), and cluster:cancel, after which no half job folder and
// no half run is left. No Python needed: the result folder comes from our own engine's ONNX export
// of a tiny run (test/helpers/cluster-result.ts); test/main/app/cluster.test.ts runs the real job.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Events } from '../../../preload/contract';
import { engineResult } from '../../helpers/cluster-result';
import { harness, importDataset, photoFolder, repoRoot, tempDir, type Harness } from '../../helpers/app';

let h: Harness;
let folder: string;
let ds: number;
let runId: number;
const tmp = tempDir('alexnet-cluster-progress-');

const progress = (job: 'export' | 'import') => h.events.filter((e) => e.name === 'cluster:progress').map((e) => e.payload as Events['cluster:progress']).filter((p) => p.job === job);

beforeAll(async () => {
  h = harness();
  folder = photoFolder(10);
  ds = await importDataset(h, folder);
  const run = await h.ok('runs:start', { datasetId: ds, name: 'tiny', settings: { recipe: 'scratch', architecture: 'tiny', epochs: 1, batchSize: 8, valFraction: 0.25, augment: false } });
  runId = run.id;
  const end = await h.next('run:status', (e) => e.runId === runId && e.phase === 'done', 120_000);
  expect(end.status).toBe('finished');
}, 180_000);

afterAll(async () => {
  await h.close();
  fs.rmSync(folder, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('cluster export and import: progress with an ETA, and cancel', () => {
  it('reports the export phase by phase, each from 0 to its total, with an ETA once under way', async () => {
    const out = fs.mkdtempSync(path.join(tmp, 'export-'));
    const info = await h.ok('cluster:export', { datasetId: ds, folder: out, settings: { recipe: 'scratch', epochs: 1 } });
    expect(fs.existsSync(path.join(info.folder, 'train.py'))).toBe(true);
    const p = progress('export');
    expect([...new Set(p.map((e) => e.phase))]).toEqual(['pca', 'shards']);
    for (const phase of ['pca', 'shards'] as const) {
      const q = p.filter((e) => e.phase === phase);
      expect(q[0]).toMatchObject({ datasetId: ds, done: 0, etaSeconds: null });
      expect(q.at(-1)).toMatchObject({ done: q[0].total, etaSeconds: 0 });
      expect(q.map((e) => e.done)).toEqual(q.map((e) => e.done).sort((a, b) => a - b));
    }
    expect(p.filter((e) => e.phase === 'shards')[0].total).toBe(info.train + info.val);
  });

  it('refuses what the job would silently drop: the tiny network, the paper switches changed', async () => {
    const out = fs.mkdtempSync(path.join(tmp, 'refused-'));
    const tiny = await h.call('cluster:export', { datasetId: ds, folder: out, settings: { recipe: 'scratch', architecture: 'tiny' } });
    expect(tiny.ok ? null : tiny.error).toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('full AlexNet') });
    const tanh = await h.call('cluster:export', { datasetId: ds, folder: out, settings: { recipe: 'scratch', activation: 'tanh', lrn: false } });
    expect(tanh.ok ? null : tanh.error).toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('activation, lrn') });
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('cancels an export: CANCELLED, no job folder left, and a second job meanwhile is BUSY', async () => {
    const out = fs.mkdtempSync(path.join(tmp, 'cancelled-'));
    const started = h.next('cluster:progress', (e) => e.job === 'export' && e.phase === 'pca' && e.done === 0);
    const reply = h.call('cluster:export', { datasetId: ds, folder: out, settings: { recipe: 'scratch' } });
    await started;
    const busy = await h.call('cluster:import', { datasetId: ds, folder: out });
    expect(busy.ok ? null : busy.error.code).toBe('BUSY');
    expect(await h.ok('cluster:cancel', {})).toEqual({ cancelled: true });
    const r = await reply;
    expect(r.ok ? null : r.error).toEqual({ code: 'CANCELLED', message: 'cluster export cancelled' });
    expect(fs.readdirSync(out)).toEqual([]);
    expect(await h.ok('cluster:cancel', {})).toEqual({ cancelled: false }); // nothing at work now
  });

  it('cancels an export while it writes the shards (the process stays responsive): no job folder', async () => {
    const out = fs.mkdtempSync(path.join(tmp, 'cancelled-shards-'));
    const writing = h.next('cluster:progress', (e) => e.job === 'export' && e.phase === 'shards' && e.done === 0);
    const reply = h.call('cluster:export', { datasetId: ds, folder: out, settings: { recipe: 'scratch' } });
    await writing;
    expect(await h.ok('cluster:cancel', {})).toEqual({ cancelled: true });
    const r = await reply;
    expect(r.ok ? null : r.error.code).toBe('CANCELLED');
    expect(progress('export').filter((e) => e.phase === 'shards').at(-1)!.done).toBeLessThan(20);
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('`alexnet cluster export` stops on Ctrl-C: a one-line error and no job folder', async () => {
    const job = path.join(tmp, 'cli-job');
    const cli = spawn(path.join(repoRoot, 'bin/alexnet'), ['cluster', 'export', '--dataset', 'hym', '--out', job, '--recipe', 'full', '--db', path.join(h.dataDir, 'library.sqlite')], { env: { ...process.env, ALEXNET_HOME: h.dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    cli.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/^pca \[/m.test(stderr)) cli.kill('SIGINT'); // the progress bar is drawn: the export is at work
    });
    const code = await new Promise<number | null>((resolve) => cli.once('close', resolve));
    expect(stderr).toMatch(/^pca \[.*ETA/m);
    expect(stderr.trim().split('\n').at(-1)).toBe('alexnet: cluster export cancelled');
    expect(code).not.toBe(0);
    expect(fs.existsSync(job)).toBe(false);
  }, 60_000);

  it('imports a result with the model read, then every photo predicted, and cancels one leaving no run', async () => {
    const result = await engineResult(h.ok.bind(h), runId, fs.mkdtempSync(path.join(tmp, 'result-')));
    const before = (await h.ok('runs:list', {})).map((r) => r.id);
    const runsDir = path.join(h.dataDir, 'runs');
    const dirsBefore = fs.readdirSync(runsDir).sort();

    const predicting = h.next('cluster:progress', (e) => e.job === 'import' && e.phase === 'predicting' && e.done === 0);
    const reply = h.call('cluster:import', { datasetId: ds, folder: result });
    await predicting;
    expect(await h.ok('cluster:cancel', {})).toEqual({ cancelled: true });
    const r = await reply;
    expect(r.ok ? null : r.error.code).toBe('CANCELLED');
    expect((await h.ok('runs:list', {})).map((x) => x.id)).toEqual(before);
    expect(fs.readdirSync(runsDir).sort()).toEqual(dirsBefore);

    h.events.length = 0;
    const done = await h.ok('cluster:import', { datasetId: ds, folder: result });
    expect(done.predicted).toBe(20);
    const p = progress('import');
    expect([...new Set(p.map((e) => e.phase))]).toEqual(['model', 'predicting']);
    expect(p.at(-1)).toMatchObject({ phase: 'predicting', done: 20, total: 20, etaSeconds: 0 });
    expect((await h.ok('runs:get', { runId: done.run.id })).status).toBe('finished');
  }, 120_000);
});
