// Pure pieces of runs and classify: the advanced drawer -> runs:start settings, settings that differ
// between runs, live curves growing from run:progress / run:epoch events, and the batch CSV.
import { describe, expect, it } from 'vitest';
import type { RunProgress } from '../../preload/contract';
import { toCsv } from '../../renderer/src/lib/managers/classify.svelte';
import { DEFAULT_ADVANCED, Runs, bestModel, runEta, configDiff, f1, plannedEpochs, settingValue, SETTING_NAMES, stopReason, toSettings } from '../../renderer/src/lib/managers/runs.svelte';
import type { RunInfo } from '../../preload/contract';
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

describe('the paper’s switches', () => {
  it('go with a run from scratch, never with a fine-tune of the ImageNet weights', () => {
    const paper = { activation: 'tanh', lrn: false, overlappingPool: false, groups: 1 } as const;
    expect(toSettings({ ...DEFAULT_ADVANCED, model: 'tiny', paper })).toMatchObject(paper);
    const ft = toSettings({ ...DEFAULT_ADVANCED, paper });
    expect(ft.activation).toBeUndefined();
    expect(ft.lrn).toBeUndefined();
  });
  it('are named and valued in words', () => {
    expect(SETTING_NAMES.activation).toBe('Activation (paper 3.1)');
    expect(settingValue('activation', 'relu')).toBe('ReLU');
    expect(settingValue('overlappingPool', false)).toBe('2x2, stride 2');
    expect(settingValue('lrn', true)).toBe('on');
    expect(settingValue('groups', 2)).toBe('two groups');
    expect(settingValue('valFraction', 0.2)).toBe('20%');
    expect(settingValue('lr', null)).toBe('—');
  });
});

describe('a run’s outcome', () => {
  const run = (id: number, over: Partial<RunInfo>): RunInfo => ({ id, datasetId: 1, datasetName: 'd', name: null, status: 'finished', startedAt: 0, endedAt: 1, durationMs: 1, error: null, backend: null, weightsSource: null, classes: [], epochs: 13, steps: 0, bestValAcc: 0.5, trainCount: 1, valCount: 1, settings: { recipe: 'finetune', architecture: 'alexnet', headEpochs: 3, fineTuneEpochs: 10, epochs: 30 }, ...over });
  it('plans the stages together and says why it stopped', () => {
    expect(plannedEpochs(run(1, {}))).toBe(13);
    expect(stopReason(run(1, {}))).toBe('ran all 13 epochs');
    expect(stopReason(run(1, { epochs: 7 }))).toBe('stopped early after 7 of 13 epochs: validation stopped improving');
    expect(stopReason(run(1, { status: 'cancelled' }))).toBe('cancelled');
    expect(plannedEpochs(run(1, { settings: { recipe: 'scratch', architecture: 'tiny', epochs: 2 } }))).toBe(2);
  });
  it('the model in use: the chosen finished run, else the best validation accuracy (not the latest)', () => {
    const list = [run(4, { bestValAcc: 0.33 }), run(3, { status: 'running', bestValAcc: 0.9 }), run(2, { bestValAcc: 0.74 })];
    expect(bestModel(list, null)?.id).toBe(2);
    expect(bestModel(list, 4)?.id).toBe(4);
    expect(bestModel(list, 3)?.id).toBe(2); // a running run is not a model
    expect(bestModel([], null)).toBeNull();
  });
  it('one ETA for the whole run: it does not start over when the fine-tune stage begins', () => {
    // head stage: epoch 3 of 3 done after 30 s; the fine-tune stage's own estimate would restart
    const endOfHead = runEta({ epoch: 3, epochs: 3, step: 10, stepsPerEpoch: 10, etaSeconds: 0 }, 13, 30, 2);
    expect(endOfHead).toBeCloseTo(100); // 3 of 13 epochs in 30 s: 10 more epochs at that pace
    const startOfFineTune = runEta({ epoch: 4, epochs: 13, step: 1, stepsPerEpoch: 10, etaSeconds: 400 }, 13, 31, 2);
    expect(startOfFineTune).toBeGreaterThan(90);
    expect(startOfFineTune).toBeLessThan(100);
    // a one-stage run keeps the engine's estimate
    expect(runEta({ epoch: 1, epochs: 2, step: 3, stepsPerEpoch: 6, etaSeconds: 12 }, 2, 5, 1)).toBe(12);
  });

  it('F1 is the harmonic mean of precision and recall', () => {
    expect(f1(1, 0.5)).toBeCloseTo(2 / 3);
    expect(f1(0, 0)).toBe(0);
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
