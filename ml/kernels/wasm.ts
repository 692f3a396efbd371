// Kernels the wasm backend (@tensorflow/tfjs-backend-wasm 4.22) lacks for training AlexNet.
//
// Measured by running a full gradient step on wasm (test/ml/backend.test.ts): the only missing kernel
// is Conv2DBackpropFilter (the filter gradient of every conv layer). MaxPoolGrad, LRN, LRNGrad,
// Conv2DBackpropInput, Relu/Tanh grads (Step, Multiply...) and everything else are present.
//
// Conv2DBackpropFilter is built here from kernels wasm has (PadV2, Transpose, Conv2D with dilation,
// Slice), as a convolution over the batch axis:
//   dW[i, j, ci, co] = sum_{n, oh, ow} xpad[n, oh*s + i, ow*s + j, ci] * dy[n, oh, ow, co]
// i.e. with X = transpose(xpad) [Ci, Hp, Wp, N] as the "image" and D = transpose(dy) [OH, OW, N, Co] as
// the "filter" dilated by the stride s, conv2d(X, D, stride 1, dilation s) gives [Ci, >=kh, >=kw, Co],
// whose [0:kh, 0:kw] window, transposed to [kh, kw, Ci, Co], is dW.

import {
  backend_util,
  getKernel,
  registerKernel,
  type KernelBackend,
  type KernelConfig,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

type KernelRun = (name: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap) => TensorInfo;

function kernelRunner(backend: KernelBackend, backendName: string): KernelRun {
  return (name, inputs, attrs) => {
    const k = getKernel(name, backendName);
    if (k === undefined) throw new Error(`${backendName} backend has no ${name} kernel`);
    const out = k.kernelFunc({ inputs, attrs, backend });
    return Array.isArray(out) ? out[0] : out;
  };
}

/** Filter gradient of a NHWC conv2d, from PadV2 + Transpose + dilated Conv2D + Slice of `backendName`. */
export function makeConv2DBackpropFilter(backendName: string): KernelConfig {
  return {
    kernelName: 'Conv2DBackpropFilter',
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      const a = attrs as unknown as {
        strides: [number, number] | number;
        pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
        dataFormat: 'NHWC' | 'NCHW';
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
        filterShape: [number, number, number, number];
      };
      if (a.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter (alexnet wasm kernel): NHWC only');
      const be = backend as KernelBackend;
      const run = kernelRunner(be, backendName);
      const info = backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        a.filterShape,
        a.strides,
        1,
        a.pad,
        a.dimRoundingMode,
        false,
        'channelsLast',
      );
      const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
      const { outHeight: oh, outWidth: ow, inChannels: ci, outChannels: co } = info;
      const [n, h, w] = x.shape;
      // Pad so that every window the forward pass read lies inside: rows [0, (oh-1)*sh + kh).
      const top = info.padInfo.top;
      const left = info.padInfo.left;
      const bottom = Math.max(0, (oh - 1) * sh + kh - top - h);
      const right = Math.max(0, (ow - 1) * sw + kw - left - w);
      const temps: TensorInfo[] = [];
      const keep = (t: TensorInfo): TensorInfo => {
        temps.push(t);
        return t;
      };
      try {
        const xp =
          top + bottom + left + right === 0
            ? x
            : keep(run('PadV2', { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 }));
        const xt = keep(run('Transpose', { x: xp }, { perm: [3, 1, 2, 0] })); // [Ci, Hp, Wp, N]
        const dyt = keep(run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] })); // [OH, OW, N, Co]
        const r = keep(
          run(
            'Conv2D',
            { x: xt, filter: dyt },
            { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [sh, sw], dimRoundingMode: undefined } as unknown as NamedAttrMap,
          ),
        ); // [Ci, Hp - sh*(OH-1), Wp - sw*(OW-1), Co]
        const cut =
          r.shape[1] === kh && r.shape[2] === kw
            ? r
            : keep(run('Slice', { x: r }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] })); // [Ci, kh, kw, Co]
        return run('Transpose', { x: cut }, { perm: [1, 2, 0, 3] }); // [kh, kw, Ci, Co]
      } finally {
        for (const t of temps) be.disposeData(t.dataId);
      }
    },
  };
}

const registered = new Set<string>();

/** Registers the missing training kernels for the wasm backend (idempotent). */
export function registerWasmTrainingKernels(backendName = 'wasm'): string[] {
  const added: string[] = [];
  if (!registered.has(backendName) && getKernel('Conv2DBackpropFilter', backendName) === undefined) {
    registerKernel(makeConv2DBackpropFilter(backendName));
    added.push('Conv2DBackpropFilter');
  }
  registered.add(backendName);
  return added;
}
