// Numeric helpers shared by the engine's tests.
import { expect } from 'vitest';
import { PARAM_NAMES, type LrnConfig, type Params } from '../../ml/config';

/** Deterministic pseudo-random numbers in [-scale, scale) (mulberry32), so failures reproduce. */
export function randoms(n: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** Largest absolute difference, relative to the largest magnitude of `b` (the reference). */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let mag = 1e-12;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(b[i]));
  }
  return diff / mag;
}

/** Largest absolute difference between two parameter sets, over every weight of every layer. */
export function maxParamDiff(a: Params, b: Params): number {
  let diff = 0;
  for (const n of PARAM_NAMES) {
    const x = a[n].dataSync();
    const y = b[n].dataSync();
    for (let i = 0; i < x.length; i++) diff = Math.max(diff, Math.abs(x[i] - y[i]));
  }
  return diff;
}

// The paper's formula, literally: b[c] = a[c] / (k + alpha/n * sum_{|c'-c| <= (n-1)/2} a[c']^2)^beta.
export function naiveLrn(x: Float32Array, shape: number[], p: LrnConfig): Float32Array {
  const c = shape[3];
  const r = (p.size - 1) / 2;
  const out = new Float32Array(x.length);
  for (let base = 0; base < x.length; base += c) {
    for (let ch = 0; ch < c; ch++) {
      let sum = 0;
      for (let j = Math.max(0, ch - r); j <= Math.min(c - 1, ch + r); j++) sum += x[base + j] * x[base + j];
      out[base + ch] = x[base + ch] / Math.pow(p.k + (p.alpha / p.size) * sum, p.beta);
    }
  }
  return out;
}
