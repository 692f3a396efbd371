// Training a library on a cluster for real, on this machine: hymenoptera's training photos in a
// library, a tiny run trained locally, the library exported as a job starting from that run
// (transfer recipe), `torchrun --nproc-per-node 2` (gloo, CPU) training it, stopped after one epoch
// as a preempted job would be and resumed from its checkpoint, the result imported as a run. Then:
// each rank read its own shards; the run has every epoch's metrics, a confusion matrix and
// most-wrong photos from our engine; our engine and PyTorch give the imported model the same top-1
// for every validation photo. Needs Python with torch (test/helpers/torch-python.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportClusterJob } from '../../../main/app/cluster';
import { initBackend } from '../../../ml/backend';
import { loadModel } from '../../../ml/checkpoint';
import { disposeParams, forward } from '../../../ml/model';
import { centerView, loadImage, toInput } from '../../../ml/preprocess';
import { harness, importDataset, photoFolder, repoRoot, tempDir, type Harness } from '../../helpers/app';
import { torchPython } from '../../helpers/torch-python';

const py = torchPython();
const P_TOLERANCE = 1e-4; // |p_ours - p_torch| on the same preprocessed input, every class of every photo
const JOB_P_TOLERANCE = 0.02; // the same, each side decoding the photo itself (sharp vs Pillow)

let h: Harness;
let folder: string;
let ds: number;
let job: string;
let baseRun: number;
const tmp = tempDir('alexnet-cluster-');

function torchrun(args: string[]): { out: string; status: number | null } {
  const r = spawnSync(py!, ['-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', '2', 'train.py', '--workers', '0', '--threads', '1', ...args], {
    cwd: job,
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
    timeout: 240_000,
  });
  return { out: `${r.stdout}\n${r.stderr}`, status: r.status };
}

beforeAll(async () => {
  if (!py) return;
  h = harness();
  folder = photoFolder(1000); // every training photo of hymenoptera: 124 ants, 121 bees (one a duplicate)
  ds = await importDataset(h, folder);
  const run = await h.ok('runs:start', { datasetId: ds, name: 'local tiny', settings: { recipe: 'scratch', architecture: 'tiny', epochs: 1, batchSize: 16, valFraction: 0.25, augment: false, lr: 0.01 } });
  baseRun = run.id;
  const end = await h.next('run:status', (e) => e.runId === baseRun && e.phase === 'done', 240_000);
  expect(end.status).toBe('finished');
}, 300_000);

afterAll(async () => {
  if (!py) return;
  await h.close();
  fs.rmSync(folder, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!py)('a library trained with torchrun (2 processes, gloo, CPU) and brought back', () => {
  it('refuses malformed requests with BAD_INPUT naming the field', async () => {
    for (const [channel, req, field] of [
      ['cluster:export', { datasetId: ds, folder: 'relative/job' }, 'request.folder'],
      ['cluster:export', { datasetId: ds, folder: tmp, shardSize: 0 }, 'request.shardSize'],
      ['cluster:import', { datasetId: ds, folder: tmp, extra: 1 }, 'request.extra'],
    ] as const) {
      const r = await h.raw(channel, req);
      expect(r.ok ? null : r.error.code).toBe('BAD_INPUT');
      expect(r.ok ? '' : r.error.message.split(' ')[0]).toBe(field);
    }
  });

  it('exports a self-contained job folder from the library and a run (cluster:export, as the app)', async () => {
    const info = await h.ok('cluster:export', { datasetId: ds, folder: tmp, fromRunId: baseRun, shardSize: 32, settings: { recipe: 'finetune', headEpochs: 1, fineTuneEpochs: 1, batchSize: 16 } });
    job = info.folder;
    const files: string[] = [];
    const walk = (d: string, rel = ''): void => fs.readdirSync(path.join(d, rel), { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(d, path.join(rel, e.name)) : files.push(path.join(rel, e.name))));
    walk(job);
    const r = { ...info, files, classes: JSON.parse(fs.readFileSync(path.join(job, 'labels.json'), 'utf8')) as string[] };
    expect(r.classes).toEqual(['ants', 'bees']);
    const ok = h.lib.photos.all(ds).filter((p) => p.status === 'ok').length; // 244: hymenoptera has one duplicate
    expect(r.train + r.val).toBe(ok);
    expect(r.shards.train).toBe(Math.ceil(r.train / 32));
    for (const f of ['job.json', 'labels.json', 'preprocessing.json', 'weights/start.safetensors', 'alexnet.py', 'train.py', 'ray_train.py', 'README.md', 'shards/train-000000.tar', 'shards/val-000000.tar'])
      expect(r.files).toContain(f);
    const prep = JSON.parse(fs.readFileSync(path.join(job, 'preprocessing.json'), 'utf8'));
    expect(prep).toMatchObject({ resize: 112, crop: 99, layout: 'NCHW', augment: { pcaStd: 0.1 } });
    expect(prep.pca.eigenvalues).toHaveLength(3);
    const readme = fs.readFileSync(path.join(job, 'README.md'), 'utf8');
    expect(readme).toMatch(/torchrun --nnodes N --nproc-per-node G/);
    expect(readme).toMatch(/#SBATCH/);
    expect(readme).toMatch(/ray_train\.py/);
    // the shards hold the photos' original bytes
    const tar = fs.readFileSync(path.join(job, 'shards/val-000000.tar'));
    const first = tar.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const photo = h.lib.photos.get(Number(first.slice(1, first.indexOf('.'))));
    const bytes = fs.readFileSync(photo.path);
    expect(tar.subarray(512, 512 + bytes.length).equals(bytes)).toBe(true);
    // a second export into the same folder is refused, and the folder is left as it was
    await expect(exportClusterJob(h.lib, h.dataDir, { dataset: 'hym', out: job, from: String(baseRun) })).rejects.toThrow(/not empty/);
    expect(fs.readdirSync(job).sort()).toEqual(['README.md', 'alexnet.py', 'job.json', 'labels.json', 'preprocessing.json', 'ray_train.py', 'shards', 'train.py', 'weights']);
  }, 120_000);

  it('alexnet cluster export writes the same job from the command line; bad options get one line', () => {
    const cli = (args: string[]) => spawnSync(path.join(repoRoot, 'bin/alexnet'), ['cluster', ...args, '--db', path.join(h.dataDir, 'library.sqlite')], { encoding: 'utf8', env: { ...process.env, ALEXNET_HOME: h.dataDir } });
    const out = path.join(tmp, 'cli-job');
    const r = cli(['export', '--dataset', 'hym', '--out', out, '--from', String(baseRun), '--shard-size', '64', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout) as { train: number; val: number; shards: { train: number } };
    expect(res.shards.train).toBe(Math.ceil(res.train / 64));
    const split = (dir: string) => (({ dataset, classCounts }) => ({ dataset, classCounts }))(JSON.parse(fs.readFileSync(path.join(dir, 'job.json'), 'utf8')));
    expect(split(out)).toEqual(split(job)); // the library's own split, both ways
    const bad = cli(['export', '--dataset', 'hym', '--out', path.join(tmp, 'x'), '--recipe', 'bogus']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toEqual(["alexnet: --recipe must be transfer or full, got 'bogus'"]);
    const none = cli(['import', path.join(tmp, 'nope'), '--dataset', 'hym']);
    expect(none.status).toBe(1);
    expect(none.stderr.trim().split('\n')).toEqual([`alexnet: result folder not found: ${path.join(tmp, 'nope')}`]);
  }, 120_000);

  it('runs one epoch under torchrun, every rank reading its own shards, stopped as if preempted', () => {
    const r = torchrun(['--stop-after', '1']);
    expect(r.out).not.toMatch(/Traceback/);
    expect(r.status).toBe(0);
    const res = path.join(job, 'result');
    const ranks = [0, 1].map((k) => JSON.parse(fs.readFileSync(path.join(res, `read-rank${k}-epoch1.json`), 'utf8')) as { shards: string[]; keys: string[]; world: number });
    expect(ranks.map((x) => x.world)).toEqual([2, 2]);
    expect(ranks[0].shards.filter((s) => ranks[1].shards.includes(s))).toEqual([]); // disjoint shards
    expect(ranks[0].keys.filter((k) => ranks[1].keys.includes(k))).toEqual([]); // so disjoint photos
    expect(ranks[0].keys.length).toBeGreaterThan(0);
    expect(ranks[1].keys.length).toBeGreaterThan(0);
    const lines = fs.readFileSync(path.join(res, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.epoch, l.stage, l.processes])).toEqual([[1, 'head', 2]]);
    expect(fs.existsSync(path.join(res, 'checkpoint.pt'))).toBe(true);
    expect(fs.existsSync(path.join(res, 'model.safetensors'))).toBe(false); // not finished
  }, 240_000);

  it('resumes from its checkpoint and finishes: model.onnx, model.safetensors, metrics', () => {
    const res = path.join(job, 'result');
    const before = fs.readFileSync(path.join(res, 'metrics.jsonl'), 'utf8').trim().split('\n');
    const r = torchrun(['--resume']);
    expect(r.out).not.toMatch(/Traceback/);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/resuming after epoch 1/);
    const after = fs.readFileSync(path.join(res, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(after[0]).toBe(before[0]); // the first epoch kept, not redone
    expect(after.map((l) => JSON.parse(l).stage)).toEqual(['head', 'finetune']);
    for (const f of ['model.onnx', 'model.safetensors', 'labels.json', 'predictions.jsonl']) expect(fs.existsSync(path.join(res, f))).toBe(true);
    const onnx = fs.readFileSync(path.join(res, 'model.onnx'));
    for (const op of ['Conv', 'LRN', 'MaxPool', 'Gemm', 'Relu']) expect(onnx.includes(Buffer.from(op))).toBe(true);
  }, 240_000);

  let runId: number;
  it('imports the result as a run: per-epoch metrics, confusion matrix and most-wrong photos by our engine', async () => {
    const r = await h.ok('cluster:import', { datasetId: ds, folder: path.join(job, 'result') });
    runId = r.run.id;
    expect(r.run.epochs).toBe(2);
    expect(r.predicted).toBe(h.lib.photos.all(ds).filter((p) => p.status === 'ok').length);
    const run = await h.ok('runs:get', { runId });
    expect(run.status).toBe('finished');
    expect(run.classes).toEqual(['ants', 'bees']);
    expect(run.backend).toMatch(/pytorch.*2 processes/);
    const m = await h.ok('runs:metrics', { runId });
    expect(m.epoch.val_acc.idx).toEqual([1, 2]);
    const lines = fs.readFileSync(path.join(job, 'result', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(m.epoch.val_loss.value).toEqual(lines.map((l) => l.valLoss));
    const ev = await h.ok('runs:evaluation', { runId });
    const valCount = JSON.parse(fs.readFileSync(path.join(job, 'job.json'), 'utf8')).shards.val.reduce((s: number, x: { count: number }) => s + x.count, 0);
    expect(ev.n).toBe(valCount);
    expect(ev.matrix.flat().reduce((a, b) => a + b, 0)).toBe(valCount);
    expect(ev.mostWrong.every((p) => p.classId !== p.predictedClassId)).toBe(true);
    // nothing half-made on a bad result folder: one line, no run
    const runs = (await h.ok('runs:list', {})).length;
    const none = await h.call('cluster:import', { datasetId: ds, folder: path.join(tmp, 'nope') });
    expect(none.ok ? null : none.error).toEqual({ code: 'FOLDER_NOT_FOUND', message: `result folder not found: ${path.join(tmp, 'nope')}` });
    expect((await h.ok('runs:list', {})).length).toBe(runs);
  }, 240_000);

  it("the imported model and PyTorch's give the same top-1 for every validation photo", async () => {
    await initBackend('auto');
    const model = await loadModel(h.lib.models.list(runId)[0].path);
    const prep = model.preprocessing;
    const S = prep.crop;
    const keys = fs.readFileSync(path.join(job, 'result', 'predictions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; probs: number[] });
    const photos = keys.map((k) => h.lib.photos.get(Number(k.key.slice(1))));
    // the same preprocessed inputs through both: our decoder's, written for alexnet.py as NCHW
    const nhwc = new Float32Array(photos.length * S * S * 3);
    for (let i = 0; i < photos.length; i++) toInput(await loadImage(photos[i].path, prep), prep, centerView(prep), nhwc.subarray(i * S * S * 3));
    const nchw = new Float32Array(nhwc.length);
    for (let n = 0; n < photos.length; n++) for (let p = 0; p < S * S; p++) for (let c = 0; c < 3; c++) nchw[(n * 3 + c) * S * S + p] = nhwc[(n * S * S + p) * 3 + c];
    fs.writeFileSync(path.join(tmp, 'val.f32'), Buffer.from(nchw.buffer));
    const r = spawnSync(py!, [path.join(job, 'alexnet.py'), path.join(job, 'job.json'), path.join(job, 'result', 'model.safetensors'), path.join(tmp, 'val.f32'), path.join(tmp, 'logits.f32')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const buf = fs.readFileSync(path.join(tmp, 'logits.f32'));
    const theirs = tf.tidy(() => tf.softmax(tf.tensor2d(new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)), [photos.length, 2])).dataSync());
    const x = tf.tensor4d(nhwc, [photos.length, S, S, 3]);
    const ours = tf.tidy(() => tf.softmax(forward(model.params, model.config, x, { training: false })).dataSync());
    x.dispose();
    disposeParams(model.params);
    let maxDiff = 0;
    let sameTop1 = 0;
    for (let i = 0; i < photos.length; i++) {
      const a = [ours[2 * i], ours[2 * i + 1]];
      const b = [theirs[2 * i], theirs[2 * i + 1]];
      if ((a[0] >= a[1]) === (b[0] >= b[1])) sameTop1++;
      maxDiff = Math.max(maxDiff, Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1]));
    }
    // and PyTorch's own pipeline (Pillow decoding) against the predictions our engine recorded
    // (decoders differ by a few pixel levels: a photo may only differ in top-1 when PyTorch's own
    // margin is within that tolerance)
    let agree = 0;
    let maxJobDiff = 0;
    keys.forEach((k, i) => {
      const pred = h.lib.predictions.get(runId, photos[i].id)!;
      const top = k.probs[0] >= k.probs[1] ? 'ants' : 'bees';
      const pOurs = pred.top1Label === 'ants' ? [pred.top1P, 1 - pred.top1P] : [1 - pred.top1P, pred.top1P];
      if (pred.top1Label === top) agree++;
      else expect(Math.abs(k.probs[0] - 0.5)).toBeLessThanOrEqual(JOB_P_TOLERANCE);
      maxJobDiff = Math.max(maxJobDiff, Math.abs(pOurs[0] - k.probs[0]));
    });
    console.log(`cluster import: ${photos.length} validation photos; same inputs: top-1 equal ${sameTop1}/${photos.length}, max |p diff| ${maxDiff.toExponential(2)}; job's Pillow pipeline vs our engine: top-1 equal ${agree}/${photos.length}, max |p diff| ${maxJobDiff.toFixed(4)}`);
    expect(sameTop1).toBe(photos.length);
    expect(maxDiff).toBeLessThanOrEqual(P_TOLERANCE);
    expect(maxJobDiff).toBeLessThanOrEqual(JOB_P_TOLERANCE);
  }, 120_000);
});
