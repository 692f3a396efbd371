import { describe, expect, it } from 'vitest';
import type { BackendInfo } from '../../preload/contract';
import { backendLabel } from '../../renderer/src/lib/backend-label';

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
