// Names of our kernels that ml/layers.ts looks up (kept apart from register.ts, which must load only
// after tfjs-backend-webgpu: that package decides at import whether to register its backend), and
// the switch between our convolution programs.
import { getKernel, getBackend } from '@tensorflow/tfjs-core';

export const PAPER_LRN = 'AlexNetPaperLRN';
export const PAPER_LRN_GRAD = 'AlexNetPaperLRNGrad';
export type PaperLrnAttrs = { size: number; k: number; alpha: number; beta: number }; // alpha as in the paper (divided by size in the kernel)

// Convolution + bias + activation in one program (webgpu only; the portable composition elsewhere).
// Inputs x, filter, bias; attrs GroupedConvAttrs plus `activation`.
export const GROUPED_CONV_BIAS_ACT = 'AlexNetGroupedConv2DBiasAct';
export type ConvActivation = 'linear' | 'relu';

/**
 * Which of our convolution programs the webgpu backend registers, from ALEXNET_WEBGPU_TILED (read
 * here only, once per process: kernels are registered once):
 *   '0'    'naive': one output element per invocation (programs.ts), grouped layers only, bias and
 *          ReLU as TF.js's ops;
 *   unset, '1'  'tiled': workgroup-tiled matrix products (tiled.ts) for the grouped layers, with
 *          bias and ReLU in the forward program; conv1 and conv3 (groups 1) stay TF.js's conv2d;
 *   'all'  'tiled-all': the tiled programs for every convolution, groups 1 included.
 * ALEXNET_WEBGPU_KERNELS=0 (register.ts) leaves all of ours out. The gpu benchmark compares them.
 */
export type ConvKernels = 'naive' | 'tiled' | 'tiled-all';
let convKernels: ConvKernels | null = null;
export function webgpuConvKernels(): ConvKernels {
  if (convKernels === null) {
    const v = process.env.ALEXNET_WEBGPU_TILED;
    if (v === '0') convKernels = 'naive';
    else if (v === 'all') convKernels = 'tiled-all';
    else if (v === undefined || v === '' || v === '1') convKernels = 'tiled';
    else throw new Error(`ALEXNET_WEBGPU_TILED must be 0, 1 or all, not '${v}'`);
  }
  return convKernels;
}

/** Does the current backend have the paper's LRN as one kernel (and its gradient)? */
export function hasPaperLrn(): boolean {
  const b = getBackend();
  return getKernel(PAPER_LRN, b) !== undefined && getKernel(PAPER_LRN_GRAD, b) !== undefined;
}

/** Does the current backend run a convolution of `groups` groups, its bias and activation as one kernel? */
export function hasFusedConv(groups: number): boolean {
  if (getKernel(GROUPED_CONV_BIAS_ACT, getBackend()) === undefined) return false;
  return groups > 1 || webgpuConvKernels() === 'tiled-all';
}
