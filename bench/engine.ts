// Our engine's side of the benchmark: inference, training steps, peak memory and a per-kernel
// profile of the full AlexNet on the current TensorFlow.js backend (ml/backend.ts picks it).
//
// Run as a child of bench/index.ts (one group per process where memory must be clean):
//   node --import tsx bench/engine.ts --groups infer,train,transfer [--reps 7] [--quick]
// Prints one JSON line per figure: {"name","value","unit","batch","best","per_cpu_s","reps",...}.
//
//   infer      the BVLC AlexNet fixture (1000 classes, LRN k=1, 227x227 input), forward with
//              training=false, input Float32Array -> tensor -> logits read back: images/s, batch 1, 32
//   train      full training step at batch 32 (paper config, 1000 classes): forward with dropout,
//              weighted cross-entropy, gradients of all 16 tensors, SGD momentum 0.9 wd 5e-4
//   transfer   (a) what our recipe trains: fc6-fc8 (fc6/fc7 at lr x 0.1, fc8 at lr) on cached pool5
//              features [32, 9216], no convolution at all; (b) the same frozen conv as PyTorch's
//              baseline: forward from the image through conv1-pool5, gradients of fc6-fc8 only
//   memory     peak RSS (process.resourceUsage().maxRSS) after a few training steps at batch 32
//   profile    tf.profile of one inference (batch 32) and one training step (batch 32): milliseconds
//              per kernel, so the LRN's share and the backward convolutions show up
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { collectGarbage, initBackend, reserveCpuPool, reservedPoolBytes, trainingPoolBytes } from '../ml/backend';
import { DEFAULT_CONFIG, PARAM_NAMES, type AlexNetConfig, type ParamName, type Params } from '../ml/config';
import { graphUnsupported } from '../ml/graph';
import { disposeParams, forward, initParams, paramsFromArrays, type Stage } from '../ml/model';
import { Sgd } from '../ml/optimizer';
import { trainStep, type SourceBatch } from '../ml/train';
import { stageMultipliers } from '../ml/transfer';
import { parseOnnxAlexNet } from '../ml/weights/onnx';
import { bvlcFixture } from '../test/helpers/bvlc-fixture';

export const BATCH = 32; // the training and large-batch inference batch
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// -------------------------------------------------------------------------------------------------
// Timing

export type Timed = { median: number; best: number; cpu: number; reps: number }; // seconds per call

export const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Wall and process-CPU seconds of fn() over `reps` calls after `warmup` calls: median, fastest. */
export function timed(fn: () => void, reps: number, warmup = 2): Timed {
  for (let i = 0; i < warmup; i++) fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    fn();
    wall.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  return { median: median(wall), best: Math.min(...wall), cpu: median(cpu), reps };
}

export type EngineFigure = { name: string; value: number; unit: string; [extra: string]: unknown };

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

function rate(name: string, n: number, t: Timed, extra: Record<string, unknown> = {}): EngineFigure {
  return { name, value: r3(n / t.median), unit: 'images/s', batch: n, best: r3(n / t.best), per_cpu_s: r3(n / t.cpu), reps: t.reps, ...extra };
}

// -------------------------------------------------------------------------------------------------
// Inputs

/** A deterministic pseudo-image batch (values like mean-subtracted pixels). */
function images(n: number, size: number): Float32Array {
  const x = new Float32Array(n * size * size * 3);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i) * 50;
  return x;
}

/** Post-ReLU-like pool5 features. */
function pool5(n: number, f: number): Float32Array {
  const x = new Float32Array(n * f);
  for (let i = 0; i < x.length; i++) x[i] = Math.max(0, Math.sin(i * 0.37)) * 3;
  return x;
}

function labels(n: number, k: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => (i * 7919) % k);
}

/** The BVLC fixture (seed 2012, the same file ORT's baseline generates), imported as the app does. */
export function fixtureModel(): { params: Params; config: AlexNetConfig } {
  const imported = parseOnnxAlexNet(readFileSync(bvlcFixture()));
  return { params: paramsFromArrays(imported.config, imported.arrays), config: imported.config };
}

/** One training-step closure: params, an Sgd with `lrMult`, a fixed batch from stage `from`. */
function stepper(params: Params, config: AlexNetConfig, lrMult: Partial<Record<ParamName, number>>, b: SourceBatch, from: Stage): { step: () => void; sgd: Sgd } {
  const sgd = new Sgd({ lr: 0.01, momentum: 0.9, weightDecay: 5e-4, lrMult }); // PyTorch baseline's settings
  // TensorFlow's CPU pool, as train() reserves it
  reserveCpuPool(trainingPoolBytes(config, b.shape[0], from === 'input'));
  const trainable = sgd.trainable();
  const varList = trainable.map((n) => params[n]);
  const nameOf = new Map<string, ParamName>(trainable.map((n) => [params[n].name, n]));
  const w = tf.ones([config.numClasses]) as tf.Tensor1D; // unweighted, as PyTorch's cross_entropy
  let k = 0;
  return { sgd, step: () => void trainStep(params, config, sgd, varList, nameOf, b, w, from, k++) };
}

const ALL_TRAINABLE: Partial<Record<ParamName, number>> = Object.fromEntries(PARAM_NAMES.map((n) => [n, 1]));
const FROZEN_CONV: Partial<Record<ParamName, number>> = Object.fromEntries(PARAM_NAMES.map((n) => [n, n.startsWith('fc') ? 1 : 0]));

// -------------------------------------------------------------------------------------------------
// Groups

// Batch-1 calls are short (~35 ms): many more of them, so that a median survives a busy machine.
export const BATCH1_REPS_FACTOR = 12;

function benchInfer(reps: number, out: (f: EngineFigure) => void, batches: readonly number[] = [1, BATCH]): void {
  const { params, config } = fixtureModel();
  const s = config.inputSize;
  for (const n of batches) {
    const x = images(n, s);
    const t = timed(
      () =>
        tf.tidy(() => {
          // fixedWeights: as classify and evaluate call it (ml/evaluate.ts predictProbs)
          forward(params, config, tf.tensor(x, [n, s, s, 3]), { training: false, fixedWeights: true }).dataSync();
        }),
      n === 1 ? reps * BATCH1_REPS_FACTOR : reps,
    );
    out(rate('ours_infer', n, t, { input: s, classes: config.numClasses }));
  }
  // the same calls op by op (ALEXNET_GRAPH=0: what every backend but the native one runs)
  if (batches.length > 1 && graphUnsupported(config) === null) {
    process.env.ALEXNET_GRAPH = '0';
    try {
      const x = images(1, s);
      const t = timed(() => tf.tidy(() => void forward(params, config, tf.tensor(x, [1, s, s, 3]), { training: false }).dataSync()), reps * BATCH1_REPS_FACTOR);
      out(rate('ours_infer_eager', 1, t, { input: s }));
    } finally {
      delete process.env.ALEXNET_GRAPH;
    }
  }
  disposeParams(params);
}

function benchTrain(reps: number, out: (f: EngineFigure) => void): void {
  const config = DEFAULT_CONFIG;
  const params = initParams(config, 0);
  const s = config.inputSize;
  const b: SourceBatch = { x: images(BATCH, s), shape: [BATCH, s, s, 3], y: labels(BATCH, config.numClasses), paths: [] };
  const { step, sgd } = stepper(params, config, ALL_TRAINABLE, b, 'input');
  out(rate('ours_train_step', BATCH, timed(step, reps), { trained: 'all 8 layers' }));
  sgd.disposeState();
  disposeParams(params);
}

function benchTransfer(reps: number, out: (f: EngineFigure) => void): void {
  const config = DEFAULT_CONFIG;
  const params = initParams(config, 0);
  const s = config.inputSize;
  const y = labels(BATCH, config.numClasses);
  // (a) the recipe's 'fc' stage on cached pool5 features: no convolution runs
  const feats: SourceBatch = { x: pool5(BATCH, 9216), shape: [BATCH, 9216], y, paths: [] };
  const a = stepper(params, config, stageMultipliers('fc'), feats, 'pool5');
  out(rate('ours_transfer_cached', BATCH, timed(a.step, reps * 3), { trained: 'fc6-fc8 on cached pool5' }));
  a.sgd.disposeState();
  // (b) PyTorch's setting: images through the frozen conv stack every step, fc6-fc8 trained
  const imgs: SourceBatch = { x: images(BATCH, s), shape: [BATCH, s, s, 3], y, paths: [] };
  const b = stepper(params, config, FROZEN_CONV, imgs, 'input');
  out(rate('ours_transfer_frozen_conv', BATCH, timed(b.step, reps), { trained: 'fc6-fc8, conv frozen, from images' }));
  b.sgd.disposeState();
  disposeParams(params);
}

function benchMemory(out: (f: EngineFigure) => void): void {
  const config = DEFAULT_CONFIG;
  const params = initParams(config, 0);
  const s = config.inputSize;
  const b: SourceBatch = { x: images(BATCH, s), shape: [BATCH, s, s, 3], y: labels(BATCH, config.numClasses), paths: [] };
  const { step } = stepper(params, config, ALL_TRAINABLE, b, 'input');
  collectGarbage(); // as train() does before its first step
  for (let i = 0; i < 4; i++) step();
  const maxRssMb = process.resourceUsage().maxRSS / 1024; // KiB on Linux
  out({ name: 'ours_train_memory', value: r3(maxRssMb), unit: 'MB', batch: BATCH, steps: 4, tensors: tf.memory().numTensors, pool_mb: reservedPoolBytes() / 2 ** 20 });
}

/** Milliseconds per kernel name in one profiled call (after a warm-up call). */
async function kernelMs(fn: () => void): Promise<{ total: number; wall: number; byKernel: Record<string, number> }> {
  fn();
  const t0 = performance.now();
  const info = await tf.profile(fn);
  const wall = performance.now() - t0;
  const byKernel: Record<string, number> = {};
  let total = 0;
  for (const k of info.kernels) {
    const ms = await k.kernelTimeMs;
    const v = typeof ms === 'number' ? ms : 0;
    byKernel[k.name] = (byKernel[k.name] ?? 0) + v;
    total += v;
  }
  for (const key of Object.keys(byKernel)) byKernel[key] = Math.round(byKernel[key] * 10) / 10;
  return { total: Math.round(total), wall: Math.round(wall), byKernel };
}

async function benchProfile(out: (f: EngineFigure) => void): Promise<void> {
  const fx = fixtureModel();
  const s = fx.config.inputSize;
  const x = images(BATCH, s);
  // op by op: the graph (ml/graph.ts) is one TensorFlow call, which tf.profile cannot split
  process.env.ALEXNET_GRAPH = '0';
  const inf = await kernelMs(() =>
    tf.tidy(() => {
      forward(fx.params, fx.config, tf.tensor(x, [BATCH, s, s, 3]), { training: false }).dataSync();
    }),
  ).finally(() => delete process.env.ALEXNET_GRAPH);
  out({ name: 'profile_infer', value: inf.total, unit: 'ms', batch: BATCH, wall_ms: inf.wall, kernels: inf.byKernel });
  disposeParams(fx.params);
  const config = DEFAULT_CONFIG;
  const params = initParams(config, 0);
  const b: SourceBatch = { x, shape: [BATCH, s, s, 3], y: labels(BATCH, config.numClasses), paths: [] };
  const { step, sgd } = stepper(params, config, ALL_TRAINABLE, b, 'input');
  const tr = await kernelMs(step);
  out({ name: 'profile_train', value: tr.total, unit: 'ms', batch: BATCH, wall_ms: tr.wall, kernels: tr.byKernel });
  sgd.disposeState();
  const feats: SourceBatch = { x: pool5(BATCH, 9216), shape: [BATCH, 9216], y: b.y, paths: [] };
  const c = stepper(params, config, stageMultipliers('fc'), feats, 'pool5');
  const tc = await kernelMs(c.step);
  out({ name: 'profile_transfer', value: tc.total, unit: 'ms', batch: BATCH, wall_ms: tc.wall, kernels: tc.byKernel });
  c.sgd.disposeState();
  disposeParams(params);
}

// infer1: inference at batch 1 only (the benchmark's extra rounds, alternating with ONNX Runtime)
export const ENGINE_GROUPS = ['infer', 'infer1', 'train', 'transfer', 'memory', 'profile'] as const;
export type EngineGroup = (typeof ENGINE_GROUPS)[number];

export async function runEngine(groups: EngineGroup[], reps: number, out: (f: EngineFigure) => void): Promise<void> {
  const info = await initBackend();
  out({ name: 'backend', value: info.threads, unit: 'threads', backend: info.name, versions: info.versions });
  for (const g of groups) {
    if (g === 'infer') benchInfer(reps, out);
    else if (g === 'infer1') benchInfer(reps, out, [1]);
    else if (g === 'train') benchTrain(reps, out);
    else if (g === 'transfer') benchTransfer(reps, out);
    else if (g === 'memory') benchMemory(out);
    else await benchProfile(out);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const groups = (arg('groups') ?? 'infer,train,transfer').split(',').filter((g): g is EngineGroup => (ENGINE_GROUPS as readonly string[]).includes(g));
  const reps = Number(arg('reps') ?? (process.argv.includes('--quick') ? 2 : 7)); // timed reps per figure (median reported)
  process.chdir(repoRoot);
  await runEngine(groups, reps, (f) => console.log(JSON.stringify(f)));
}
