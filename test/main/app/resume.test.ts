// runs:resume: a run whose worker was killed continues from its last checkpoint with the same
// settings and split, in the same run row, and ends finished with every epoch recorded once; a
// finished run or one without a checkpoint is refused.
import { expect, it } from 'vitest';
import type { RunSettings } from '../../../preload/contract';
import { killAfterFirstCheckpoint, useImportedLibrary } from '../../helpers/app';

const TINY: RunSettings = { recipe: 'scratch', architecture: 'tiny', batchSize: 2, valFraction: 0.25, augment: false, lr: 0.01, epochs: 4 };

const lib = useImportedLibrary(4);

it('a killed run resumes from its last checkpoint and finishes in the same row', async () => {
  const { h, ds } = lib;
  const run = await h.ok('runs:start', { datasetId: ds, name: 'long', settings: TINY });
  const saved = await killAfterFirstCheckpoint(h, run.id);
  expect(saved).toBeGreaterThanOrEqual(1);

  const from = h.events.length;
  const resumed = await h.ok('runs:resume', { runId: run.id });
  expect(resumed).toMatchObject({ id: run.id, status: 'running', name: 'long', error: null });
  const end = await h.next('run:status', (e) => e.runId === run.id && e.phase === 'done', 120_000);
  expect(end.status).toBe('finished');
  const epochs = h.events.slice(from).filter((e) => e.name === 'run:epoch').map((e) => (e.payload as { epoch: number }).epoch);
  expect(epochs).toEqual(Array.from({ length: 4 - saved }, (_, i) => saved + 1 + i));
  const metrics = await h.ok('runs:metrics', { runId: run.id });
  expect(metrics.epoch.val_acc.idx).toEqual([1, 2, 3, 4]);
  const detail = await h.ok('runs:get', { runId: run.id });
  expect(detail.models.map((m) => m.kind).sort()).toEqual(['checkpoint', 'final']);
  expect(detail.predictions).toBeGreaterThan(0);

  const again = await h.call('runs:resume', { runId: run.id });
  expect(again.ok ? null : again.error.code).toBe('CONFLICT');
  expect(await h.call('runs:resume', { runId: 9999 })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
}, 300_000);
