// The engine's commands end to end: bin/alexnet in a child process on real photos, as a user runs
// it: info, train (tiny network), eval, classify, and the one-line errors of bad input.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyClassFolders, someJpegs, tempDir } from '../../db/helpers';
import { expectOneLineError, runAlexnet } from '../../helpers/cli';

let dir: string;
let photos: string;
let model: string;

const alexnet = (args: string[]) => runAlexnet(args, { ALEXNET_HOME: path.join(dir, 'home') });

beforeAll(() => {
  dir = tempDir('alexnet-engine-cli-');
  photos = copyClassFolders(path.join(dir, 'photos'), 'train', 8);
  model = path.join(dir, 'model');
  const bytes = fs.readFileSync(someJpegs('val', 'ants', 1)[0]);
  fs.writeFileSync(path.join(photos, 'ants', 'truncated.jpg'), bytes.subarray(0, 600)); // a corrupt JPEG
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('alexnet info', () => {
  it('reports the backend, the 1000-class parameter count and versions as JSON', () => {
    const r = alexnet(['info', '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']).toContain(info.backend);
    expect(info.params).toBe(60_965_224);
    expect(info.versions['tfjs-core']).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('alexnet train / eval / classify', () => {
  it('trains the tiny network, skipping a corrupt photo with a warning, and ends with the final metrics', () => {
    const r = alexnet(['train', photos, '--tiny', '--epochs', '2', '--batch', '4', '--val-split', '0.25', '--seed', '3', '--out', model, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const epochs = lines.filter((l) => l.type === 'epoch');
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2]);
    for (const e of epochs) for (const k of ['trainLoss', 'valLoss', 'valAcc', 'valTop5']) expect(Number.isFinite(e[k])).toBe(true);
    expect(lines.some((l) => l.type === 'skip' && l.path.endsWith('truncated.jpg'))).toBe(true);
    const last = lines.at(-1);
    expect(last.type).toBe('result');
    expect(last.stopped).toBe('completed');
    expect(last.valAcc).toBeGreaterThanOrEqual(0);
    expect(fs.existsSync(path.join(model, 'best.ckpt', 'model.json'))).toBe(true);
    expect(fs.existsSync(path.join(model, 'last.ckpt', 'model.json'))).toBe(true);
  });

  it('shows a progress bar with ETA and per-epoch lines without --json', () => {
    const out = path.join(dir, 'model-text');
    const r = alexnet(['train', photos, '--tiny', '--epochs', '1', '--batch', '4', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/epoch 1 \[train\] \[[#-]+\] \d+\/\d+/);
    expect(r.stderr).toContain('ETA');
    expect(r.stderr).toMatch(/epoch 1 \[train\] train loss [\d.]+ acc [\d.]+% \| val loss/);
    expect(r.stderr).toMatch(/warning: skipping .*truncated\.jpg/);
  });

  it('--stop-at ends the run at the first epoch reaching the target; train_err measures the training error', () => {
    const out = path.join(dir, 'model-stop');
    const r = alexnet(['train', photos, '--tiny', '--no-augment', '--epochs', '4', '--batch', '4', '--out', out, '--stop-at', 'train_err=1', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const epochs = lines.filter((l) => l.type === 'epoch');
    expect(epochs.map((e) => e.epoch)).toEqual([1]);
    expect(epochs[0].trainErr).toBeGreaterThanOrEqual(0);
    expect(lines.some((l) => l.type === 'target-reached' && l.metric === 'train_err' && l.target === 1)).toBe(true);
    expect(lines.at(-1)).toMatchObject({ type: 'result', stopped: 'target', epochs: 1 });
  });

  it('evaluates: top-1, top-5, per-class, confusion and n', () => {
    const r = alexnet(['eval', model, photos, '--json']);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.n).toBe(16); // the corrupt photo is skipped
    expect(rep.skipped).toHaveLength(1);
    expect(rep.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(16);
    expect(rep.top5).toBe(1); // two classes: the true one is always in the top 5
    expect(rep.top1).toBeCloseTo((rep.confusion[0][0] + rep.confusion[1][1]) / 16, 10);
    expect(Object.keys(rep.perClass).sort()).toEqual(['ants', 'bees']);
    const tenCrop = JSON.parse(alexnet(['eval', model, photos, '--tta', '10crop', '--json']).stdout);
    expect(tenCrop.n).toBe(16);
    expect(tenCrop.loss).not.toBe(rep.loss); // another view set gives other probabilities
  });

  it('classifies images and folders: one JSON line per image, errors per file', () => {
    const one = someJpegs('val', 'bees', 1)[0];
    const r = alexnet(['classify', model, one, path.join(photos, 'ants'), '--top', '1', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1 + 9);
    expect(lines[0].file).toBe(one);
    expect(lines[0].predictions).toHaveLength(1);
    expect(['ants', 'bees']).toContain(lines[0].predictions[0].label);
    const bad = lines.find((l) => l.file.endsWith('truncated.jpg'));
    expect(bad.error.code).toBe('BAD_IMAGE');
    const full = JSON.parse(alexnet(['classify', model, one, '--json']).stdout);
    expect(full.predictions.reduce((s: number, p: { p: number }) => s + p.p, 0)).toBeCloseTo(1, 5);
  });
});

describe('alexnet train --dataset', () => {
  it('trains from the library as the app does and records the run, its metrics and model there', () => {
    const db = path.join(dir, 'lib.sqlite');
    expect(alexnet(['library', 'import', photos, '--dataset', 'bugs', '--db', db]).code).toBe(0);
    const r = alexnet(['train', '--dataset', 'bugs', '--db', db, '--tiny', '--epochs', '2', '--batch', '4', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'epoch').map((l) => l.epoch)).toEqual([1, 2]);
    const result = lines.at(-1);
    expect(result).toMatchObject({ type: 'result', status: 'finished', epochs: 2 });
    expect(fs.existsSync(path.join(result.model, 'model.json'))).toBe(true);
    const shown = JSON.parse(alexnet(['runs', 'show', String(result.runId), '--db', db, '--json']).stdout);
    expect(shown.status ?? shown.run?.status).toBe('finished');
    expect(JSON.stringify(shown)).toContain('val_acc');
  });
});

describe('bad input: one clear line, a non-zero exit, never a stack trace', () => {
  it('a missing folder', () => expectOneLineError(alexnet(['train', path.join(dir, 'nope'), '--tiny', '--out', path.join(dir, 'm')]), /no such folder/));
  it('a folder with one class', () => {
    const one = path.join(dir, 'one-class');
    fs.mkdirSync(path.join(one, 'ants'), { recursive: true });
    fs.copyFileSync(someJpegs('val', 'ants', 1)[0], path.join(one, 'ants', 'a.jpg'));
    expectOneLineError(alexnet(['train', one, '--tiny', '--out', path.join(dir, 'm')]), /class/);
  });
  it('an unreadable model folder', () => {
    const broken = path.join(dir, 'broken-model');
    fs.mkdirSync(broken, { recursive: true });
    fs.writeFileSync(path.join(broken, 'model.json'), '{ not json');
    expectOneLineError(alexnet(['classify', broken, photos]), /model/);
    expectOneLineError(alexnet(['eval', path.join(dir, 'nope'), photos]), /model folder not found/);
  });
  it('bad options', () => {
    expectOneLineError(alexnet(['train', photos, '--tiny', '--out', path.join(dir, 'm'), '--epochs', 'many']), /--epochs must be an integer/);
    expectOneLineError(alexnet(['frobnicate']), /unknown command/);
    expectOneLineError(alexnet(['train', photos, '--tiny', '--out', path.join(dir, 'm'), '--stop-at', 'top1=0.5']), /--stop-at takes <metric>=<value>/);
    expectOneLineError(alexnet(['train', photos, '--tiny', '--out', path.join(dir, 'm'), '--stop-at', 'val_acc=2']), /--stop-at val_acc: the value must be/);
    expectOneLineError(alexnet(['train', '--dataset', 'bugs', '--tiny', '--stop-at', 'val_acc=0.9']), /--stop-at applies to training on a folder/);
    const r = alexnet(['train', photos]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^alexnet: --out <model-dir> is required/);
  });
});
