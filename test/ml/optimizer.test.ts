import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../ml/backend';
import { PARAM_NAMES, TINY_CONFIG, type ParamName, type Params } from '../../ml/config';
import { disposeParams, initParams } from '../../ml/model';
import { Sgd } from '../../ml/optimizer';

beforeAll(async () => {
  await initBackend('cpu');
});

function gradsLike(params: Params, seed: number): Record<ParamName, tf.Tensor> {
  const g = {} as Record<ParamName, tf.Tensor>;
  PARAM_NAMES.forEach((n, i) => (g[n] = tf.randomNormal(params[n].shape, 0, 1, 'float32', seed + i)));
  return g;
}

describe('Sgd (paper update rule)', () => {
  // conv layers trainable: the lean form (at most two temporaries); fc layers only: the AddN form
  const frozenConv = Object.fromEntries(PARAM_NAMES.filter((n) => n.startsWith('conv')).map((n) => [n, 0]));
  it.each([
    ['conv and fc layers (lean form)', { 'fc8.w': 0.1, 'conv1.w': 0 }, ['fc8.w', 'fc7.b', 'conv2.w']],
    ['fc layers only (AddN form)', { ...frozenConv, 'fc8.w': 0.1 }, ['fc8.w', 'fc7.b', 'fc6.w']],
  ] as [string, Partial<Record<ParamName, number>>, ParamName[]][])('two steps equal the hand-computed v = m v - wd lr w - lr g; w += v: %s', (_, lrMult, check) => {
    const params = initParams(TINY_CONFIG, 1);
    const lr = 0.05, m = 0.9, wd = 5e-4;
    const sgd = new Sgd({ lr, momentum: m, weightDecay: wd, lrMult });
    const w0 = Object.fromEntries(PARAM_NAMES.map((n) => [n, Float32Array.from(params[n].dataSync())]));
    const g1 = gradsLike(params, 10);
    const g2 = gradsLike(params, 50);
    sgd.apply(params, g1);
    sgd.apply(params, g2);
    for (const name of check) {
      const eff = lr * (name === 'fc8.w' ? 0.1 : 1);
      const a = g1[name].dataSync();
      const b = g2[name].dataSync();
      const got = params[name].dataSync();
      for (let i = 0; i < got.length; i += Math.max(1, Math.floor(got.length / 50))) {
        const v1 = -wd * eff * w0[name][i] - eff * a[i];
        const w1 = w0[name][i] + v1;
        const v2 = m * v1 - wd * eff * w1 - eff * b[i];
        const w2 = w1 + v2;
        expect(got[i]).toBeCloseTo(w2, 6);
      }
    }
    // frozen: untouched, and no velocity kept
    expect(Array.from(params['conv1.w'].dataSync())).toEqual(Array.from(w0['conv1.w']));
    expect(sgd.trainable()).not.toContain('conv1.w');
    expect(sgd.step).toBe(2);
    for (const n of PARAM_NAMES) {
      g1[n].dispose();
      g2[n].dispose();
    }
    sgd.disposeState();
    disposeParams(params);
  });

  it('exported state re-imported continues identically', async () => {
    const a = initParams(TINY_CONFIG, 2);
    const b = initParams(TINY_CONFIG, 2);
    const sa = new Sgd({ lr: 0.1 });
    const g1 = gradsLike(a, 1);
    const g2 = gradsLike(a, 2);
    sa.apply(a, g1);
    const st = await sa.exportState(a);
    // b: same first step through a different optimiser, then import a's state
    const sb0 = new Sgd({ lr: 0.1 });
    sb0.apply(b, g1);
    sb0.disposeState();
    const sb = new Sgd({ lr: 0.1 });
    sb.importState(st, b);
    expect(sb.step).toBe(1);
    sa.apply(a, g2);
    sb.apply(b, g2);
    for (const n of PARAM_NAMES) expect(Array.from(b[n].dataSync())).toEqual(Array.from(a[n].dataSync()));
    // without the momentum the second step differs
    const c = initParams(TINY_CONFIG, 2);
    const sc = new Sgd({ lr: 0.1 });
    sc.apply(c, g1);
    sc.disposeState();
    const sc2 = new Sgd({ lr: 0.1 });
    sc2.apply(c, g2);
    expect(Array.from(c['fc8.w'].dataSync())).not.toEqual(Array.from(a['fc8.w'].dataSync()));
    for (const s of [sa, sb, sc2]) s.disposeState();
    for (const p of [a, b, c]) disposeParams(p);
    for (const n of PARAM_NAMES) {
      g1[n].dispose();
      g2[n].dispose();
    }
  });

  it('pre-scaled gradients (gradScale: -lr of the largest trainable parameter) give the same update', () => {
    const a = initParams(TINY_CONFIG, 4);
    const b = initParams(TINY_CONFIG, 4);
    const lrMult = { 'conv1.w': 0, 'conv1.b': 0, 'fc6.w': 0.1, 'fc6.b': 0.1, 'fc8.w': 2 };
    const sa = new Sgd({ lr: 0.05, lrMult });
    const sb = new Sgd({ lr: 0.05, lrMult });
    // the scale is -lr times the rate of the largest trainable tensor
    const sizes = PARAM_NAMES.filter((n) => sb.mult(n) > 0).map((n) => [n, b[n].size] as const);
    const big = sizes.reduce((x, y) => (y[1] > x[1] ? y : x))[0];
    const scale = sb.gradScale(b);
    expect(scale).toBeCloseTo(-0.05 * sb.mult(big), 12);
    for (let step = 0; step < 3; step++) {
      const g = gradsLike(a, 100 + step);
      const gs = Object.fromEntries(PARAM_NAMES.map((n) => [n, tf.mul(g[n], scale)])) as Record<ParamName, tf.Tensor>;
      sa.apply(a, g);
      sb.apply(b, gs, scale);
      for (const n of PARAM_NAMES) {
        g[n].dispose();
        gs[n].dispose();
      }
    }
    for (const n of PARAM_NAMES) {
      const x = a[n].dataSync();
      const y = b[n].dataSync();
      for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i])).toBeLessThan(1e-6 + 1e-5 * Math.abs(x[i]));
    }
    expect(new Sgd({ lr: 0, lrMult }).gradScale(a)).toBe(1); // nothing to scale by
    for (const s of [sa, sb]) s.disposeState();
    for (const p of [a, b]) disposeParams(p);
  });

  it('leaks no tensor across steps', () => {
    const p = initParams(TINY_CONFIG, 3);
    const sgd = new Sgd({ lr: 0.01 });
    const g = gradsLike(p, 3);
    sgd.apply(p, g);
    const before = tf.memory().numTensors;
    sgd.apply(p, g);
    sgd.apply(p, g);
    expect(tf.memory().numTensors).toBe(before);
    sgd.disposeState();
    disposeParams(p);
    for (const n of PARAM_NAMES) g[n].dispose();
  });
});
