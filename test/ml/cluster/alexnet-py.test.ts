// The job's alexnet.py is our network: loaded with our weights (written as safetensors in PyTorch's
// layouts), it gives the logits our engine gives on the same preprocessed batch of real photos, for
// the paper's full-size network and the tiny test one. Also the safetensors round trip.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../ml/backend';
import { fromTorchState, readSafetensors, toTorchState, writeSafetensors } from '../../../ml/cluster/safetensors';
import { DEFAULT_CONFIG, PARAM_NAMES, TINY_CONFIG, makeConfig, type AlexNetConfig } from '../../../ml/config';
import { importOnnxAlexNet } from '../../../ml/weights/onnx';
import { disposeParams, forward, paramsFromArrays } from '../../../ml/model';
import { CAFFE_PREPROCESSING, centerView, loadImage, toInput, type Preprocessing } from '../../../ml/preprocess';
import { TINY_PREPROCESSING } from '../../../ml/recipe';
import { hymenoptera, repoRoot, tempDir } from '../../helpers/app';
import { maxRelDiff } from '../../helpers/numeric';
import { randomArrays } from '../../helpers/random-model';
import { torchPython } from '../../helpers/torch-python';

const py = torchPython();
const ALEXNET_PY = path.join(repoRoot, 'ml/cluster/job/alexnet.py');
const TOLERANCE = 1e-4; // max |ours - torch| / max |torch| over every logit of the batch
const dir = tempDir('alexnet-cluster-py-');
const photos = ['ants/0013035.jpg', 'ants/1030023514_aad5c608f9.jpg', 'bees/1092977343_cb42b38d62.jpg', 'bees/1093831624_fb5fbe2308.jpg'].map((p) => path.join(hymenoptera, 'train', p));

beforeAll(async () => {
  await initBackend('auto');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** [N, S, S, 3] NHWC inputs of the photos, and the same as NCHW. */
async function batch(prep: Preprocessing): Promise<{ nhwc: Float32Array; nchw: Float32Array }> {
  const S = prep.crop;
  const nhwc = new Float32Array(photos.length * S * S * 3);
  for (let i = 0; i < photos.length; i++) toInput(await loadImage(photos[i], prep), prep, centerView(prep), nhwc.subarray(i * S * S * 3));
  const nchw = new Float32Array(nhwc.length);
  for (let n = 0; n < photos.length; n++)
    for (let p = 0; p < S * S; p++) for (let c = 0; c < 3; c++) nchw[(n * 3 + c) * S * S + p] = nhwc[(n * S * S + p) * 3 + c];
  return { nhwc, nchw };
}

async function compare(name: string, config: AlexNetConfig, prep: Preprocessing): Promise<number> {
  const arrays = randomArrays(config, 7);
  const weights = path.join(dir, `${name}.safetensors`);
  await writeSafetensors(weights, toTorchState(config, arrays));
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ model: config }));
  const { nhwc, nchw } = await batch(prep);
  fs.writeFileSync(path.join(dir, `${name}.in`), Buffer.from(nchw.buffer));
  const r = spawnSync(py!, [ALEXNET_PY, path.join(dir, `${name}.json`), weights, path.join(dir, `${name}.in`), path.join(dir, `${name}.out`)], { encoding: 'utf8' });
  expect(r.stderr.split('\n').filter((l) => /Error|Traceback/.test(l))).toEqual([]);
  expect(r.status).toBe(0);
  const buf = fs.readFileSync(path.join(dir, `${name}.out`));
  const theirs = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const params = paramsFromArrays(config, arrays);
  const x = tf.tensor4d(nhwc, [photos.length, prep.crop, prep.crop, 3]);
  const y = forward(params, config, x, { training: false });
  const ours = (await y.data()) as Float32Array;
  tf.dispose([x, y]);
  disposeParams(params);
  expect(theirs.length).toBe(photos.length * config.numClasses);
  return maxRelDiff(ours, theirs);
}

describe.skipIf(!py)('alexnet.py against our engine', () => {
  it('safetensors in PyTorch layouts round-trip to our layouts exactly', async () => {
    const config = makeConfig({ ...TINY_CONFIG, numClasses: 4 });
    const arrays = randomArrays(config, 3);
    const file = path.join(dir, 'rt.safetensors');
    await writeSafetensors(file, toTorchState(config, arrays), { note: 'x' });
    const back = await readSafetensors(file);
    expect(back.metadata).toEqual({ note: 'x' });
    expect(back.tensors.get('conv2.weight')?.shape).toEqual([16, 4, 5, 5]); // OIHW, grouped: in = 8 / 2
    const ours = fromTorchState(config, back.tensors);
    for (const [k, v] of Object.entries(arrays)) expect(ours[k as keyof typeof ours]).toEqual(v);
  });

  it('the paper-sized network (grouped convs, LRN, 227 input, 5 classes): same logits', async () => {
    const d = await compare('full', makeConfig({ ...DEFAULT_CONFIG, numClasses: 5 }), CAFFE_PREPROCESSING);
    console.log(`alexnet.py vs engine, full network: max relative difference ${d.toExponential(2)}`);
    expect(d).toBeLessThanOrEqual(TOLERANCE);
  }, 120_000);

  it("alexnet.py's ONNX export (Conv group=2, LRN, Gemm) reads back through our ONNX importer: the same network and weights", async () => {
    const config = makeConfig({ ...DEFAULT_CONFIG, numClasses: 5 });
    const weights = path.join(dir, 'full.safetensors'); // written by the test above
    const onnxFile = path.join(dir, 'full.onnx');
    const code = `import json, sys; sys.path.insert(0, ${JSON.stringify(path.dirname(ALEXNET_PY))})
from alexnet import AlexNet, load_safetensors, export_onnx
net = AlexNet(json.load(open(sys.argv[1]))["model"]); net.load_state_dict(load_safetensors(sys.argv[2])); export_onnx(net, sys.argv[3])`;
    const r = spawnSync(py!, ['-W', 'ignore', '-c', code, path.join(dir, 'full.json'), weights, onnxFile], { encoding: 'utf8' });
    expect(r.stderr.split('\n').filter((l) => /Error|Traceback/.test(l))).toEqual([]);
    expect(r.status).toBe(0);
    const imported = await importOnnxAlexNet(fs.readFileSync(onnxFile));
    expect(imported.producer).toMatch(/pytorch/);
    expect({ ...imported.config, inputSize: 227, dropout: 0.5 }).toEqual(config);
    const arrays = randomArrays(config, 7);
    for (const n of PARAM_NAMES) {
      const [a, b] = [imported.arrays[n], arrays[n]];
      let differ = a.length === b.length ? 0 : -1;
      for (let i = 0; i < b.length && differ >= 0; i++) if (a[i] !== b[i]) differ++;
      expect(differ, n).toBe(0); // (toEqual on 38M floats takes minutes)
    }
  }, 120_000);

  it('the tiny network: same logits', async () => {
    const d = await compare('tiny', makeConfig({ ...TINY_CONFIG, numClasses: 2 }), TINY_PREPROCESSING);
    console.log(`alexnet.py vs engine, tiny network: max relative difference ${d.toExponential(2)}`);
    expect(d).toBeLessThanOrEqual(TOLERANCE);
  }, 60_000);
});
