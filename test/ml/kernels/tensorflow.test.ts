// ml/kernels/tensorflow.ts on the native backend: the grouped convolution as one TensorFlow op (with
// oneDNN, which ml/backend.ts turns on) gives the same outputs and gradients as the portable
// split + concat path and as a block-diagonal full convolution; TensorFlow's ReluGrad gives TF.js's
// Relu gradient; the portable paths keep working on the cpu backend.
//
// Skipped with a message where @tensorflow/tfjs-node has no native build, unless
// ALEXNET_REQUIRE_NATIVE=1 (CI), where that is a failure.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNativeBinding, initBackend, reserveCpuPool, reservedPoolBytes } from '../../../ml/backend';
import { hasNativeGroupedConv, moveToNative, registerTensorflowKernels } from '../../../ml/kernels/tensorflow';
import { paramsFromArrays, disposeParams, TINY_CONFIG, paramShapes, PARAM_NAMES, type ParamName } from '../../../ml/model';
import { groupedConv2d } from '../../../ml/layers';
import { randoms, maxRelDiff } from '../../helpers/numeric';

const REQUIRE = process.env.ALEXNET_REQUIRE_NATIVE === '1';
const native = findNativeBinding('@tensorflow/tfjs-node') !== null;
if (!native && !REQUIRE) console.warn('[kernels/tensorflow.test] skipping: @tensorflow/tfjs-node has no native build here');

/** The portable grouped convolution (what every other backend runs), without bias. */
function splitConv(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, padding: 'valid' | 'same'): tf.Tensor4D {
  const xs = tf.split(x, 2, 3);
  const ws = tf.split(w, 2, 3);
  return tf.concat(xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, ws[i] as tf.Tensor4D, stride, padding)), 3) as tf.Tensor4D;
}

const cases = [
  // AlexNet's grouped layers at reduced spatial size (conv2: 5x5 'same'; conv4/5: 3x3 'same') and a
  // strided 'valid' one
  { name: 'conv2-like', n: 2, h: 9, cin: 8, cout: 12, k: 5, stride: 1, pad: 2 },
  { name: 'conv4-like', n: 3, h: 7, cin: 12, cout: 12, k: 3, stride: 1, pad: 1 },
  { name: 'strided valid', n: 2, h: 11, cin: 6, cout: 4, k: 3, stride: 2, pad: 0 },
];

describe.runIf(native || REQUIRE)('native TensorFlow kernels', () => {
  beforeAll(async () => {
    await initBackend('tensorflow');
    expect(tf.getBackend()).toBe('tensorflow');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('oneDNN is on by default, so the grouped convolution and its gradients are one op', async () => {
    expect(process.env.TF_ENABLE_ONEDNN_OPTS).toBe('1');
    expect(registerTensorflowKernels().groupedConv).toBe(true);
    expect(hasNativeGroupedConv()).toBe(true);
    // the layer takes the native path: no split or concat runs
    const x = tf.tensor4d(randoms(2 * 9 * 9 * 8, 1), [2, 9, 9, 8]);
    const w = tf.tensor4d(randoms(5 * 5 * 4 * 12, 2), [5, 5, 4, 12]);
    const p = await tf.profile(() => {
      groupedConv2d(x, w, null, 1, 2, 2).dispose();
    });
    x.dispose();
    w.dispose();
    expect(p.kernelNames).toContain('AlexNetGroupedConv2D');
    expect(p.kernelNames).not.toContain('SplitV');
    expect(p.kernelNames).not.toContain('Concat');
  });

  it.each(cases)('grouped conv: outputs and both gradients equal the split path ($name)', ({ n, h, cin, cout, k, stride, pad }) => {
    const padding = pad === 0 ? 'valid' : 'same';
    tf.tidy(() => {
      const x = tf.tensor4d(randoms(n * h * h * cin, 11), [n, h, h, cin]);
      const w = tf.tensor4d(randoms(k * k * (cin / 2) * cout, 12), [k, k, cin / 2, cout]);
      const got = groupedConv2d(x, w, null, stride, pad, 2);
      const ref = splitConv(x, w, stride, padding);
      expect(got.shape).toEqual(ref.shape);
      expect(maxRelDiff(got.dataSync(), ref.dataSync())).toBeLessThan(1e-5);

      // a loss that weighs every output differently, so a wrong gradient cannot cancel out
      const dyW = tf.tensor(randoms(ref.size, 13), ref.shape);
      const loss = (f: (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor4D) => (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), dyW)) as tf.Scalar;
      const [gx, gw] = tf.grads(loss((a, b) => groupedConv2d(a, b, null, stride, pad, 2)))([x, w]);
      const [rx, rw] = tf.grads(loss((a, b) => splitConv(a, b, stride, padding)))([x, w]);
      expect(gx.shape).toEqual(x.shape);
      expect(gw.shape).toEqual(w.shape);
      expect(maxRelDiff(gx.dataSync(), rx.dataSync())).toBeLessThan(1e-5);
      expect(maxRelDiff(gw.dataSync(), rw.dataSync())).toBeLessThan(1e-5);
    });
  });

  it('the grouped layer keeps the groups apart (group 0 ignores group 1 inputs, in both directions)', () => {
    tf.tidy(() => {
      const x = tf.tensor4d(randoms(1 * 6 * 6 * 8, 21), [1, 6, 6, 8]);
      const w = tf.tensor4d(randoms(3 * 3 * 4 * 6, 22), [3, 3, 4, 6]);
      // the gradient of group 0's outputs (channels 0-2) w.r.t. the input's channels 4-7 is zero
      const g = tf.grad((a: tf.Tensor) => tf.sum(tf.slice(groupedConv2d(a as tf.Tensor4D, w, null, 1, 1, 2), [0, 0, 0, 0], [1, 6, 6, 3])))(x);
      const back = tf.slice(g, [0, 0, 0, 4], [1, 6, 6, 4]).dataSync();
      const front = tf.slice(g, [0, 0, 0, 0], [1, 6, 6, 4]).dataSync();
      expect(Array.from(back).every((v) => v === 0)).toBe(true);
      expect(Array.from(front).some((v) => v !== 0)).toBe(true);
    });
  });

  it("Relu's gradient is TensorFlow's ReluGrad here and dy * (x > 0), as on the cpu backend", async () => {
    const xData = randoms(2 * 5 * 5 * 6, 31, 3);
    const dyData = randoms(2 * 5 * 5 * 6, 32);
    const want = xData.map((v, i) => (v > 0 ? dyData[i] : 0));
    const grad = (): Float32Array =>
      tf.tidy(() => {
        const x = tf.tensor4d(xData, [2, 5, 5, 6]);
        const dy = tf.tensor4d(dyData, [2, 5, 5, 6]);
        return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), dy)))(x).dataSync() as Float32Array;
      });
    const p = await tf.profile(() => {
      grad();
    });
    expect(p.kernelNames).toContain('AlexNetReluGrad');
    expect(p.kernelNames).not.toContain('Step');
    expect(maxRelDiff(grad(), want)).toBe(0);
    await tf.setBackend('cpu');
    try {
      expect(maxRelDiff(grad(), want)).toBe(0);
    } finally {
      await tf.setBackend('tensorflow');
    }
  });

  it("Relu's gradient keeps its output, so the bias add's output is freed after the forward pass", () => {
    const g = tf.getGradient('Relu');
    expect(g?.outputsToSave).toEqual([true]);
    expect(g?.inputsToSave ?? []).toEqual([]);
    // a chain where only the output can be saved: the gradient is still exact at and around 0
    const x = tf.tensor1d([-2, -0.5, 0, 0.5, 2]);
    const gx = tf.grad((a: tf.Tensor) => tf.sum(tf.relu(tf.add(a, 0.25))))(x);
    expect(Array.from(gx.dataSync())).toEqual([0, 0, 1, 1, 1]);
    tf.dispose([x, gx]);
  });

  it('reserveCpuPool reserves one region without touching it, once, and can be turned off', () => {
    const rss = (): number => process.memoryUsage().rss;
    process.env.ALEXNET_TF_POOL_MB = '0';
    try {
      expect(reserveCpuPool(600 * 2 ** 20)).toBe(0); // off
    } finally {
      delete process.env.ALEXNET_TF_POOL_MB;
    }
    expect(reserveCpuPool(64 * 2 ** 20)).toBe(0); // too small to matter
    const before = rss();
    const got = reserveCpuPool(600 * 2 ** 20);
    const grew = rss() - before;
    expect(got).toBe(1024 * 2 ** 20); // the pool's regions are 2 MB x 2^k
    expect(reservedPoolBytes()).toBe(got);
    // resident: only the pool's bookkeeping (8 bytes per 256), not the gigabyte
    expect(grew).toBeLessThan(96 * 2 ** 20);
    expect(reserveCpuPool(600 * 2 ** 20)).toBe(0); // already there
    // the region serves tensors: a 300 MB one is made and read back without error
    const t = tf.fill([300 * 2 ** 18], 1.5);
    expect(tf.sum(t).dataSync()[0]).toBeCloseTo(1.5 * 300 * 2 ** 18, -3);
    t.dispose();
  });

  it('moveToNative hands tensors written from JS arrays to TensorFlow at once', () => {
    type Info = { values: unknown };
    const be = tf.backend() as unknown as { tensorMap: { get(id: object): Info } };
    const t = tf.tensor1d(randoms(1000, 41));
    expect(be.tensorMap.get(t.dataId).values).not.toBeNull(); // tfjs-node waits for the first op
    moveToNative([t]);
    expect(be.tensorMap.get(t.dataId).values).toBeNull();
    t.dispose();
    // new parameters are handed over when they are made
    const shapes = paramShapes(TINY_CONFIG);
    const arrays = Object.fromEntries(PARAM_NAMES.map((n) => [n, randoms(shapes[n].reduce((a, b) => a * b, 1), 42)])) as Record<ParamName, Float32Array>;
    const params = paramsFromArrays(TINY_CONFIG, arrays);
    for (const n of PARAM_NAMES) expect(be.tensorMap.get(params[n].dataId).values).toBeNull();
    disposeParams(params);
  });
});
