// The two layers TF.js does not give us in the paper's form:
//   - grouped convolution (the paper's two-GPU split, Caffe's `group: 2`), and
//   - local response normalisation with the paper's (Caffe's, ONNX's, PyTorch's) alpha/n scaling.

import * as tf from '@tensorflow/tfjs-core';
import type { LrnConfig } from './config';
import './kernels/gradients'; // tf.grad needs the gradient registry filled

/**
 * Convolution whose input channels and filters are split into `groups` independent halves:
 * output channels [0, Cout/g) see only input channels [0, Cin/g), and so on (Caffe `group: g`).
 * Equal to a full convolution with a block-diagonal filter.
 *
 * x [N, H, W, Cin]; w [kh, kw, Cin/groups, Cout]; b [Cout] or null; stride; pad (symmetric, pixels)
 * -> [N, H', W', Cout]
 */
export function groupedConv2d(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  b: tf.Tensor1D | null,
  stride: number,
  pad: number,
  groups: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const padding = pad === 0 ? 'valid' : pad;
    let y: tf.Tensor4D;
    if (groups === 1) {
      y = tf.conv2d(x, w, stride, padding);
    } else {
      const xs = tf.split(x, groups, 3); // groups x [N, H, W, Cin/g]
      const ws = tf.split(w, groups, 3); // groups x [kh, kw, Cin/g, Cout/g]
      const ys = xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, ws[i] as tf.Tensor4D, stride, padding)); // groups x [N, H', W', Cout/g]
      y = tf.concat(ys, 3) as tf.Tensor4D; // [N, H', W', Cout], group 0's channels first
    }
    return b === null ? y : tf.add(y, b);
  });
}

export type LrnImpl = 'auto' | 'native' | 'composed';

/** Does the active backend have the native LRN kernel and its gradient? */
export function hasNativeLrn(): boolean {
  const backend = tf.getBackend();
  return tf.getKernel('LRN', backend) !== undefined && tf.getKernel('LRNGrad', backend) !== undefined;
}

/**
 * Local response normalisation across channels (paper section 3.3):
 *   b[c] = a[c] / (k + alpha/n * sum_{c' = c-(n-1)/2 .. c+(n-1)/2} a[c']^2)^beta
 * x [N, H, W, C] -> [N, H, W, C].
 *
 * tf.localResponseNormalization(x, r, bias, alpha, beta) does NOT divide alpha by the window size,
 * so the paper's layer is tf's (x, (n-1)/2, k, alpha/n, beta). `impl` picks the native kernel
 * (where the backend has LRN and LRNGrad) or a composition of differentiable ops; 'auto' prefers native.
 */
export function lrn(x: tf.Tensor4D, p: LrnConfig, impl: LrnImpl = 'auto'): tf.Tensor4D {
  const r = (p.size - 1) / 2; // window half-width
  const useNative = impl === 'native' || (impl === 'auto' && hasNativeLrn());
  if (useNative) return tf.localResponseNormalization(x, r, p.k, p.alpha / p.size, p.beta);
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const sq = tf.square(x); // [N, H, W, C]
    const padded = tf.pad(sq, [[0, 0], [0, 0], [0, 0], [r, r]]); // [N, H, W, C + 2r], zeros outside
    let sum: tf.Tensor4D = tf.slice(padded, [0, 0, 0, 0], [n, h, w, c]);
    for (let i = 1; i < p.size; i++) sum = tf.add(sum, tf.slice(padded, [0, 0, 0, i], [n, h, w, c])); // window sum
    const denom = tf.pow(tf.add(tf.mul(sum, p.alpha / p.size), p.k), p.beta); // (k + alpha/n * sum)^beta
    return tf.div(x, denom);
  });
}
