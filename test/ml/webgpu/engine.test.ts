// The engine on the webgpu backend against the reference backend (native TensorFlow where built,
// else TF.js's cpu backend), on the same weights and the same batch: forward logits (inference and
// training with the same dropout masks), one full training step's gradients and updated weights,
// and a transfer step (fc6-fc8 on cached pool5 features). TINY_CONFIG: every layer of the paper's
// network (grouped convs, the paper's LRN, overlapping pooling, dropout) at toy sizes, since the
// test driver is SwiftShader (a CPU).
//
// Tolerances: both backends compute in float32 but sum in different orders (tiled matmuls and
// convolutions on the GPU). Relative to the largest magnitude of the reference: logits 1e-4,
// gradients 1e-3, the weight change of one step 1e-3 (the change, not the weights, so that the
// check is about the step).
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { findNativeBinding, initBackend } from '../../../ml/backend';
import { PARAM_NAMES, TINY_CONFIG, type ParamName } from '../../../ml/config';
import { disposeParams, forward, initParams, paramsFromArrays, type Params } from '../../../ml/model';
import { Sgd } from '../../../ml/optimizer';
import { trainStep, weightedCrossEntropy, type SourceBatch } from '../../../ml/train';
import { stageMultipliers } from '../../../ml/transfer';
import { snapshotParams } from '../../../ml/checkpoint';
import { maxRelDiff, randoms } from '../../helpers/numeric';
import { webgpuSkipReason } from './setup';

const skip = await webgpuSkipReason();
const REFERENCE = findNativeBinding('@tensorflow/tfjs-node') !== null ? 'tensorflow' : 'cpu';
const config = TINY_CONFIG;
const N = 4;
const S = config.inputSize;

type Arrays = Record<ParamName, Float32Array>;
type Figures = {
  logits: Float32Array; // inference
  logitsDrop: Float32Array; // training mode, seeded dropout
  grads: Arrays; // dL/dw of the full network
  stepped: Arrays; // weights after two full training steps (momentum and weight decay in play)
  loss: number;
  transfer: Arrays; // weights after one transfer step from pool5 features
  pool5: Float32Array;
};

// Weights with signal (He-scaled, small non-zero biases) so that ReLUs and LRN see real activations.
// Made on the reference backend.
function weights(): Arrays {
  const p = initParams(config, 5, 'he');
  return Object.fromEntries(
    PARAM_NAMES.map((n) => {
      const a = p[n].dataSync().slice() as Float32Array;
      if (n.endsWith('.b')) a.set(randoms(a.length, 77, 0.05));
      p[n].dispose();
      return [n, a];
    }),
  ) as Arrays;
}

let W: Arrays;
const X = randoms(N * S * S * 3, 3, 2);
const Y = Int32Array.from([0, 1, 2, 1]);

function stepInputs(params: Params, lrMult: Partial<Record<ParamName, number>>) {
  const sgd = new Sgd({ lr: 0.01, momentum: 0.9, weightDecay: 5e-4, lrMult });
  const varList = sgd.trainable().map((n) => params[n]);
  const nameOf = new Map<string, ParamName>(sgd.trainable().map((n) => [params[n].name, n]));
  return { sgd, varList, nameOf };
}

/** Everything the test compares, computed on the current backend. */
async function figures(): Promise<Figures> {
  const read = async (t: tf.Tensor): Promise<Float32Array> => {
    const v = (await t.data()) as Float32Array;
    t.dispose();
    return v;
  };
  let params = paramsFromArrays(config, W);
  const x = tf.tensor4d(X, [N, S, S, 3]);
  const y = tf.tensor1d(Y, 'int32');
  const classW = tf.ones([config.numClasses]) as tf.Tensor1D;
  const logits = await read(forward(params, config, x, { training: false }));
  const logitsDrop = await read(forward(params, config, x, { training: true, seed: 42 }));
  const pool5 = await read(forward(params, config, x, { training: false, to: 'pool5' }));

  const { value, grads: g } = tf.variableGrads(() => weightedCrossEntropy(forward(params, config, x, { training: true, seed: 42 }), y, classW));
  value.dispose();
  const grads = {} as Arrays;
  for (const n of PARAM_NAMES) grads[n] = await read(g[params[n].name]);

  const all = Object.fromEntries(PARAM_NAMES.map((n) => [n, 1])) as Record<ParamName, number>;
  const s = stepInputs(params, all);
  const batch: SourceBatch = { x: X, shape: [N, S, S, 3], y: Y, paths: [] };
  const first = await trainStep(params, config, s.sgd, s.varList, s.nameOf, batch, classW, 'input', 42);
  await trainStep(params, config, s.sgd, s.varList, s.nameOf, batch, classW, 'input', 43);
  const stepped = await snapshotParams(params);
  s.sgd.disposeState();
  disposeParams(params);

  params = paramsFromArrays(config, W);
  const t = stepInputs(params, stageMultipliers('fc'));
  const feats: SourceBatch = { x: pool5, shape: [N, pool5.length / N], y: Y, paths: [] };
  await trainStep(params, config, t.sgd, t.varList, t.nameOf, feats, classW, 'pool5', 7);
  const transfer = await snapshotParams(params);
  t.sgd.disposeState();
  disposeParams(params);
  tf.dispose([x, y, classW]);
  return { logits, logitsDrop, grads, stepped, loss: first.loss, transfer, pool5 };
}

const delta = (after: Float32Array, before: Float32Array): Float32Array => after.map((v, i) => v - before[i]);

describe.skipIf(skip !== null)(`the engine on webgpu equals ${REFERENCE}`, () => {
  let ref: Figures;
  let gpu: Figures;
  let gpuTensorsLeft = 0;

  it('runs the same figures on both backends', async () => {
    await initBackend(REFERENCE);
    W = weights();
    ref = await figures();
    const info = await initBackend('webgpu');
    expect(info.adapter?.description.length).toBeGreaterThan(0);
    const before = tf.memory().numTensors;
    gpu = await figures();
    gpuTensorsLeft = tf.memory().numTensors - before;
  });

  it('leaves no tensor behind on webgpu', () => {
    expect(gpuTensorsLeft).toBe(0);
  });

  it('forward logits (grouped convs, LRN, overlapping pooling), without and with dropout', () => {
    expect(maxRelDiff(gpu.pool5, ref.pool5)).toBeLessThan(1e-4);
    expect(maxRelDiff(gpu.logits, ref.logits)).toBeLessThan(1e-4);
    expect(maxRelDiff(gpu.logitsDrop, ref.logitsDrop)).toBeLessThan(1e-4);
    // the dropout masks are the same and really drop something
    expect(maxRelDiff(ref.logitsDrop, ref.logits)).toBeGreaterThan(1e-2);
  });

  it('gradients of every parameter', () => {
    for (const n of PARAM_NAMES) {
      expect(Math.max(...ref.grads[n].map(Math.abs)), n).toBeGreaterThan(0);
      expect(maxRelDiff(gpu.grads[n], ref.grads[n]), n).toBeLessThan(1e-3);
    }
  });

  it('two training steps with the paper SGD: loss and weight changes', () => {
    expect(Math.abs(gpu.loss - ref.loss) / Math.abs(ref.loss)).toBeLessThan(1e-4);
    for (const n of PARAM_NAMES) expect(maxRelDiff(delta(gpu.stepped[n], W[n]), delta(ref.stepped[n], W[n])), n).toBeLessThan(1e-3);
  });

  it('a transfer step on pool5 features changes fc6-fc8 alike and leaves the conv layers alone', () => {
    for (const n of PARAM_NAMES) {
      const d = delta(ref.transfer[n], W[n]);
      if (n.startsWith('conv')) {
        expect(Array.from(gpu.transfer[n]), n).toEqual(Array.from(W[n]));
        continue;
      }
      expect(Math.max(...d.map(Math.abs)), n).toBeGreaterThan(0);
      expect(maxRelDiff(delta(gpu.transfer[n], W[n]), d), n).toBeLessThan(1e-3);
    }
  });
});

if (skip !== null) it.skip(`webgpu engine: ${skip}`, () => {});
