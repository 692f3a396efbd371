import { rmSync, existsSync, readFileSync, writeFileSync, truncateSync, renameSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { cloneParams, initialState, loadCheckpoint, loadModel, saveCheckpoint, snapshotParams, type CheckpointInput } from '../../ml/checkpoint';
import { PARAM_NAMES, TINY_CONFIG, type Params } from '../../ml/config';
import { EngineError } from '../../ml/errors';
import { disposeParams, initParams } from '../../ml/model';
import { Sgd } from '../../ml/optimizer';
import { PAPER_PREPROCESSING } from '../../ml/preprocess';
import { useEngine } from '../helpers/engine';


const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const tmp = useEngine('ckpt-test-', 'cpu');

async function makeCheckpoint(dir: string): Promise<{ input: CheckpointInput & { params: Params }; sgd: Sgd }> {
  const params = initParams(TINY_CONFIG, 7);
  const sgd = new Sgd({ lr: 0.01 });
  const grads = Object.fromEntries(PARAM_NAMES.map((n, i) => [n, tf.randomNormal(params[n].shape, 0, 1, 'float32', i)]));
  sgd.apply(params, grads);
  Object.values(grads).forEach((g) => g.dispose());
  const input: CheckpointInput & { params: Params } = {
    params,
    optimizer: await sgd.exportState(params),
    config: TINY_CONFIG,
    classNames: ['ants', 'bees', 'wasps'],
    preprocessing: { ...PAPER_PREPROCESSING, resize: 110, crop: 99 },
    epoch: 3,
    metrics: [{ epoch: 3, trainLoss: 1, trainAcc: 0.5, valLoss: 1.1, valAcc: 0.4, valTop5: 1, lr: 0.01, seconds: 2 }],
    trainOptions: { batchSize: 8 },
    seed: 42,
    weightsSource: 'none',
    trainState: { ...initialState(0.001), bestValue: 1.1, bestEpoch: 3, lrDrops: 1 },
  };
  await saveCheckpoint(dir, input);
  return { input, sgd };
}

describe('checkpoint format', () => {
  it('round trip: weights bit-identical, optimizer state, metadata', async () => {
    const dir = path.join(tmp, 'rt', 'last.ckpt');
    const { input, sgd } = await makeCheckpoint(dir);
    expect(existsSync(path.join(dir, 'model.json'))).toBe(true);
    expect(existsSync(`${dir}.tmp`) || existsSync(`${dir}.old`)).toBe(false);
    const { model, optimizer } = await loadCheckpoint(path.join(tmp, 'rt'), 'last'); // the run folder resolves to last.ckpt
    for (const n of PARAM_NAMES) {
      expect(model.params[n].shape).toEqual(input.params[n].shape);
      expect(bytes(model.params[n].dataSync() as Float32Array).equals(bytes(input.params[n].dataSync() as Float32Array))).toBe(true);
    }
    const st = await sgd.exportState(input.params);
    expect(optimizer?.step).toBe(1);
    for (const n of PARAM_NAMES) expect(Array.from(optimizer!.velocity[n]!)).toEqual(Array.from(st.velocity[n]!));
    expect(model.classNames).toEqual(['ants', 'bees', 'wasps']);
    expect(model.config).toEqual(TINY_CONFIG);
    expect(model.preprocessing.crop).toBe(99);
    expect(model.meta.epoch).toBe(3);
    expect(model.meta.seed).toBe(42);
    expect(model.meta.trainState?.lrDrops).toBe(1);
    expect(model.meta.metrics[0].valLoss).toBe(1.1);
    // overwrite: the swap leaves one complete checkpoint
    input.epoch = 4;
    await saveCheckpoint(dir, input);
    expect((await loadModel(dir)).meta.epoch).toBe(4);
    expect(existsSync(`${dir}.old`)).toBe(false);
    disposeParams(model.params);
    disposeParams(input.params);
    sgd.disposeState();
  });

  it('weightsFrom hard-links the weights of a checkpoint of the same weights; a later overwrite leaves them intact', async () => {
    const run = path.join(tmp, 'link');
    const lastDir = path.join(run, 'last.ckpt');
    const bestDir = path.join(run, 'best.ckpt');
    const { input, sgd } = await makeCheckpoint(lastDir);
    await saveCheckpoint(bestDir, { ...input, optimizer: null }, { weightsFrom: lastDir });
    expect(statSync(path.join(bestDir, 'weights.bin')).ino).toBe(statSync(path.join(lastDir, 'weights.bin')).ino);
    const before = readFileSync(path.join(bestDir, 'weights.bin'));
    // the next epoch: new weights written to last.ckpt
    for (const n of PARAM_NAMES) input.params[n].assign(tf.tidy(() => tf.add(input.params[n], 1)));
    input.epoch = 4;
    await saveCheckpoint(lastDir, input);
    expect(statSync(path.join(bestDir, 'weights.bin')).nlink).toBe(1);
    expect(readFileSync(path.join(bestDir, 'weights.bin')).equals(before)).toBe(true);
    const best = await loadModel(bestDir); // SHA-256 checked
    const last = await loadModel(lastDir);
    expect(best.meta.epoch).toBe(3);
    expect(last.params['fc8.b'].dataSync()[0] - best.params['fc8.b'].dataSync()[0]).toBeCloseTo(1, 5);
    // a source whose tensors differ (another config) is not linked: the weights are written
    const other = path.join(tmp, 'link-other', 'best.ckpt');
    mkdirSync(path.dirname(other), { recursive: true });
    await saveCheckpoint(other, { ...input, optimizer: null }, { weightsFrom: path.join(tmp, 'rt', 'nonexistent.ckpt') });
    expect(statSync(path.join(other, 'weights.bin')).nlink).toBe(1);
    expect((await loadModel(other)).meta.epoch).toBe(4);
    for (const p of [best.params, last.params, input.params]) disposeParams(p);
    sgd.disposeState();
  });

  it('loaded, cloned and resumed parameters own their data: disposing them frees every buffer', async () => {
    const dir = path.join(tmp, 'owned');
    const { input, sgd } = await makeCheckpoint(dir);
    await saveCheckpoint(dir, input);
    disposeParams(input.params);
    sgd.disposeState();
    const base = tf.memory();
    const { model, optimizer } = await loadCheckpoint(dir);
    const resumed = new Sgd({ lr: 0.01 });
    resumed.importState(optimizer!, model.params);
    const copy = cloneParams(model.params);
    // a training step replaces the variables' buffers: the old ones must not stay behind
    const grads = Object.fromEntries(PARAM_NAMES.map((n) => [n, tf.onesLike(copy[n])]));
    resumed.apply(copy, grads);
    tf.dispose(Object.values(grads));
    disposeParams(copy);
    disposeParams(model.params);
    resumed.disposeState();
    expect(tf.memory().numTensors).toBe(base.numTensors);
    expect(tf.memory().numBytes).toBe(base.numBytes);
  });

  it('saves a snapshot (plain arrays) the same as the live variables', async () => {
    const a = path.join(tmp, 'snap', 'a.ckpt');
    const b = path.join(tmp, 'snap', 'b.ckpt');
    const { input, sgd } = await makeCheckpoint(a);
    await saveCheckpoint(b, { ...input, params: await snapshotParams(input.params) });
    expect(readFileSync(path.join(a, 'weights.bin')).equals(readFileSync(path.join(b, 'weights.bin')))).toBe(true);
    disposeParams(input.params);
    sgd.disposeState();
  });

  it('an interrupted swap (only .old left) still loads', async () => {
    const run = path.join(tmp, 'swap');
    const dir = path.join(run, 'last.ckpt');
    const { input, sgd } = await makeCheckpoint(dir);
    renameSync(dir, `${dir}.old`); // killed between the two renames
    const m = await loadModel(run, 'last');
    expect(m.meta.epoch).toBe(3);
    disposeParams(m.params);
    disposeParams(input.params);
    sgd.disposeState();
  });

  it('bad model folders fail with BAD_MODEL_DIR and a clear message', async () => {
    const dir = path.join(tmp, 'bad', 'last.ckpt');
    const { input, sgd } = await makeCheckpoint(dir);
    disposeParams(input.params);
    sgd.disposeState();
    const expectBad = async (d: string, re: RegExp): Promise<void> => {
      const err = await loadModel(d).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).code).toBe('BAD_MODEL_DIR');
      expect((err as EngineError).message).toMatch(re);
      expect((err as EngineError).message).not.toContain('\n');
    };
    await expectBad(path.join(tmp, 'nope'), /not found/);
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    await expectBad(empty, /not a model folder/);

    const json = readFileSync(path.join(dir, 'model.json'), 'utf8');
    const weights = readFileSync(path.join(dir, 'weights.bin'));
    // newer format
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ ...JSON.parse(json), formatVersion: 99 }));
    await expectBad(dir, /newer version/);
    // corrupt JSON
    writeFileSync(path.join(dir, 'model.json'), json.slice(0, 100));
    await expectBad(dir, /not valid JSON/);
    writeFileSync(path.join(dir, 'model.json'), json);
    // a flipped byte
    const flipped = Buffer.from(weights);
    flipped[1000] ^= 0xff;
    writeFileSync(path.join(dir, 'weights.bin'), flipped);
    await expectBad(dir, /damaged/);
    // truncated
    writeFileSync(path.join(dir, 'weights.bin'), weights);
    truncateSync(path.join(dir, 'weights.bin'), weights.length - 4);
    await expectBad(dir, /truncated/);
    // missing
    rmSync(path.join(dir, 'weights.bin'));
    await expectBad(dir, /missing weights\.bin/);
  });
});
