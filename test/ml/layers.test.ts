import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../ml/backend';
import { BVLC_LRN, PAPER_LRN, type LrnConfig } from '../../ml/config';
import { dense, groupedConv2d, hasNativeLrn, lrn } from '../../ml/layers';
import { naiveLrn, randoms, maxRelDiff } from '../helpers/numeric';

// A full convolution with a block-diagonal filter: group g's outputs see only group g's inputs.
function blockDiagonal(w: Float32Array, kh: number, kw: number, cinG: number, cout: number, groups: number): tf.Tensor4D {
  const cin = cinG * groups;
  const coutG = cout / groups;
  const full = new Float32Array(kh * kw * cin * cout);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let ci = 0; ci < cinG; ci++)
        for (let co = 0; co < cout; co++) {
          const g = Math.floor(co / coutG);
          full[((i * kw + j) * cin + g * cinG + ci) * cout + co] = w[((i * kw + j) * cinG + ci) * cout + co];
        }
  return tf.tensor4d(full, [kh, kw, cin, cout]);
}

const BACKENDS = ['cpu', 'wasm'] as const;

describe.each(BACKENDS)('layers on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
    expect(tf.getBackend()).toBe(backend);
  });
  afterAll(() => {
    tf.disposeVariables();
  });

  // AlexNet's grouped layers, at reduced spatial size: conv2 5x5 pad 2, conv4/conv5 3x3 pad 1, and a
  // strided one for good measure.
  const cases = [
    { name: 'conv2-like', n: 2, h: 9, cin: 8, cout: 12, k: 5, stride: 1, pad: 2 },
    { name: 'conv4-like', n: 1, h: 7, cin: 12, cout: 12, k: 3, stride: 1, pad: 1 },
    { name: 'strided', n: 2, h: 11, cin: 6, cout: 4, k: 3, stride: 2, pad: 0 },
  ];
  it.each(cases)('grouped conv equals a block-diagonal full conv ($name)', ({ n, h, cin, cout, k, stride, pad }) => {
    const groups = 2;
    const xData = randoms(n * h * h * cin, 1);
    const wData = randoms(k * k * (cin / groups) * cout, 2);
    const bData = randoms(cout, 3);
    tf.tidy(() => {
      const x = tf.tensor4d(xData, [n, h, h, cin]);
      const w = tf.tensor4d(wData, [k, k, cin / groups, cout]);
      const b = tf.tensor1d(bData);
      const got = groupedConv2d(x, w, b, stride, pad, groups);
      const ref = tf.add(tf.conv2d(x, blockDiagonal(wData, k, k, cin / groups, cout, groups), stride, pad === 0 ? 'valid' : pad), b);
      expect(got.shape).toEqual(ref.shape);
      expect(maxRelDiff(got.dataSync(), ref.dataSync())).toBeLessThan(1e-5);

      // Caffe `group: 2`: the first half of the outputs ignores the second half of the inputs.
      const x2 = tf.concat([tf.slice(x, [0, 0, 0, 0], [n, h, h, cin / 2]), tf.mul(tf.slice(x, [0, 0, 0, cin / 2], [n, h, h, cin / 2]), 7)], 3);
      const got2 = groupedConv2d(x2 as tf.Tensor4D, w, b, stride, pad, groups);
      const half = (t: tf.Tensor4D, i: number): Float32Array =>
        tf.slice(t, [0, 0, 0, i * (cout / 2)], [t.shape[0], t.shape[1], t.shape[2], cout / 2]).dataSync() as Float32Array;
      expect(Array.from(half(got2, 0))).toEqual(Array.from(half(got, 0)));
      expect(maxRelDiff(half(got2, 1), half(got, 1))).toBeGreaterThan(0.1);
    });
  });

  it('groups 1 is a plain convolution', () => {
    tf.tidy(() => {
      const x = tf.tensor4d(randoms(2 * 8 * 8 * 3, 4), [2, 8, 8, 3]);
      const w = tf.tensor4d(randoms(3 * 3 * 3 * 5, 5), [3, 3, 3, 5]);
      const got = groupedConv2d(x, w, null, 1, 1, 1);
      const ref = tf.conv2d(x, w, 1, 1);
      expect(maxRelDiff(got.dataSync(), ref.dataSync())).toBe(0);
    });
  });

  const lrnCases: [string, LrnConfig][] = [
    ['paper k=2', PAPER_LRN],
    ['BVLC k=1', BVLC_LRN],
    ['n=3', { size: 3, k: 1.5, alpha: 3e-3, beta: 0.6 }],
  ];
  for (const impl of ['native', 'composed'] as const) {
    it.each(lrnCases)(`LRN (${impl}) matches the paper's formula: %s`, (_, p) => {
      const shape = [2, 3, 4, 11];
      // Activations of ReLU-layer size (|a| up to 100) so that the alpha term matters.
      const xData = randoms(2 * 3 * 4 * 11, 7, 100);
      const want = naiveLrn(xData, shape, p);
      tf.tidy(() => {
        const got = lrn(tf.tensor4d(xData, shape as [number, number, number, number]), p, impl);
        expect(maxRelDiff(got.dataSync(), want)).toBeLessThan(1e-5);
      });
    });
  }

  it('tf.localResponseNormalization without alpha/n is not the paper LRN (the fact lrn() corrects)', () => {
    const shape: [number, number, number, number] = [1, 4, 4, 16];
    const xData = randoms(4 * 4 * 16, 9, 100);
    const want = naiveLrn(xData, shape, PAPER_LRN);
    tf.tidy(() => {
      const raw = tf.localResponseNormalization(tf.tensor4d(xData, shape), 2, 2, 1e-4, 0.75);
      expect(maxRelDiff(raw.dataSync(), want)).toBeGreaterThan(0.05);
    });
  });

  it('LRN gradients agree between the native kernel and the composed ops', () => {
    const shape: [number, number, number, number] = [1, 3, 3, 9];
    const xData = randoms(3 * 3 * 9, 11, 50);
    const dyData = randoms(3 * 3 * 9, 12);
    tf.tidy(() => {
      const x = tf.tensor4d(xData, shape);
      const dy = tf.tensor4d(dyData, shape);
      const g = (impl: 'native' | 'composed') => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(lrn(t as tf.Tensor4D, PAPER_LRN, impl), dy)))(x);
      const gn = g('native').dataSync();
      const gc = g('composed').dataSync();
      expect(maxRelDiff(gn, gc)).toBeLessThan(1e-4);
    });
  });

  it('dense (with its wasm-friendly gradient) equals x.w + b and its stock gradients', () => {
    const [n, din, dout] = [3, 7, 5];
    tf.tidy(() => {
      const x = tf.tensor2d(randoms(n * din, 21), [n, din]);
      const w = tf.tensor2d(randoms(din * dout, 22), [din, dout]);
      const b = tf.tensor1d(randoms(dout, 23));
      const dy = tf.tensor2d(randoms(n * dout, 24), [n, dout]);
      const loss = (f: (a: tf.Tensor2D, c: tf.Tensor2D, d: tf.Tensor1D) => tf.Tensor) => (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
        tf.sum(tf.mul(f(a as tf.Tensor2D, c as tf.Tensor2D, d as tf.Tensor1D), dy));
      const ref = (a: tf.Tensor2D, c: tf.Tensor2D, d: tf.Tensor1D) => tf.add(tf.matMul(a, c), d);
      expect(maxRelDiff(dense(x, w, b).dataSync(), ref(x, w, b).dataSync())).toBeLessThan(1e-6);
      const got = tf.grads(loss(dense))([x, w, b]);
      const want = tf.grads(loss(ref))([x, w, b]);
      got.forEach((g, i) => {
        expect(g.shape).toEqual(want[i].shape);
        expect(maxRelDiff(g.dataSync(), want[i].dataSync())).toBeLessThan(1e-5);
      });
    });
  });

  it('reports whether the backend has the native LRN kernel and its gradient', () => {
    // Both cpu and wasm 4.22 register LRN and LRNGrad, so 'auto' uses the native kernel here.
    expect(hasNativeLrn()).toBe(true);
  });
});
