// Registers our WGSL programs (programs.ts) as kernels of the 'webgpu' backend (loaded by device.ts
// once tfjs-backend-webgpu is in):
//   - the grouped convolution and its two gradients under the names the native backend uses
//     (ml/kernels/tensorflow.ts: GROUPED_CONV and its backprop kernels, one shared gradient), so
//     ml/layers.ts's groupedConv2d runs one dispatch per grouped layer on either backend;
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
import { PAPER_LRN, PAPER_LRN_GRAD, type PaperLrnAttrs } from './names';

const BACKEND = 'webgpu';

/** Output size and leading padding of one spatial axis, by TensorFlow's SAME/VALID rules. */
function axis(inSize: number, k: number, stride: number, padding: 'SAME' | 'VALID'): { out: number; padBefore: number } {
  if (padding === 'VALID') return { out: Math.floor((inSize - k) / stride) + 1, padBefore: 0 };
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + k - inSize, 0);
  return { out, padBefore: Math.floor(total / 2) };
}

type Plan = { geometry: ConvGeometry; outShape: number[]; uniforms: { type: string; data: number[] }[] };

function plan(xShape: number[], wShape: number[], a: GroupedConvAttrs): Plan {
  const [n, h, w, cin] = xShape;
  const [kh, kw, cinG, cout] = wShape;
  const groups = cin / cinG;
  if (!Number.isInteger(groups) || cout % groups !== 0)
    throw new Error(`grouped conv: ${cin} input channels do not split into groups of ${cinG} that divide ${cout} outputs`);
  const ah = axis(h, kh, a.strides, a.padding);
  const aw = axis(w, kw, a.strides, a.padding);
  return {
    geometry: { kh, kw, cinG, coutG: cout / groups },
    outShape: [n, ah.out, aw.out, cout],
    uniforms: [{ type: 'int32', data: [a.strides] }, { type: 'int32', data: [ah.padBefore] }, { type: 'int32', data: [aw.padBefore] }],
  };
}

const attrsOf = (attrs: unknown): GroupedConvAttrs => attrs as GroupedConvAttrs;

const conv: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const p = plan(x.shape, filter.shape, attrsOf(attrs));
  return (backend as WebGPUBackend).runWebGPUProgram(new GroupedConvProgram(p.outShape, p.geometry), [x, filter], 'float32', p.uniforms);
};

const convInput: KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as GroupedConvAttrs & { inputShape: number[] };
  const p = plan(a.inputShape, filter.shape, a);
  return (backend as WebGPUBackend).runWebGPUProgram(new GroupedConvBackpropInputProgram(a.inputShape, p.geometry), [dy, filter], 'float32', p.uniforms);
};

const convFilter: KernelFunc = ({ inputs, attrs, backend }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as GroupedConvAttrs & { filterShape: number[] };
  const p = plan(x.shape, a.filterShape, a);
  return (backend as WebGPUBackend).runWebGPUProgram(new GroupedConvBackpropFilterProgram(a.filterShape, p.geometry), [x, dy], 'float32', p.uniforms);
};

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
 * leaves them out (TF.js's own kernels then run every layer: what the gpu benchmark compares against).
 */
export function registerWebgpuKernels(): void {
  if (registered) return;
  registered = true;
  if (process.env.ALEXNET_WEBGPU_KERNELS === '0') return;
  const add = (kernelName: string, kernelFunc: KernelFunc): void => {
    if (getKernel(kernelName, BACKEND) === undefined) registerKernel({ kernelName, backendName: BACKEND, kernelFunc });
  };
  add(GROUPED_CONV, conv);
  add(GROUPED_CONV_BP_INPUT, convInput);
  add(GROUPED_CONV_BP_FILTER, convFilter);
  registerGroupedConvGradient();
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
