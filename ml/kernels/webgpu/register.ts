// Registers our WGSL programs (programs.ts, tiled.ts) as kernels of the 'webgpu' backend (loaded by
// device.ts once tfjs-backend-webgpu is in):
//   - the grouped convolution and its two gradients under the names the native backend uses
//     (ml/kernels/tensorflow.ts: GROUPED_CONV and its backprop kernels, one shared gradient), so
//     ml/layers.ts's groupedConv2d runs one dispatch per grouped layer on either backend;
//   - with the tiled programs (names.ts, webgpuConvKernels), also the convolution with its bias and
//     ReLU in one program (GROUPED_CONV_BIAS_ACT), whose gradient masks dy with the output (y > 0
//     exactly where the ReLU passed) and then runs the same two backprop kernels;
//   - the paper's LRN and its gradient (PAPER_LRN below), which ml/layers.ts's lrn uses where the
//     current backend has them.

import * as tf from '@tensorflow/tfjs-core';
import { getKernel, registerGradient, registerKernel, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { GROUPED_CONV, GROUPED_CONV_BP_FILTER, GROUPED_CONV_BP_INPUT, registerGroupedConvGradient, type GroupedConvAttrs } from '../tensorflow';
import {
  GroupedConvBackpropFilterProgram,
  GroupedConvBackpropInputProgram,
  GroupedConvProgram,
  PaperLrnGradProgram,
  PaperLrnProgram,
  type ConvGeometry,
} from './programs';
import { GROUPED_CONV_BIAS_ACT, PAPER_LRN, PAPER_LRN_GRAD, webgpuConvKernels, type ConvActivation, type PaperLrnAttrs } from './names';
import {
  filterSlices,
  SumSlicesProgram,
  TiledConvBackpropFilterProgram,
  TiledConvBackpropInputProgram,
  TiledConvProgram,
  type TiledGeometry,
} from './tiled';

const BACKEND = 'webgpu';

/** Output size and leading padding of one spatial axis, by TensorFlow's SAME/VALID rules. */
function axis(inSize: number, k: number, stride: number, padding: 'SAME' | 'VALID'): { out: number; padBefore: number } {
  if (padding === 'VALID') return { out: Math.floor((inSize - k) / stride) + 1, padBefore: 0 };
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + k - inSize, 0);
  return { out, padBefore: Math.floor(total / 2) };
}

const attrsOf = (attrs: unknown): GroupedConvAttrs => attrs as GroupedConvAttrs;

type Plan = { geometry: ConvGeometry; tiled: TiledGeometry; outShape: number[]; uniforms: { type: string; data: number[] }[] };

function plan(xShape: number[], wShape: number[], a: GroupedConvAttrs): Plan {
  const [n, h, w, cin] = xShape;
  const [kh, kw, cinG, cout] = wShape;
  const groups = cin / cinG;
  if (!Number.isInteger(groups) || cout % groups !== 0)
    throw new Error(`grouped conv: ${cin} input channels do not split into groups of ${cinG} that divide ${cout} outputs`);
  const ah = axis(h, kh, a.strides, a.padding);
  const aw = axis(w, kw, a.strides, a.padding);
  const geometry = { kh, kw, cinG, coutG: cout / groups };
  return {
    geometry,
    tiled: { ...geometry, groups, stride: a.strides, padTop: ah.padBefore, padLeft: aw.padBefore },
    outShape: [n, ah.out, aw.out, cout],
    uniforms: [{ type: 'int32', data: [a.strides] }, { type: 'int32', data: [ah.padBefore] }, { type: 'int32', data: [aw.padBefore] }],
  };
}

const int = (v: number): { type: string; data: number[] } => ({ type: 'int32', data: [v] });

/** Which programs: 'naive' (programs.ts) or 'tiled' (tiled.ts). */
export type ConvImpl = 'naive' | 'tiled';

/**
 * y = activation(conv(x, filter) + bias) with the given programs (the naive ones take no bias or
 * activation). What the registered kernels run; exported for the tests, which compare both.
 */
export function runConv(
  backend: WebGPUBackend,
  impl: ConvImpl,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | null,
  a: GroupedConvAttrs,
  activation: ConvActivation,
): TensorInfo {
  const p = plan(x.shape, filter.shape, a);
  if (impl === 'naive') {
    if (bias !== null || activation !== 'linear') throw new Error('grouped conv: the naive program has no bias or activation');
    return backend.runWebGPUProgram(new GroupedConvProgram(p.outShape, p.geometry), [x, filter], 'float32', p.uniforms);
  }
  const rows = p.outShape[0] * p.outShape[1] * p.outShape[2];
  if (bias === null) {
    if (activation !== 'linear') throw new Error('grouped conv: an activation needs the bias in the same program');
    return backend.runWebGPUProgram(new TiledConvProgram(p.outShape, p.tiled, 'linear'), [x, filter], 'float32', [int(rows)]);
  }
  const epilogue = activation === 'relu' ? 'bias-relu' : 'bias';
  return backend.runWebGPUProgram(new TiledConvProgram(p.outShape, p.tiled, epilogue), [x, filter, bias], 'float32', [int(rows)]);
}

/** dL/dx of the convolution (inputShape: x's shape); the tiled program at stride 1 only. */
export function runConvBackpropInput(
  backend: WebGPUBackend,
  impl: ConvImpl,
  dy: TensorInfo,
  filter: TensorInfo,
  a: GroupedConvAttrs & { inputShape: number[] },
): TensorInfo {
  const p = plan(a.inputShape, filter.shape, a);
  // strided: the naive program (tiled.ts: the tiled product would be mostly zeros)
  if (impl === 'naive' || a.strides !== 1)
    return backend.runWebGPUProgram(new GroupedConvBackpropInputProgram(a.inputShape, p.geometry), [dy, filter], 'float32', p.uniforms);
  const rows = a.inputShape[0] * a.inputShape[1] * a.inputShape[2];
  return backend.runWebGPUProgram(new TiledConvBackpropInputProgram(a.inputShape, p.tiled), [dy, filter], 'float32', [int(rows)]);
}

/** dL/dw of the convolution (filterShape: w's shape). */
export function runConvBackpropFilter(
  backend: WebGPUBackend,
  impl: ConvImpl,
  x: TensorInfo,
  dy: TensorInfo,
  a: GroupedConvAttrs & { filterShape: number[] },
): TensorInfo {
  const p = plan(x.shape, a.filterShape, a);
  if (impl === 'naive') return backend.runWebGPUProgram(new GroupedConvBackpropFilterProgram(a.filterShape, p.geometry), [x, dy], 'float32', p.uniforms);
  const rows = a.filterShape[0] * a.filterShape[1] * a.filterShape[2];
  const red = dy.shape[0] * dy.shape[1] * dy.shape[2];
  const { slices, tilesPerSlice } = filterSlices(p.tiled, red);
  const uniforms = [int(rows), int(red), int(tilesPerSlice), int(slices)];
  if (slices === 1) return backend.runWebGPUProgram(new TiledConvBackpropFilterProgram(a.filterShape, p.tiled, 1), [x, dy], 'float32', uniforms);
  const partial = backend.runWebGPUProgram(new TiledConvBackpropFilterProgram([slices, rows, a.filterShape[3]], p.tiled, slices), [x, dy], 'float32', uniforms);
  try {
    return backend.runWebGPUProgram(new SumSlicesProgram(a.filterShape, slices), [partial], 'float32');
  } finally {
    backend.disposeData(partial.dataId);
  }
}

type FusedAttrs = GroupedConvAttrs & { activation: ConvActivation };

function kernelsFor(impl: ConvImpl): { conv: KernelFunc; convInput: KernelFunc; convFilter: KernelFunc; fused: KernelFunc } {
  return {
    conv: ({ inputs, attrs, backend }) => {
      const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
      return runConv(backend as WebGPUBackend, impl, x, filter, null, attrsOf(attrs), 'linear');
    },
    convInput: ({ inputs, attrs, backend }) => {
      const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
      return runConvBackpropInput(backend as WebGPUBackend, impl, dy, filter, attrs as unknown as GroupedConvAttrs & { inputShape: number[] });
    },
    convFilter: ({ inputs, attrs, backend }) => {
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      return runConvBackpropFilter(backend as WebGPUBackend, impl, x, dy, attrs as unknown as GroupedConvAttrs & { filterShape: number[] });
    },
    fused: ({ inputs, attrs, backend }) => {
      const { x, filter, bias } = inputs as { x: TensorInfo; filter: TensorInfo; bias: TensorInfo };
      const a = attrs as unknown as FusedAttrs;
      return runConv(backend as WebGPUBackend, impl, x, filter, bias, a, a.activation);
    },
  };
}

function lrnUniforms(a: PaperLrnAttrs): { type: string; data: number[] }[] {
  return [{ type: 'float32', data: [a.k] }, { type: 'float32', data: [a.alpha / a.size] }, { type: 'float32', data: [a.beta] }];
}

const lrnKernel: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  const a = attrs as unknown as PaperLrnAttrs;
  return (backend as WebGPUBackend).runWebGPUProgram(new PaperLrnProgram(x.shape, (a.size - 1) / 2), [x], 'float32', lrnUniforms(a));
};

const lrnGradKernel: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as PaperLrnAttrs;
  return (backend as WebGPUBackend).runWebGPUProgram(new PaperLrnGradProgram(x.shape, (a.size - 1) / 2), [x, dy], 'float32', lrnUniforms(a));
};

let registered = false;

/**
 * Registers the kernels above for 'webgpu' and their gradients. Idempotent. ALEXNET_WEBGPU_KERNELS=0
 * leaves them out (TF.js's own kernels then run every layer: what the gpu benchmark compares
 * against); ALEXNET_WEBGPU_TILED picks the convolution programs (names.ts).
 */
export function registerWebgpuKernels(): void {
  if (registered) return;
  registered = true;
  if (process.env.ALEXNET_WEBGPU_KERNELS === '0') return;
  const add = (kernelName: string, kernelFunc: KernelFunc): void => {
    if (getKernel(kernelName, BACKEND) === undefined) registerKernel({ kernelName, backendName: BACKEND, kernelFunc });
  };
  const impl: ConvImpl = webgpuConvKernels() === 'naive' ? 'naive' : 'tiled';
  const k = kernelsFor(impl);
  add(GROUPED_CONV, k.conv);
  add(GROUPED_CONV_BP_INPUT, k.convInput);
  add(GROUPED_CONV_BP_FILTER, k.convFilter);
  registerGroupedConvGradient();
  if (impl === 'tiled') {
    add(GROUPED_CONV_BIAS_ACT, k.fused);
    registerGradient({
      kernelName: GROUPED_CONV_BIAS_ACT,
      inputsToSave: ['x', 'filter'],
      outputsToSave: [true],
      gradFunc: (dy, saved, attrs) => {
        const [x, filter, y] = saved;
        const a = attrs as unknown as FusedAttrs;
        // dy where the ReLU passed (y > 0), once for the three (kept until the backward pass ends)
        const dz = a.activation === 'relu' ? tf.mul(dy as tf.Tensor, tf.step(y)) : (dy as tf.Tensor);
        const conv: GroupedConvAttrs = { strides: a.strides, padding: a.padding };
        return {
          x: () => tf.engine().runKernel(GROUPED_CONV_BP_INPUT, { dy: dz, filter }, { ...conv, inputShape: x.shape }) as tf.Tensor,
          filter: () => tf.engine().runKernel(GROUPED_CONV_BP_FILTER, { x, dy: dz }, { ...conv, filterShape: filter.shape }) as tf.Tensor,
          bias: () => tf.sum(dz, [0, 1, 2]),
        };
      },
    });
  }
  add(PAPER_LRN, lrnKernel);
  add(PAPER_LRN_GRAD, lrnGradKernel);
  registerGradient({
    kernelName: PAPER_LRN,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      return { x: () => tf.engine().runKernel(PAPER_LRN_GRAD, { x, dy: dy as tf.Tensor }, attrs as NamedAttrMap) as tf.Tensor };
    },
  });
}
