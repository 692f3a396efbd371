// Train on a cluster from the Train screen, in real Chromium against the real browser-mode backend:
// "Train on a cluster..." writes a job folder for a handful of photos (checked on disk: shards,
// labels.json, preprocessing.json, train.py); the job's result/ folder comes from running train.py
// for real when Python with torch is there (test/helpers/torch-python.ts), else from our own
// engine's ONNX export of a tiny run (test/helpers/cluster-result.ts), and the test says which;
// "Import cluster result..." then shows its progress with an ETA, is cancelled (no run is left), and
// imported again to the end as a run. Screenshots of the cluster panel under test-results/screens/.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineResult } from '../helpers/cluster-result';
import { torchPython } from '../helpers/torch-python';
import { openApp, screenshot, screensDir, type App, type Server } from './harness';

const PER_CLASS = 4; // ants/ and bees/: 8 photos, 6 to train on and 2 to validate (valFraction 0.25)

let app: App;
let server: Server;
let page: Page;
let folder: string;
let datasetId: number;
let job: string;
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-e2e-cluster-'));

/** A process to its end: exit status and everything it printed. */
function run(cmd: string, args: string[], cwd: string): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, OMP_NUM_THREADS: '2' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.once('error', reject);
    p.once('close', (status) => resolve({ status, out }));
  });
}

const nav = (name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name });
const panel = () => page.getByRole('region', { name: 'Cluster' });
const toast = (text: RegExp) => page.locator('.toasts').getByText(text);

beforeAll(async () => {
  app = await openApp({ photos: { perClass: PER_CLASS, loose: 0 }, viewport: { width: 1280, height: 900 } });
  ({ server, page, folder } = app);
});

afterAll(async () => {
  await app?.close();
  fs.rmSync(out, { recursive: true, force: true });
});

describe('Train on a cluster, in Chromium', () => {
  it('writes the job folder from the Train screen: shards, labels.json, preprocessing.json, train.py', async () => {
    // the state to start from, through the backend: a dataset labeled by folder
    datasetId = (await server.call('import:start', { folder, datasetName: 'hym' })).datasetId;
    await expect.poll(async () => (await server.call('datasets:list', {}))[0]?.photoCount ?? 0, { timeout: 60_000 }).toBe(2 * PER_CLASS);
    await page.reload();
    await nav('Train').click();
    const train = page.getByRole('region', { name: 'Train' });
    await page.locator('details.advanced > summary').click();
    await train.getByLabel('Model').selectOption('scratch'); // from the paper's initialisation: no ImageNet weights needed
    await train.getByLabel('Epochs', { exact: true }).fill('1');
    await train.getByLabel('Batch size').fill('4');
    await panel().getByLabel('Cluster folder').fill(out);
    await panel().getByRole('button', { name: 'Train on a cluster…' }).click();
    await toast(/Cluster job written: 6 \+ 2 photos in 2 shards/).waitFor({ timeout: 60_000 });

    const made = fs.readdirSync(out);
    expect(made).toHaveLength(1);
    job = path.join(out, made[0]);
    expect(made[0]).toMatch(/^alexnet-job-hym-/);
    expect(fs.readdirSync(path.join(job, 'shards')).sort()).toEqual(['train-000000.tar', 'val-000000.tar']);
    for (const f of ['job.json', 'train.py', 'alexnet.py', 'ray_train.py', 'README.md']) expect(fs.statSync(path.join(job, f)).size, f).toBeGreaterThan(0);
    expect(JSON.parse(fs.readFileSync(path.join(job, 'labels.json'), 'utf8'))).toEqual(['ants', 'bees']);
    const prep = JSON.parse(fs.readFileSync(path.join(job, 'preprocessing.json'), 'utf8')) as { resize: number; crop: number; channelOrder: string; pca: unknown };
    expect(prep).toMatchObject({ resize: 256, crop: 227 });
    expect(prep.pca).toBeTruthy();
    const j = JSON.parse(fs.readFileSync(path.join(job, 'job.json'), 'utf8')) as { recipe: string; from: string; settings: { epochs: number; batchSize: number } };
    expect(j).toMatchObject({ recipe: 'full', from: 'none', settings: { epochs: 1, batchSize: 4 } });
    // a train shard holds the original bytes of its photos, as they are in the library
    const tar = fs.readFileSync(path.join(job, 'shards', 'train-000000.tar'));
    const held = fs.readdirSync(path.join(folder, 'ants')).filter((f) => tar.includes(fs.readFileSync(path.join(folder, 'ants', f))));
    expect(held.length).toBeGreaterThan(0);
    expect(app.problems).toEqual([]); // what the page must never show (harness watchProblems)
  });

  it('imports the result with progress and an ETA, cancels it leaving no run, then imports it as a run', async () => {
    const py = torchPython();
    let result: string;
    if (py) {
      console.log('cluster e2e: the result comes from train.py run for real (torchrun, 1 process, CPU)');
      // asynchronously: a blocked event loop would leave the harness's HTTP connection stale
      const r = await run(py, ['-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', '1', 'train.py', '--workers', '0', '--threads', '2'], job);
      expect(r.status, r.out).toBe(0);
      result = path.join(job, 'result');
    } else {
      console.log("cluster e2e: no Python with torch; the result comes from our engine's ONNX export of a tiny run");
      const run = await server.call('runs:start', { datasetId, settings: { recipe: 'scratch', architecture: 'tiny', epochs: 1, batchSize: 4, valFraction: 0.25, augment: false } });
      await expect.poll(async () => (await server.call('runs:get', { runId: run.id })).status, { timeout: 120_000 }).toBe('finished');
      result = await engineResult(server.call.bind(server), run.id, fs.mkdtempSync(path.join(out, 'engine-')));
    }
    for (const f of ['model.onnx', 'metrics.jsonl', 'labels.json', 'job.json', 'preprocessing.json']) expect(fs.existsSync(path.join(result, f)), f).toBe(true);
    const runsBefore = await server.call('runs:list', { datasetId });
    const runDirs = () => (fs.existsSync(path.join(server.dataDir, 'runs')) ? fs.readdirSync(path.join(server.dataDir, 'runs')).sort() : []);
    const dirsBefore = runDirs();

    // started, seen at work, cancelled: a toast says so, and no run or run folder is left
    await panel().getByLabel('Cluster folder').fill(result);
    await panel().getByRole('button', { name: 'Import cluster result…' }).click();
    const progress = panel().getByRole('status', { name: 'Cluster progress' });
    await progress.getByText(/Predicting every photo with our engine: 0 of 8/).waitFor({ timeout: 60_000 });
    expect(await panel().getByRole('progressbar', { name: 'Cluster import' }).count()).toBe(1);
    expect(await panel().getByRole('button', { name: 'Import cluster result…' }).isDisabled()).toBe(true);
    fs.mkdirSync(screensDir, { recursive: true });
    await panel().screenshot({ path: path.join(screensDir, 'cluster-1-importing.png') });
    await progress.getByRole('button', { name: 'Cancel' }).click();
    await toast(/Cluster import cancelled/).waitFor({ timeout: 60_000 });
    await progress.waitFor({ state: 'detached' });
    expect(await server.call('runs:list', { datasetId })).toEqual(runsBefore);
    expect(runDirs()).toEqual(dirsBefore);

    // again, to the end: one more run of the library, its photos predicted by our engine
    await panel().getByRole('button', { name: 'Import cluster result…' }).click();
    await toast(/Imported as run \d+/).waitFor({ timeout: 120_000 });
    const runs = await server.call('runs:list', { datasetId });
    expect(runs).toHaveLength(runsBefore.length + 1);
    const imported = runs.find((r) => !runsBefore.some((b) => b.id === r.id))!;
    expect(imported.status).toBe('finished');
    expect(imported.classes).toEqual(['ants', 'bees']);
    expect(runDirs()).toHaveLength(dirsBefore.length + 1); // its model, where the cancelled one left nothing
    expect((await server.call('runs:get', { runId: imported.id })).predictions).toBe(2 * PER_CLASS);
    expect((await server.call('runs:evaluation', { runId: imported.id })).n).toBeGreaterThan(0);
    await panel().screenshot({ path: path.join(screensDir, 'cluster-2-imported.png') });
    await screenshot(page, 'cluster-3-train-screen');
    expect(app.problems).toEqual([]); // what the page must never show (harness watchProblems)
  });
});
