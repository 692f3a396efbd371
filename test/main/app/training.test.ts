// The training host with real worker processes (tsx under Node) and a TINY AlexNet trained from
// scratch on real photos: a run starts, progress arrives throttled while every step's metrics and
// every epoch reach the library, the finished model predicts the dataset (evaluation, suggestions,
// accept, classify, export); cancel leaves the last epoch's checkpoint; a worker killed with
// SIGKILL becomes a failed run with an error; one run at a time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNativeBinding } from '../../../ml/backend';
import { probeBackend } from '../../../main/app/context';
import type { RunSettings } from '../../../preload/contract';
import { harness, hymenoptera, importDataset, photoFolder, tempDir, type Harness } from '../../helpers/app';

const INTERVAL = 200; // run:progress at most every 200 ms
const TINY: RunSettings = { recipe: 'scratch', architecture: 'tiny', batchSize: 2, valFraction: 0.25, augment: false, lr: 0.01 };

let h: Harness;
let folder: string;
let ds: number;

beforeAll(async () => {
  h = harness({ progressIntervalMs: INTERVAL, cancelGraceMs: 20_000 });
  folder = photoFolder(8); // 8 ants + 8 bees: 6 train + 2 val each
  ds = await importDataset(h, folder);
});

afterAll(async () => {
  await h.close();
  fs.rmSync(folder, { recursive: true, force: true });
});

describe('a run to the end', () => {
  let runId: number;

  it('probes the compute backend in a worker and announces it', async () => {
    expect((await h.ok('app:info', {})).backend).toBeNull();
    const b = await probeBackend(h.ctx);
    expect(b?.name).toBe(process.env.ALEXNET_BACKEND ?? 'wasm');
    expect((await h.ok('app:info', {})).backend).toEqual(b);
    expect(h.events.filter((e) => e.name === 'app:backend').map((e) => e.payload)).toEqual([b]);
  }, 60_000);

  let started: number;
  let ended: number;

  it('trains in a worker: throttled progress, every epoch, every step in the library, predictions after', async () => {
    started = Date.now();
    const run = await h.ok('runs:start', { datasetId: ds, name: 'tiny', settings: { ...TINY, epochs: 2 } });
    runId = run.id;
    expect(run).toMatchObject({ status: 'running', name: 'tiny', classes: ['ants', 'bees'], trainCount: 12, valCount: 4 });
    expect((await h.ok('app:info', {})).runningRunId).toBe(runId);
    const end = await h.next('run:status', (e) => e.runId === runId && e.phase === 'done', 110_000);
    ended = Date.now();
    expect(end.error).toBeNull();
    expect(end.status).toBe('finished');

    const epochs = h.events.filter((e) => e.name === 'run:epoch').map((e) => e.payload as { runId: number; epoch: number; valAcc: number });
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2]);
    const progress = h.events.filter((e) => e.name === 'run:progress' && (e.payload as { runId: number }).runId === runId);
    expect(progress.length).toBeGreaterThan(0);
    // 12 photos / batch 2 = 6 steps an epoch, 12 in all; events are throttled, metrics are not
    const steps = await h.ok('runs:metrics', { runId });
    expect(steps.step.loss.idx).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(steps.epoch.val_acc.idx).toEqual([1, 2]);
    expect(steps.epoch.val_acc.value).toEqual(epochs.map((e) => e.valAcc));
    // no two progress events closer than the interval, except the epoch's last step, which is sent
    // at once, just before its run:epoch
    const window = ended - started;
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(window / INTERVAL) + 2 * 2);
    const mine = h.events.filter((e) => (e.name === 'run:progress' || e.name === 'run:epoch') && (e.payload as { runId: number }).runId === runId);
    for (let i = 1; i < mine.length; i++) {
      const [a, b] = [mine[i - 1], mine[i]];
      const epochNext = mine[i + 1]?.name === 'run:epoch';
      if (a.name === 'run:progress' && b.name === 'run:progress' && !epochNext) expect(b.at - a.at).toBeGreaterThanOrEqual(INTERVAL - 20);
    }

    const detail = await h.ok('runs:get', { runId });
    expect(detail.status).toBe('finished');
    expect(detail.backend).toBeTruthy();
    expect(detail.epochs).toBe(2);
    expect(detail.predictions).toBe(16); // every photo of the dataset predicted
    expect(detail.models.map((m) => m.kind).sort()).toEqual(['checkpoint', 'final']);
    expect(detail.models.every((m) => fs.existsSync(path.join(m.path, 'model.json')))).toBe(true);
    expect((await h.ok('app:info', {})).backend?.name).toBe(detail.backend);
    const announced = h.events.filter((e) => e.name === 'app:backend').map((e) => (e.payload as { name: string }).name);
    expect(announced).toEqual([detail.backend]); // once: later workers load the same one
  }, 120_000);

  it('runs:list and runs:evaluation: a confusion matrix over the validation photos whose cells open their photos', async () => {
    const runs = await h.ok('runs:list', { datasetId: ds });
    expect(runs.map((r) => r.id)).toContain(runId);
    const ev = await h.ok('runs:evaluation', { runId });
    expect(ev.classes.map((c) => c.name)).toEqual(['ants', 'bees']);
    expect(ev.n).toBe(4);
    expect(ev.matrix.flat().reduce((a, b) => a + b, 0)).toBe(4);
    expect(ev.perClass.map((c) => c.support)).toEqual([2, 2]);
    const wrong = ev.matrix[0][1] + ev.matrix[1][0];
    expect(ev.mostWrong).toHaveLength(wrong);
    // a cell's photos: the same filter through photos:list
    const [ants, bees] = ev.classes;
    const cell = await h.ok('photos:list', { datasetId: ds, runId, classIds: [ants.id], predictedClassId: bees.id, subset: { runId, subset: 'val' } });
    expect(cell.total).toBe(ev.matrix[0][1]);
    const all = await h.ok('runs:evaluation', { runId, subset: 'all' });
    expect(all.n).toBe(16);
  });

  it('suggestions, accept, classify:files and export use the run', async () => {
    const [ants] = await h.ok('classes:list', { datasetId: ds });
    const some = (await h.ok('photos:list', { datasetId: ds, classIds: [ants.id], limit: 3 })).items.map((p) => p.id);
    await h.ok('labels:set', { datasetId: ds, photoIds: some, classId: null });
    const sugg = await h.ok('suggestions:list', { datasetId: ds });
    expect(sugg.items.map((p) => p.id).sort()).toEqual([...some].sort());
    const ps = sugg.items.map((p) => p.p!);
    expect(ps).toEqual([...ps].sort((a, b) => a - b)); // least confident first
    const acc = await h.ok('labels:accept', { datasetId: ds, runId, photoIds: some });
    expect(acc.action).toMatchObject({ kind: 'accept', changed: 3 });
    expect(acc.counts.unlabeled).toBe(0);

    const valAnts = path.join(hymenoptera, 'val', 'ants');
    const files = fs.readdirSync(valAnts).sort().slice(0, 2).map((f) => path.join(valAnts, f));
    const bogus = path.join(os.tmpdir(), `not-an-image-${process.pid}.jpg`);
    fs.writeFileSync(bogus, 'nope');
    const cls = await h.ok('classify:files', { runId, files: [...files, bogus], topK: 2 });
    expect(cls.results).toHaveLength(3);
    for (const r of cls.results.slice(0, 2)) {
      expect('predictions' in r).toBe(true);
      if (!('predictions' in r)) continue;
      expect(r.predictions.map((p) => p.label).sort()).toEqual(['ants', 'bees']);
      expect(r.predictions[0].p + r.predictions[1].p).toBeCloseTo(1, 4);
      expect(r.predictions.every((p) => p.classId !== null)).toBe(true);
    }
    expect('error' in cls.results[2] && cls.results[2].error.code).toBe('BAD_IMAGE');
    fs.rmSync(bogus);

    const out = tempDir('alexnet-export-');
    const onnx = await h.ok('models:export', { runId, format: 'onnx', folder: out });
    expect(onnx.files).toContain('model.onnx');
    expect(fs.statSync(path.join(onnx.folder, 'model.onnx')).size).toBe(onnx.bytes);
    const ckpt = await h.ok('models:export', { runId, format: 'checkpoint', folder: out });
    expect(ckpt.files).toContain('model.json');
    const again = await h.call('models:export', { runId, format: 'checkpoint', folder: out });
    expect(again.ok ? null : again.error.code).toBe('CONFLICT');
    fs.rmSync(out, { recursive: true, force: true });
  }, 60_000);
});

describe('cancel, crash, one at a time', () => {
  it('cancel stops the run after its current step; the last finished epoch checkpoint stays', async () => {
    const run = await h.ok('runs:start', { datasetId: ds, settings: { ...TINY, epochs: 200 } });
    const busy = await h.call('runs:start', { datasetId: ds, settings: TINY });
    expect(busy.ok ? null : busy.error.code).toBe('BUSY');
    const del = await h.call('runs:delete', { runId: run.id });
    expect(del.ok ? null : del.error.code).toBe('BUSY');
    await h.next('run:epoch', (e) => e.runId === run.id, 60_000);
    expect(await h.ok('runs:cancel', { runId: run.id })).toEqual({ cancelled: true });
    const end = await h.next('run:status', (e) => e.runId === run.id && e.phase === 'done', 60_000);
    expect(end.status).toBe('cancelled');
    const detail = await h.ok('runs:get', { runId: run.id });
    expect(detail.status).toBe('cancelled');
    expect(detail.epochs).toBeGreaterThanOrEqual(1);
    expect(detail.epochs).toBeLessThan(200);
    const last = detail.models.find((m) => m.kind === 'checkpoint');
    expect(last && fs.existsSync(path.join(last.path, 'model.json'))).toBe(true);
    // the epoch last.ckpt holds (a cancelled run's may be older than its last finished epoch)
    expect(last?.epoch).toBe((JSON.parse(fs.readFileSync(path.join(last?.path ?? '', 'model.json'), 'utf8')) as { epoch: number }).epoch);
    expect(await h.ok('runs:cancel', { runId: run.id })).toEqual({ cancelled: false });
  }, 90_000);

  it('a worker killed with SIGKILL ends the run as failed, with an error, and frees the host', async () => {
    const run = await h.ok('runs:start', { datasetId: ds, settings: { ...TINY, epochs: 200 } });
    await h.next('run:progress', (e) => e.runId === run.id, 60_000);
    const pid = h.ctx.training.workerPid!;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    const end = await h.next('run:status', (e) => e.runId === run.id && e.phase === 'done', 30_000);
    expect(end.status).toBe('failed');
    expect(end.error?.message).toMatch(/stopped unexpectedly.*SIGKILL/);
    const detail = await h.ok('runs:get', { runId: run.id });
    expect(detail.status).toBe('failed');
    expect(detail.error).toMatch(/SIGKILL/);
    expect((await h.ok('app:info', {})).runningRunId).toBeNull();
    // the host takes the next run; delete removes a run and its folder
    await h.ok('runs:delete', { runId: run.id });
    const gone = await h.call('runs:get', { runId: run.id });
    expect(gone.ok ? null : gone.error.code).toBe('NOT_FOUND');
  }, 90_000);

  it('a dataset with a class of one photo is refused with a clear message, and no run is created', async () => {
    const small = await h.ok('datasets:create', { name: 'small' });
    const a = await h.ok('classes:create', { datasetId: small.id, name: 'wasps' });
    const b = await h.ok('classes:create', { datasetId: small.id, name: 'moths' });
    const files = fs.readdirSync(path.join(folder, 'ants')).sort().slice(0, 5).map((f) => path.join(folder, 'ants', f));
    await h.ok('photos:add', { datasetId: small.id, files: files.slice(0, 4), classId: a.id });
    await h.ok('photos:add', { datasetId: small.id, files: files.slice(4), classId: b.id });
    const before = (await h.ok('runs:list', {})).length;
    const r = await h.call('runs:start', { datasetId: small.id, settings: TINY });
    expect(r.ok ? null : r.error).toEqual({ code: 'TOO_FEW_IMAGES', message: 'class "moths" has 1 labeled photo: label at least 2 so that some train and some validate' });
    expect((await h.ok('runs:list', {})).length).toBe(before);
    const noWeights = await h.call('runs:start', { datasetId: ds });
    expect(noWeights.ok ? null : noWeights.error.code).toBe('NO_WEIGHTS');
  });
});

describe('the backend setting', () => {
  it('a run computes on the backend its settings name; one that cannot load fails the run with the reason', async () => {
    const run = await h.ok('runs:start', { datasetId: ds, settings: { ...TINY, epochs: 1, backend: 'cpu' } });
    const end = await h.next('run:status', (e) => e.runId === run.id && e.phase === 'done', 110_000);
    expect(end.error).toBeNull();
    expect((await h.ok('runs:get', { runId: run.id })).backend).toBe('cpu');
    expect((await h.ok('runs:get', { runId: run.id })).settings.backend).toBe('cpu');
    if (findNativeBinding('@tensorflow/tfjs-node-gpu') !== null) return; // nothing to refuse on this machine
    const gpu = await h.ok('runs:start', { datasetId: ds, settings: { ...TINY, epochs: 1, backend: 'tensorflow-gpu' } });
    const failed = await h.next('run:status', (e) => e.runId === gpu.id && e.phase === 'done', 110_000);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(/tensorflow-gpu/) });
  }, 120_000);
});
