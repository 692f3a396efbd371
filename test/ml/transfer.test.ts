import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../ml/checkpoint';
import { PARAM_NAMES, TINY_CONFIG, makeConfig, type Params } from '../../ml/config';
import { EngineError } from '../../ml/errors';
import { disposeParams, initParams } from '../../ml/model';
import { PAPER_PREPROCESSING } from '../../ml/preprocess';
import { FeatureCache, featureSource } from '../../ml/feature-cache';
import { parseStopAt, train, type SourceBatch, type TrainSource } from '../../ml/train';
import { HEAD_LR_CANDIDATES, checkCounts, fineTune, headFeatures, secondStageSource, stageMultipliers, withNewHead, type TransferEvent } from '../../ml/transfer';
import { hymenopteraPhotos, useEngine } from '../helpers/engine';
import { maxParamDiff } from '../helpers/numeric';

const tmp = useEngine('transfer-test-', 'wasm');
const list = hymenopteraPhotos;
const prep = { ...PAPER_PREPROCESSING, resize: 112, crop: 99, std: [58.4, 57.1, 57.4] as [number, number, number] };
// A stand-in "pretrained" tiny network (3 ImageNet-like outputs), He-scaled so its features carry signal.
function baseParams(): { params: Params; config: ReturnType<typeof makeConfig> } {
  const config = makeConfig({ ...TINY_CONFIG, numClasses: 3 });
  const p = initParams(config, 11);
  for (const n of PARAM_NAMES)
    tf.tidy(() => {
      if (n.endsWith('.b')) p[n].assign(tf.zerosLike(p[n]));
      else p[n].assign(tf.mul(p[n], Math.sqrt(2 / p[n].shape.slice(0, -1).reduce((a, b) => a * b, 1)) / 0.01));
    });
  return { params: p, config };
}
/** What every fineTune here shares: the stand-in base with `prep`, the two classes, the photos, a cache folder under tmp. */
const job = (base: ReturnType<typeof baseParams>, train: ReturnType<typeof list>, val: ReturnType<typeof list>, cache: string) => ({
  base: { ...base, preprocessing: prep, source: 'test-base' },
  classNames: ['ants', 'bees'],
  train,
  val,
  cacheDir: path.join(tmp, cache),
});
const snapshot = (p: Params) => Object.fromEntries(PARAM_NAMES.map((n) => [n, Float32Array.from(p[n].dataSync())]));
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);

describe('fine-tuning recipe', () => {
  it('head on cached features, then fc6-fc8; conv frozen; nothing decoded after the first epoch', async () => {
    const base = baseParams();
    const before = snapshot(base.params);
    const train = list('train', 12);
    const val = list('val', 4);
    // a corrupt photo among the training images: skipped, reported, not fatal
    const bad = path.join(tmp, 'broken.jpg');
    writeFileSync(bad, 'definitely not a JPEG');
    train.push({ path: bad, label: 0 });
    const events: TransferEvent[] = [];
    const out = path.join(tmp, 'run');
    const r = await fineTune({
      ...job(base, train, val, 'cache'),
      outDir: out,
      headEpochs: 2,
      fineTuneEpochs: 2,
      batchSize: 8,
      cacheViews: 4,
      seed: 1,
      onEvent: (e) => events.push(e),
    });
    // every image decoded once (train + val, minus the corrupt one), never again
    expect(r.cache.decodes).toBe(24 + 8);
    expect(r.cache.forwardRows).toBe(24 * 4 + 8);
    expect(events.filter((e) => e.type === 'skip').map((e) => (e.type === 'skip' ? e.path : ''))).toContain(bad);
    // the head's rate was picked by one cached-feature epoch per candidate, the lowest validation loss
    const find = events.find((e) => e.type === 'lr-find');
    if (!find || find.type !== 'lr-find') throw new Error('no lr-find event');
    expect(find.trials.map((t) => t.lr)).toEqual(HEAD_LR_CANDIDATES);
    expect(find.lr).toBe(find.trials.reduce((a, b) => (b.valLoss < a.valLoss ? b : a)).lr);
    const epochs = events.filter((e) => e.type === 'epoch');
    expect(epochs.map((e) => [e.stage, e.type === 'epoch' ? e.epoch : 0])).toEqual([
      ['head', 1],
      ['head', 2],
      ['finetune', 3],
      ['finetune', 4],
    ]);
    const starts = events.filter((e) => e.type === 'start');
    expect(starts.map((e) => (e.type === 'start' ? e.trainable : []))).toEqual([
      ['fc8.w', 'fc8.b'],
      ['fc6.w', 'fc6.b', 'fc7.w', 'fc7.b', 'fc8.w', 'fc8.b'],
    ]);
    // conv layers frozen: bit-identical to the base; fc6 moved; the base itself untouched
    for (const n of ['conv1.w', 'conv3.b', 'conv5.w'] as const) expect(same(Float32Array.from(r.params[n].dataSync()), before[n])).toBe(true);
    expect(same(Float32Array.from(r.params['fc6.w'].dataSync()), before['fc6.w'])).toBe(false);
    expect(same(Float32Array.from(base.params['fc6.w'].dataSync()), before['fc6.w'])).toBe(true);
    expect(r.params['fc8.w'].shape).toEqual([TINY_CONFIG.fcUnits, 2]);
    // the saved model is usable: 2 classes, metrics of both stages
    const m = await loadModel(out);
    expect(m.classNames).toEqual(['ants', 'bees']);
    expect(m.meta.weightsSource).toBe('test-base');
    expect(m.meta.metrics.length).toBeGreaterThanOrEqual(1);
    expect(r.metrics.map((x) => x.epoch)).toEqual([1, 2, 3, 4]);
    // the head trained (a random stand-in body says nothing about accuracy: that needs ImageNet weights)
    expect(r.metrics.every((x) => Number.isFinite(x.trainLoss) && Number.isFinite(x.valLoss))).toBe(true);
    disposeParams(m.params);
    disposeParams(r.params);

    // a second run on the same photos and weights: all from the cache on disk
    const r2 = await fineTune({
      ...job(base, train.slice(0, -1), val, 'cache'),
      headEpochs: 1,
      fineTune: 'none',
      batchSize: 8,
      cacheViews: 4,
    });
    expect(r2.cache.decodes).toBe(0);
    expect(r2.cache.forwardRows).toBe(0);
    expect(r2.cache.diskReads).toBe(32);
    disposeParams(r2.params);
    disposeParams(base.params);
  });

  it('cancel during the second stage, resume: ends where an uninterrupted run ends', async () => {
    const base = baseParams();
    const common = {
      ...job(base, list('train', 8), list('val', 3), 'cache-r'),
      headEpochs: 2,
      fineTuneEpochs: 2,
      batchSize: 4,
      cacheViews: 2,
      seed: 5,
    };
    const straight = await fineTune({ ...common, outDir: path.join(tmp, 'straight') });
    const ctrl = new AbortController();
    let saved = 0; // the cut run's last checkpointed epoch
    const cut = await fineTune({
      ...common,
      outDir: path.join(tmp, 'cut'),
      signal: ctrl.signal,
      onEvent: (e) => {
        if (e.type === 'checkpoint' && e.kind === 'last') saved = Math.max(saved, e.epoch);
        if (e.type === 'step' && e.stage === 'finetune' && e.epoch === 4 && e.step === 2) ctrl.abort();
      },
    });
    expect(cut.stopped).toBe('cancelled');
    expect(cut.epochs).toBe(3);
    disposeParams(cut.params);
    // The head stage's last epoch is always checkpointed; epoch 3 only if it improved (an epoch that
    // did not is checkpointed only 30 s after the previous one), so the resume starts after `saved`.
    expect(saved).toBeGreaterThanOrEqual(2);
    const ran: number[] = [];
    const resumed = await fineTune({ ...common, outDir: path.join(tmp, 'cut'), resume: true, onEvent: (e) => e.type === 'epoch' && ran.push(e.epoch) });
    expect(ran).toEqual(Array.from({ length: 4 - saved }, (_, i) => saved + 1 + i)); // only the epochs after the last checkpoint ran again
    expect(resumed.stopped).toBe(straight.stopped);
    expect(resumed.metrics.map((m) => m.epoch)).toEqual(straight.metrics.map((m) => m.epoch));
    resumed.metrics.forEach((m, i) => expect(m.trainLoss).toBeCloseTo(straight.metrics[i].trainLoss, 5));
    expect(maxParamDiff(straight.params, resumed.params)).toBeLessThan(1e-5);
    for (const p of [straight.params, resumed.params, base.params]) disposeParams(p);
  });

  it("fineTune 'all' unfreezes the conv layers (reading images again) with discriminative rates", async () => {
    const base = baseParams();
    const before = snapshot(base.params);
    const starts: string[][] = [];
    const r = await fineTune({
      ...job(base, list('train', 4), list('val', 2), 'cache-all'),
      fineTune: 'all',
      headEpochs: 1,
      fineTuneEpochs: 1,
      lr: 0.01,
      batchSize: 4,
      onEvent: (e) => e.type === 'start' && starts.push(e.trainable),
    });
    expect(starts[1]).toEqual([...PARAM_NAMES]);
    expect(same(Float32Array.from(r.params['conv1.w'].dataSync()), before['conv1.w'])).toBe(false);
    expect(r.metrics.map((m) => m.epoch)).toEqual([1, 2]);
    disposeParams(r.params);
    disposeParams(base.params);
  });

  it('the LR search on precomputed fc7 activations trains exactly as an epoch through fc6-fc7 would', async () => {
    const base = baseParams();
    const { params, config } = withNewHead({ ...base, preprocessing: prep, source: 'test-base' }, 2, 3);
    const cache = await FeatureCache.create({ dir: path.join(tmp, 'cache-fc7'), params, config, preprocessing: prep, views: 3, batchSize: 8 });
    const pool5 = featureSource({ cache, train: list('train', 6), val: list('val', 3), batchSize: 4, seed: 5, augment: true });
    const caching: number[] = [];
    const fc7 = await headFeatures(pool5, params, config, 5, 4, 1, (e) => {
      if (e.type === 'caching') caching.push(e.step);
    });
    expect(caching).toEqual([1, 2, 3]); // 12 photos, batches of 4
    expect(fc7.from).toBe('fc7');
    const run = async (source: TrainSource) => {
      const trial = { ...params, 'fc8.w': tf.variable(params['fc8.w'].clone(), true), 'fc8.b': tf.variable(params['fc8.b'].clone(), true) };
      const common = { config, classNames: ['ants', 'bees'], train: list('train', 6), val: list('val', 3), preprocessing: prep, batchSize: 4, seed: 5 };
      const r = await train({ ...common, outDir: null, params: trial, epochs: 1, lr: 0.003, lrMult: stageMultipliers('head'), source });
      const w = Float32Array.from(trial['fc8.w'].dataSync());
      trial['fc8.w'].dispose();
      trial['fc8.b'].dispose();
      return { loss: r.metrics[0].trainLoss, valLoss: r.metrics[0].valLoss, w };
    };
    const a = await run(pool5); // dropout drawn inside each step, fc6-fc7 recomputed
    const b = await run(fc7); // fc7 computed once with the same masks
    expect(b.loss).toBeCloseTo(a.loss, 5);
    expect(b.valLoss).toBeCloseTo(a.valLoss, 5);
    let diff = 0;
    for (let i = 0; i < a.w.length; i++) diff = Math.max(diff, Math.abs(a.w[i] - b.w[i]));
    expect(diff).toBeLessThan(1e-6);
    // and with other masks (another seed) the epoch differs: the masks are what matched
    const other = await headFeatures(pool5, params, config, 6, 4, 1);
    const c = await run(other);
    expect(Math.abs(c.loss - a.loss)).toBeGreaterThan(1e-4);
    disposeParams(params);
    disposeParams(base.params);
  });

  it("every stage's training batches mix the classes of a class-sorted list, with and without augmentation", async () => {
    const base = baseParams();
    const { params, config } = withNewHead({ ...base, preprocessing: prep, source: 'test-base' }, 2, 3);
    const cache = await FeatureCache.create({ dir: path.join(tmp, 'cache-mix'), params, config, preprocessing: prep, views: 2, batchSize: 8 });
    const trainItems = list('train', 8); // 8 ants, then 8 bees
    const valItems = list('val', 2);
    const epochOf = async (source: TrainSource, epoch: number): Promise<SourceBatch[]> => {
      const out: SourceBatch[] = [];
      for await (const b of source.trainBatches(epoch)) out.push(b);
      return out;
    };
    for (const augment of [true, false]) {
      const cached = featureSource({ cache, train: trainItems, val: valItems, batchSize: 8, seed: 2, augment });
      const fc7 = await headFeatures(cached, params, config, 2, 8, 1); // the LR search's source
      const images = secondStageSource('all', cached, { train: trainItems, val: valItems, preprocessing: prep, batchSize: 8, augment, seed: 2, onSkip: () => undefined });
      expect(secondStageSource('fc', cached, { train: trainItems, val: valItems, preprocessing: prep, batchSize: 8, augment, seed: 2, onSkip: () => undefined })).toBe(cached);
      for (const [source, epoch] of [[cached, 1], [cached, 3], [fc7, 1], [images, 1], [images, 3]] as const) {
        const batches = await epochOf(source, epoch);
        expect(batches.reduce((n, b) => n + b.y.length, 0)).toBe(16);
        for (const b of batches) expect(new Set(b.y).size).toBe(2);
      }
    }
    disposeParams(params);
    disposeParams(base.params);
  });

  it('stopAt: a target reached in the head stage ends the run there', async () => {
    const base = baseParams();
    const events: TransferEvent[] = [];
    const r = await fineTune({
      ...job(base, list('train', 4), list('val', 2), 'cache-stop'),
      headEpochs: 3,
      fineTuneEpochs: 3,
      lr: 0.003,
      batchSize: 8,
      stopAt: [parseStopAt('train_err=1')],
      onEvent: (e) => events.push(e),
    });
    expect(r.stopped).toBe('target');
    expect(r.metrics.map((m) => m.epoch)).toEqual([1]);
    expect(r.metrics[0].trainErr).toBeDefined();
    expect(events.some((e) => e.type === 'target-reached' && e.stage === 'head')).toBe(true);
    expect(events.some((e) => 'stage' in e && e.stage === 'finetune')).toBe(false);
    disposeParams(r.params);
    disposeParams(base.params);
  });

  it('too few images: a clear TOO_FEW_IMAGES naming the class', async () => {
    const items = [...list('train', 3).filter((i) => i.label === 0), ...list('train', 1).filter((i) => i.label === 1)];
    const err = (() => {
      try {
        checkCounts(['ants', 'bees'], items, null);
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('TOO_FEW_IMAGES');
    expect((err as EngineError).message).toMatch(/"bees" has 1 image: at least 2/);
    expect(() => checkCounts(['ants', 'bees'], list('train', 2), list('val', 1).filter((i) => i.label === 0))).toThrow(/"bees" has no validation image/);
    // the recipe refuses before doing anything
    const base = baseParams();
    const e2 = await fineTune({ base: { ...base, preprocessing: prep, source: 'x' }, classNames: ['ants', 'bees'], train: items, cacheDir: path.join(tmp, 'c2') }).catch((e: unknown) => e);
    expect((e2 as EngineError).code).toBe('TOO_FEW_IMAGES');
    disposeParams(base.params);
  });

  it('stage multipliers: head only, fc at 1/10, all with conv1 at 1/100', () => {
    const h = stageMultipliers('head');
    expect(PARAM_NAMES.filter((n) => (h[n] ?? 0) > 0)).toEqual(['fc8.w', 'fc8.b']);
    const a = stageMultipliers('all');
    expect(a['conv1.w']).toBeCloseTo(0.01, 10);
    expect(a['fc7.w']).toBeCloseTo(0.1, 10);
    expect(a['conv3.w']! > a['conv2.w']!).toBe(true);
    expect(a['fc8.w']).toBe(1);
  });
});
