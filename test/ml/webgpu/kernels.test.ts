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
import { lrn, type LrnImpl } from '../../../ml/layers';
import { maxRelDiff, naiveLrn, randoms } from '../../helpers/numeric';
import { convFigures, webgpuSkipReason, type ConvCase, type ConvOut } from './setup';

const skip = await webgpuSkipReason();

type Conv = ConvCase & { name: string };
const convCases: Conv[] = [
  { name: 'conv2-like 5x5 pad 2 (SAME)', n: 2, h: 9, w: 9, cin: 8, cout: 12, k: 5, stride: 1, pad: 2, groups: 2 },
  { name: 'conv4-like 3x3 pad 1, not square', n: 1, h: 7, w: 6, cin: 12, cout: 8, k: 3, stride: 1, pad: 1, groups: 2 },
  { name: 'strided 3x3/2 (VALID)', n: 2, h: 11, w: 11, cin: 6, cout: 4, k: 3, stride: 2, pad: 0, groups: 2 },
  { name: 'strided 3x3/2 pad 1', n: 1, h: 10, w: 10, cin: 4, cout: 6, k: 3, stride: 2, pad: 1, groups: 2 },
  { name: '4 groups', n: 1, h: 6, w: 6, cin: 8, cout: 8, k: 3, stride: 1, pad: 1, groups: 4 },
];

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
    for (const c of convCases) ref.set(c.name, await convFigures(c, 1));
    for (const [name, p] of lrnCases) ref.set(name, await lrnFigures(p, 'composed'));
    await initBackend('webgpu');
    // the layers take our kernels here
    expect(hasNativeGroupedConv()).toBe(true);
    expect(hasPaperLrn()).toBe(true);
    const before = tf.memory().numTensors;
    for (const c of convCases) gpu.set(c.name, await convFigures(c, 1));
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
