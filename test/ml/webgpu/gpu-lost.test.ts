// A GPU device lost mid-work (a driver reset, a hung GPU; here destroyed, the one loss a test can
// cause) fails the reads that were waiting on it with a bare DOMException and no message. The engine
// turns that into one line naming the GPU (GPU_FAILED), and every later read refuses. Its own file:
// the failure is kept for the process (kernels/webgpu/device.ts).
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend, readTensor } from '../../../ml/backend';
import { TINY_CONFIG, makeConfig } from '../../../ml/config';
import { disposeParams, initParams } from '../../../ml/model';
import { predictProbs } from '../../../ml/predict';
import { PAPER_PREPROCESSING } from '../../../ml/preprocess';
import { randoms } from '../../helpers/numeric';
import { currentDevice } from '../../../ml/kernels/webgpu/device';
import { webgpuSkipReason } from './setup';

const skip = await webgpuSkipReason();
const LOST = /^the GPU \(.+\) stopped working \(device lost: .+\); the results since the last checkpoint were discarded$/;

describe.skipIf(skip !== null)('a lost GPU device', () => {
  it('fails the read it interrupts and every later one, including a prediction, with GPU_FAILED', async () => {
    await initBackend('webgpu');
    const config = makeConfig({ ...TINY_CONFIG, numClasses: 2 });
    const model = { params: initParams(config, 1, 'he'), config, classNames: ['a', 'b'], preprocessing: PAPER_PREPROCESSING };
    const x = randoms(2 * config.inputSize * config.inputSize * 3, 5);
    expect((await predictProbs(model, x, 2)).length).toBe(4); // works before

    const m = tf.randomNormal([256, 256]); // large enough to run on the GPU, not forwarded to the CPU
    currentDevice().destroy();
    const interrupted = await readTensor(tf.matMul(m, m)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(interrupted).toMatchObject({ name: 'EngineError', code: 'GPU_FAILED', message: expect.stringMatching(LOST) });
    await expect(predictProbs(model, x, 2)).rejects.toMatchObject({ code: 'GPU_FAILED', message: expect.stringMatching(LOST) });
    disposeParams(model.params);
  });
});

if (skip !== null) it.skip(`webgpu lost device: ${skip}`, () => {});
