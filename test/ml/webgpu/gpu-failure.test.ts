// A batch with a tensor beyond the GPU's largest buffer is refused before it starts. A failure the GPU
// reports all the same (here a buffer beyond the device's limit, made mid-run) stops the run with one clear line, instead of the zeros a failed dispatch reads
// back, and loses nothing: the run's last checkpoint is left as it was and a resume from it works on
// another backend. Its own file: a failure is kept for the process (kernels/webgpu/device.ts).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, largestBatch, largestTensor, memoryGuard, readTensor } from '../../../ml/backend';
import { DEFAULT_CONFIG, TINY_CONFIG, makeConfig } from '../../../ml/config';
import { EngineError } from '../../../ml/errors';
import { disposeParams, initParams } from '../../../ml/model';
import { PAPER_PREPROCESSING } from '../../../ml/preprocess';
import { train, type TrainOptions } from '../../../ml/train';
import { tempDir } from '../../db/helpers';
import { hymenopteraPhotos } from '../../helpers/engine';
import { currentDevice } from '../../../ml/kernels/webgpu/device';
import { webgpuSkipReason } from './setup';

const skip = await webgpuSkipReason();
const tmp = tempDir('alexnet-webgpu-failure-');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const config = makeConfig({ ...TINY_CONFIG, numClasses: 2 });
const run = (epochs: number, resume: boolean): TrainOptions => ({
  config,
  params: initParams(config, 2, 'he'),
  classNames: ['ants', 'bees'],
  train: hymenopteraPhotos('train', 4),
  val: hymenopteraPhotos('val', 2),
  preprocessing: { ...PAPER_PREPROCESSING, resize: 112, crop: 99 },
  batchSize: 4,
  lr: 0.01,
  seed: 3,
  epochs,
  outDir: path.join(tmp, 'run'),
  resume,
  plateau: { earlyStopPatience: 0 },
});
const digest = (dir: string) =>
  fs
    .readdirSync(dir)
    .sort()
    .map((f) => `${f}:${createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex')}`);

describe.skipIf(skip !== null)('a GPU failure mid-run', () => {
  it("refuses before any GPU work a batch with a tensor beyond the device's largest buffer, naming the batch that fits", async () => {
    await initBackend('webgpu');
    const { limits } = currentDevice();
    const limit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
    const fits = largestBatch(DEFAULT_CONFIG, limit);
    expect(fits).toBeGreaterThan(0);
    expect(() => memoryGuard(DEFAULT_CONFIG, fits, true)).not.toThrow();
    let e: unknown = null;
    try {
      memoryGuard(DEFAULT_CONFIG, fits + 1, true);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).code).toBe('OUT_OF_MEMORY');
    expect((e as EngineError).message).toBe(
      `conv1's output at batch ${fits + 1} is ${Math.round(largestTensor(DEFAULT_CONFIG, fits + 1).bytes / 1024 ** 2)} MiB, more than this GPU's largest buffer (${Math.round(limit / 1024 ** 2)} MiB): use a batch of ${fits} or less`,
    );
  });

  it('fails the run with OUT_OF_MEMORY naming the GPU, keeps the last checkpoint, and every later read refuses', async () => {
    await initBackend('webgpu');
    const device = currentDevice();
    const first = await train(run(1, false));
    disposeParams(first.params);
    const ckpt = path.join(tmp, 'run', 'last.ckpt');
    const before = digest(ckpt);

    // the resumed run's first step is followed by a tensor one element beyond the device's largest buffer
    let spoiled = false;
    const resumed = train({
      ...run(3, true),
      onEvent: (e) => {
        if (e.type !== 'step' || spoiled) return;
        spoiled = true;
        tf.fill([device.limits.maxBufferSize / 4 + 1], 1).dispose();
      },
    });
    const e = await resumed.then(
      () => null,
      (err: unknown) => err,
    );
    expect(spoiled).toBe(true);
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).code).toBe('OUT_OF_MEMORY');
    expect((e as EngineError).message).toMatch(/^the GPU \(.+\) cannot hold this model and batch: Buffer size \(\d+\) exceeds the max buffer size limit \(\d+\)\. Use a smaller batch size\.$/);
    // nothing written after the failure: the checkpoint of epoch 1 is byte for byte what it was
    expect(digest(ckpt)).toEqual(before);
    expect((JSON.parse(fs.readFileSync(path.join(ckpt, 'model.json'), 'utf8')) as { epoch: number }).epoch).toBe(1);
    // a failed device's later results are not trusted either
    const small = tf.ones([4]);
    await expect(readTensor(small)).rejects.toMatchObject({ code: 'OUT_OF_MEMORY' });
    small.dispose();

    // the run goes on from its checkpoint on the CPU
    await initBackend('cpu');
    const after = await train(run(2, true));
    expect(after.metrics.map((m) => m.epoch)).toEqual([1, 2]);
    expect(after.metrics.every((m) => Number.isFinite(m.trainLoss))).toBe(true);
    disposeParams(after.params);
  });
});

if (skip !== null) it.skip(`webgpu failure: ${skip}`, () => {});
