// Whether the webgpu tests can run here. Where no adapter exists they are skipped with the reason,
// except where a GPU path must be tested: CI (CI=true, which uses the npm SwiftShader driver that
// vitest.config.ts hands the webgpu project) or ALEXNET_REQUIRE_WEBGPU=1, where a missing adapter fails.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../ml/backend';
import { groupedConv2d } from '../../../ml/layers';
import { randoms } from '../../helpers/numeric';

/** Makes 'webgpu' current (a software adapter allowed); returns null, or why it cannot run here. */
export async function webgpuSkipReason(): Promise<string | null> {
  try {
    await initBackend('webgpu');
    return null;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    if (process.env.CI === 'true' || process.env.ALEXNET_REQUIRE_WEBGPU === '1')
      throw new Error(`the webgpu tests are required here (CI or ALEXNET_REQUIRE_WEBGPU=1), but: ${why}`);
    return why;
  }
}

/** A grouped convolution case, square or not: NHWC input, k x k filter, symmetric padding in pixels. */
export type ConvCase = { n: number; h: number; w: number; cin: number; cout: number; k: number; stride: number; pad: number; groups: number };
export type ConvOut = { y: Float32Array; dx: Float32Array; dw: Float32Array; db: Float32Array };

/** groupedConv2d (with `act`, if any) on the current backend: its output and the gradients of
 *  sum(y * dy) for x, w and b, from seeded random tensors (seeds seed..seed+3). */
export async function convFigures(c: ConvCase, seed: number, act?: 'relu'): Promise<ConvOut> {
  const x = tf.tensor4d(randoms(c.n * c.h * c.w * c.cin, seed), [c.n, c.h, c.w, c.cin]);
  const w = tf.tensor4d(randoms(c.k * c.k * (c.cin / c.groups) * c.cout, seed + 1), [c.k, c.k, c.cin / c.groups, c.cout]);
  const b = tf.tensor1d(randoms(c.cout, seed + 2));
  const f = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor): tf.Tensor4D => groupedConv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, bi as tf.Tensor1D, c.stride, c.pad, c.groups, act);
  const y = f(x, w, b);
  const dy = tf.tensor(randoms(y.size, seed + 3), y.shape);
  const g = tf.grads((xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) => tf.sum(tf.mul(f(xi, wi, bi), dy)))([x, w, b]);
  const out = {
    y: (await y.data()) as Float32Array,
    dx: (await g[0].data()) as Float32Array,
    dw: (await g[1].data()) as Float32Array,
    db: (await g[2].data()) as Float32Array,
  };
  tf.dispose([x, w, b, y, dy, ...g]);
  return out;
}
