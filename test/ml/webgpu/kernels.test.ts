// Our WGSL kernels (ml/kernels/webgpu/) against the references: the grouped convolution and both of
// its gradients against the cpu backend's split-convolve-concatenate path (itself checked against a
// block-diagonal full convolution in test/ml/layers.test.ts), the paper's LRN against its formula
// and its fused gradient against the gradient of the composed ops on the cpu backend. Tolerance:
// 1e-5 of the largest reference value (float32, different summation order), 1e-4 for gradients.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../ml/backend';
import { BVLC_LRN, PAPER_LRN, type LrnConfig } from '../../../ml/config';
import { hasNativeGroupedConv } from '../../../ml/kernels/tensorflow';
import { hasPaperLrn } from '../../../ml/kernels/webgpu/names';
import { groupedConv2d, lrn, type LrnImpl } from '../../../ml/layers';
import { maxRelDiff, naiveLrn, randoms } from '../../helpers/numeric';
import { webgpuSkipReason } from './setup';

const skip = await webgpuSkipReason();

type Conv = { name: string; n: number; h: number; w: number; cin: number; cout: number; k: number; stride: number; pad: number; groups: number };
const convCases: Conv[] = [
  { name: 'conv2-like 5x5 pad 2 (SAME)', n: 2, h: 9, w: 9, cin: 8, cout: 12, k: 5, stride: 1, pad: 2, groups: 2 },
  { name: 'conv4-like 3x3 pad 1, not square', n: 1, h: 7, w: 6, cin: 12, cout: 8, k: 3, stride: 1, pad: 1, groups: 2 },
  { name: 'strided 3x3/2 (VALID)', n: 2, h: 11, w: 11, cin: 6, cout: 4, k: 3, stride: 2, pad: 0, groups: 2 },
  { name: 'strided 3x3/2 pad 1', n: 1, h: 10, w: 10, cin: 4, cout: 6, k: 3, stride: 2, pad: 1, groups: 2 },
  { name: '4 groups', n: 1, h: 6, w: 6, cin: 8, cout: 8, k: 3, stride: 1, pad: 1, groups: 4 },
];

type ConvOut = { y: Float32Array; dx: Float32Array; dw: Float32Array; db: Float32Array };

async function convFigures(c: Conv): Promise<ConvOut> {
  const x = tf.tensor4d(randoms(c.n * c.h * c.w * c.cin, 1), [c.n, c.h, c.w, c.cin]);
  const w = tf.tensor4d(randoms(c.k * c.k * (c.cin / c.groups) * c.cout, 2), [c.k, c.k, c.cin / c.groups, c.cout]);
  const b = tf.tensor1d(randoms(c.cout, 3));
  const y = groupedConv2d(x, w, b, c.stride, c.pad, c.groups);
  const dy = tf.tensor(randoms(y.size, 4), y.shape);
  const g = tf.grads((xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) =>
    tf.sum(tf.mul(groupedConv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, bi as tf.Tensor1D, c.stride, c.pad, c.groups), dy)),
  )([x, w, b]);
  const out = {
    y: (await y.data()) as Float32Array,
    dx: (await g[0].data()) as Float32Array,
    dw: (await g[1].data()) as Float32Array,
    db: (await g[2].data()) as Float32Array,
  };
  tf.dispose([x, w, b, y, dy, ...g]);
  return out;
}

type LrnOut = { y: Float32Array; dx: Float32Array };
const LRN_SHAPE: [number, number, number, number] = [2, 3, 4, 11];

async function lrnFigures(p: LrnConfig, impl: LrnImpl): Promise<LrnOut> {
  const x = tf.tensor4d(randoms(LRN_SHAPE.reduce((a, b) => a * b), 7, 100), LRN_SHAPE); // ReLU-sized activations
  const dy = tf.tensor4d(randoms(x.size, 8), LRN_SHAPE);
  const y = lrn(x, p, impl);
  const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(lrn(t as tf.Tensor4D, p, impl), dy)))(x);
  const out = { y: (await y.data()) as Float32Array, dx: (await dx.data()) as Float32Array };
  tf.dispose([x, dy, y, dx]);
  return out;
}

const lrnCases: [string, LrnConfig][] = [
  ['paper k=2', PAPER_LRN],
  ['BVLC k=1', BVLC_LRN],
  ['n=3, beta 0.6', { size: 3, k: 1.5, alpha: 3e-3, beta: 0.6 }],
];

describe.skipIf(skip !== null)('our WGSL kernels on webgpu', () => {
  const ref = new Map<string, ConvOut | LrnOut>();
  const gpu = new Map<string, ConvOut | LrnOut>();

  it('computes the references on cpu and the kernels on webgpu', async () => {
    await initBackend('cpu');
    for (const c of convCases) ref.set(c.name, await convFigures(c));
    for (const [name, p] of lrnCases) ref.set(name, await lrnFigures(p, 'composed'));
    await initBackend('webgpu');
    // the layers take our kernels here
    expect(hasNativeGroupedConv()).toBe(true);
    expect(hasPaperLrn()).toBe(true);
    const before = tf.memory().numTensors;
    for (const c of convCases) gpu.set(c.name, await convFigures(c));
    for (const [name, p] of lrnCases) gpu.set(name, await lrnFigures(p, 'paper'));
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each(convCases)('grouped conv, its input and filter gradients: $name', (c) => {
    const r = ref.get(c.name) as ConvOut;
    const g = gpu.get(c.name) as ConvOut;
    expect(maxRelDiff(g.y, r.y)).toBeLessThan(1e-5);
    expect(maxRelDiff(g.dx, r.dx)).toBeLessThan(1e-4);
    expect(maxRelDiff(g.dw, r.dw)).toBeLessThan(1e-4);
    expect(maxRelDiff(g.db, r.db)).toBeLessThan(1e-4);
  });

  it.each(lrnCases)("the paper's LRN and its fused gradient: %s", (name, p) => {
    const r = ref.get(name) as LrnOut;
    const g = gpu.get(name) as LrnOut;
    const x = randoms(LRN_SHAPE.reduce((a, b) => a * b), 7, 100);
    expect(maxRelDiff(g.y, naiveLrn(x, LRN_SHAPE, p))).toBeLessThan(1e-5);
    expect(maxRelDiff(g.y, r.y)).toBeLessThan(1e-5);
    expect(maxRelDiff(g.dx, r.dx)).toBeLessThan(1e-4);
  });
});

if (skip !== null) it.skip(`webgpu kernels: ${skip}`, () => {});
