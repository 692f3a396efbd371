import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { TINY_CONFIG, makeConfig } from '../../ml/config';
import { classify } from '../../ml/infer';
import { disposeParams, forward, initParams } from '../../ml/model';
import { PAPER_PREPROCESSING, loadImage, tenCropViews, toInput } from '../../ml/preprocess';
import { datasetsDir } from '../helpers/bvlc-fixture';
import { useEngine } from '../helpers/engine';

const dir = path.join(datasetsDir, 'hymenoptera/val/bees');
const tmp = useEngine('infer-test-', 'wasm');
const config = makeConfig({ ...TINY_CONFIG, numClasses: 7, dropout: 0.5 });
const prep = { ...PAPER_PREPROCESSING, resize: 110, crop: 99 };
const classNames = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

describe('classify', () => {
  it('one result per file in order, top-K sorted, corrupt and missing files reported per file', async () => {
    const params = initParams(config, 4);
    const photos = readdirSync(dir).sort().slice(0, 4).map((f) => path.join(dir, f));
    const bad = path.join(tmp, 'bad.jpg');
    writeFileSync(bad, 'this is text');
    const files = [photos[0], bad, photos[1], path.join(tmp, 'missing.jpg'), photos[2], photos[3]];
    const model = { params, config, classNames, preprocessing: prep };
    const before = tf.memory().numTensors;
    const res = await classify(model, files, { topK: 3, batchSize: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(res.map((r) => r.file)).toEqual(files);
    for (const i of [1, 3]) {
      const r = res[i];
      expect('error' in r && r.error.code).toBe('BAD_IMAGE');
    }
    for (const i of [0, 2, 4, 5]) {
      const r = res[i];
      if (!('predictions' in r)) throw new Error('expected predictions');
      expect(r.predictions).toHaveLength(3);
      const ps = r.predictions.map((p) => p.p);
      expect([...ps].sort((x, y) => y - x)).toEqual(ps);
      expect(ps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-6);
      expect(new Set(r.predictions.map((p) => p.label)).size).toBe(3);
    }
    // topK larger than the class count is clamped; every probability is listed, summing to 1
    const all = await classify(model, [photos[0]], { topK: 50 });
    const r0 = all[0];
    if (!('predictions' in r0)) throw new Error('expected predictions');
    expect(r0.predictions).toHaveLength(7);
    expect(r0.predictions.reduce((a, p) => a + p.p, 0)).toBeCloseTo(1, 5);
    disposeParams(params);
  });

  it('10-crop = the mean of the softmax over the paper\'s ten views (dropout off)', async () => {
    const params = initParams(config, 9);
    const file = path.join(dir, readdirSync(dir).sort()[5]);
    const model = { params, config, classNames, preprocessing: prep };
    const [r] = await classify(model, [file], { topK: 7, tta: '10crop' });
    const [c] = await classify(model, [file], { topK: 7, tta: 'center' });
    if (!('predictions' in r) || !('predictions' in c)) throw new Error('expected predictions');
    // reference, computed by hand from the views
    const img = await loadImage(file, prep);
    const views = tenCropViews(prep);
    const per = 99 * 99 * 3;
    const x = new Float32Array(10 * per);
    views.forEach((v, k) => toInput(img, prep, v, x.subarray(k * per, (k + 1) * per)));
    const p = tf.tidy(() => tf.softmax(forward(params, config, tf.tensor4d(x, [10, 99, 99, 3]), { training: false })).arraySync() as number[][]);
    for (const pred of r.predictions) {
      const j = classNames.indexOf(pred.label);
      const mean = p.reduce((a, row) => a + row[j], 0) / 10;
      expect(pred.p).toBeCloseTo(mean, 5);
    }
    // the centre prediction is view 0's softmax
    for (const pred of c.predictions) expect(pred.p).toBeCloseTo(p[0][classNames.indexOf(pred.label)], 5);
    disposeParams(params);
  });
});
