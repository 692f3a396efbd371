// importWeights into a data folder, and refusal of files that are not AlexNet: truncated,
// a tensor with a wrong shape, a renamed tensor, a wrong attribute. Uses the zoo-layout fixture.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../../ml/checkpoint';
import { disposeParams } from '../../../ml/model';
import { EngineError } from '../../../ml/errors';
import { TINY_CONFIG, makeConfig } from '../../../ml/config';
import { CAFFE_PREPROCESSING, PAPER_PREPROCESSING } from '../../../ml/preprocess';
import { IMAGENET_CLASSES, IMAGENET_ONNX, imagenetModelDir, importWeights, weightsInfo } from '../../../ml/weights/imagenet';
import { exportOnnx, parseOnnxAlexNet } from '../../../ml/weights/onnx';
import { AT_FLOAT, decodeModel, encodeModel, type OnnxModel } from '../../../ml/weights/onnx-proto';
import { bvlcFixture } from '../../helpers/bvlc-fixture';
import { thrownEngineError } from '../../helpers/engine-error';
import { randomArrays } from '../../helpers/random-model';

let fixture = '';
let buf: Buffer;
let dataDir = '';

/** The fixture with one change, as bytes. */
function mutated(change: (m: OnnxModel) => void): Buffer {
  const m = decodeModel(buf);
  change(m);
  return Buffer.concat(encodeModel(m));
}

/** How parseOnnxAlexNet refuses `bytes` (NOT_ALEXNET, one line). */
const refusal = (bytes: Uint8Array): EngineError => thrownEngineError(() => parseOnnxAlexNet(bytes), 'NOT_ALEXNET');

beforeAll(() => {
  fixture = bvlcFixture(2012);
  buf = readFileSync(fixture);
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'alexnet-data-'));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('importWeights', () => {
  it('converts the file into a model directory with the ImageNet labels and Caffe preprocessing', async () => {
    expect(await weightsInfo(dataDir)).toBeNull();
    const info = await importWeights(fixture, dataDir);
    expect(info.verified).toBe('structure'); // random weights: not the zoo file's hash
    expect(info.sha256).not.toBe(IMAGENET_ONNX.sha256);
    expect(info.notes[0]).toMatch(/SHA-256 .* not the zoo file's/);
    expect(info.modelDir).toBe(imagenetModelDir(dataDir));
    expect(await weightsInfo(dataDir)).toMatchObject({ sha256: info.sha256, verified: 'structure' });

    const loaded = await loadModel(info.modelDir);
    try {
      expect(loaded.config.lrn).toEqual({ size: 5, k: 1, alpha: 1e-4, beta: 0.75 });
      expect(loaded.classNames).toEqual([...IMAGENET_CLASSES]);
      expect(loaded.classNames.length).toBe(1000);
      expect(loaded.preprocessing).toEqual(CAFFE_PREPROCESSING);
      expect(loaded.meta.weightsSource).toBe(`onnx:${info.sha256}`);
      const direct = parseOnnxAlexNet(buf).arrays;
      for (const name of ['conv2.w', 'fc6.w', 'fc8.b'] as const) {
        const a = loaded.params[name].dataSync() as Float32Array;
        expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(direct[name].buffer)), name).toBe(true);
      }
    } finally {
      disposeParams(loaded.params);
    }
  });

  it('leaves no model behind when the file is refused', async () => {
    const other = mkdtempSync(path.join(os.tmpdir(), 'alexnet-data-'));
    const bad = path.join(other, 'bad.onnx');
    writeFileSync(bad, buf.subarray(0, 1_000_000));
    await expect(importWeights(bad, other)).rejects.toMatchObject({ code: 'NOT_ALEXNET' });
    expect(existsSync(imagenetModelDir(other))).toBe(false);
    await expect(importWeights(path.join(other, 'missing.onnx'), other)).rejects.toMatchObject({ code: 'NOT_ALEXNET' });
    rmSync(other, { recursive: true, force: true });
  });

  it('refuses an AlexNet with another class count as the ImageNet weights', async () => {
    const other = mkdtempSync(path.join(os.tmpdir(), 'alexnet-data-'));
    const config = makeConfig({ ...TINY_CONFIG, numClasses: 7 });
    const classNames = Array.from({ length: 7 }, (_, i) => `c${i}`);
    await exportOnnx({ config, arrays: randomArrays(config, 1), classNames, preprocessing: PAPER_PREPROCESSING }, other);
    await expect(importWeights(path.join(other, 'model.onnx'), other)).rejects.toThrow(/model\.onnx has 7 classes, ImageNet's has 1000/);
    expect(existsSync(imagenetModelDir(other))).toBe(false);
    rmSync(other, { recursive: true, force: true });
  });
});

describe('refusing what is not AlexNet', () => {
  it('a truncated file', () => {
    const e = refusal(buf.subarray(0, Math.floor(buf.length * 0.6)));
    expect(e.message).toMatch(/truncated/);
  });

  it('a tensor with a wrong shape', () => {
    const e = refusal(
      mutated((m) => {
        m.graph.initializers.find((t) => t.name === 'conv2_w_0')!.dims = [256, 48, 5, 4];
      }),
    );
    expect(e.message).toContain('tensor conv2_w_0 has shape [256,48,5,4], expected [256,48,5,5] (conv2 weights)');
  });

  it('a renamed tensor', () => {
    const e = refusal(
      mutated((m) => {
        m.graph.initializers.find((t) => t.name === 'fc7_w_0')!.name = 'fc7_weights';
      }),
    );
    expect(e.message).toContain("fc7 reads weights 'fc7_w_0', which is not a tensor in the file (found fc7_weights)");
  });

  it('a wrong attribute (conv2 without its two groups)', () => {
    const e = refusal(
      mutated((m) => {
        const conv2 = m.graph.nodes.find((n) => n.inputs[1] === 'conv2_w_0')!;
        conv2.attributes = conv2.attributes.filter((a) => a.name !== 'group');
      }),
    );
    expect(e.message).toContain('conv2 has group=1, expected group=2');
  });

  it('a different op in the chain (MaxPool replaced)', () => {
    const e = refusal(
      mutated((m) => {
        m.graph.nodes.find((n) => n.outputs[0] === 'pool2_1')!.opType = 'AveragePool';
      }),
    );
    expect(e.message).toMatch(/node 8 is AveragePool, expected MaxPool \(pool2\)/);
  });

  it('carries the LRN values of the file, not the paper\'s', () => {
    const r = parseOnnxAlexNet(
      mutated((m) => {
        for (const n of m.graph.nodes.filter((x) => x.opType === 'LRN')) {
          const bias = n.attributes.find((a) => a.name === 'bias')!;
          expect(bias.type).toBe(AT_FLOAT);
          bias.f = 2;
        }
      }),
    );
    expect(r.config.lrn).toEqual({ size: 5, k: 2, alpha: 1e-4, beta: 0.75 });
  });
});
