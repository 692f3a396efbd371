import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  WASM_HEAP_LIMIT_BYTES,
  currentBackend,
  estimateMemoryBytes,
  findNativeBinding,
  initBackend,
  largestBatch,
  largestTensor,
  memoryGuard,
} from '../../ml/backend';
import { DEFAULT_CONFIG, TINY_CONFIG, makeConfig } from '../../ml/config';
import { EngineError } from '../../ml/errors';
import { disposeParams, forward, initParams, PARAM_NAMES } from '../../ml/model';

const savedEnv = process.env.ALEXNET_BACKEND;
afterEach(() => {
  if (savedEnv === undefined) delete process.env.ALEXNET_BACKEND;
  else process.env.ALEXNET_BACKEND = savedEnv;
});

const nativeAddonPresent = (pkg: string): boolean => findNativeBinding(pkg) !== null;

describe('backend selection', () => {
  it("'auto' takes the best backend that loads, and says why better ones did not", async () => {
    delete process.env.ALEXNET_BACKEND;
    const info = await initBackend('auto');
    expect(['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm']).toContain(info.name);
    expect(info.versions['tfjs-core']).toBe(tf.version_core);
    expect(info.versions.node).toBe(process.versions.node);
    expect(currentBackend()).toEqual(info);
    const order = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];
    if (info.name === 'webgpu') expect(info.adapter?.software).toBe(false); // never a software GPU on its own
    expect(info.tried.map((t) => t.name)).toEqual(order.slice(0, order.indexOf(info.name)));
    for (const t of info.tried) expect(t.error.length).toBeGreaterThan(0);
    if (!nativeAddonPresent('@tensorflow/tfjs-node') && !nativeAddonPresent('@tensorflow/tfjs-node-gpu') && info.name !== 'webgpu') {
      expect(info.name).toBe('wasm');
      expect(info.versions['@tensorflow/tfjs-backend-wasm']).toMatch(/^\d+\.\d+\.\d+$/);
      expect(info.threads).toBeGreaterThanOrEqual(1);
    }
  });

  it('ALEXNET_BACKEND forces one; an unknown name is a clear error', async () => {
    process.env.ALEXNET_BACKEND = 'cpu';
    const info = await initBackend();
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(info.tried).toEqual([]);
    process.env.ALEXNET_BACKEND = 'quantum';
    await expect(initBackend()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', message: expect.stringMatching(/ALEXNET_BACKEND=quantum/) });
    // an explicit preference wins over the environment
    process.env.ALEXNET_BACKEND = 'cpu';
    expect((await initBackend('wasm')).name).toBe('wasm');
  });

  it('a forced backend that cannot load throws BACKEND_UNAVAILABLE with its reason', async () => {
    if (nativeAddonPresent('@tensorflow/tfjs-node')) return; // nothing to refuse on this machine
    const e = await initBackend('tensorflow').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).code).toBe('BACKEND_UNAVAILABLE');
    expect((e as EngineError).message).toMatch(/^no TensorFlow\.js backend could be loaded \(tensorflow: /);
  });
});

// The filter gradient for every AlexNet conv geometry (kernel, stride, padding), at small spatial
// sizes so that the pure-JS cpu reference stays fast.
const convCases = [
  { name: 'conv1 11x11/4 pad 0', x: [2, 39, 39, 3], w: [11, 11, 3, 8], stride: 4, pad: 0 },
  { name: 'conv1, ragged edge', x: [1, 41, 41, 3], w: [11, 11, 3, 4], stride: 4, pad: 0 },
  { name: 'conv2 5x5 pad 2', x: [2, 9, 9, 12], w: [5, 5, 12, 16], stride: 1, pad: 2 },
  { name: 'conv3-5 3x3 pad 1', x: [2, 7, 7, 16], w: [3, 3, 16, 8], stride: 1, pad: 1 },
  { name: 'stride 2 pad 1', x: [1, 10, 10, 4], w: [3, 3, 4, 5], stride: 2, pad: 1 },
];

async function filterGrad(backend: 'cpu' | 'wasm', xd: tf.Tensor, dyd: tf.Tensor, wShape: number[], stride: number, pad: number): Promise<Float32Array> {
  await initBackend(backend);
  return tf.tidy(() => {
    const f = (w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xd as tf.Tensor4D, w as tf.Tensor4D, stride, pad === 0 ? 'valid' : pad), dyd));
    return tf.grad(f)(tf.zeros(wShape)).dataSync() as Float32Array;
  });
}

describe('training kernels on wasm', () => {
  it.each(convCases)('Conv2DBackpropFilter matches cpu: $name', async ({ x, w, stride, pad }) => {
    const xs = tf.randomNormal(x, 0, 1, 'float32', 1);
    const outSide = (s: number) => Math.floor((s + 2 * pad - w[0]) / stride) + 1;
    const dy = tf.randomNormal([x[0], outSide(x[1]), outSide(x[2]), w[3]], 0, 1, 'float32', 2);
    const want = await filterGrad('cpu', xs, dy, w, stride, pad);
    const got = await filterGrad('wasm', xs, dy, w, stride, pad);
    let diff = 0;
    let mag = 0;
    for (let i = 0; i < want.length; i++) {
      diff = Math.max(diff, Math.abs(got[i] - want[i]));
      mag = Math.max(mag, Math.abs(want[i]));
    }
    expect(mag).toBeGreaterThan(0);
    expect(diff / mag).toBeLessThan(1e-5);
    tf.dispose([xs, dy]);
  });

  it('a full gradient step on the tiny AlexNet runs on wasm and matches cpu', async () => {
    const step = async (backend: 'cpu' | 'wasm') => {
      await initBackend(backend);
      const p = initParams(TINY_CONFIG, 11);
      const x = tf.randomNormal([2, TINY_CONFIG.inputSize, TINY_CONFIG.inputSize, 3], 0, 1, 'float32', 12);
      const y = tf.oneHot(tf.tensor1d([1, 2], 'int32'), TINY_CONFIG.numClasses);
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, forward(p, TINY_CONFIG, x, { training: true, seed: 3 })) as tf.Scalar,
      );
      const loss = value.dataSync()[0];
      const g = PARAM_NAMES.map((n) => grads[p[n].name].dataSync() as Float32Array);
      value.dispose();
      tf.dispose(grads);
      expect(tf.memory().numTensors).toBe(before); // no leak across forward + backward
      tf.dispose([x, y]);
      disposeParams(p);
      return { loss, g };
    };
    const cpu = await step('cpu');
    const wasm = await step('wasm');
    expect(wasm.loss).toBeCloseTo(cpu.loss, 5);
    PARAM_NAMES.forEach((name, i) => {
      const a = wasm.g[i];
      const b = cpu.g[i];
      let diff = 0;
      let mag = 1e-12;
      for (let j = 0; j < a.length; j++) {
        diff = Math.max(diff, Math.abs(a[j] - b[j]));
        mag = Math.max(mag, Math.abs(b[j]));
      }
      expect([name, diff / mag < 1e-3]).toEqual([name, true]);
    });
  });
});

describe('memoryGuard', () => {
  it('refuses a wasm batch that would pass the 4 GB heap, suggesting a batch that fits', () => {
    let err: unknown;
    try {
      memoryGuard(DEFAULT_CONFIG, 512, true, 'wasm');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('OUT_OF_MEMORY');
    const m = /use a batch of (\d+) or less/.exec((err as EngineError).message);
    expect(m).not.toBeNull();
    const fits = Number(m?.[1]);
    expect(estimateMemoryBytes(DEFAULT_CONFIG, fits, true)).toBeLessThanOrEqual(WASM_HEAP_LIMIT_BYTES);
    expect(() => memoryGuard(DEFAULT_CONFIG, fits, true, 'wasm')).not.toThrow();
    // the same batch is not refused on backends without the wasm heap limit
    expect(memoryGuard(DEFAULT_CONFIG, 512, true, 'tensorflow')).toBeGreaterThan(WASM_HEAP_LIMIT_BYTES);
  });

  it("finds the largest tensor a GPU must hold in one buffer, and the largest batch under a device's limit", () => {
    // the paper's network: conv1's output (55 x 55 x 96 floats an image) outgrows fc6's weights (9216 x 4096) past 130 images
    expect(largestTensor(DEFAULT_CONFIG, 128)).toEqual({ bytes: 4 * 9216 * 4096, what: 'fc6.w (weights)' });
    expect(largestTensor(DEFAULT_CONFIG, 256)).toEqual({ bytes: 4 * 256 * 55 * 55 * 96, what: "conv1's output at batch 256" });
    expect(largestBatch(DEFAULT_CONFIG, 1024 ** 3)).toBe(Math.floor(1024 ** 3 / (4 * 55 * 55 * 96))); // 924
    expect(largestTensor(DEFAULT_CONFIG, largestBatch(DEFAULT_CONFIG, 1024 ** 3) + 1).bytes).toBeGreaterThan(1024 ** 3);
    // WebGPU's guaranteed minimum (128 MiB) cannot hold fc6's weights at all
    expect(largestBatch(DEFAULT_CONFIG, 128 * 1024 ** 2)).toBe(0);
    // without a webgpu device, nothing is refused for the GPU's sake
    expect(() => memoryGuard(DEFAULT_CONFIG, 4096, true, 'webgpu')).not.toThrow();
  });

  it('lets inference use much larger batches than training, and grows with the batch', () => {
    expect(estimateMemoryBytes(DEFAULT_CONFIG, 64, false)).toBeLessThan(estimateMemoryBytes(DEFAULT_CONFIG, 64, true));
    expect(estimateMemoryBytes(DEFAULT_CONFIG, 64, true)).toBeGreaterThan(estimateMemoryBytes(DEFAULT_CONFIG, 32, true));
    expect(() => memoryGuard(DEFAULT_CONFIG, 32, false, 'wasm')).not.toThrow();
    expect(() => memoryGuard(makeConfig({ numClasses: 2 }), 16, true, 'wasm')).not.toThrow();
  });

  it('never underestimates the measured peak of a tiny training step', async () => {
    await initBackend('wasm');
    const p = initParams(TINY_CONFIG, 1);
    const x = tf.randomNormal([8, TINY_CONFIG.inputSize, TINY_CONFIG.inputSize, 3]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), TINY_CONFIG.numClasses);
    const base = tf.memory().numBytes - PARAM_NAMES.reduce((s, n) => s + p[n].size * 4, 0);
    const prof = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, forward(p, TINY_CONFIG, x, { training: true, seed: 1 })) as tf.Scalar,
      );
      value.dispose();
      tf.dispose(grads);
    });
    const peak = prof.peakBytes - base;
    expect(peak).toBeGreaterThan(0);
    expect(estimateMemoryBytes(TINY_CONFIG, 8, true)).toBeGreaterThanOrEqual(peak);
    expect(estimateMemoryBytes(TINY_CONFIG, 8, true)).toBeLessThan(peak * 6); // and is not absurd
    tf.dispose([x, y]);
    disposeParams(p);
  });
});
