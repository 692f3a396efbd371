// Export that matches the app: a model exported as ONNX runs in ONNX Runtime, and as a TF.js graph
// model runs in stock tfjs-converter, on real photos, with the probabilities of our own forward pass.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { PARAM_NAMES, TINY_CONFIG, makeConfig, paramShapes, type AlexNetConfig } from '../../../ml/config';
import { disposeParams, forward, paramsFromArrays } from '../../../ml/model';
import { PAPER_PREPROCESSING, centerView, loadImage, toInput, type Preprocessing } from '../../../ml/preprocess';
import { exportTfjs } from '../../../ml/weights/export-tfjs';
import { exportOnnx, fc6FromNchw, fc6ToNchw, hwioToOihw, oihwToHwio, parseOnnxAlexNet, type ExportableModel } from '../../../ml/weights/onnx';
import { datasetsDir } from '../../helpers/bvlc-fixture';
import { useEngine } from '../../helpers/engine';
import { randomArrays } from '../../helpers/random-model';
import { loadExportedGraph } from '../../helpers/tfjs-export';

const photos = ['train/ants/0013035.jpg', 'train/bees/1092977343_cb42b38d62.jpg', 'val/ants/10308379_1b6c72e180.jpg', 'val/bees/10870992_eebeeb3a12.jpg'].map((p) =>
  path.join(datasetsDir, 'hymenoptera', p),
);
const dir = useEngine('alexnet-export-', 'auto');

/** Our forward + softmax, and the NHWC inputs, for `photos` under `prep`. */
async function ours(model: ExportableModel): Promise<{ x: Float32Array; probs: number[][] }> {
  const S = model.config.inputSize;
  const x = new Float32Array(photos.length * S * S * 3);
  for (let i = 0; i < photos.length; i++) x.set(toInput(await loadImage(photos[i], model.preprocessing), model.preprocessing, centerView(model.preprocessing)), i * S * S * 3);
  const params = paramsFromArrays(model.config, model.arrays);
  const probs = tf.tidy(() => tf.softmax(forward(params, model.config, tf.tensor4d(x, [photos.length, S, S, 3]), { training: false })).arraySync() as number[][]);
  disposeParams(params);
  return { x, probs };
}

function nchw(x: Float32Array, n: number, s: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < s; y++) for (let xx = 0; xx < s; xx++) for (let c = 0; c < 3; c++) out[((i * 3 + c) * s + y) * s + xx] = x[((i * s + y) * s + xx) * 3 + c];
  return out;
}

function maxDiff(a: number[][], b: ArrayLike<number>, classes: number): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i * classes + j])))));
  return m;
}

function model(config: AlexNetConfig, prep: Preprocessing, seed: number): ExportableModel {
  const classNames = Array.from({ length: config.numClasses }, (_, i) => `class ${i}`);
  return { config, arrays: randomArrays(config, seed), classNames, preprocessing: prep };
}

describe('layout conversions', () => {
  it('OIHW <-> HWIO and fc6 NCHW <-> NHWC rows are inverse permutations', () => {
    const src = Float32Array.from({ length: 4 * 3 * 5 * 2 }, (_, i) => i);
    const hwio = oihwToHwio(src, 4, 3, 5, 2);
    expect(hwio[((1 * 2 + 0) * 3 + 2) * 4 + 3]).toBe(src[((3 * 3 + 2) * 5 + 1) * 2 + 0]); // [h1,w0,i2,o3] = [o3,i2,h1,w0]
    expect(hwioToOihw(hwio, 5, 2, 3, 4)).toEqual(src);
    const fc = Float32Array.from({ length: 7 * (3 * 2 * 2) }, (_, i) => i); // [out 7, c3*h2*w2]
    const ourFc = fc6FromNchw(fc, 7, 3, 2, 2); // [h*w*c, out]
    expect(ourFc[((1 * 2 + 0) * 3 + 2) * 7 + 5]).toBe(fc[5 * 12 + 2 * 4 + 1 * 2 + 0]); // h1 w0 c2, out 5
    expect(fc6ToNchw(ourFc, 7, 3, 2, 2)).toEqual(fc);
  });
});

describe('exportOnnx', () => {
  const variants: [string, AlexNetConfig][] = [
    ['TINY (groups 2, LRN, 3x3/2 pools, ReLU)', TINY_CONFIG],
    ['TINY variant (groups 1, no LRN, 2x2/2 pools, tanh, 5 classes)', makeConfig({ ...TINY_CONFIG, groups: 1, lrn: null, overlappingPool: false, activation: 'tanh', numClasses: 5, inputSize: 83 })],
  ];
  for (const [label, config] of variants) {
    it(`runs in ONNX Runtime with our probabilities: ${label}`, async () => {
      const prep: Preprocessing = { ...PAPER_PREPROCESSING, resize: config.inputSize + 13, crop: config.inputSize };
      const m = model(config, prep, 7);
      const { x, probs } = await ours(m);
      const out = path.join(dir, `onnx-${config.inputSize}-${config.groups}`);
      const r = await exportOnnx(m, out);
      expect(r.files).toEqual(['model.onnx', 'labels.json', 'preprocessing.json']);
      expect(JSON.parse(readFileSync(path.join(out, 'labels.json'), 'utf8'))).toEqual(m.classNames);
      expect(JSON.parse(readFileSync(path.join(out, 'preprocessing.json'), 'utf8'))).toMatchObject({ ...prep, layout: 'NCHW' });
      const s = await ort.InferenceSession.create(path.join(out, 'model.onnx'), { intraOpNumThreads: 2, interOpNumThreads: 1 });
      const S = config.inputSize;
      const res = await s.run({ data: new ort.Tensor('float32', nchw(x, photos.length, S), [photos.length, 3, S, S]) });
      const p = res.prob.data as Float32Array;
      expect(res.prob.dims).toEqual([photos.length, config.numClasses]);
      expect(maxDiff(probs, p, config.numClasses)).toBeLessThan(1e-5);
      // The outputs are not degenerate: the photos' answers differ far more than the tolerance.
      const spread = Math.max(...probs.slice(1).map((row) => Math.max(...row.map((v, j) => Math.abs(v - probs[0][j])))));
      expect(spread).toBeGreaterThan(1e-3);
    });
  }

  it('round-trips a full-size 1000-class model through the BVLC importer exactly', async () => {
    const config = makeConfig({ lrn: { size: 5, k: 1, alpha: 1e-4, beta: 0.75 } });
    // Distinct values everywhere (a cheap hash of the index; seeded normals for 61M values are slow).
    const arrays = {} as ExportableModel['arrays'];
    const shapes = paramShapes(config);
    for (const [k, name] of PARAM_NAMES.entries()) {
      const a = new Float32Array(shapes[name].reduce((x, y) => x * y, 1));
      for (let i = 0; i < a.length; i++) a[i] = (((i + 1) * 2654435761 + k * 40503) >>> 0) / 2 ** 32 - 0.5;
      arrays[name] = a;
    }
    const m: ExportableModel = { config, arrays, classNames: Array.from({ length: 1000 }, (_, i) => `c${i}`), preprocessing: PAPER_PREPROCESSING };
    const out = path.join(dir, 'full');
    await exportOnnx(m, out);
    const back = parseOnnxAlexNet(readFileSync(path.join(out, 'model.onnx')));
    expect(back.config).toEqual(config);
    // Bit-exact (byte comparison: toEqual on 37M-element arrays would take minutes).
    const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const name of Object.keys(m.arrays) as (keyof typeof m.arrays)[]) expect(bytes(back.arrays[name]).equals(bytes(m.arrays[name])), name).toBe(true);
    rmSync(out, { recursive: true });
  });
});

describe('exportTfjs', () => {
  it('loads in stock tfjs-converter (loadGraphModel) and gives our probabilities', async () => {
    const config = TINY_CONFIG;
    const prep: Preprocessing = { ...PAPER_PREPROCESSING, resize: 112, crop: config.inputSize };
    const m = model(config, prep, 11);
    const { x, probs } = await ours(m);
    const out = path.join(dir, 'tfjs');
    await exportTfjs(m, out);
    const json = JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8'));
    expect(json.format).toBe('graph-model');
    expect(json.userDefinedMetadata.labels).toEqual(m.classNames);
    const g = await loadExportedGraph(out);
    const S = config.inputSize;
    const y = g.predict(tf.tensor4d(x, [photos.length, S, S, 3])) as tf.Tensor;
    expect(y.shape).toEqual([photos.length, config.numClasses]);
    expect(maxDiff(probs, y.dataSync(), config.numClasses)).toBeLessThan(1e-5);
    y.dispose();
    g.dispose();
  });
});
