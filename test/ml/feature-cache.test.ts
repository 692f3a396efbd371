import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { TINY_CONFIG, makeConfig } from '../../ml/config';
import { FeatureCache, featureSource, fromHalf, toHalf } from '../../ml/feature-cache';
import { disposeParams, forward, initParams } from '../../ml/model';
import { PAPER_PREPROCESSING, centerView, loadImage, toInput } from '../../ml/preprocess';
import { hymenopteraPhotos, useEngine } from '../helpers/engine';

const tmp = useEngine('fcache-test-', 'wasm');
const config = makeConfig({ ...TINY_CONFIG, numClasses: 2 });
const prep = { ...PAPER_PREPROCESSING, resize: 112, crop: 99 };
const items = hymenopteraPhotos('train', 5);

describe('float16 encoding', () => {
  it('round-trips exactly representable values and keeps others within 2^-11 relative', () => {
    for (const v of [0, 1, -2, 1.5, 65504, 2 ** -14, 2 ** -24]) expect(fromHalf(toHalf(v))).toBe(v);
    for (const v of [0.1, 3.14159, 123.456, 1e-3, 7777.7]) expect(Math.abs(fromHalf(toHalf(v)) - v) / v).toBeLessThan(2 ** -11);
    expect(fromHalf(toHalf(1e6))).toBe(Infinity);
  });
});

describe('feature cache', () => {
  it('computes each image once: epoch 2 and a second run hit; other weights miss', async () => {
    const params = initParams(config, 1);
    const dir = path.join(tmp, 'c1');
    const run = async (cache: FeatureCache, epoch: number): Promise<number> => {
      const src = featureSource({ cache, train: items, val: items.slice(0, 2), batchSize: 4, seed: 1, augment: true });
      let n = 0;
      for await (const b of src.trainBatches(epoch)) {
        expect(b.shape).toEqual([b.y.length, cache.features]);
        n += b.y.length;
      }
      return n;
    };
    const a = await FeatureCache.create({ dir, params, config, preprocessing: prep, views: 4 });
    expect(await run(a, 1)).toBe(10);
    expect(a.stats).toMatchObject({ decodes: 10, misses: 10, forwardRows: 40, hits: 0 });
    expect(await run(a, 2)).toBe(10);
    expect(a.stats).toMatchObject({ decodes: 10, misses: 10, forwardRows: 40, hits: 10 }); // nothing decoded or forwarded
    // a second run (new process, same folder): read from disk
    const b = await FeatureCache.create({ dir, params, config, preprocessing: prep, views: 4 });
    expect(b.namespace).toBe(a.namespace);
    await run(b, 1);
    expect(b.stats).toMatchObject({ decodes: 0, forwardRows: 0, hits: 10, diskReads: 10 });
    // changed conv weights: a new namespace, everything misses
    tf.tidy(() => params['conv3.w'].assign(tf.mul(params['conv3.w'], 1.01)));
    const c = await FeatureCache.create({ dir, params, config, preprocessing: prep, views: 4 });
    expect(c.namespace).not.toBe(a.namespace);
    await run(c, 1);
    expect(c.stats).toMatchObject({ decodes: 10, misses: 10, hits: 0 });
    // changed fc weights do not matter (features stop at pool5)
    tf.tidy(() => params['fc6.w'].assign(tf.mul(params['fc6.w'], 2)));
    expect((await FeatureCache.create({ dir, params, config, preprocessing: prep, views: 4 })).namespace).toBe(c.namespace);
    // another preprocessing: misses
    expect((await FeatureCache.create({ dir, params, config, preprocessing: { ...prep, resize: 120 }, views: 4 })).namespace).not.toBe(c.namespace);
    disposeParams(params);
  });

  it('cached centre features equal a direct forward to pool5 (float32 exactly, float16 to 1e-3)', async () => {
    const params = initParams(config, 2);
    const files = items.slice(0, 3).map((i) => i.path);
    const per = 99 * 99 * 3;
    const x = new Float32Array(files.length * per);
    for (let i = 0; i < files.length; i++) toInput(await loadImage(files[i], prep), prep, centerView(prep), x.subarray(i * per, (i + 1) * per));
    const ref = tf.tidy(() => forward(params, config, tf.tensor4d(x, [files.length, 99, 99, 3]), { training: false, to: 'pool5' }).dataSync());
    for (const dtype of ['float32', 'float16'] as const) {
      const cache = await FeatureCache.create({ dir: path.join(tmp, `c-${dtype}`), params, config, preprocessing: prep, dtype });
      const res = await cache.get(files, 'center');
      const F = cache.features;
      let maxRel = 0;
      res.forEach((r, i) => {
        if ('error' in r) throw new Error(r.error);
        for (let j = 0; j < F; j++) {
          const want = ref[i * F + j];
          maxRel = Math.max(maxRel, Math.abs(r.x[j] - want) / Math.max(1e-3, Math.abs(want)));
        }
      });
      if (dtype === 'float32') expect(maxRel).toBeLessThan(1e-5);
      else expect(maxRel).toBeLessThan(1e-3);
    }
    disposeParams(params);
  });

  it('samples different cached views in different epochs, the same ones for the same seed', async () => {
    const params = initParams(config, 3);
    const cache = await FeatureCache.create({ dir: path.join(tmp, 'views'), params, config, preprocessing: prep, views: 6 });
    const collect = async (seed: number, epoch: number): Promise<Float32Array[]> => {
      const src = featureSource({ cache, train: items, val: [], batchSize: 10, seed, augment: true });
      const out: Float32Array[] = [];
      for await (const b of src.trainBatches(epoch)) {
        const order = b.paths.map((p, j) => [p, j] as const).sort();
        for (const [, j] of order) out.push(b.x.slice(j * cache.features, (j + 1) * cache.features));
      }
      return out;
    };
    const e1 = await collect(1, 1);
    const e1b = await collect(1, 1);
    const e2 = await collect(1, 2);
    expect(e1.map((a, i) => Buffer.from(a.buffer).equals(Buffer.from(e1b[i].buffer)))).not.toContain(false);
    expect(e1.filter((a, i) => !Buffer.from(a.buffer).equals(Buffer.from(e2[i].buffer))).length).toBeGreaterThan(3);
    disposeParams(params);
  });
});
