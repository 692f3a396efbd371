// The tiled convolution programs (ml/kernels/webgpu/tiled.ts) against the reference: TF.js's own
// conv2d on the cpu backend, one per group, then + bias and ReLU, and its gradients (tf.grads).
// Both our program sets run on the same inputs: the naive ones (programs.ts) and the tiled ones,
// forward (no epilogue; + bias then ReLU in the same program), dL/dx (tiled at stride 1; strided,
// both sets run the naive program) and dL/dw, on AlexNet-like
// shapes small enough for SwiftShader: conv1's 11x11 stride 4 (valid, and TensorFlow's asymmetric
// SAME), conv2's 5x5 in 2 groups, conv4's 3x3 in 2 groups with 64 outputs per group (the 64-wide
// tile), odd and non-square images, several row tiles with a partial last one, a filter gradient
// reduced in several slices, and 4 groups. Then the engine's path: groupedConv2d with the layer's
// ReLU, which on webgpu runs the fused kernel, and its gradients through the registered gradient
// (the ReLU's mask taken from the output).
//
// Tolerance: 1e-5 of the reference's largest magnitude for outputs, 1e-4 for gradients (float32,
// different summation orders: up to 363 products per output here, thousands per filter gradient).
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../ml/backend';
import { hasFusedConv, webgpuConvKernels } from '../../../ml/kernels/webgpu/names';
import { filterSlices } from '../../../ml/kernels/webgpu/tiled';
import { maxRelDiff, randoms } from '../../helpers/numeric';
import { convFigures, webgpuSkipReason, type ConvCase, type ConvOut } from './setup';

const skip = await webgpuSkipReason();

type Case = { name: string; n: number; h: number; w: number; cin: number; cout: number; k: number; stride: number; padding: 'SAME' | 'VALID'; groups: number };
const cases: Case[] = [
  { name: 'conv1-like 11x11/4 valid, 3 channels', n: 2, h: 27, w: 27, cin: 3, cout: 8, k: 11, stride: 4, padding: 'VALID', groups: 1 },
  { name: 'conv1-like 11x11/4 SAME (asymmetric padding), not square', n: 1, h: 25, w: 22, cin: 3, cout: 6, k: 11, stride: 4, padding: 'SAME', groups: 1 },
  { name: 'conv2-like 5x5 SAME, 2 groups, odd size', n: 2, h: 9, w: 9, cin: 16, cout: 24, k: 5, stride: 1, padding: 'SAME', groups: 2 },
  { name: 'conv4-like 3x3 SAME, 2 groups of 64 outputs', n: 1, h: 7, w: 6, cin: 24, cout: 128, k: 3, stride: 1, padding: 'SAME', groups: 2 },
  { name: 'strided 3x3/2 valid, 2 groups', n: 2, h: 11, w: 11, cin: 6, cout: 4, k: 3, stride: 2, padding: 'VALID', groups: 2 },
  { name: 'several row tiles, partial last one', n: 3, h: 13, w: 13, cin: 8, cout: 10, k: 3, stride: 1, padding: 'SAME', groups: 2 },
  { name: 'filter gradient in several slices', n: 4, h: 27, w: 27, cin: 4, cout: 8, k: 5, stride: 1, padding: 'SAME', groups: 2 },
  // the same layer again, cut into more slices: one pipeline serves both (the slicing is uniform)
  { name: 'filter gradient in more slices, same layer', n: 7, h: 27, w: 27, cin: 4, cout: 8, k: 5, stride: 1, padding: 'SAME', groups: 2 },
  { name: '4 groups', n: 1, h: 6, w: 6, cin: 8, cout: 8, k: 3, stride: 1, padding: 'SAME', groups: 4 },
];

type Inputs = { x: Float32Array; w: Float32Array; b: Float32Array; dy: Float32Array; outShape: number[] };
type Out = { y: Float32Array; yRelu: Float32Array; dx: Float32Array; dw: Float32Array };

const wShape = (c: Case): [number, number, number, number] => [c.k, c.k, c.cin / c.groups, c.cout];

function inputs(c: Case): Inputs {
  const out = (s: number): number => (c.padding === 'SAME' ? Math.ceil(s / c.stride) : Math.floor((s - c.k) / c.stride) + 1);
  const outShape = [c.n, out(c.h), out(c.w), c.cout];
  return {
    x: randoms(c.n * c.h * c.w * c.cin, 11),
    w: randoms(wShape(c).reduce((a, b) => a * b), 12),
    b: randoms(c.cout, 13),
    dy: randoms(outShape.reduce((a, b) => a * b), 14),
    outShape,
  };
}

/** TF.js's conv2d per group on the current backend (the cpu one here). */
function refConv(x: tf.Tensor4D, w: tf.Tensor4D, c: Case): tf.Tensor4D {
  if (c.groups === 1) return tf.conv2d(x, w, c.stride, c.padding === 'SAME' ? 'same' : 'valid'); // (split's gradient wants 2 parts)
  const xs = tf.split(x, c.groups, 3);
  const ws = tf.split(w, c.groups, 3);
  return tf.concat(
    xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, ws[i] as tf.Tensor4D, c.stride, c.padding === 'SAME' ? 'same' : 'valid')),
    3,
  ) as tf.Tensor4D;
}

async function reference(c: Case, v: Inputs): Promise<Out> {
  const x = tf.tensor4d(v.x, [c.n, c.h, c.w, c.cin]);
  const w = tf.tensor4d(v.w, wShape(c));
  const b = tf.tensor1d(v.b);
  const dy = tf.tensor(v.dy, v.outShape);
  const y = refConv(x, w, c);
  const yRelu = tf.relu(tf.add(y, b));
  const [dx, dw] = tf.grads((xi: tf.Tensor, wi: tf.Tensor) => tf.sum(tf.mul(refConv(xi as tf.Tensor4D, wi as tf.Tensor4D, c), dy)))([x, w]);
  const out = { y: (await y.data()) as Float32Array, yRelu: (await yRelu.data()) as Float32Array, dx: (await dx.data()) as Float32Array, dw: (await dw.data()) as Float32Array };
  tf.dispose([x, w, b, dy, y, yRelu, dx, dw]);
  return out;
}

async function ours(c: Case, v: Inputs, impl: 'naive' | 'tiled'): Promise<Out> {
  const { runConv, runConvBackpropFilter, runConvBackpropInput } = await import('../../../ml/kernels/webgpu/register');
  const be = tf.backend() as WebGPUBackend;
  const x = tf.tensor4d(v.x, [c.n, c.h, c.w, c.cin]);
  const w = tf.tensor4d(v.w, wShape(c));
  const b = tf.tensor1d(v.b);
  const dy = tf.tensor(v.dy, v.outShape);
  const a = { strides: c.stride, padding: c.padding };
  const read = async (t: tf.TensorInfo): Promise<Float32Array> => {
    const tensor = tf.engine().makeTensorFromTensorInfo(t);
    const d = (await tensor.data()) as Float32Array;
    tensor.dispose();
    return d;
  };
  const y = await read(runConv(be, impl, x, w, null, a, 'linear'));
  // the naive program has no epilogue: relu(y + b) as TF.js's ops
  let yRelu: Float32Array;
  if (impl === 'tiled') yRelu = await read(runConv(be, impl, x, w, b, a, 'relu'));
  else {
    const t = tf.tidy(() => tf.relu(tf.add(tf.tensor(y, v.outShape), b)));
    yRelu = (await t.data()) as Float32Array;
    t.dispose();
  }
  const dx = await read(runConvBackpropInput(be, impl, dy, w, { ...a, inputShape: x.shape }));
  const dw = await read(runConvBackpropFilter(be, impl, x, dy, { ...a, filterShape: w.shape }));
  tf.dispose([x, w, b, dy]);
  return { y, yRelu, dx, dw };
}

// The engine's path, with symmetric padding in pixels as the network's layers give it.
type LayerCase = ConvCase & { name: string };
const layerCases: LayerCase[] = [
  { name: 'conv2-like 5x5 pad 2, 2 groups', n: 2, h: 9, w: 9, cin: 8, cout: 12, k: 5, stride: 1, pad: 2, groups: 2 },
  { name: '11x11/4 pad 2, 1 group', n: 1, h: 23, w: 23, cin: 3, cout: 8, k: 11, stride: 4, pad: 2, groups: 1 },
];
describe.skipIf(skip !== null)('tiled convolution programs on webgpu', () => {
  const ref = new Map<string, Out>();
  const naive = new Map<string, Out>();
  const tiled = new Map<string, Out>();
  const layerRef = new Map<string, ConvOut>();
  const layerGpu = new Map<string, ConvOut>();

  it('computes the references on cpu and both program sets on webgpu', async () => {
    await initBackend('cpu');
    for (const c of cases) ref.set(c.name, await reference(c, inputs(c)));
    for (const c of layerCases) layerRef.set(c.name, await convFigures(c, 21, 'relu'));
    await initBackend('webgpu');
    const before = tf.memory().numTensors;
    for (const c of cases) {
      const v = inputs(c);
      naive.set(c.name, await ours(c, v, 'naive'));
      tiled.set(c.name, await ours(c, v, 'tiled'));
    }
    // with the tiled programs (the default) the grouped layers take the fused kernel, groups 1 too with 'all'
    const mode = webgpuConvKernels();
    expect(hasFusedConv(2)).toBe(mode !== 'naive');
    expect(hasFusedConv(1)).toBe(mode === 'tiled-all');
    for (const c of layerCases) layerGpu.set(c.name, await convFigures(c, 21, 'relu'));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('cuts the filter gradient of the largest cases into slices', () => {
    const geo = { kh: 5, kw: 5, cinG: 2, coutG: 4, groups: 2, stride: 1, padTop: 2, padLeft: 2 };
    expect(filterSlices(geo, 4 * 27 * 27).slices).toBeGreaterThan(1);
    expect(filterSlices(geo, 7 * 27 * 27).slices).toBeGreaterThan(filterSlices(geo, 4 * 27 * 27).slices);
  });

  it.each(cases)('y, relu(y + b), dL/dx and dL/dw, naive and tiled: $name', (c) => {
    const r = ref.get(c.name) as Out;
    for (const got of [naive.get(c.name) as Out, tiled.get(c.name) as Out]) {
      expect(got.y.length).toBe(r.y.length);
      expect(maxRelDiff(got.y, r.y)).toBeLessThan(1e-5);
      expect(maxRelDiff(got.yRelu, r.yRelu)).toBeLessThan(1e-5);
      expect(maxRelDiff(got.dx, r.dx)).toBeLessThan(1e-4);
      expect(maxRelDiff(got.dw, r.dw)).toBeLessThan(1e-4);
    }
  });

  it.each(layerCases)('the layer with its ReLU and its gradients (x, w, bias): $name', (c) => {
    const r = layerRef.get(c.name) as ConvOut;
    const g = layerGpu.get(c.name) as ConvOut;
    expect(r.y.some((v) => v === 0) && r.y.some((v) => v > 0)).toBe(true); // the ReLU cuts somewhere
    expect(maxRelDiff(g.y, r.y)).toBeLessThan(1e-5);
    expect(maxRelDiff(g.dx, r.dx)).toBeLessThan(1e-4);
    expect(maxRelDiff(g.dw, r.dw)).toBeLessThan(1e-4);
    expect(maxRelDiff(g.db, r.db)).toBeLessThan(1e-4);
  });
});

if (skip !== null) it.skip(`tiled webgpu kernels: ${skip}`, () => {});
