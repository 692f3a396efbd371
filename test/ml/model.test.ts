import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../ml/backend';
import { EngineError } from '../../ml/errors';
import {
  DEFAULT_CONFIG,
  PARAM_NAMES,
  TINY_CONFIG,
  disposeParams,
  forward,
  initParams,
  layerShapes,
  makeConfig,
  paramCount,
  paramShapes,
  paramsFromArrays,
  paramsToArrays,
  type AlexNetConfig,
  type ParamName,
  type Params,
} from '../../ml/model';

const live: Params[] = [];
function init(config: AlexNetConfig, seed: number): Params {
  const p = initParams(config, seed);
  live.push(p);
  return p;
}
function input(config: AlexNetConfig, n: number, seed: number): tf.Tensor4D {
  return tf.randomNormal([n, config.inputSize, config.inputSize, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}
function run(p: Params, c: AlexNetConfig, x: tf.Tensor, opts: Parameters<typeof forward>[3]): Float32Array {
  return tf.tidy(() => forward(p, c, x, opts).dataSync() as Float32Array);
}
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
function trace(p: Params, c: AlexNetConfig, x: tf.Tensor): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  tf.tidy(() => forward(p, c, x, { training: false, onLayer: (name, shape) => (shapes[name] = shape) }));
  return shapes;
}

beforeAll(async () => {
  await initBackend('wasm'); // the fastest backend that is always there; the full model needs it
});
afterEach(() => {
  while (live.length) disposeParams(live.pop() as Params);
});

describe('the full 2012 network', () => {
  it('has 60,965,224 parameters and the paper shapes at every layer (227 input)', () => {
    const shapes = paramShapes(DEFAULT_CONFIG);
    const zeros = Object.fromEntries(
      PARAM_NAMES.map((n) => [n, new Float32Array(shapes[n].reduce((a, b) => a * b, 1))]),
    ) as Record<ParamName, Float32Array>;
    const p = paramsFromArrays(DEFAULT_CONFIG, zeros);
    live.push(p);
    expect(PARAM_NAMES.reduce((s, n) => s + p[n].size, 0)).toBe(60_965_224);
    const x = tf.zeros([1, 227, 227, 3]);
    const got = trace(p, DEFAULT_CONFIG, x);
    x.dispose();
    expect(got).toEqual({
      conv1: [1, 55, 55, 96],
      pool1: [1, 27, 27, 96],
      conv2: [1, 27, 27, 256],
      pool2: [1, 13, 13, 256],
      conv3: [1, 13, 13, 384],
      conv4: [1, 13, 13, 384],
      conv5: [1, 13, 13, 256],
      pool5: [1, 6, 6, 256],
      fc6: [1, 4096],
      fc7: [1, 4096],
      fc8: [1, 1000],
    });
  });
});

describe('initialisation (paper section 5)', () => {
  it('draws weights from N(0, 0.01) and sets biases to 1 in conv2/4/5, fc6, fc7, else 0', () => {
    const c = makeConfig({ ...TINY_CONFIG, channels: [16, 32, 32, 32, 16], fcUnits: 256 });
    const p = init(c, 42);
    const a = paramsToArrays(p);
    let n = 0;
    let sum = 0;
    let sq = 0;
    for (const name of PARAM_NAMES.filter((x) => x.endsWith('.w'))) {
      for (const v of a[name]) {
        n++;
        sum += v;
        sq += v * v;
      }
    }
    const mean = sum / n;
    const std = Math.sqrt(sq / n - mean * mean);
    expect(n).toBeGreaterThan(100_000);
    expect(Math.abs(mean)).toBeLessThan(3e-4);
    expect(std).toBeGreaterThan(0.0098);
    expect(std).toBeLessThan(0.0102);
    const ones: ParamName[] = ['conv2.b', 'conv4.b', 'conv5.b', 'fc6.b', 'fc7.b'];
    const zeros: ParamName[] = ['conv1.b', 'conv3.b', 'fc8.b'];
    for (const b of ones) expect(Array.from(new Set(a[b]))).toEqual([1]);
    for (const b of zeros) expect(Array.from(new Set(a[b]))).toEqual([0]);
    // each tensor has its own stream: fc6 and fc7 do not start with the same numbers
    expect(maxAbsDiff(a['fc6.w'].subarray(0, 100), a['fc7.w'].subarray(0, 100))).toBeGreaterThan(0);
  });

  it('is reproducible under a seed, and differs between seeds', () => {
    const a = paramsToArrays(init(TINY_CONFIG, 7));
    const b = paramsToArrays(init(TINY_CONFIG, 7));
    const c = paramsToArrays(init(TINY_CONFIG, 8));
    for (const name of PARAM_NAMES) expect(b[name]).toEqual(a[name]);
    expect(maxAbsDiff(a['conv1.w'], c['conv1.w'])).toBeGreaterThan(0);
  });
});

describe('forward', () => {
  it('gives logits, and the stages compose: input->pool5->fc7->logits equals input->logits', () => {
    const p = init(TINY_CONFIG, 1);
    const x = input(TINY_CONFIG, 3, 2);
    const logits = run(p, TINY_CONFIG, x, { training: false });
    expect(logits.length).toBe(3 * TINY_CONFIG.numClasses);
    tf.tidy(() => {
      const f5 = forward(p, TINY_CONFIG, x, { training: false, to: 'pool5' });
      expect(f5.shape).toEqual([3, 2 * 2 * TINY_CONFIG.channels[4]]);
      const f7 = forward(p, TINY_CONFIG, f5, { training: false, from: 'pool5', to: 'fc7' });
      expect(f7.shape).toEqual([3, TINY_CONFIG.fcUnits]);
      const out = forward(p, TINY_CONFIG, f7, { training: false, from: 'fc7' });
      expect(maxAbsDiff(out.dataSync(), logits)).toBeLessThan(1e-6);
    });
    x.dispose();
  });

  it('rejects a wrong input size and an impossible stage order', () => {
    const p = init(TINY_CONFIG, 1);
    const x = tf.zeros([1, 98, 98, 3]);
    expect(() => forward(p, TINY_CONFIG, x, { training: false })).toThrow(/input must be \[N, 99, 99, 3\]/);
    expect(() => forward(p, TINY_CONFIG, x, { training: false, from: 'fc7', to: 'pool5' })).toThrow(EngineError);
    x.dispose();
  });

  it('applies seeded dropout only when training', () => {
    const p = init(TINY_CONFIG, 1);
    const x = input(TINY_CONFIG, 2, 3);
    const evalA = run(p, TINY_CONFIG, x, { training: false });
    const evalB = run(p, TINY_CONFIG, x, { training: false, seed: 5 });
    const trainA = run(p, TINY_CONFIG, x, { training: true, seed: 5 });
    const trainB = run(p, TINY_CONFIG, x, { training: true, seed: 5 });
    const trainC = run(p, TINY_CONFIG, x, { training: true, seed: 6 });
    expect(evalB).toEqual(evalA);
    expect(trainB).toEqual(trainA);
    expect(maxAbsDiff(trainA, evalA)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(trainA, trainC)).toBeGreaterThan(1e-4);
    // about half of fc7's units are zeroed while training, none in eval beyond ReLU's own zeros
    const fc7 = tf.tidy(() => forward(p, TINY_CONFIG, x, { training: true, seed: 9, to: 'fc7' }).dataSync());
    const fc7Eval = tf.tidy(() => forward(p, TINY_CONFIG, x, { training: false, to: 'fc7' }).dataSync());
    const zeroed = fc7.filter((v, i) => v === 0 && fc7Eval[i] !== 0).length / fc7Eval.filter((v) => v !== 0).length;
    expect(zeroed).toBeGreaterThan(0.25);
    expect(zeroed).toBeLessThan(0.75);
    // dropout 0 trains without masks
    const noDrop = { ...TINY_CONFIG, dropout: 0 };
    expect(run(p, noDrop, x, { training: true, seed: 1 })).toEqual(evalA);
    x.dispose();
  });

  it('tanh instead of ReLU bounds and signs the hidden features', () => {
    const tanh = makeConfig({ ...TINY_CONFIG, activation: 'tanh' });
    // zero biases (the paper's bias 1 would keep every pre-activation positive)
    const arrays = paramsToArrays(init(TINY_CONFIG, 1));
    for (const n of PARAM_NAMES) if (n.endsWith('.b')) arrays[n].fill(0);
    const p = paramsFromArrays(TINY_CONFIG, arrays);
    live.push(p);
    const x = input(TINY_CONFIG, 2, 4);
    const relu7 = run(p, TINY_CONFIG, x, { training: false, to: 'fc7' });
    const tanh7 = run(p, tanh, x, { training: false, to: 'fc7' });
    expect(Math.min(...relu7)).toBeGreaterThanOrEqual(0);
    expect(Math.min(...tanh7)).toBeLessThan(0);
    expect(Math.max(...tanh7.map(Math.abs))).toBeLessThan(1);
    x.dispose();
  });

  it('LRN off changes the output (and only the normalisation: same shapes)', () => {
    const off = makeConfig({ ...TINY_CONFIG, lrn: null });
    const k1 = makeConfig({ ...TINY_CONFIG, lrn: { size: 5, k: 1, alpha: 1e-4, beta: 0.75 } });
    // zero biases, so that pool5 carries the signal (not the paper's constant bias of 1)
    const arrays = paramsToArrays(init(TINY_CONFIG, 1));
    for (const n of PARAM_NAMES) if (n.endsWith('.b')) arrays[n].fill(0);
    const p = paramsFromArrays(TINY_CONFIG, arrays);
    live.push(p);
    const x = tf.mul(input(TINY_CONFIG, 2, 5), 50);
    const on = run(p, TINY_CONFIG, x, { training: false, to: 'pool5' });
    const noLrn = run(p, off, x, { training: false, to: 'pool5' });
    const bvlc = run(p, k1, x, { training: false, to: 'pool5' });
    const scale = Math.max(...on.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    // LRN divides by about k^beta at each of its two layers: 2^0.75 twice when k=2
    expect(maxAbsDiff(on, noLrn) / scale).toBeGreaterThan(0.5);
    expect(maxAbsDiff(on, bvlc) / scale).toBeGreaterThan(0.5);
    expect(trace(p, off, x)).toEqual(trace(p, TINY_CONFIG, x));
    x.dispose();
  });

  it('2x2/2 pooling gives the sizes the config computes (and they differ from 3x3/2 here)', () => {
    const over = makeConfig({ ...TINY_CONFIG, inputSize: 103 }); // conv1 24: 3/2 -> 11, 2/2 -> 12
    const flat = makeConfig({ ...over, overlappingPool: false });
    const pOver = init(over, 1);
    const pFlat = init(flat, 1);
    const x = input(over, 1, 6);
    const tOver = trace(pOver, over, x);
    const tFlat = trace(pFlat, flat, x);
    expect(tOver.pool5).toEqual([1, 2, 2, 8]);
    expect(tFlat.pool5).toEqual([1, 3, 3, 8]);
    for (const [layer, shape] of Object.entries(tFlat)) {
      const want = layerShapes(flat)[layer];
      expect([layer, shape.slice(1)]).toEqual([layer, want]);
    }
    expect(paramCount(flat) - paramCount(over)).toBe((9 - 4) * 8 * flat.fcUnits);
    x.dispose();
  });

  it('groups 1 runs with full filters and its own parameter count', () => {
    const one = makeConfig({ ...TINY_CONFIG, groups: 1 });
    const p = init(one, 1);
    expect(p['conv2.w'].shape).toEqual([5, 5, 8, 16]);
    expect(PARAM_NAMES.reduce((s, n) => s + p[n].size, 0)).toBe(paramCount(one));
    expect(paramCount(one)).toBeGreaterThan(paramCount(TINY_CONFIG));
    const x = input(one, 1, 7);
    expect(run(p, one, x, { training: false }).length).toBe(one.numClasses);
    x.dispose();
  });
});

describe('parameters in and out', () => {
  it('round-trips through Float32Arrays', () => {
    const p = init(TINY_CONFIG, 3);
    const arrays = paramsToArrays(p);
    const q = paramsFromArrays(TINY_CONFIG, arrays, Object.fromEntries(PARAM_NAMES.map((n) => [n, p[n].shape])));
    live.push(q);
    const x = input(TINY_CONFIG, 2, 8);
    expect(run(q, TINY_CONFIG, x, { training: false })).toEqual(run(p, TINY_CONFIG, x, { training: false }));
    x.dispose();
  });

  it('refuses mismatched weights with BAD_WEIGHTS naming the tensor and both shapes', () => {
    const arrays = paramsToArrays(init(TINY_CONFIG, 3));
    const short = { ...arrays, 'fc6.w': new Float32Array(10) };
    expect(() => paramsFromArrays(TINY_CONFIG, short)).toThrow(/fc6\.w: 10 values do not fit the model's shape \[32, 32\]/);
    const shapes = Object.fromEntries(PARAM_NAMES.map((n) => [n, paramShapes(TINY_CONFIG)[n]])) as Record<ParamName, number[]>;
    try {
      paramsFromArrays(TINY_CONFIG, arrays, { ...shapes, 'conv2.w': [5, 5, 16, 16] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EngineError);
      expect((e as EngineError).code).toBe('BAD_WEIGHTS');
      expect((e as EngineError).message).toBe("weights conv2.w: shape [5, 5, 16, 16] does not match the model's [5, 5, 4, 16]");
    }
    const missing: Partial<Record<ParamName, Float32Array>> = { ...arrays };
    delete missing['fc8.b'];
    expect(() => paramsFromArrays(TINY_CONFIG, missing as Record<ParamName, Float32Array>)).toThrow(/fc8\.b: missing/);
  });
});

describe('memory', () => {
  it('leaks no tensor across a forward + backward step and a prediction', () => {
    const p = init(TINY_CONFIG, 1);
    const x = input(TINY_CONFIG, 2, 9);
    const y = tf.oneHot(tf.tensor1d([0, 2], 'int32'), TINY_CONFIG.numClasses);
    const before = tf.memory().numTensors;
    for (let step = 0; step < 2; step++) {
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, forward(p, TINY_CONFIG, x, { training: true, seed: step })) as tf.Scalar,
      );
      expect(Object.keys(grads).length).toBe(PARAM_NAMES.length);
      expect(Number.isFinite(value.dataSync()[0])).toBe(true);
      value.dispose();
      tf.dispose(grads);
      tf.tidy(() => forward(p, TINY_CONFIG, x, { training: false }).dataSync());
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
  });
});
