// kernels/webgpu/device.ts without a GPU: what a failure the GPU reports becomes. The failures
// themselves, reported by a real device, are in test/ml/webgpu/gpu-failure.test.ts.
import { describe, expect, it } from 'vitest';
import { adapterLabel, classifyGpuError, tooSmallForAlexNet, type GpuAdapterInfo } from '../../../../ml/kernels/webgpu/device';

const gpu: GpuAdapterInfo = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', software: false };

describe('classifyGpuError', () => {
  it('memory exhausted, or a buffer beyond the device limits: OUT_OF_MEMORY, with the advice that helps', () => {
    const oom = classifyGpuError('GPUOutOfMemoryError', 'Allocation failed\n - While calling [Device].CreateBuffer', gpu);
    expect(oom.code).toBe('OUT_OF_MEMORY');
    expect(oom.message).toBe('the GPU (nvidia hopper (NVIDIA H200)) cannot hold this model and batch: Allocation failed. Use a smaller batch size.');
    for (const m of ['Buffer size (1258291200) exceeds the max buffer size limit (1073741824).', 'Binding size (2000) exceeds the maximum storage buffer binding size (1000).'])
      expect(classifyGpuError('GPUValidationError', m, gpu).code).toBe('OUT_OF_MEMORY');
  });

  it('a lost device or any other error: GPU_FAILED, one line, naming the GPU', () => {
    const lost = classifyGpuError('lost', 'Device was lost due to a driver reset\nmore', gpu);
    expect(lost.code).toBe('GPU_FAILED');
    expect(lost.message).toBe(`the GPU (${adapterLabel(gpu)}) stopped working (device lost: Device was lost due to a driver reset); the results since the last checkpoint were discarded`);
    expect(classifyGpuError('lost', '', gpu).message).toContain('(device lost);');
    const other = classifyGpuError('GPUValidationError', '[Invalid BindGroup] is invalid\n - While encoding', gpu);
    expect(other.code).toBe('GPU_FAILED');
    expect(other.message).toBe('the GPU (nvidia hopper (NVIDIA H200)) reported an error: [Invalid BindGroup] is invalid.');
  });
});

describe('tooSmallForAlexNet', () => {
  it("an adapter whose buffers cannot hold fc6's weights is named with the sizes; WebGPU's guaranteed minimum is such a one", () => {
    expect(tooSmallForAlexNet({ maxBufferSize: 256 * 1024 ** 2, maxStorageBufferBindingSize: 128 * 1024 ** 2 })).toBe(
      "has buffers of at most 128 MiB, too small for AlexNet's fc6 weights (144 MiB)",
    );
    expect(tooSmallForAlexNet({ maxBufferSize: 4 * 9216 * 4096, maxStorageBufferBindingSize: 2 ** 31 })).toBeNull();
    expect(tooSmallForAlexNet({ maxBufferSize: 4 * 9216 * 4096 - 4, maxStorageBufferBindingSize: 2 ** 31 })).not.toBeNull();
  });
});
