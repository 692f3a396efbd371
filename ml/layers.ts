// The two layers TF.js does not give us in the paper's form:
//   - grouped convolution (the paper's two-GPU split, Caffe's `group: 2`), and
//   - local response normalisation with the paper's (Caffe's, ONNX's, PyTorch's) alpha/n scaling.

import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { isSamePadding, type LrnConfig } from './config';
import './kernels/gradients'; // tf.grad needs the gradient registry filled
import { hasNativeGroupedConv, nativeGroupedConv2d } from './kernels/tensorflow';
import { GROUPED_CONV_BIAS_ACT, hasFusedConv, hasPaperLrn, PAPER_LRN, type ConvActivation, type PaperLrnAttrs } from './kernels/webgpu/names';

/**
 * Convolution whose input channels and filters are split into `groups` independent halves:
 * output channels [0, Cout/g) see only input channels [0, Cin/g), and so on (Caffe `group: g`).
 * Equal to a full convolution with a block-diagonal filter. On the native backend with oneDNN this
 * is one TensorFlow op (kernels/tensorflow.ts), on webgpu one of our WGSL programs
 * (kernels/webgpu/); elsewhere the halves are split, convolved and concatenated. `activation`
 * 'relu' applies the layer's ReLU to the result: where the backend has the convolution, bias and
 * ReLU as one program (webgpu's tiled kernels, kernels/webgpu/names.ts) that runs, elsewhere the
 * same ops one after the other.
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
  activation: ConvActivation = 'linear',
): tf.Tensor4D {
  return tf.tidy(() => {
    // Symmetric padding in a form every backend takes: tfjs-node accepts only 'valid' and 'same'.
    // At stride 1 with an odd kernel, 'same' is exactly `pad = (k - 1) / 2` on each side (conv2-5);
    // any other padding is applied explicitly, then the convolution is 'valid'.
    const k = w.shape[0];
    let padding: 'valid' | 'same' = 'valid';
    if (w.shape[1] === k && isSamePadding(k, stride, pad)) padding = 'same';
    else if (pad > 0) x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
    if (b !== null && hasFusedConv(groups)) {
      const attrs = { strides: stride, padding: padding === 'same' ? 'SAME' : 'VALID', activation };
      return tf.engine().runKernel(GROUPED_CONV_BIAS_ACT, { x, filter: w, bias: b }, attrs as unknown as NamedAttrMap) as tf.Tensor4D;
    }
    let y: tf.Tensor4D;
    if (groups === 1) {
      y = tf.conv2d(x, w, stride, padding);
    } else if (hasNativeGroupedConv()) {
      y = nativeGroupedConv2d(x, w, stride, padding === 'same' ? 'SAME' : 'VALID'); // one op (oneDNN)
    } else {
      const xs = tf.split(x, groups, 3); // groups x [N, H, W, Cin/g]
      const ws = tf.split(w, groups, 3); // groups x [kh, kw, Cin/g, Cout/g]
      const ys = xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, ws[i] as tf.Tensor4D, stride, padding)); // groups x [N, H', W', Cout/g]
      y = tf.concat(ys, 3) as tf.Tensor4D; // [N, H', W', Cout], group 0's channels first
    }
    const z: tf.Tensor4D = b === null ? y : tf.add(y, b);
    return activation === 'relu' ? tf.relu(z) : z;
  });
}

export type LrnImpl = 'auto' | 'paper' | 'native' | 'composed';

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
 * so the paper's layer is tf's (x, (n-1)/2, k, alpha/n, beta). `impl` picks our kernel of the
 * paper's form ('paper': webgpu, kernels/webgpu/, gradient from x alone), the backend's LRN kernel
 * ('native': where it has LRN and LRNGrad) or a composition of differentiable ops; 'auto' prefers
 * them in that order.
 */
export function lrn(x: tf.Tensor4D, p: LrnConfig, impl: LrnImpl = 'auto'): tf.Tensor4D {
  const r = (p.size - 1) / 2; // window half-width
  if (impl === 'paper' || (impl === 'auto' && hasPaperLrn())) {
    const attrs: PaperLrnAttrs = { size: p.size, k: p.k, alpha: p.alpha, beta: p.beta };
    return tf.engine().runKernel(PAPER_LRN, { x }, attrs as unknown as NamedAttrMap) as tf.Tensor4D;
  }
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

/**
 * Fully connected layer: x [N, in] . w [in, out] + b [out] -> [N, out].
 *
 * On wasm the backward pass is rearranged. tfjs-backend-wasm runs a matMul through XNNPACK only
 * when neither operand is transposed (otherwise a naive loop ~10x slower), and XNNPACK packs the
 * right-hand operand on first use. The stock gradients (dy . w^T and x^T . dy) take the naive
 * path; here dx = (w . dy^T)^T and dw = (x^T) . dy keep the big w on the left, unpacked, and only
 * transpose small [N, *] tensors (about ten times faster for fc6: bench/README.md ("Engine choices")).
 */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  if (tf.getBackend() !== 'wasm') return tf.add(tf.matMul(x, w), b);
  const f = tf.customGrad(((xi: tf.Tensor2D, wi: tf.Tensor2D, bi: tf.Tensor1D, save: tf.GradSaveFunc) => {
    save([xi, wi]);
    return {
      value: tf.add(tf.matMul(xi, wi), bi) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dx = tf.transpose(tf.matMul(ws, tf.transpose(dy))); // [N, in]
        const dw = tf.matMul(tf.transpose(xs), dy); //                 [in, out]
        const db = tf.sum(dy, 0); //                                    [out]
        return [dx, dw, db];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad<tf.Tensor2D>>[0]);
  return f(x, w, b) as tf.Tensor2D;
}
