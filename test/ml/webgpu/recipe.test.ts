// Training as a user runs it, on the webgpu backend: the training loop on real photos with its
// checkpoints and resume, and the one-click transfer recipe with its feature cache, each against the
// same run on the reference backend (native TensorFlow where built, else TF.js's cpu backend).
// engine.test.ts checks single steps; this checks that whole runs (decode, augmentation, several
// epochs, the checkpoint round trip, the cache) stay on the reference's path.
//
// Tolerances: the backends sum in different orders, and the difference grows a little with each
// step, so whole runs are compared at 1e-5 relative (losses) and 1e-4 of the largest weight change
// (weights), about 20 times what SwiftShader against TensorFlow gives; a resume on the same backend
// reproduces its own uninterrupted run to 1e-6.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findNativeBinding, initBackend } from '../../../ml/backend';
import { loadCheckpoint, snapshotParams } from '../../../ml/checkpoint';
import { PARAM_NAMES, TINY_CONFIG, makeConfig, type ParamName } from '../../../ml/config';
import { disposeParams, initParams } from '../../../ml/model';
import { PAPER_PREPROCESSING } from '../../../ml/preprocess';
import { train, type TrainEvent, type TrainOptions } from '../../../ml/train';
import { HEAD_LR_CANDIDATES, fineTune, type TransferEvent } from '../../../ml/transfer';
import { tempDir } from '../../db/helpers';
import { hymenopteraPhotos } from '../../helpers/engine';
import { maxRelDiff } from '../../helpers/numeric';
import { webgpuSkipReason } from './setup';

const skip = await webgpuSkipReason();
const REFERENCE = findNativeBinding('@tensorflow/tfjs-node') !== null ? 'tensorflow' : 'cpu';
const tmp = tempDir('alexnet-webgpu-recipe-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const config = makeConfig({ ...TINY_CONFIG, numClasses: 2 });
// unit-variance inputs, as the He-scaled weights below expect
const prep = { ...PAPER_PREPROCESSING, resize: 112, crop: 99, std: [58.4, 57.1, 57.4] as [number, number, number] };
type Arrays = Record<ParamName, Float32Array>;
const delta = (after: Float32Array, before: Float32Array): Float32Array => after.map((v, i) => v - before[i]);
const relLoss = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

// initParams draws in JS: the same seed gives the same weights on every backend.
const loop = (outDir: string, epochs: number, resume = false): TrainOptions => ({
  config,
  params: initParams(config, 2, 'he'),
  classNames: ['ants', 'bees'],
  train: hymenopteraPhotos('train', 6),
  val: hymenopteraPhotos('val', 2),
  preprocessing: prep,
  batchSize: 4, // 3 steps an epoch
  lr: 0.01,
  seed: 3,
  epochs,
  outDir,
  resume,
  plateau: { earlyStopPatience: 0 },
});

type LoopFigures = {
  straight: { losses: number[]; weights: Arrays };
  resumed: { losses: number[]; weights: Arrays; step: number | undefined; epochsRun: number[]; stepsRun: number };
};

/** 2 epochs straight, and 1 epoch then a resume for the 2nd, on the current backend. */
async function loopFigures(tag: string): Promise<LoopFigures> {
  const losses = (r: Awaited<ReturnType<typeof train>>) => r.metrics.flatMap((m) => [m.trainLoss, m.valLoss]);
  const a = await train(loop(path.join(tmp, `${tag}-straight`), 2));
  const straight = { losses: losses(a), weights: await snapshotParams(a.params) };
  disposeParams(a.params);
  const cut = await train(loop(path.join(tmp, `${tag}-cut`), 1));
  disposeParams(cut.params);
  const events: TrainEvent[] = [];
  const b = await train({ ...loop(path.join(tmp, `${tag}-cut`), 2, true), onEvent: (e) => events.push(e) });
  expect(b.metrics.map((m) => m.epoch)).toEqual([1, 2]);
  const ck = await loadCheckpoint(path.join(tmp, `${tag}-cut`), 'last');
  const resumed = {
    losses: losses(b),
    weights: await snapshotParams(b.params),
    step: ck.optimizer?.step,
    epochsRun: events.flatMap((e) => (e.type === 'epoch' ? [e.epoch] : [])),
    stepsRun: events.filter((e) => e.type === 'step').length,
  };
  disposeParams(b.params);
  disposeParams(ck.model.params);
  return { straight, resumed };
}

type RecipeFigures = { events: TransferEvent[]; cache: { decodes: number; forwardRows: number }; weights: Arrays; losses: number[]; files: string[] };

// A stand-in "pretrained" tiny network with 3 ImageNet-like outputs (He-scaled, so its pool5
// features carry signal); the recipe replaces fc8 for the 2 classes.
const baseConfig = makeConfig({ ...TINY_CONFIG, numClasses: 3 });

/** The one-click recipe (LR search and head on cached features, then fc6-fc8) on the current backend. */
async function recipeFigures(tag: string): Promise<RecipeFigures> {
  const params = initParams(baseConfig, 11, 'he');
  const events: TransferEvent[] = [];
  const outDir = path.join(tmp, `${tag}-recipe`);
  const r = await fineTune({
    base: { params, config: baseConfig, preprocessing: prep, source: 'test-base' },
    classNames: ['ants', 'bees'],
    train: hymenopteraPhotos('train', 6),
    val: hymenopteraPhotos('val', 2),
    outDir,
    cacheDir: path.join(tmp, `${tag}-cache`),
    headEpochs: 2,
    fineTuneEpochs: 1,
    batchSize: 4,
    cacheViews: 2,
    seed: 1,
    onEvent: (e) => events.push(e),
  });
  const out = {
    events,
    cache: { decodes: r.cache.decodes, forwardRows: r.cache.forwardRows },
    weights: await snapshotParams(r.params),
    losses: r.metrics.flatMap((m) => [m.trainLoss, m.valLoss]),
    files: fs.readdirSync(outDir).sort(),
  };
  disposeParams(r.params);
  disposeParams(params);
  return out;
}

describe.skipIf(skip !== null)(`whole runs on webgpu equal ${REFERENCE}`, () => {
  let ref: { loop: LoopFigures; recipe: RecipeFigures; base: Arrays };
  let gpu: { loop: LoopFigures; recipe: RecipeFigures };

  it('runs the training loop and the recipe on both backends', async () => {
    await initBackend(REFERENCE);
    const base = initParams(baseConfig, 11, 'he');
    ref = { loop: await loopFigures('ref'), recipe: await recipeFigures('ref'), base: await snapshotParams(base) };
    disposeParams(base);
    const info = await initBackend('webgpu');
    expect(info.name).toBe('webgpu');
    gpu = { loop: await loopFigures('gpu'), recipe: await recipeFigures('gpu') };
  });

  it('training: 1 epoch + resume 1 on webgpu ends where 2 epochs straight end, and where the reference ends', async () => {
    const { straight, resumed } = gpu.loop;
    // the resume ran the 2nd epoch alone (3 steps) and carried the optimiser state: 6 steps in all
    expect(resumed.epochsRun).toEqual([2]);
    expect(resumed.stepsRun).toBe(3);
    expect(resumed.step).toBe(6);
    resumed.losses.forEach((l, i) => expect(relLoss(l, straight.losses[i]), `loss ${i}`).toBeLessThan(1e-6));
    for (const n of PARAM_NAMES) expect(maxRelDiff(resumed.weights[n], straight.weights[n]), n).toBeLessThan(1e-6);
    const initial = initParams(config, 2, 'he');
    const init = await snapshotParams(initial); // data(), never dataSync: a webgpu tensor in Node reads only asynchronously
    disposeParams(initial);
    straight.losses.forEach((l, i) => expect(relLoss(l, ref.loop.straight.losses[i]), `loss ${i}`).toBeLessThan(1e-5));
    for (const n of PARAM_NAMES) {
      const w0 = init[n];
      const d = delta(ref.loop.straight.weights[n], w0);
      expect(Math.max(...d.map(Math.abs)), n).toBeGreaterThan(0);
      expect(maxRelDiff(delta(straight.weights[n], w0), d), n).toBeLessThan(1e-4);
    }
  });

  it('the recipe: the same LR search and cache, conv frozen, fc6-fc8 trained as on the reference', () => {
    const { recipe } = gpu;
    // the cache decoded each photo once and pushed every view through conv1..pool5 once
    expect(recipe.cache).toEqual({ decodes: 16, forwardRows: 12 * 2 + 4 });
    expect(recipe.cache).toEqual(ref.recipe.cache);
    const find = (f: RecipeFigures) => {
      const e = f.events.find((x) => x.type === 'lr-find');
      if (!e || e.type !== 'lr-find') throw new Error('no lr-find event');
      return e;
    };
    expect(find(recipe).trials.map((t) => t.lr)).toEqual(HEAD_LR_CANDIDATES);
    find(recipe).trials.forEach((t, i) => expect(relLoss(t.valLoss, find(ref.recipe).trials[i].valLoss), `lr ${t.lr}`).toBeLessThan(1e-5));
    expect(find(recipe).lr).toBe(find(ref.recipe).lr);
    const stages = (f: RecipeFigures) => f.events.filter((e) => e.type === 'epoch').map((e) => e.stage);
    expect(stages(recipe)).toEqual(['head', 'head', 'finetune']);
    expect(stages(recipe)).toEqual(stages(ref.recipe));
    recipe.losses.forEach((l, i) => expect(relLoss(l, ref.recipe.losses[i]), `loss ${i}`).toBeLessThan(1e-5));
    for (const n of PARAM_NAMES) {
      if (n.startsWith('conv')) {
        expect(Array.from(recipe.weights[n]), n).toEqual(Array.from(ref.base[n]));
        continue;
      }
      if (n.startsWith('fc8')) {
        expect(maxRelDiff(recipe.weights[n], ref.recipe.weights[n]), n).toBeLessThan(1e-4); // a new head: no base to subtract
        continue;
      }
      const d = delta(ref.recipe.weights[n], ref.base[n]);
      expect(Math.max(...d.map(Math.abs)), n).toBeGreaterThan(0);
      expect(maxRelDiff(delta(recipe.weights[n], ref.base[n]), d), n).toBeLessThan(1e-4);
    }
    expect(recipe.files).toEqual(ref.recipe.files);
    expect(recipe.files).toEqual(expect.arrayContaining(['best.ckpt', 'last.ckpt']));
  });
});

if (skip !== null) it.skip(`webgpu runs: ${skip}`, () => {});
