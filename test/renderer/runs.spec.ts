// Pure pieces of runs and classify: the advanced drawer -> runs:start settings, settings that differ
// between runs, live curves growing from run:progress / run:epoch events, and the batch CSV.
import { describe, expect, it } from 'vitest';
import type { RunProgress } from '../../preload/contract';
import { toCsv } from '../../renderer/src/lib/managers/classify.svelte';
import { DEFAULT_ADVANCED, Runs, configDiff, toSettings } from '../../renderer/src/lib/managers/runs.svelte';
import { Api } from '../../renderer/src/lib/api';

describe('toSettings', () => {
  it('the defaults fine-tune fc6-fc8 with augmentation and centre-crop prediction', () => {
    expect(toSettings(DEFAULT_ADVANCED)).toEqual({ recipe: 'finetune', architecture: 'alexnet', augment: true, tta: 'center', fineTune: 'fc' });
  });
  it('epochs go to the fine-tune stage or the scratch run; tiny is a scratch run', () => {
    expect(toSettings({ ...DEFAULT_ADVANCED, epochs: 4, lr: 0.001, batchSize: 8, tenCrop: true })).toMatchObject({ fineTuneEpochs: 4, lr: 0.001, batchSize: 8, tta: '10crop' });
    const tiny = toSettings({ ...DEFAULT_ADVANCED, model: 'tiny', epochs: 2, augment: false });
    expect(tiny).toMatchObject({ recipe: 'scratch', architecture: 'tiny', epochs: 2, augment: false });
    expect(tiny.fineTune).toBeUndefined();
  });
  it("a chosen backend goes with the run; 'auto' leaves the server's default", () => {
    expect(toSettings(DEFAULT_ADVANCED).backend).toBeUndefined();
    expect(toSettings({ ...DEFAULT_ADVANCED, backend: 'webgpu' }).backend).toBe('webgpu');
  });
});

describe('configDiff', () => {
  it('names the settings whose values differ, missing counted as null', () => {
    const d = configDiff([{ settings: { lr: 0.01, batchSize: 32, augment: true } }, { settings: { lr: 0.001, batchSize: 32 } }]);
    expect([...d].sort()).toEqual(['augment', 'lr']);
    expect(configDiff([{ settings: { lr: 0.01 } }]).size).toBe(0);
  });
});

describe('Runs live curves', () => {
  const never = new Api({ invoke: async () => ({ ok: false, error: { code: 'INTERNAL', message: 'not used' } }), on: () => () => {} });
  const prog = (epoch: number, step: number, loss: number): RunProgress => ({ runId: 5, stage: 'main', epoch, epochs: 2, step, stepsPerEpoch: 4, loss, acc: 0.5, lr: 0.01, imagesPerSec: 10, etaSeconds: 3 });
  it('appends steps by global index, replaces a repeated step, ignores other runs', () => {
    const r = new Runs(never);
    r.liveId = 5;
    r.onProgress(prog(1, 2, 0.9));
    r.onProgress(prog(1, 4, 0.8));
    r.onProgress(prog(1, 4, 0.7)); // the same step again: the latest wins
    r.onProgress(prog(2, 1, 0.6));
    r.onProgress({ ...prog(2, 2, 0.1), runId: 9 });
    expect(r.curves.step.loss).toEqual({ idx: [2, 4, 5], value: [0.9, 0.7, 0.6] });
    r.onEpoch({ runId: 5, stage: 'main', epoch: 1, trainLoss: 0.8, trainAcc: 0.6, valLoss: 0.7, valAcc: 0.55, valTop5: 1, lr: 0.01, seconds: 2, best: true });
    expect(r.curves.epoch.val_acc).toEqual({ idx: [1], value: [0.55] });
    expect(r.tick).toBe(5);
  });
});

describe('toCsv', () => {
  it('one line per file, top-k label and probability columns, errors in the last column, quoting', () => {
    const csv = toCsv(
      [
        { file: '/a/b,c.jpg', predictions: [{ label: 'ants', p: 0.75, classId: 1 }, { label: 'bees', p: 0.25, classId: 2 }] },
        { file: '/a/bad.jpg', error: { code: 'BAD_IMAGE', message: 'not a "JPEG"' } },
      ],
      2,
    );
    expect(csv.split('\n')).toEqual(['file,label1,p1,label2,p2,error', '"/a/b,c.jpg",ants,0.7500,bees,0.2500,', '/a/bad.jpg,,,,,"BAD_IMAGE: not a ""JPEG"""', '']);
  });
});
