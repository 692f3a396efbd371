// Names of our kernels that ml/layers.ts looks up (kept apart from register.ts, which must load only
// after tfjs-backend-webgpu: that package decides at import whether to register its backend).
import { getKernel, getBackend } from '@tensorflow/tfjs-core';

export const PAPER_LRN = 'AlexNetPaperLRN';
export const PAPER_LRN_GRAD = 'AlexNetPaperLRNGrad';
export type PaperLrnAttrs = { size: number; k: number; alpha: number; beta: number }; // alpha as in the paper (divided by size in the kernel)

/** Does the current backend have the paper's LRN as one kernel (and its gradient)? */
export function hasPaperLrn(): boolean {
  const b = getBackend();
  return getKernel(PAPER_LRN, b) !== undefined && getKernel(PAPER_LRN_GRAD, b) !== undefined;
}
