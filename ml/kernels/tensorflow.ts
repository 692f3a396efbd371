// Kernels that let the native backend (@tensorflow/tfjs-node, 'tensorflow') run AlexNet's layers as
// TensorFlow's own ops instead of TF.js's compositions of them.
//
//   AlexNetGroupedConv2D (+ its two backprop kernels): one Conv2D whose filter has Cin/groups input
//     channels. TensorFlow runs this grouped convolution, and its gradients, as one oneDNN primitive
//     when oneDNN is on (ml/backend.ts turns it on); the portable path splits input and filter into
//     halves and concatenates the outputs (tf.split + 2 convs + tf.concat), copying every activation
//     and the filter on each call. Without oneDNN, TensorFlow's CPU kernels refuse grouped gradients,
//     so registration probes them once and leaves the kernels out when they fail.
//   AlexNetReluGrad: TensorFlow's ReluGrad (dy where y = relu(x) > 0). TF.js's Relu gradient is
//     dy * cast(step(x)), and tfjs-node's Step is built from IsNan, Greater, Fill, Select and
//     Identity: six temporaries of the activation's size per ReLU. At conv1, batch 32, they were the
//     peak of a training step's memory (35 MB each).
//
// The gradient registry is global, so the Relu gradient registered here serves every backend: it
// uses AlexNetReluGrad where the current backend has it and TF.js's formula elsewhere.

import * as tf from '@tensorflow/tfjs-core';
import { getKernel, registerGradient, registerKernel, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';

export const GROUPED_CONV = 'AlexNetGroupedConv2D';
export const GROUPED_CONV_BP_INPUT = 'AlexNetGroupedConv2DBackpropInput';
export const GROUPED_CONV_BP_FILTER = 'AlexNetGroupedConv2DBackpropFilter';
const RELU_GRAD = 'AlexNetReluGrad';
const BACKEND = 'tensorflow';

export type GroupedConvAttrs = { strides: number; padding: 'SAME' | 'VALID' };

// The parts of tfjs-node's NodeJSKernelBackend used here (it has no exported type for them).
type TfeAttr = { name: string; type: number; value: unknown };
type NodeBackend = {
  binding: { TF_ATTR_TYPE: number; TF_ATTR_INT: number; TF_ATTR_STRING: number; TF_ATTR_BOOL: number; TF_FLOAT: number };
  executeSingleOutput(name: string, attrs: TfeAttr[], inputs: TensorInfo[]): TensorInfo;
  // Hands tensors written from JS (kept as JS arrays until an op first reads them) to TensorFlow.
  getInputTensorIds?(tensors: TensorInfo[]): number[];
};

function convAttrs(be: NodeBackend, a: GroupedConvAttrs): TfeAttr[] {
  const b = be.binding;
  return [
    { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: 'strides', type: b.TF_ATTR_INT, value: [1, a.strides, a.strides, 1] },
    { name: 'padding', type: b.TF_ATTR_STRING, value: a.padding },
    { name: 'data_format', type: b.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'use_cudnn_on_gpu', type: b.TF_ATTR_BOOL, value: true },
    { name: 'dilations', type: b.TF_ATTR_INT, value: [1, 1, 1, 1] },
  ];
}

/** A 1-d int32 tensor of `shape`, as the backprop ops take their static shape argument. */
function shapeTensor(shape: readonly number[]): tf.Tensor1D {
  return tf.tensor1d(shape as number[], 'int32');
}

function groupedConvForward(be: NodeBackend, x: TensorInfo, filter: TensorInfo, a: GroupedConvAttrs): TensorInfo {
  return be.executeSingleOutput('Conv2D', convAttrs(be, a), [x, filter]);
}

function groupedBackpropInput(be: NodeBackend, dy: TensorInfo, filter: TensorInfo, a: GroupedConvAttrs & { inputShape: number[] }): TensorInfo {
  const s = shapeTensor(a.inputShape);
  try {
    return be.executeSingleOutput('Conv2DBackpropInput', convAttrs(be, a), [s, filter, dy]);
  } finally {
    s.dispose();
  }
}

function groupedBackpropFilter(be: NodeBackend, x: TensorInfo, dy: TensorInfo, a: GroupedConvAttrs & { filterShape: number[] }): TensorInfo {
  const s = shapeTensor(a.filterShape);
  try {
    return be.executeSingleOutput('Conv2DBackpropFilter', convAttrs(be, a), [x, s, dy]);
  } finally {
    s.dispose();
  }
}

let reluGradRegistered = false;

/** TF.js's Relu gradient, or TensorFlow's ReluGrad where the current backend has the kernel. */
function registerReluGradient(): void {
  if (reluGradRegistered) return;
  reluGradRegistered = true;
  registerGradient({
    kernelName: 'Relu',
    // The output, not the input: y > 0 exactly where x > 0, and y is kept anyway by whatever follows
    // (LRN, pooling, the next layer), while x (the bias add's output) can then be freed as soon as
    // the forward pass is done: 83 MB less held through a training step's backward pass at batch 32.
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [y] = saved;
      const d = dy as tf.Tensor;
      if (getKernel(RELU_GRAD, tf.getBackend()) !== undefined) {
        return { x: () => tf.engine().runKernel(RELU_GRAD, { dy: d, x: y }, {}) as tf.Tensor };
      }
      return { x: () => tf.mul(d, tf.cast(tf.step(y), 'float32')) };
    },
  });
}

/** Does TensorFlow here run a grouped Conv2D and both of its gradients? (oneDNN does; Eigen does not.) */
function probeGroupedConv(be: NodeBackend): boolean {
  let ok = false;
  try {
    tf.tidy(() => {
      const x = tf.ones([1, 3, 3, 4]);
      const w = tf.ones([1, 1, 2, 2]); // 2 groups of 2 input channels
      const a: GroupedConvAttrs = { strides: 1, padding: 'VALID' };
      const y = groupedConvForward(be, x, w, a) as tf.Tensor; // tfjs-node returns tracked tensors
      const dx = groupedBackpropInput(be, y, w, { ...a, inputShape: [1, 3, 3, 4] });
      const dw = groupedBackpropFilter(be, x, y, { ...a, filterShape: [1, 1, 2, 2] });
      // each output channel sums its group's 2 input channels of ones: 2 everywhere
      const yv = y.dataSync();
      ok = yv.length === 18 && yv.every((v) => v === 2) && dx.shape.join() === '1,3,3,4' && dw.shape.join() === '1,1,2,2';
    });
  } catch {
    ok = false;
  }
  return ok;
}

let groupedConvOk: boolean | null = null;

/**
 * Registers the kernels above for the 'tensorflow' backend, which must be the current backend.
 * Idempotent. Returns whether the grouped convolution is native here.
 */
export function registerTensorflowKernels(): { groupedConv: boolean } {
  registerReluGradient();
  if (groupedConvOk !== null) return { groupedConv: groupedConvOk };
  if (tf.getBackend() !== BACKEND) throw new Error(`registerTensorflowKernels: the current backend is ${tf.getBackend()}, not ${BACKEND}`);
  const be = tf.backend() as unknown as NodeBackend;
  if (getKernel(RELU_GRAD, BACKEND) === undefined) {
    registerKernel({
      kernelName: RELU_GRAD,
      backendName: BACKEND,
      kernelFunc: ({ inputs, backend }) => {
        const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
        const b = backend as unknown as NodeBackend;
        return b.executeSingleOutput('ReluGrad', [{ name: 'T', type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_FLOAT }], [dy, x]);
      },
    });
  }
  groupedConvOk = probeGroupedConv(be);
  if (groupedConvOk && getKernel(GROUPED_CONV, BACKEND) === undefined) {
    const attrsOf = (attrs: NamedAttrMap): GroupedConvAttrs => attrs as unknown as GroupedConvAttrs;
    registerKernel({
      kernelName: GROUPED_CONV,
      backendName: BACKEND,
      kernelFunc: ({ inputs, attrs, backend }) =>
        groupedConvForward(backend as unknown as NodeBackend, inputs.x as TensorInfo, inputs.filter as TensorInfo, attrsOf(attrs as NamedAttrMap)),
    });
    registerKernel({
      kernelName: GROUPED_CONV_BP_INPUT,
      backendName: BACKEND,
      kernelFunc: ({ inputs, attrs, backend }) =>
        groupedBackpropInput(backend as unknown as NodeBackend, inputs.dy as TensorInfo, inputs.filter as TensorInfo, attrs as unknown as GroupedConvAttrs & { inputShape: number[] }),
    });
    registerKernel({
      kernelName: GROUPED_CONV_BP_FILTER,
      backendName: BACKEND,
      kernelFunc: ({ inputs, attrs, backend }) =>
        groupedBackpropFilter(backend as unknown as NodeBackend, inputs.x as TensorInfo, inputs.dy as TensorInfo, attrs as unknown as GroupedConvAttrs & { filterShape: number[] }),
    });
    registerGroupedConvGradient();
  }
  return { groupedConv: groupedConvOk };
}

let groupedConvGradRegistered = false;

/**
 * The gradient of GROUPED_CONV, through its two backprop kernels (the gradient registry is global:
 * every backend that registers the three kernels, here and ml/kernels/webgpu/, shares it). Idempotent.
 */
export function registerGroupedConvGradient(): void {
  if (groupedConvGradRegistered) return;
  groupedConvGradRegistered = true;
  registerGradient({
    kernelName: GROUPED_CONV,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved;
      const a = attrs as unknown as GroupedConvAttrs;
      const d = dy as tf.Tensor;
      return {
        x: () => tf.engine().runKernel(GROUPED_CONV_BP_INPUT, { dy: d, filter }, { ...a, inputShape: x.shape }) as tf.Tensor,
        filter: () => tf.engine().runKernel(GROUPED_CONV_BP_FILTER, { x, dy: d }, { ...a, filterShape: filter.shape }) as tf.Tensor,
      };
    },
  });
}

/** Is the native grouped convolution usable on the current backend? */
export function hasNativeGroupedConv(): boolean {
  return getKernel(GROUPED_CONV, tf.getBackend()) !== undefined;
}

/**
 * Grouped convolution as one TensorFlow op. x [N, H, W, Cin]; w [kh, kw, Cin/groups, Cout];
 * padding 'SAME' | 'VALID' (TensorFlow's meaning) -> [N, H', W', Cout]. Needs hasNativeGroupedConv().
 */
export function nativeGroupedConv2d(x: tf.Tensor4D, w: tf.Tensor4D, strides: number, padding: 'SAME' | 'VALID'): tf.Tensor4D {
  const attrs: GroupedConvAttrs = { strides, padding };
  return tf.engine().runKernel(GROUPED_CONV, { x, filter: w }, attrs as unknown as NamedAttrMap) as tf.Tensor4D;
}

/**
 * Allocates `bytes` from TensorFlow's CPU allocator without writing them (TensorFlow's `Empty` op
 * with init=false), then frees them: a pooling allocator keeps the region for later tensors, and
 * its untouched pages are not resident (ml/backend.ts, reserveCpuPool). False where it failed.
 */
export function reserveUninitialised(bytes: number): boolean {
  if (tf.getBackend() !== BACKEND) return false;
  const be = tf.backend() as unknown as NodeBackend;
  const b = be.binding;
  const shape = tf.tensor1d([Math.ceil(bytes / 4 / 1024), 1024], 'int32'); // 2-d: 8 GB is 2^31 floats
  try {
    const t = be.executeSingleOutput(
      'Empty',
      [
        { name: 'dtype', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: 'init', type: b.TF_ATTR_BOOL, value: false },
      ],
      [shape],
    ) as tf.Tensor;
    t.dispose();
    return true;
  } catch {
    return false;
  } finally {
    shape.dispose();
  }
}

/**
 * tfjs-node keeps the values of a tensor made from a JS array in that array until an op first reads
 * it, and only then copies them into TensorFlow. For a model's 244 MB of weights that means two
 * copies alive through the first training step, and the JS one until V8 next collects. This copies
 * them now, so that the caller's arrays can be collected at once. Elsewhere it does nothing.
 */
export function moveToNative(tensors: tf.Tensor[]): void {
  if (tf.getBackend() !== BACKEND || tensors.length === 0) return;
  const be = tf.backend() as unknown as NodeBackend;
  be.getInputTensorIds?.(tensors);
}
