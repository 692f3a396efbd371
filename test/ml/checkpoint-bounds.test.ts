// A model folder read as a hostile file: model.json may not point outside its folder, ask for a
// network of absurd size, lay tensors outside its file, or carry an unchecked preprocessing block.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend } from '../../ml/backend';
import { initialState, loadModel, readModelMeta, saveCheckpoint } from '../../ml/checkpoint';
import { TINY_CONFIG } from '../../ml/config';
import { disposeParams, initParams } from '../../ml/model';
import { PAPER_PREPROCESSING } from '../../ml/preprocess';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ckpt-bounds-'));
let good: string;
let meta: Record<string, unknown>;

beforeAll(async () => {
  await initBackend('cpu');
  good = path.join(tmp, 'good');
  const params = initParams(TINY_CONFIG, 1);
  await saveCheckpoint(good, {
    params,
    optimizer: null,
    config: TINY_CONFIG,
    classNames: ['a', 'b', 'c'],
    preprocessing: { ...PAPER_PREPROCESSING, resize: 110, crop: 99 },
    epoch: 1,
    metrics: [],
    trainOptions: {},
    seed: 0,
    weightsSource: 'none',
    trainState: initialState(0.01),
  });
  disposeParams(params);
  meta = JSON.parse(readFileSync(path.join(good, 'model.json'), 'utf8')) as Record<string, unknown>;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the good checkpoint whose model.json is changed by `edit`. */
function variant(name: string, edit: (m: Record<string, unknown> & { weights: Record<string, unknown>; config: Record<string, unknown>; preprocessing: Record<string, unknown> }) => void): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'weights.bin'), readFileSync(path.join(good, 'weights.bin')));
  const m = structuredClone(meta) as Parameters<typeof edit>[0];
  edit(m);
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(m));
  return dir;
}

it('loads the untouched copy (the variants below differ only in what they break)', async () => {
  const m = await loadModel(variant('same', () => {}));
  disposeParams(m.params);
});

it('refuses a weights file outside the model folder', async () => {
  const outside = path.join(tmp, 'elsewhere');
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'w.bin'), readFileSync(path.join(good, 'weights.bin')));
  const dir = variant('escape', (m) => (m.weights.file = '../elsewhere/w.bin'));
  await expect(loadModel(dir)).rejects.toThrow(/only a file name inside the model folder/);
  await expect(loadModel(variant('absolute', (m) => (m.weights.file = path.join(outside, 'w.bin'))))).rejects.toThrow(/only a file name/);
});

it('refuses absurd sizes before allocating anything', async () => {
  await expect(readModelMeta(variant('huge-input', (m) => (m.config.inputSize = 60000)))).rejects.toThrow(/inputSize 60000 \(at most 1024\)/);
  await expect(readModelMeta(variant('huge-fc', (m) => (m.config.fcUnits = 2 ** 30)))).rejects.toThrow(/fcUnits 1073741824/);
});

it('refuses negative, fractional or outside offsets', async () => {
  await expect(readModelMeta(variant('neg', (m) => ((m.weights.tensors as { offset: number }[])[1].offset = -4)))).rejects.toThrow(/bad offset/);
  await expect(readModelMeta(variant('frac', (m) => ((m.weights.tensors as { length: number }[])[0].length = 1.5)))).rejects.toThrow(/bad offset/);
  await expect(readModelMeta(variant('out', (m) => ((m.weights.tensors as { offset: number }[])[0].offset = 10 ** 9)))).rejects.toThrow(/lies outside/);
});

it('checks the preprocessing block', async () => {
  await expect(readModelMeta(variant('prep', (m) => (m.preprocessing.channelOrder = 'GBR')))).rejects.toThrow(/channelOrder/);
  await expect(readModelMeta(variant('prep2', (m) => (m.preprocessing.crop = 5000)))).rejects.toThrow(/crop 5000 is larger than resize/);
});
