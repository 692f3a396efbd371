import { describe, expect, it } from 'vitest';
import type { BackendInfo } from '../../preload/contract';
import { BACKEND_CHOICES, backendChoiceLabel, backendLabel, backendWhy, parseBackendChoice } from '../../renderer/src/lib/backend-label';

const base: BackendInfo = { name: 'tensorflow', threads: 2, versions: {}, tried: [] };
const gpu: BackendInfo = {
  name: 'webgpu',
  threads: 1,
  versions: {},
  tried: [],
  adapter: { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', software: false },
};

describe('backendLabel', () => {
  it('names the backend, and the GPU webgpu computes on', () => {
    expect(backendLabel(null, null)).toBeNull();
    expect(backendLabel(null, base)).toBe('tensorflow');
    expect(backendLabel(null, gpu)).toBe('webgpu · nvidia hopper');
    expect(backendLabel('webgpu', gpu)).toBe('webgpu · nvidia hopper');
  });
  it("marks a software adapter, and does not lend one backend's device to another", () => {
    const sw: BackendInfo = { ...gpu, adapter: { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader', software: true } };
    expect(backendLabel(null, sw)).toBe('webgpu · google swiftshader (software, no GPU)');
    expect(backendLabel('tensorflow', gpu)).toBe('tensorflow');
    const bare: BackendInfo = { ...gpu, adapter: { vendor: '', architecture: '', device: '', description: 'Some GPU', software: false } };
    expect(backendLabel(null, bare)).toBe('webgpu · Some GPU');
  });
});

describe('backendWhy', () => {
  it('names the device and every faster backend that was not used, with the reason', () => {
    const info: BackendInfo = { ...gpu, tried: [{ name: 'tensorflow-gpu', error: "Cannot find module '@tensorflow/tfjs-node-gpu'" }] };
    expect(backendWhy(null, info)).toEqual(['Device: nvidia hopper (NVIDIA H200)', "Not tensorflow-gpu: Cannot find module '@tensorflow/tfjs-node-gpu'"]);
    const cpu: BackendInfo = { ...base, tried: [{ name: 'tensorflow-gpu', error: 'no CUDA' }, { name: 'webgpu', error: 'only a software adapter (SwiftShader): set ALEXNET_BACKEND=webgpu to use it' }] };
    expect(backendWhy('tensorflow', cpu)).toEqual(['Not tensorflow-gpu: no CUDA', 'Not webgpu: only a software adapter (SwiftShader): set ALEXNET_BACKEND=webgpu to use it']);
  });
  it('says a software adapter is no GPU, and nothing about a backend it does not describe', () => {
    const sw: BackendInfo = { ...gpu, adapter: { vendor: 'google', architecture: 'swiftshader', device: '', description: '', software: true } };
    expect(backendWhy(null, sw)).toEqual(['Device: google swiftshader, a software adapter: no GPU']);
    expect(backendWhy('tensorflow', gpu)).toEqual([]);
    expect(backendWhy(null, null)).toEqual([]);
    expect(backendWhy(null, base)).toEqual([]);
  });
});

describe('the backend choices', () => {
  it('offer every backend once, best first, and read a select back', () => {
    expect(BACKEND_CHOICES.map((c) => c.name)).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']);
    expect(backendChoiceLabel('auto')).toBe('Auto (best available)');
    expect(backendChoiceLabel('wasm')).toBe('CPU: WebAssembly');
    expect(parseBackendChoice('webgpu')).toBe('webgpu');
    expect(parseBackendChoice('auto')).toBe('auto');
    expect(parseBackendChoice('cuda')).toBe('auto');
  });
});
