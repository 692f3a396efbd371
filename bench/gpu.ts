// Our side of `npm run bench -- --only gpu`: the engine on the webgpu backend, batch 128 (and batch 1
// inference), the paper's network (1000 classes, paper init: the values do not change the work):
//   ours_gpu_infer        inference (no dropout), images/s, batch 1 and --batch
//   ours_gpu_train_step   full training step (forward with dropout, cross-entropy, every gradient, SGD)
//   ours_gpu_cached_step  the recipe's transfer step: fc6-fc8 on cached pool5 features
// A GPU works asynchronously: every timed call ends by reading its result (await data()), which
// waits for everything it queued. Only a hardware adapter is measured: a software one (SwiftShader)
// makes this exit with a message, unless --allow-software (a smoke run of this script; its figures
// are marked software and are no speed).
//
//   node --import tsx bench/gpu.ts [--batch 128] [--reps 7] [--allow-software [--tiny]]
// (--tiny: TINY_CONFIG, for a smoke run of this script on a software adapter)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../ml/backend';
import { DEFAULT_CONFIG, PARAM_NAMES, TINY_CONFIG, pool5Features, type ParamName, type Params } from '../ml/config';
import { disposeParams, forward, initParams } from '../ml/model';
import { Sgd } from '../ml/optimizer';
import { trainStep, type SourceBatch } from '../ml/train';
import { stageMultipliers } from '../ml/transfer';
import { images, labels, median, pool5, type EngineFigure } from './engine';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const BATCH = Number(arg('batch') ?? 128);
const REPS = Number(arg('reps') ?? 7);
const allowSoftware = process.argv.includes('--allow-software');
const config = process.argv.includes('--tiny') ? TINY_CONFIG : DEFAULT_CONFIG;

async function timedAsync(fn: () => Promise<void>, reps: number, warmup = 2): Promise<{ median: number; best: number }> {
  for (let i = 0; i < warmup; i++) await fn(); // the first calls compile the pipelines
  const wall: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    wall.push((performance.now() - t0) / 1000);
  }
  return { median: median(wall), best: Math.min(...wall) };
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const out = (f: EngineFigure): void => console.log(JSON.stringify(f));
const rate = (name: string, n: number, t: { median: number; best: number }, extra: Record<string, unknown> = {}): EngineFigure => ({
  name,
  value: r3(n / t.median),
  unit: 'images/s',
  batch: n,
  best: r3(n / t.best),
  reps: REPS,
  ...extra,
});

function stepFn(params: Params, lrMult: Partial<Record<ParamName, number>>, b: SourceBatch, from: 'input' | 'pool5'): { step: () => Promise<void>; sgd: Sgd } {
  const sgd = new Sgd({ lr: 0.01, momentum: 0.9, weightDecay: 5e-4, lrMult }); // as PyTorch's baseline
  const trainable = sgd.trainable();
  const varList = trainable.map((n) => params[n]);
  const nameOf = new Map<string, ParamName>(trainable.map((n) => [params[n].name, n]));
  const w = tf.ones([config.numClasses]) as tf.Tensor1D;
  let k = 0;
  return { sgd, step: async () => void (await trainStep(params, config, sgd, varList, nameOf, b, w, from, k++)) };
}

async function main(): Promise<void> {
  process.chdir(repoRoot);
  // forced (tensorflow-gpu would come first on a CUDA machine); a software adapter only with --allow-software
  const info = await initBackend('webgpu').catch((e: unknown) => {
    console.error(`bench/gpu.ts: no WebGPU adapter: ${e instanceof Error ? e.message : String(e)}`);
    return process.exit(3);
  });
  const software = info.adapter?.software ?? true;
  if (software && !allowSoftware) {
    console.error(`bench/gpu.ts: only a software WebGPU adapter (${info.adapter?.description ?? 'unknown'}): no GPU to measure`);
    process.exit(3);
  }
  out({ name: 'backend', value: 1, unit: 'device', backend: info.name, adapter: info.adapter, software, classes: config.numClasses, versions: info.versions });

  const params = initParams(config, 0);
  const s = config.inputSize;
  for (const n of [1, BATCH]) {
    const x = images(n, s);
    const t = await timedAsync(async () => {
      const y = tf.tidy(() => forward(params, config, tf.tensor(x, [n, s, s, 3]), { training: false, fixedWeights: true }));
      await y.data();
      y.dispose();
    }, n === 1 ? REPS * 4 : REPS);
    out(rate('ours_gpu_infer', n, t, { software }));
  }

  const all = Object.fromEntries(PARAM_NAMES.map((n) => [n, 1])) as Partial<Record<ParamName, number>>;
  const b: SourceBatch = { x: images(BATCH, s), shape: [BATCH, s, s, 3], y: labels(BATCH, config.numClasses), paths: [] };
  const full = stepFn(params, all, b, 'input');
  out(rate('ours_gpu_train_step', BATCH, await timedAsync(full.step, REPS), { software }));
  full.sgd.disposeState();
  const f = pool5Features(config);
  const feats: SourceBatch = { x: pool5(BATCH, f), shape: [BATCH, f], y: b.y, paths: [] };
  const cached = stepFn(params, stageMultipliers('fc'), feats, 'pool5');
  out(rate('ours_gpu_cached_step', BATCH, await timedAsync(cached.step, REPS), { software, trained: 'fc6-fc8 on cached pool5' }));
  cached.sgd.disposeState();
  disposeParams(params);
}

await main();
