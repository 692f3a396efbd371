// camera:frame classifies a frame sent as base64; the paper's switches are refused for a fine-tune.
// runs:predict fills in predictions for photos added after a run. A finished run's results are what it measured: relabeling afterwards changes only the view "with
// today's labels". And models:export writes every format the CLI exports, each with labels.json and preprocessing.json:
// the TF.js export is a real graph model (stock tf.loadGraphModel runs it and gives the app's own
// probabilities on real photos), ONNX a model.onnx, the checkpoint our own folder. A target that
// cannot be made fails at once with its cause (no worker, nothing left behind); one that exists is
// refused.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../ml/backend';
import { centerView, loadImage, toInput, type Preprocessing } from '../../../ml/preprocess';
import { TFJS_WEIGHTS_FILE } from '../../../ml/weights/export-tfjs';
import { hymenoptera, TINY_RUN, useFinishedRun } from '../../helpers/app';
import { loadExportedGraph } from '../../helpers/tfjs-export';


beforeAll(async () => {
  await initBackend('cpu'); // this process's own TF.js runs the exported graph
});
const lib = useFinishedRun(4, 'alexnet-export-');

describe('models:export', () => {
  it('TF.js: a graph model that stock tf.loadGraphModel runs, with the app’s predictions', async () => {
    const { h, out, runId } = lib;
    const res = await h.ok('models:export', { runId, format: 'tfjs', folder: out });
    expect(res.folder).toBe(path.join(out, `alexnet-run-${runId}-tfjs`));
    expect([...res.files].sort()).toEqual(['labels.json', 'model.json', 'preprocessing.json', TFJS_WEIGHTS_FILE].sort());
    const json = JSON.parse(fs.readFileSync(path.join(res.folder, 'model.json'), 'utf8'));
    expect(json.format).toBe('graph-model');
    const labels = JSON.parse(fs.readFileSync(path.join(res.folder, 'labels.json'), 'utf8')) as string[];
    expect(labels).toEqual(['ants', 'bees']);
    const { layout, note, ...prep } = JSON.parse(fs.readFileSync(path.join(res.folder, 'preprocessing.json'), 'utf8')) as Preprocessing & { layout: string; note: string };
    expect(layout).toBe('NHWC');
    expect(note).toMatch(/centre/);

    const g = await loadExportedGraph(res.folder);
    const files = ['ants', 'bees'].map((c) => {
      const d = path.join(hymenoptera, 'val', c);
      return path.join(d, fs.readdirSync(d).sort()[0]);
    });
    const S = prep.crop;
    const x = new Float32Array(files.length * S * S * 3);
    for (let i = 0; i < files.length; i++) x.set(toInput(await loadImage(files[i], prep), prep, centerView(prep)), i * S * S * 3);
    const y = g.predict(tf.tensor4d(x, [files.length, S, S, 3])) as tf.Tensor;
    const probs = y.arraySync() as number[][];
    y.dispose();
    g.dispose();

    const app = await h.ok('classify:files', { runId, files, topK: 2 });
    app.results.forEach((r, i) => {
      if (!('predictions' in r)) throw new Error(`classify failed: ${r.error.message}`);
      for (const p of r.predictions) expect(probs[i][labels.indexOf(p.label)]).toBeCloseTo(p.p, 4);
    });
  }, 60_000);

  it('ONNX and checkpoint: each with labels.json and preprocessing.json', async () => {
    const { h, out, runId } = lib;
    const onnx = await h.ok('models:export', { runId, format: 'onnx', folder: out });
    expect([...onnx.files].sort()).toEqual(['labels.json', 'model.onnx', 'preprocessing.json']);
    expect(fs.statSync(path.join(onnx.folder, 'model.onnx')).size).toBe(onnx.bytes);
    const ckpt = await h.ok('models:export', { runId, format: 'checkpoint', folder: out });
    expect(ckpt.files).toEqual(expect.arrayContaining(['model.json', 'labels.json', 'preprocessing.json']));
    expect(JSON.parse(fs.readFileSync(path.join(ckpt.folder, 'model.json'), 'utf8')).classNames).toEqual(['ants', 'bees']);
    const again = await h.call('models:export', { runId, format: 'checkpoint', folder: out });
    expect(again.ok ? null : again.error).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('already exists') });
    // the refused export left the existing one as it was
    expect(fs.readdirSync(ckpt.folder).sort()).toEqual([...ckpt.files].sort());
  }, 60_000);

  it('a folder that cannot be made fails at once with its cause, and leaves nothing running', async () => {
    const { h, out, runId } = lib;
    const t0 = Date.now();
    const proc = await h.call('models:export', { runId, format: 'tfjs', folder: '/proc/nope' });
    expect(proc.ok ? null : proc.error).toEqual({ code: 'BAD_INPUT', message: 'cannot write to /proc/nope: folders cannot be created in /proc' });
    const file = path.join(out, 'a-file');
    fs.writeFileSync(file, 'x');
    const under = await h.call('models:export', { runId, format: 'onnx', folder: path.join(file, 'sub') });
    expect(under.ok ? null : under.error).toEqual({ code: 'BAD_INPUT', message: `cannot write to ${path.join(file, 'sub')}: ${file} is a file, not a folder` });
    expect(Date.now() - t0).toBeLessThan(1000); // answered before any worker started
  });
});

describe('runs:evaluation', () => {
  it('is frozen at the run’s end; today’s labels are a separate view', async () => {
    const { h, runId, ds } = lib;
    const atEnd = await h.ok('runs:evaluation', { runId });
    expect(atEnd.labels).toBe('at-end');
    const photo = (await h.ok('photos:list', { datasetId: ds, subset: { runId, subset: 'val' } })).items[0];
    const other = atEnd.classes.find((c) => c.id !== photo.classId)!;
    await h.ok('labels:set', { datasetId: ds, photoIds: [photo.id], classId: other.id });
    const again = await h.ok('runs:evaluation', { runId });
    expect(again).toEqual(atEnd); // what the run measured did not move
    const today = await h.ok('runs:evaluation', { runId, labels: 'today' });
    expect(today.labels).toBe('today');
    expect(today.matrix).not.toEqual(atEnd.matrix);
    expect(today.matrix.flat().reduce((a, b) => a + b, 0)).toBe(atEnd.n);
  });
});

describe('runs:predict', () => {
  it('the run predicts the photos added after it trained, in the background, with progress', async () => {
    const { h, runId, ds } = lib;
    const d = path.join(hymenoptera, 'val', 'bees');
    const file = path.join(d, fs.readdirSync(d).sort()[5]);
    const [added] = (await h.ok('photos:add', { datasetId: ds, files: [file] })).photoIds;
    expect((await h.ok('photos:list', { datasetId: ds, runId, minP: 0 })).items.some((p) => p.id === added)).toBe(false);
    const ended = h.next('predict:progress', (p) => p.runId === runId && p.done === 1);
    const changed = h.next('library:changed', (c) => c.datasetId === ds && c.what === 'photos');
    expect(await h.ok('runs:predict', { runId })).toEqual({ queued: 1 });
    expect(await ended).toEqual({ runId, datasetId: ds, done: 1, total: 1, error: null });
    await changed;
    const item = (await h.ok('photos:list', { datasetId: ds, runId, minP: 0, limit: 500 })).items.find((p) => p.id === added)!;
    expect(item.predictedLabel).toMatch(/^(ants|bees)$/);
    expect(await h.ok('runs:predict', { runId })).toEqual({ queued: 0 }); // nothing left to predict
  }, 60_000);
});

describe('camera:frame and the paper’s switches', () => {
  it('classifies a frame like the same photo as a file; keep stores it in camera/ for photos:add', async () => {
    const { h, runId } = lib;
    const d = path.join(hymenoptera, 'val', 'ants');
    const file = path.join(d, fs.readdirSync(d).sort()[3]);
    const image = fs.readFileSync(file).toString('base64');
    const live = await h.ok('camera:frame', { runId, image, topK: 2 });
    expect(live.file).toBeNull();
    const [same] = (await h.ok('classify:files', { runId, files: [file], topK: 2 })).results;
    expect('predictions' in same && same.predictions).toEqual(live.predictions);
    expect(fs.readdirSync(path.join(h.dataDir, 'camera'))).toEqual([]); // a live frame is not kept
    const kept = await h.ok('camera:frame', { runId, image, keep: true });
    expect(path.dirname(kept.file!)).toBe(path.join(h.dataDir, 'camera'));
    expect(fs.readFileSync(kept.file!).equals(fs.readFileSync(file))).toBe(true);
    const bad = await h.call('camera:frame', { runId, image: Buffer.from('not a picture').toString('base64') });
    expect(bad.ok ? null : bad.error).toEqual({ code: 'BAD_IMAGE', message: 'the camera frame is not a JPEG or PNG image' });
  }, 60_000);

  it('a fine-tune of the ImageNet weights keeps the paper’s network; a run from scratch records its switches', async () => {
    const { h, ds } = lib;
    const ft = await h.call('runs:start', { datasetId: ds, settings: { activation: 'tanh', lrn: false } });
    expect(ft.ok ? null : ft.error).toEqual({ code: 'BAD_INPUT', message: "the ImageNet weights were trained with the paper's network: train from scratch to change activation, lrn" });
    const run = await h.ok('runs:start', { datasetId: ds, settings: { ...TINY_RUN, activation: 'tanh', lrn: false, overlappingPool: false, groups: 1 } });
    expect(run.settings).toMatchObject({ activation: 'tanh', lrn: false, overlappingPool: false, groups: 1 });
    const end = await h.next('run:status', (e) => e.runId === run.id && e.phase === 'done', 110_000);
    expect(end.status).toBe('finished');
    const model = JSON.parse(fs.readFileSync(path.join((await h.ok('runs:get', { runId: run.id })).models.find((m) => m.kind === 'final')!.path, 'model.json'), 'utf8'));
    expect(model.config).toMatchObject({ activation: 'tanh', lrn: null, overlappingPool: false, groups: 1 });
  }, 120_000);
});
