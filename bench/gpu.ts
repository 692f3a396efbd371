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
//        [--kernels tfjs,naive,tiled,tiled-all] [--layers conv1,conv2,...]
// (--tiny: TINY_CONFIG, for a smoke run of this script on a software adapter)
// Every figure says which convolution kernels ran (`kernels`): TF.js's own (ALEXNET_WEBGPU_KERNELS=0),
// or ours, naive, tiled or tiled-all (ALEXNET_WEBGPU_TILED, ml/kernels/webgpu/names.ts).
// --kernels runs this script once per entry, in a child process each (kernels are registered once
// per process). --layers times only the named conv layers, forward (conv, bias, ReLU) and forward +
// both gradients, at --batch (ours_gpu_conv, ours_gpu_conv_grad), instead of the whole network.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../ml/backend';
import { DEFAULT_CONFIG, PARAM_NAMES, TINY_CONFIG, networkLayers, pool5Features, type ParamName, type Params } from '../ml/config';
import { webgpuConvKernels } from '../ml/kernels/webgpu/names';
import { ENGINE_NODE_FLAGS } from '../ml/node-flags';
import { benchChildArgs } from './child';
import { groupedConv2d } from '../ml/layers';
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
const kernels = (): string => (process.env.ALEXNET_WEBGPU_KERNELS === '0' ? 'tfjs' : webgpuConvKernels());
const out = (f: EngineFigure): void => console.log(JSON.stringify({ ...f, kernels: kernels() }));
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

/** --kernels a,b: this script again per entry, with the environment that selects those kernels. */
function runEachKernels(list: string): void {
  const envFor: Record<string, NodeJS.ProcessEnv> = {
    tfjs: { ALEXNET_WEBGPU_KERNELS: '0' },
    naive: { ALEXNET_WEBGPU_TILED: '0' },
    tiled: { ALEXNET_WEBGPU_TILED: '1' },
    'tiled-all': { ALEXNET_WEBGPU_TILED: 'all' },
  };
  const i = process.argv.indexOf('--kernels');
  const rest = process.argv.slice(2).filter((_, j) => j + 2 !== i && j + 2 !== i + 1);
  for (const k of list.split(',')) {
    const env = envFor[k];
    if (env === undefined) {
      console.error(`bench/gpu.ts: --kernels takes ${Object.keys(envFor).join(', ')}, not '${k}'`);
      process.exit(2);
    }
    const r = spawnSync(process.execPath, [...benchChildArgs('gpu.ts', ENGINE_NODE_FLAGS), ...rest], { stdio: 'inherit', env: { ...process.env, ...env } });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}

/**
 * --layers: each named conv layer alone at --batch, forward and forward + gradients (w, bias, and x
 * except for the first layer, whose input is the images: as in a training step).
 */
async function convLayers(names: string[], params: Params): Promise<void> {
  const all = networkLayers(config);
  for (const name of names) {
    const layer = all.find((l) => l.name === name);
    if (layer?.kind !== 'conv') {
      console.error(`bench/gpu.ts: --layers: no conv layer '${name}'`);
      process.exit(2);
    }
    const [h, wd, c] = layer.in;
    const xs = new Float32Array(BATCH * h * wd * c);
    for (let i = 0; i < xs.length; i++) xs[i] = Math.sin(i); // activations of either sign: the ReLU cuts some
    const x = tf.tensor4d(xs, [BATCH, h, wd, c]);
    const w = params[layer.weight] as tf.Tensor4D;
    const b = params[layer.bias] as tf.Tensor1D;
    const conv = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor): tf.Tensor4D =>
      groupedConv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, bi as tf.Tensor1D, layer.stride, layer.pad, layer.groups, 'relu');
    const fwd = await timedAsync(async () => {
      const y = conv(x, w, b);
      await y.data();
      y.dispose();
    }, REPS);
    out(rate('ours_gpu_conv', BATCH, fwd, { layer: name, in: layer.in, out: layer.out, groups: layer.groups, software: allowSoftware }));
    const first = layer === all[0];
    const grad = await timedAsync(async () => {
      const g = first
        ? tf.grads((wi: tf.Tensor, bi: tf.Tensor) => tf.sum(conv(x, wi, bi)))([w, b])
        : tf.grads((xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) => tf.sum(conv(xi, wi, bi)))([x, w, b]);
      await Promise.all(g.map((t) => t.data()));
      tf.dispose(g);
    }, REPS);
    const wrt = first ? 'w,b' : 'x,w,b';
    out(rate('ours_gpu_conv_grad', BATCH, grad, { layer: name, in: layer.in, out: layer.out, groups: layer.groups, grads: wrt, software: allowSoftware }));
    x.dispose();
  }
}

async function main(): Promise<void> {
  process.chdir(repoRoot);
  const each = arg('kernels');
  if (each !== undefined) return runEachKernels(each);
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
  const layers = arg('layers');
  if (layers !== undefined) {
    await convLayers(layers.split(','), params);
    disposeParams(params);
    return;
  }
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
