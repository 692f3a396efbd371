// The app's training worker on the webgpu backend (the run setting "Compute backend: webgpu"): a run
// trains in the worker process on webgpu, is killed after its first checkpoint, resumes there from
// it and finishes, and its model predicts the dataset. Runs in the webgpu project (vitest.config.ts:
// `*.webgpu.test.ts`), whose processes, and so the workers they fork, get the Vulkan driver.
import { expect, it } from 'vitest';
import type { RunSettings } from '../../../preload/contract';
import { killAfterFirstCheckpoint, useImportedLibrary } from '../../helpers/app';
import { webgpuSkipReason } from '../../ml/webgpu/setup';

const skip = await webgpuSkipReason();
const WEBGPU: RunSettings = { recipe: 'scratch', architecture: 'tiny', batchSize: 4, valFraction: 0.25, augment: false, lr: 0.01, epochs: 2, backend: 'webgpu' };

const lib = useImportedLibrary(4);

it.skipIf(skip !== null)('a run set to webgpu trains in the worker on webgpu, resumes there after a kill, and predicts', async () => {
  const { h, ds } = lib;
  const run = await h.ok('runs:start', { datasetId: ds, name: 'on the gpu', settings: WEBGPU });
  const backend = await h.next('run:status', (e) => e.runId === run.id && e.backend !== null, 120_000);
  expect(backend.backend).toBe('webgpu');
  const saved = await killAfterFirstCheckpoint(h, run.id);
  expect(saved).toBe(1);

  const from = h.events.length;
  expect(await h.ok('runs:resume', { runId: run.id })).toMatchObject({ id: run.id, status: 'running' });
  const end = await h.next('run:status', (e) => e.runId === run.id && e.phase === 'done', 170_000);
  expect(end.error).toBeNull();
  expect(end.status).toBe('finished');
  const statuses = h.events.slice(from).filter((e) => e.name === 'run:status' && (e.payload as { runId: number }).runId === run.id);
  expect(statuses.map((e) => (e.payload as { backend: string | null }).backend).filter((b) => b !== null)).toContain('webgpu');
  const epochs = h.events.slice(from).filter((e) => e.name === 'run:epoch').map((e) => (e.payload as { epoch: number }).epoch);
  expect(epochs).toEqual([2]);

  const detail = await h.ok('runs:get', { runId: run.id });
  expect(detail.backend).toBe('webgpu');
  expect(detail.settings.backend).toBe('webgpu');
  expect(detail.epochs).toBe(2);
  expect(detail.predictions).toBeGreaterThan(0);
  const metrics = await h.ok('runs:metrics', { runId: run.id });
  expect(metrics.epoch.val_acc.idx).toEqual([1, 2]);
}, 300_000);

if (skip !== null) it.skip(`the training worker on webgpu: ${skip}`, () => {});
