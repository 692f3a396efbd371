// The test that makes the ImageNet import real: a file with the ONNX Model Zoo's exact bvlcalexnet-12
// layout (../shared/fixtures/make_bvlc_onnx.py, seeded random weights) runs in ONNX Runtime (an
// independent implementation) and through our importer + forward pass on the same real photos.
//
// Input size: the zoo graph declares 224x224; our imported config takes Caffe's 227x227 crops (at 224
// our 'valid' pool5 would give 5x5, the zoo's padded pool5 6x6). So ORT runs the same graph with its
// declared input changed to 227 (rewritten with our own protobuf writer; nothing else is touched).
// At 227, pool5's [0,0,1,1] padding never enters a window, which this comparison also proves.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../ml/backend';
import { forward, paramsFromArrays, disposeParams, type Params } from '../../../ml/model';
import { CAFFE_PREPROCESSING, centerView, loadImage, toInput } from '../../../ml/preprocess';
import { IMAGENET_CLASSES } from '../../../ml/weights/imagenet';
import { exportOnnx, parseOnnxAlexNet, type ImportedAlexNet } from '../../../ml/weights/onnx';
import { DT_FLOAT, decodeModel, encodeModel } from '../../../ml/weights/onnx-proto';
import { bvlcFixture, datasetsDir } from '../../helpers/bvlc-fixture';

const S = 227;
const photos = [
  'hymenoptera/val/ants/10308379_1b6c72e180.jpg',
  'hymenoptera/val/ants/1119630822_cd325ea21a.jpg',
  'hymenoptera/val/bees/1032546534_06907fe3b3.jpg',
  'hymenoptera/val/bees/10870992_eebeeb3a12.jpg',
].map((p) => path.join(datasetsDir, p));

let imported: ImportedAlexNet;
let session: ort.InferenceSession;
let nhwc: Float32Array[]; // per photo, [S, S, 3] as our forward takes it
let backend = '';
let params: Params;
let pool5: tf.Tensor;
const ortProbs: Float32Array[] = [];
let ourProbsAll: number[][] = [];

/** [S, S, 3] HWC -> [3, S, S] CHW (ORT's NCHW input for one image). */
function toChw(hwc: Float32Array, s: number): Float32Array {
  const out = new Float32Array(hwc.length);
  for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) for (let c = 0; c < 3; c++) out[(c * s + y) * s + x] = hwc[(y * s + x) * 3 + c];
  return out;
}

function topK(p: Float32Array | number[], k: number): number[] {
  return [...p.keys()].sort((a, b) => p[b] - p[a] || a - b).slice(0, k);
}

beforeAll(async () => {
  const file = bvlcFixture(2012);
  const buf = readFileSync(file);
  imported = parseOnnxAlexNet(buf);
  // The same graph with its input declared at 227, and fc8's logits exposed as a second output.
  const model = decodeModel(buf);
  model.graph.inputs[0].shape = [1, 3, S, S];
  model.graph.outputs.push({ name: 'fc8_1', elemType: DT_FLOAT, shape: [1, 1000] });
  session = await ort.InferenceSession.create(Buffer.concat(encodeModel(model)), { intraOpNumThreads: 2, interOpNumThreads: 1 });
  backend = (await initBackend('auto')).name;
  nhwc = [];
  for (const p of photos) nhwc.push(toInput(await loadImage(p, CAFFE_PREPROCESSING), CAFFE_PREPROCESSING, centerView(CAFFE_PREPROCESSING)));
});

describe('BVLC AlexNet ONNX import vs ONNX Runtime', () => {
  it('reads the zoo layout into the paper network with the file\'s LRN (k=1) and Caffe preprocessing size', () => {
    expect(imported.declaredInputSize).toBe(224);
    expect(imported.pool5Pads).toEqual([0, 0, 1, 1]);
    expect(imported.config.lrn).toEqual({ size: 5, k: 1, alpha: 1e-4, beta: 0.75 });
    expect(imported.config.groups).toBe(2);
    expect(imported.config.inputSize).toBe(CAFFE_PREPROCESSING.crop);
    expect(imported.arrays['fc6.w'].length).toBe(9216 * 4096);
  });

  it('gives the same probabilities and top-5 as ONNX Runtime on real photos', async () => {
    const n = photos.length;
    const batch = new Float32Array(n * S * S * 3);
    nhwc.forEach((x, i) => batch.set(x, i * S * S * 3));
    params = paramsFromArrays(imported.config, imported.arrays);
    const t0 = performance.now();
    pool5 = forward(params, imported.config, tf.tensor4d(batch, [n, S, S, 3]), { training: false, to: 'pool5' }); // [n, 9216]
    const [ourLogits, ourProbs] = tf.tidy(() => {
      const logits = forward(params, imported.config, pool5, { training: false, from: 'pool5' });
      return [logits.arraySync() as number[][], tf.softmax(logits).arraySync() as number[][]];
    });
    const ourMs = performance.now() - t0;
    ourProbsAll = ourProbs;

    let maxProbDiff = 0;
    let maxLogitRel = 0;
    for (let i = 0; i < n; i++) {
      const r = await session.run({ data_0: new ort.Tensor('float32', toChw(nhwc[i], S), [1, 3, S, S]) });
      const prob = r.prob_1.data as Float32Array;
      const logits = r.fc8_1.data as Float32Array;
      ortProbs.push(prob);
      const scale = Math.max(...logits.map(Math.abs));
      for (let j = 0; j < 1000; j++) {
        maxProbDiff = Math.max(maxProbDiff, Math.abs(prob[j] - ourProbs[i][j]));
        maxLogitRel = Math.max(maxLogitRel, Math.abs(logits[j] - ourLogits[i][j]) / scale);
      }
      expect(topK(ourProbs[i], 5), `top-5 of ${path.basename(photos[i])}`).toEqual(topK(prob, 5));
      // The photos must not all look alike to the network (else top-5 agreement proves little).
      if (i > 0) expect(topK(ourProbs[i], 5)).not.toEqual(topK(ourProbs[0], 5));
    }
    console.log(`[crosscheck] backend ${backend}: forward of ${n} photos ${ourMs.toFixed(0)} ms; max |dp| ${maxProbDiff.toExponential(2)}, max logit diff / max |logit| ${maxLogitRel.toExponential(2)}`);
    expect(maxProbDiff).toBeLessThan(1e-4);
    expect(maxLogitRel).toBeLessThan(1e-4);
  });

  it('would catch a wrong flatten order: fc6 rows left in NCHW (c, h, w) order change the answers', () => {
    const right = imported.arrays['fc6.w'];
    const rows = new Float32Array(right.length);
    for (let c = 0; c < 256; c++)
      for (let p = 0; p < 36; p++) rows.set(right.subarray((p * 256 + c) * 4096, (p * 256 + c + 1) * 4096), (c * 36 + p) * 4096);
    params['fc6.w'].assign(tf.tensor2d(rows, [9216, 4096]));
    const probs = tf.tidy(() => tf.softmax(forward(params, imported.config, pool5, { training: false, from: 'pool5' })).arraySync() as number[][]);
    let maxRel = 0;
    for (let i = 0; i < probs.length; i++)
      for (let j = 0; j < 1000; j++) maxRel = Math.max(maxRel, Math.abs(probs[i][j] - ortProbs[i][j]) / ortProbs[i][j]);
    expect(maxRel).toBeGreaterThan(1e-2);
  });
});

describe('full-size export', () => {
  it('the imported model exported as ONNX gives ONNX Runtime our probabilities', async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'alexnet-export-full-'));
    try {
      await exportOnnx({ config: imported.config, arrays: imported.arrays, classNames: [...IMAGENET_CLASSES], preprocessing: CAFFE_PREPROCESSING }, out);
      const s = await ort.InferenceSession.create(path.join(out, 'model.onnx'), { intraOpNumThreads: 2, interOpNumThreads: 1 });
      const n = photos.length;
      const x = new Float32Array(n * 3 * S * S);
      nhwc.forEach((img, i) => x.set(toChw(img, S), i * 3 * S * S));
      const r = await s.run({ data: new ort.Tensor('float32', x, [n, 3, S, S]) }); // one batch: the exported graph has a free N
      const p = r.prob.data as Float32Array;
      let maxDiff = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < 1000; j++) maxDiff = Math.max(maxDiff, Math.abs(p[i * 1000 + j] - ourProbsAll[i][j]));
      expect(maxDiff).toBeLessThan(1e-4);
      for (let i = 0; i < n; i++) expect(topK(p.subarray(i * 1000, (i + 1) * 1000), 5)).toEqual(topK(ourProbsAll[i], 5));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

afterAll(() => {
  pool5?.dispose();
  if (params) disposeParams(params);
});
