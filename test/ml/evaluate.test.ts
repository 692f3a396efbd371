import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { TINY_CONFIG, makeConfig } from '../../ml/config';
import { computeReport, evaluate } from '../../ml/evaluate';
import { averageViews } from '../../ml/predict';
import { disposeParams, initParams } from '../../ml/model';
import { PAPER_PREPROCESSING } from '../../ml/preprocess';
import { hymenopteraPhotos, useEngine } from '../helpers/engine';

const tmp = useEngine('eval-test-', 'cpu');

describe('metrics from hand-made predictions', () => {
  // 3 classes, 6 images. rows: probabilities; labels: truth
  const names = ['a', 'b', 'c'];
  const probs = [
    0.7, 0.2, 0.1, // a -> a
    0.1, 0.6, 0.3, // a -> b (wrong, p .6)
    0.2, 0.5, 0.3, // b -> b
    0.05, 0.9, 0.05, // c -> b (wrong, p .9)
    0.3, 0.3, 0.4, // c -> c
    0.4, 0.35, 0.25, // b -> a (wrong, p .4)
  ];
  const labels = [0, 0, 1, 2, 2, 1];
  const paths = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];
  const r = computeReport(probs, labels, names, paths);

  it('confusion[true][pred], top-1', () => {
    expect(r.confusion).toEqual([
      [1, 1, 0],
      [1, 1, 0],
      [0, 1, 1],
    ]);
    expect(r.top1).toBeCloseTo(3 / 6, 10);
    expect(r.n).toBe(6);
  });
  it('per-class precision and recall', () => {
    expect(r.perClass.a).toEqual({ precision: 1 / 2, recall: 1 / 2, support: 2, predicted: 2 });
    expect(r.perClass.b.precision).toBeCloseTo(1 / 3, 10);
    expect(r.perClass.b.recall).toBeCloseTo(1 / 2, 10);
    expect(r.perClass.c).toEqual({ precision: 1, recall: 1 / 2, support: 2, predicted: 1 });
  });
  it('most confidently wrong, highest p first', () => {
    expect(r.mostConfidentlyWrong.map((m) => m.path)).toEqual(['p3', 'p1', 'p5']);
    expect(r.mostConfidentlyWrong[0]).toEqual({ path: 'p3', true: 'c', predicted: 'b', p: 0.9 });
  });
  it('top-5 with more than 5 classes, and the loss', () => {
    const c = 7;
    // true class ranked 1st, 5th, 6th
    const rows = [
      [0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
      [0.3, 0.25, 0.15, 0.12, 0.08, 0.06, 0.04], // truth 4 (0.08 is 5th)
      [0.3, 0.25, 0.15, 0.12, 0.08, 0.06, 0.04], // truth 5 (6th)
    ];
    const rr = computeReport(rows.flat(), [0, 4, 5], Array.from({ length: c }, (_, i) => `k${i}`), ['x', 'y', 'z']);
    expect(rr.top1).toBeCloseTo(1 / 3, 10);
    expect(rr.top5).toBeCloseTo(2 / 3, 10);
    expect(rr.loss).toBeCloseTo(-(Math.log(0.4) + Math.log(0.08) + Math.log(0.06)) / 3, 6);
  });
  it('10-crop averaging averages the softmax over the views of each image', () => {
    // 2 images x 10 views x 2 classes: image 0 leans to class 1 in 4 views of 10, strongly
    const p = new Float32Array(2 * 10 * 2);
    for (let v = 0; v < 10; v++) {
      const a = v < 4 ? 0.1 : 0.6; // 4 views say class 1 (0.9), 6 views say class 0 (0.6)
      p.set([a, 1 - a], (0 * 10 + v) * 2);
      p.set([0.5 - v / 100, 0.5 + v / 100], (1 * 10 + v) * 2);
    }
    const avg = averageViews(p, 2, 10, 2);
    expect(avg[0]).toBeCloseTo((4 * 0.1 + 6 * 0.6) / 10, 6);
    expect(avg[1]).toBeCloseTo((4 * 0.9 + 6 * 0.4) / 10, 6);
    expect(avg[2]).toBeCloseTo(0.5 - 0.045, 6);
    expect(avg[2] + avg[3]).toBeCloseTo(1, 6);
  });
});

describe('evaluate on real photos', () => {
  it('centre and 10-crop reports over the same images, a corrupt file skipped', async () => {
    const config = makeConfig({ ...TINY_CONFIG, numClasses: 2 });
    // He init: the paper's N(0, 0.01) shrinks the tiny network's signal to nothing, every view then
    // gives the same logits, and the two reports could not differ
    const params = initParams(config, 5, 'he');
    const prep = { ...PAPER_PREPROCESSING, resize: 112, crop: 99 };
    const items = hymenopteraPhotos('val', 3);
    const bad = path.join(tmp, 'broken.jpg');
    writeFileSync(bad, Buffer.from('not a jpeg at all'));
    items.push({ path: bad, label: 0 });
    const model = { params, config, classNames: ['ants', 'bees'], preprocessing: prep };
    const before = tf.memory().numTensors;
    const center = await evaluate(model, items, { tta: 'center', batchSize: 4 });
    const ten = await evaluate(model, items, { tta: '10crop', batchSize: 2 });
    expect(tf.memory().numTensors).toBe(before);
    for (const r of [center, ten]) {
      expect(r.n).toBe(6);
      expect(r.skipped.map((s) => s.path)).toEqual([bad]);
      expect(r.confusion.flat().reduce((a, b) => a + b, 0)).toBe(6);
      expect(r.perClass.ants.support).toBe(3);
      expect(r.top5).toBe(1); // 2 classes: the truth is always in the top 5
    }
    // different views give a (slightly) different loss
    expect(Math.abs(center.loss - ten.loss)).toBeGreaterThan(0);
    disposeParams(params);
  });
});
