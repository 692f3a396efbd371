// Picks the TensorFlow.js backend at run time, best first:
//   1. @tensorflow/tfjs-node-gpu  (libtensorflow with CUDA; backend 'tensorflow')
//   2. @tensorflow/tfjs-backend-webgpu on Dawn (the `webgpu` package: Vulkan, Metal or D3D12), a
//      hardware adapter only (a software one, SwiftShader or lavapipe, is slower than the CPU
//      backends and is used only when forced); + our kernels, ml/kernels/webgpu/
//   3. @tensorflow/tfjs-node      (libtensorflow on the CPU;  backend 'tensorflow')
//   4. @tensorflow/tfjs-backend-wasm (XNNPACK; + the training kernels it lacks, ml/kernels/wasm.ts)
//   5. @tensorflow/tfjs-backend-cpu  (pure JS: fine for tiny test models only)
// The tfjs-node packages and `webgpu` are optional: their native addon may be absent; the load error
// is kept in `tried`. ALEXNET_BACKEND=tensorflow-gpu|webgpu|tensorflow|wasm|cpu forces one.
//
// Every package here must share the ONE @tensorflow/tfjs-core in node_modules (one engine, one
// kernel registry); `initBackend` checks that the chosen backend landed in our engine.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu'; // always there: registers 'cpu'
import { layerShapes, paramCount, paramShapes, type AlexNetConfig } from './config';
import { EngineError } from './errors';
import './kernels/gradients';
import { registerWasmTrainingKernels } from './kernels/wasm';
import { registerTensorflowKernels, reserveUninitialised } from './kernels/tensorflow';
import { gpuFailure, gpuFailureBehind, loadWebgpu, webgpuBufferLimit, type GpuAdapterInfo } from './kernels/webgpu/device';

export type BackendName = 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';
export type { GpuAdapterInfo };
export type BackendInfo = {
  name: BackendName;
  threads: number; // CPU threads the backend computes with (wasm: 1 in Node, see below; webgpu: 1)
  versions: Record<string, string>; // 'tfjs-core', the backend package, 'node'
  tried: { name: BackendName; error: string }[]; // better backends that failed to load, and why
  adapter?: GpuAdapterInfo; // webgpu: the device it runs on
};

export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];
const PACKAGE: Record<BackendName, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};
const TF_NAME: Record<BackendName, string> = {
  'tensorflow-gpu': 'tensorflow',
  webgpu: 'webgpu',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

const require = createRequire(import.meta.url);
let current: BackendInfo | null = null;

function isBackendName(s: string): s is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(s);
}

function packageVersion(pkg: string): string {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'absent';
  }
}

function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown error';
}

/** Path of a tfjs-node(-gpu) package's compiled addon, or null when absent (the usual case here). */
export function findNativeBinding(pkg: string): string | null {
  try {
    const lib = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'lib');
    const hit = fs.readdirSync(lib, { recursive: true }).map(String).find((f) => f.endsWith('tfjs_binding.node'));
    return hit === undefined ? null : path.join(lib, hit);
  } catch {
    return null;
  }
}

// wasm threads in Node.
// tfjs-backend-wasm 4.22 hard-wires WASM_HAS_MULTITHREAD_SUPPORT=false in Node (tfjs issue #3830):
// its threaded build starts Emscripten's pthread workers from a Blob URL, which Node's worker_threads
// cannot load, and the workers then load the main script from a Blob too. Both can be redirected to
// files: the worker script is written to a temp file (it already supports Node), and told to load the
// package's own threaded-simd.js. Measured here: the threaded build then loads and runs, but tfjs caps
// its XNNPACK pool at (logical cores / 2): on a 2-core machine that is 1 thread, so no gain could be
// measured. Opt-in (ALEXNET_WASM_THREADS=1, used with >= 4 cores) until measured on a bigger machine.
let restoreCreateObjectURL: (() => void) | null = null;

function wasmThreadsWanted(): boolean {
  const v = process.env.ALEXNET_WASM_THREADS;
  return (v === '1' && os.availableParallelism() >= 4) || v === 'force'; // 'force': even where tfjs caps it at 1

}

function enableWasmThreads(pkgDir: string): void {
  const mainJs = path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require(path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  const workerFile = path.join(os.tmpdir(), `alexnet-tfjs-wasm-worker-${tf.version_core}-${process.pid}.cjs`);
  // (tfjs escapes newlines the same way before making its Blob: the script is one line with "\n" in strings)
  fs.writeFileSync(workerFile, `URL.createObjectURL = () => ${JSON.stringify(mainJs)};\n` + wasmWorkerContents.replace(/\n/g, '\\n'));
  process.once('exit', () => fs.rmSync(workerFile, { force: true }));
  const original = URL.createObjectURL;
  URL.createObjectURL = ((obj: Blob) =>
    obj instanceof Blob && obj.type === 'application/javascript' ? workerFile : original(obj)) as typeof URL.createObjectURL;
  restoreCreateObjectURL = () => {
    URL.createObjectURL = original;
    restoreCreateObjectURL = null;
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
}

/**
 * Runs `load` with file descriptor 2 pointed at /dev/null, then points it back at the original
 * stderr. For TensorFlow's library: while it initialises it prints notices straight to fd 2 (absl
 * logs everything before absl::InitializeLog, ignoring TF_CPP_MIN_LOG_LEVEL), such as "oneDNN custom
 * operations are on", and a command's stderr must hold only its own lines. Node cannot dup2, so
 * the original is reopened through /proc/self/fd (Linux) or /dev/fd (macOS), in append mode so that
 * a log file is never truncated. Anywhere else, when output is still queued for stderr, or when any
 * step fails, `load` simply runs with stderr as it is. Errors of `load` itself are thrown, not printed.
 */
async function withQuietStderr<T>(load: () => Promise<T>): Promise<T> {
  const fdDir = process.platform === 'linux' ? '/proc/self/fd' : process.platform === 'darwin' ? '/dev/fd' : null;
  let queued = 0;
  try {
    queued = process.stderr?.writableLength ?? 0; // (some embedders have no stderr stream)
  } catch {
    return load();
  }
  if (fdDir === null || queued > 0) return load();
  let saved = -1;
  try {
    saved = fs.openSync(`${fdDir}/2`, 'a');
    fs.closeSync(2);
    if (fs.openSync('/dev/null', 'a') !== 2) throw new Error('fd 2 not reused');
  } catch {
    if (saved >= 0) restoreStderr(fdDir, saved);
    return load();
  }
  try {
    return await load();
  } finally {
    restoreStderr(fdDir, saved);
  }
}

/** Points fd 2 back at what `saved` refers to (the lowest free descriptor is 2 once it is closed). */
function restoreStderr(fdDir: string, saved: number): void {
  try {
    try {
      fs.closeSync(2);
    } catch {
      // already closed
    }
    fs.openSync(`${fdDir}/${saved}`, 'a');
  } finally {
    fs.closeSync(saved);
  }
}

// One region for TensorFlow's CPU memory pool, reserved before training.
// With oneDNN on, TensorFlow's CPU tensors come from its oneDNN allocator, a best-fit pool (BFC) that
// never returns memory to the OS and grows by regions of doubling size (2 MB, 4 MB, ... 1 GB). A
// training step of the paper's network at batch 32 peaks at about 1.2 GB of live tensors, so the pool
// ends with regions summing to 2 GB, and as buffers move around their pages end up touched one after
// another. One region the size of the estimated need, reserved before the first step, keeps best-fit
// placing buffers at its low addresses; untouched pages cost nothing but address space, plus the
// pool's bookkeeping (8 bytes per 256: 128 MB for 4 GB). It lowers full training's peak RSS at the
// same speed. The system allocator (TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1) returns memory at once but
// slows training and inference (figures: bench/README.md ("Engine choices")). Linux and macOS only: Windows commits allocated
// memory against its page file. ALEXNET_TF_POOL_MB sets the size instead (0: never).
const MIN_POOL_BYTES = 256 * 2 ** 20; // below this the doubling regions cost little
let poolReserved = 0; // bytes

/**
 * Reserves a region of at least `needBytes` in TensorFlow's CPU pool, once per process (a larger need
 * later adds a larger region). Only on the native CPU backend. Returns the bytes reserved now.
 */
export function reserveCpuPool(needBytes: number): number {
  if (current === null || current.name !== 'tensorflow' || tf.getBackend() !== 'tensorflow') return 0;
  if (process.platform !== 'linux' && process.platform !== 'darwin') return 0;
  const env = process.env.ALEXNET_TF_POOL_MB?.trim();
  const want = env !== undefined && env !== '' ? Number(env) * 2 ** 20 : needBytes;
  if (!(want >= MIN_POOL_BYTES) || want <= poolReserved) return 0;
  let region = 2 * 2 ** 20; // the pool's regions are 2 MB times a power of two
  while (region < want) region *= 2;
  if (!reserveUninitialised(region)) return 0;
  poolReserved = region;
  return region;
}

/**
 * A full V8 collection, where the process allows it (engine processes run with --expose-gc:
 * ml/node-flags.ts). Once a model's weights are in the backend, the arrays they came from (244 MB
 * for the paper's network) are garbage, but a training loop allocates so little on the JS heap that
 * V8 may not collect them for minutes. train() calls this before its first step from images.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** The pool a training run needs: the whole network from images, or only fc6-fc8 on cached features. */
export function trainingPoolBytes(config: AlexNetConfig, batchSize: number, fromImages: boolean): number {
  return fromImages ? estimateMemoryBytes(config, batchSize, true) : 4 * paramCount(config) * 5.5;
}

/** Bytes of TensorFlow's CPU pool reserved by reserveCpuPool (0: none). */
export function reservedPoolBytes(): number {
  return poolReserved;
}

/** Loads one backend and makes it current; throws if it cannot. Returns its thread count. */
async function load(name: BackendName, forced: boolean): Promise<{ threads: number; adapter?: GpuAdapterInfo }> {
  // Dawn prints warnings straight to stderr while it looks for adapters ("Couldn't load Vulkan" on a
  // machine without the Vulkan loader): the reason is kept in `tried` instead.
  if (name === 'webgpu') return { threads: 1, adapter: await withQuietStderr(() => loadWebgpu({ allowSoftware: forced })) };
  return { threads: await loadOther(name) };
}

async function loadOther(name: Exclude<BackendName, 'webgpu'>): Promise<number> {
  if (name === 'tensorflow-gpu' || name === 'tensorflow') {
    // Importing the package loads its native addon (throws if absent) and registers 'tensorflow'.
    const spec: string = PACKAGE[name];
    const binding = findNativeBinding(spec);
    if (binding === null)
      throw new Error(`${spec} is not usable: its native addon (lib/napi-v*/tfjs_binding.node) is not built or not installed`);
    // TensorFlow's C++ logging (CPU feature notes) would otherwise land on every command's stderr.
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    // oneDNN's kernels. TensorFlow's Linux wheels turn them on only on CPUs with AVX-512 VNNI or
    // newer; elsewhere (AVX2 machines, such as this project's 2-core AMD EPYC) every op runs Eigen
    // code compiled for plain AVX, without FMA. oneDNN JIT-compiles for the CPU it runs on, and its
    // convolution takes AlexNet's grouped layers and their gradients as one op (kernels/tensorflow.ts);
    // training and inference both run faster with it (bench/README.md ("Engine choices")). Read once, when TensorFlow loads; a TF_ENABLE_ONEDNN_OPTS already set wins.
    process.env.TF_ENABLE_ONEDNN_OPTS ??= '1';
    try {
      await withQuietStderr(() => import(spec));
    } catch (e) {
      // The package registers its kernels before loading the addon: take them back so that the next
      // candidate (tfjs-node after tfjs-node-gpu) registers cleanly.
      for (const k of tf.getKernelsForBackend('tensorflow')) tf.unregisterKernel(k.kernelName, 'tensorflow');
      throw e;
    }
    if (tf.findBackendFactory('tensorflow') === null)
      throw new Error(`${spec} loaded but registered no 'tensorflow' backend in this @tensorflow/tfjs-core (two copies installed?)`);
    if (!(await tf.setBackend('tensorflow'))) throw new Error(`${spec}: backend 'tensorflow' failed to initialise`);
    registerTensorflowKernels();
    return os.availableParallelism();
  }
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (tf.findBackendFactory('wasm') === null)
      throw new Error(`@tensorflow/tfjs-backend-wasm registered no 'wasm' backend in this @tensorflow/tfjs-core (two copies installed?)`);
    // In Node the .wasm binaries are read from disk: point at the package's dist folder (a file path).
    const pkgDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    if (tf.engine().registry.wasm === undefined) {
      wasm.setWasmPaths(path.join(pkgDir, 'dist') + path.sep);
      if (wasmThreadsWanted()) enableWasmThreads(pkgDir);
    }
    registerWasmTrainingKernels('wasm');
    try {
      if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
    } finally {
      restoreCreateObjectURL?.();
    }
    return wasm.getThreadsCount();
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed to initialise');
  return 1;
}

/**
 * Makes the best available backend current (or `prefer`; env ALEXNET_BACKEND overrides 'auto').
 * A forced backend that cannot load throws EngineError 'BACKEND_UNAVAILABLE'. The app's jobs pass
 * a run's own backend, else the app setting (main/app/settings.ts), as `prefer`: so a run's choice
 * beats the app setting, which beats ALEXNET_BACKEND, which beats 'auto'.
 */
export type BackendOptions = {
  // TensorFlow's pooling CPU allocator (BFC) for the native backends: it keeps freed buffers for
  // reuse instead of returning them to the OS. Without oneDNN it made the cached-feature transfer
  // step much faster, left a full training step as fast, and raised full training's peak memory. So:
  // on for the transfer recipe, where memory is small and the fc updates churn 150 MB buffers; off
  // (TensorFlow's default) otherwise. With oneDNN (see load()), TensorFlow's CPU tensors already come
  // from oneDNN's own pooling allocator and the switch makes no measurable difference; it still
  // matters with TF_ENABLE_ONEDNN_OPTS=0 (figures: bench/README.md ("Engine choices")).
  // Read once, when TensorFlow loads: the first initBackend of a process decides; ALEXNET_TF_BFC=0|1
  // overrides.
  pooledAllocator?: boolean;
};

export async function initBackend(prefer: BackendName | 'auto' = 'auto', opts: BackendOptions = {}): Promise<BackendInfo> {
  const bfc = process.env.ALEXNET_TF_BFC ?? (opts.pooledAllocator ? '1' : undefined);
  if (bfc !== undefined && process.env.TF_CPU_ALLOCATOR_USE_BFC === undefined) process.env.TF_CPU_ALLOCATOR_USE_BFC = bfc === '1' ? 'true' : 'false';
  const env = process.env.ALEXNET_BACKEND?.trim();
  let forced: BackendName | null = prefer === 'auto' ? null : prefer;
  if (prefer === 'auto' && env) {
    if (!isBackendName(env))
      throw new EngineError('BACKEND_UNAVAILABLE', `ALEXNET_BACKEND=${env} is not one of ${BACKEND_ORDER.join(', ')}`);
    forced = env;
  }
  const candidates = forced === null ? BACKEND_ORDER : [forced];
  const tried: BackendInfo['tried'] = [];
  for (const name of candidates) {
    try {
      const { threads, adapter } = await load(name, forced !== null);
      current = {
        name,
        threads,
        versions: {
          'tfjs-core': tf.version_core,
          [PACKAGE[name]]: packageVersion(PACKAGE[name]),
          ...(name === 'webgpu' ? { webgpu: packageVersion('webgpu') } : {}),
          node: process.versions.node,
        },
        tried,
        ...(adapter ? { adapter } : {}),
      };
      return current;
    } catch (e) {
      tried.push({ name, error: oneLine(e) });
    }
  }
  const why = tried.map((t) => `${t.name}: ${t.error}`).join('; ');
  throw new EngineError('BACKEND_UNAVAILABLE', `no TensorFlow.js backend could be loaded (${why})`);
}

/** The backend initBackend chose, or null before it ran (or if another one was set since). */
export function currentBackend(): BackendInfo | null {
  if (current !== null && tf.getBackend() !== TF_NAME[current.name]) return null;
  return current;
}

/**
 * A float32 tensor's values, the one way the engine reads results: asynchronously (a webgpu tensor in
 * Node reads no other way: its dataSync needs a browser's OffscreenCanvas), then checked against a
 * failure the GPU reported meanwhile (kernels/webgpu/device.ts), which throws EngineError
 * 'OUT_OF_MEMORY' or 'GPU_FAILED' instead of handing on the zeros a failed GPU leaves.
 */
export async function readTensor(t: tf.Tensor): Promise<Float32Array> {
  let values: Float32Array;
  try {
    values = (await t.data()) as Float32Array;
  } catch (e) {
    throw (tf.getBackend() === 'webgpu' ? await gpuFailureBehind() : null) ?? e; // a lost device fails the read itself
  }
  const failed = tf.getBackend() === 'webgpu' ? gpuFailure() : null;
  if (failed !== null) throw failed;
  return values;
}

// -------------------------------------------------------------------------------------------------
// Memory guard

// wasm32's heap cannot exceed 4 GiB, and past it tfjs-backend-wasm silently corrupts tensors. Keep
// the estimated need below this.
export const WASM_HEAP_LIMIT_BYTES = 3.5 * 1024 ** 3;

/**
 * Estimated peak bytes of a forward (training=false) or forward+backward+update step (training=true)
 * at `batchSize`: activations (every intermediate tensor of the forward pass, which the tape keeps for
 * the backward pass, and their gradients) plus a multiple of the weights (weights, gradients, the
 * optimizer's momentum, update temporaries, and XNNPACK's packed copies of the weight matrices).
 *
 * Calibrated on the wasm heap itself (wasm.HEAPU8.length, which only grows) with the full 1000-class
 * model: training batch 2 -> 1238 MiB, batch 8 -> 1416 MiB (29.7 MiB per image); inference batch 32
 * -> 790 MiB. This estimate gives 1338, 1517 and 1055 MiB: a little above, on purpose.
 */
export function estimateMemoryBytes(config: AlexNetConfig, batchSize: number, training: boolean): number {
  const s = layerShapes(config);
  const size = (k: string): number => s[k].reduce((a, b) => a * b, 1);
  const lrnCopies = config.lrn === null ? 0 : 1;
  // Per image, floats of the tensors one forward pass creates: conv output, bias add, activation,
  // LRN (conv1, conv2), grouped split + concat (conv2, conv4, conv5), pooling, fc layers + dropout.
  const g = config.groups === 2 ? 2 : 0;
  const act =
    size('input') +
    size('conv1') * (3 + lrnCopies) + size('pool1') +
    size('pool1') * (g ? 1 : 0) + size('conv2') * (3 + lrnCopies + g) + size('pool2') +
    size('conv3') * 3 +
    size('conv3') * (g ? 1 : 0) + size('conv4') * (3 + g) +
    size('conv4') * (g ? 1 : 0) + size('conv5') * (3 + g) + size('pool5') +
    (size('fc6') + size('fc7')) * 5 + size('fc8') * 3;
  const params = paramCount(config);
  return Math.ceil(
    training
      ? 4 * params * 5.5 + 4 * act * batchSize * 2 * 1.1 // activations and their gradients
      : 4 * params * 2.5 + 4 * act * batchSize * 1.1,
  );
}

/**
 * The largest single tensor of a forward or training step at `batchSize`, in bytes, and whose it is:
 * the largest layer output (its gradient has the same size) or the largest weight matrix (fc6's in the
 * paper's network). A GPU holds each tensor in one buffer, and a device limits a buffer's size.
 */
export function largestTensor(config: AlexNetConfig, batchSize: number): { bytes: number; what: string } {
  let out = { bytes: 0, what: '' };
  for (const [name, shape] of Object.entries(layerShapes(config))) {
    const bytes = 4 * batchSize * shape.reduce((a, b) => a * b, 1);
    if (bytes > out.bytes) out = { bytes, what: `${name}'s output at batch ${batchSize}` };
  }
  for (const [name, shape] of Object.entries(paramShapes(config))) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    if (bytes > out.bytes) out = { bytes, what: `${name} (weights)` };
  }
  return out;
}

/** The largest batch whose every tensor fits a buffer of `limitBytes` (0: not even one image). */
export function largestBatch(config: AlexNetConfig, limitBytes: number): number {
  if (largestTensor(config, 1).bytes > limitBytes) return 0;
  const perImage = largestTensor(config, 1e6).bytes / 1e6; // (the layer outputs outgrow the weights)
  return Math.floor(limitBytes / perImage);
}

/** Whether a batch of `batchSize` fits the current backend's hard limits (memoryGuard's checks). */
export function batchFits(config: AlexNetConfig, batchSize: number, training: boolean, backend: string = tf.getBackend()): boolean {
  if (backend === 'wasm') return estimateMemoryBytes(config, batchSize, training) <= WASM_HEAP_LIMIT_BYTES;
  const limit = backend === 'webgpu' ? webgpuBufferLimit() : null;
  return limit === null || largestTensor(config, batchSize).bytes <= limit;
}

/**
 * Throws EngineError 'OUT_OF_MEMORY' when a batch of `batchSize` cannot work on the current backend:
 * on wasm, when the estimated need exceeds WASM_HEAP_LIMIT_BYTES; on webgpu, when a tensor would be
 * larger than the device's largest buffer (the GPU would fail the dispatch). Returns the estimate.
 */
export function memoryGuard(config: AlexNetConfig, batchSize: number, training: boolean, backend: string = tf.getBackend()): number {
  const need = estimateMemoryBytes(config, batchSize, training);
  const limit = backend === 'webgpu' ? webgpuBufferLimit() : null;
  if (limit !== null && largestTensor(config, batchSize).bytes > limit) {
    const mib = (b: number): string => `${Math.round(b / 1024 ** 2)} MiB`;
    const big = largestTensor(config, batchSize);
    const fits = largestBatch(config, limit);
    const hint = fits > 0 ? `use a batch of ${fits} or less` : 'no batch fits: use a smaller model or another backend';
    throw new EngineError('OUT_OF_MEMORY', `${big.what} is ${mib(big.bytes)}, more than this GPU's largest buffer (${mib(limit)}): ${hint}`);
  }
  if (backend === 'wasm' && need > WASM_HEAP_LIMIT_BYTES) {
    let fits = batchSize;
    while (fits > 1 && estimateMemoryBytes(config, fits, training) > WASM_HEAP_LIMIT_BYTES) fits = Math.floor(fits / 2);
    const gb = (b: number): string => (b / 1024 ** 3).toFixed(1);
    const hint =
      estimateMemoryBytes(config, fits, training) <= WASM_HEAP_LIMIT_BYTES
        ? `use a batch of ${fits} or less`
        : 'even a batch of 1 does not fit: use a smaller model';
    throw new EngineError(
      'OUT_OF_MEMORY',
      `${training ? 'training' : 'inference'} at batch ${batchSize} needs about ${gb(need)} GB, more than the wasm backend's ${gb(WASM_HEAP_LIMIT_BYTES)} GB: ${hint} (or install @tensorflow/tfjs-node)`,
    );
  }
  return need;
}
