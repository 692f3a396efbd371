// The webgpu backend in Node (and Electron's utility process): @tensorflow/tfjs-backend-webgpu on
// Dawn, Chromium's WebGPU implementation, as the npm package `webgpu` ships it (a prebuilt dawn.node
// per OS: Vulkan on Linux, Metal on macOS, D3D12 on Windows).
//
// tfjs-backend-webgpu registers itself only where `navigator.gpu` exists (it checks at import), and
// its shaders use WebGPU's global constants (GPUBufferUsage, GPUMapMode, ...): both come from
// `webgpu` (create() and globals). Node 21+ and Electron have a `navigator` of their own, so `gpu`
// is defined on it rather than replacing it.
//
// In Node a GPU tensor can be read only asynchronously (tensor.data()): the backend's dataSync needs
// a browser's OffscreenCanvas. The engine reads every result with data() for this reason.

import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_CONFIG, paramShapes } from '../../config';
import { EngineError } from '../../errors';

export type GpuAdapterInfo = {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  software: boolean; // SwiftShader, lavapipe/llvmpipe, WARP: computed on the CPU
};

// Software implementations of Vulkan/D3D12/Metal, recognised by the adapter's info (Dawn leaves
// isFallbackAdapter undefined for SwiftShader, so the info has to be read as well).
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b|software/i;

export function describeAdapter(adapter: GPUAdapter): GpuAdapterInfo {
  // Dawn's GPUAdapterInfo keeps its fields as getters on the prototype: read them one by one.
  const info: GPUAdapterInfo | undefined = adapter.info;
  const field = (k: 'vendor' | 'architecture' | 'device' | 'description'): string => String(info?.[k] ?? '');
  const out = { vendor: field('vendor'), architecture: field('architecture'), device: field('device'), description: field('description') };
  const fallback = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return { ...out, software: fallback || SOFTWARE.test(Object.values(out).join(' ')) };
}

/** "vendor architecture (description)", for messages and the status bar. */
export function adapterLabel(a: GpuAdapterInfo): string {
  const head = [a.vendor, a.architecture].filter((s) => s !== '').join(' ') || 'unknown GPU';
  return a.description !== '' ? `${head} (${a.description})` : head;
}

type WebgpuModule = { create(options: string[]): GPU; globals: object };

/**
 * Why an adapter cannot hold the paper's network, or null: every tensor is one GPU buffer, and fc6's
 * weights (9216 x 4096 floats, 144 MiB) are larger than WebGPU's guaranteed 128 MiB. Most GPUs allow
 * far more; one that does not is not picked on its own, since no batch could train or classify on it.
 */
export function tooSmallForAlexNet(limits: Pick<GPUSupportedLimits, 'maxBufferSize' | 'maxStorageBufferBindingSize'>): string | null {
  const fc6 = 4 * paramShapes(DEFAULT_CONFIG)['fc6.w'].reduce((a, b) => a * b, 1);
  const limit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const mib = (b: number): string => `${Math.round(b / 1024 ** 2)} MiB`;
  return limit < fc6 ? `has buffers of at most ${mib(limit)}, too small for AlexNet's fc6 weights (${mib(fc6)})` : null;
}

let loaded: GpuAdapterInfo | null = null;

/**
 * Finds the WebGPU adapter, makes 'webgpu' the current backend and registers our kernels. Throws
 * (one line) when `webgpu` is not installed, no adapter exists, or only a software one does and
 * `allowSoftware` is false.
 */
export async function loadWebgpu({ allowSoftware }: { allowSoftware: boolean }): Promise<GpuAdapterInfo> {
  if (loaded === null) {
    let mod: WebgpuModule;
    try {
      mod = (await import('webgpu')) as WebgpuModule;
    } catch (e) {
      throw new Error(`the webgpu package (Dawn) is not usable: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
    const gpu = mod.create([]);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter === null)
      throw new Error('no WebGPU adapter: no GPU driver found (Linux: a Vulkan driver and the Vulkan loader libvulkan.so.1; macOS: Metal; Windows: D3D12)');
    const info = describeAdapter(adapter);
    if (info.software && !allowSoftware)
      throw new Error(`only a software WebGPU adapter, ${adapterLabel(info)}, which is slower than the CPU backends (ALEXNET_BACKEND=webgpu uses it anyway)`);
    const small = tooSmallForAlexNet(adapter.limits);
    if (small !== null && !allowSoftware) throw new Error(`the WebGPU adapter ${adapterLabel(info)} ${small} (ALEXNET_BACKEND=webgpu uses it anyway)`);
    const g = globalThis as Record<string, unknown>;
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in g)) g[k] = v;
    if (typeof g.navigator === 'object' && g.navigator !== null) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    else Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true });
    await import('@tensorflow/tfjs-backend-webgpu');
    if (tf.findBackendFactory('webgpu') === null)
      throw new Error(`@tensorflow/tfjs-backend-webgpu registered no 'webgpu' backend in this @tensorflow/tfjs-core (two copies installed?)`);
    loaded = info;
  }
  if (loaded.software && !allowSoftware)
    throw new Error(`only a software WebGPU adapter, ${adapterLabel(loaded)}, which is slower than the CPU backends (ALEXNET_BACKEND=webgpu uses it anyway)`);
  if (!(await tf.setBackend('webgpu'))) throw new Error("backend 'webgpu' failed to initialise (no device from the adapter)");
  watchDevice(currentDevice(), loaded);
  (await import('./register')).registerWebgpuKernels(); // (imports the package: only after it decided to register)
  return loaded;
}

// A GPU reports a failure (a buffer beyond the device's limits, memory exhausted, a device lost to a
// driver reset or a hung GPU) to the device, not to the call that caused it, and the work it spoils
// reads back as zeros. TF.js's webgpu backend installs no handler, so a run would go on training on
// zeros, write them to a checkpoint or a feature cache, and report their loss. The first failure is
// kept for the process (a failed device's later results cannot be trusted either); readTensor
// (ml/backend.ts) throws it at the next read, so no result computed after it reaches the user.
let failure: EngineError | null = null;
const watched = new WeakSet<GPUDevice>();

// Dawn's words for an allocation beyond the device's limits, which is a validation error, not an
// out-of-memory one: the GPU cannot hold a tensor of this size, as with memory exhausted.
const TOO_LARGE = /exceeds the max(imum)? (buffer|storage buffer binding) size/i;

/** The engine error for a failure the GPU reported: OUT_OF_MEMORY where a smaller batch would help. */
export function classifyGpuError(kind: string, message: string, gpu: GpuAdapterInfo): EngineError {
  const first = message.split('\n')[0].trim().replace(/([^.])$/, '$1.');
  const on = `the GPU (${adapterLabel(gpu)})`;
  if (kind === 'GPUOutOfMemoryError' || TOO_LARGE.test(first))
    return new EngineError('OUT_OF_MEMORY', `${on} cannot hold this model and batch: ${first} Use a smaller batch size.`);
  if (kind === 'lost') return new EngineError('GPU_FAILED', `${on} stopped working (device lost${first ? `: ${first.slice(0, -1)}` : ''}); the results since the last checkpoint were discarded`);
  return new EngineError('GPU_FAILED', `${on} reported an error: ${first}`);
}

/** The GPUDevice of the current backend, which must be 'webgpu'. */
export function currentDevice(): GPUDevice {
  return (tf.backend() as unknown as { device: GPUDevice }).device;
}

function watchDevice(device: GPUDevice, gpu: GpuAdapterInfo): void {
  if (watched.has(device)) return;
  watched.add(device);
  // (a handler also stops Dawn from printing each error to stdout)
  device.onuncapturederror = (e) => {
    failure ??= classifyGpuError(e.error.constructor.name, e.error.message, gpu);
  };
  void device.lost.then((info) => {
    failure ??= classifyGpuError('lost', info.message, gpu);
  });
}

/** The largest buffer the current webgpu device can bind to a shader, in bytes; null when webgpu is
 *  not the current backend. Every tensor is one buffer, so none may be larger. */
export function webgpuBufferLimit(): number | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const { limits } = currentDevice();
  return Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
}

/** The first failure the webgpu device reported in this process, or null. */
export function gpuFailure(): EngineError | null {
  return failure;
}

/**
 * The failure behind a read that threw on webgpu, or null: a lost device rejects the read (a bare
 * DOMException) and resolves its `lost` promise, in either order, so this waits up to `waitMs` for
 * the device to say why.
 */
export async function gpuFailureBehind(waitMs = 200): Promise<EngineError | null> {
  if (failure === null && tf.getBackend() === 'webgpu') {
    const device = currentDevice();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([device.lost, new Promise((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    await Promise.resolve(); // (the lost handler above runs on the same resolution)
  }
  return failure;
}
