// The ONNX reader against hostile or huge input (issue 15 item 8): unpacked float_data decodes in
// linear time, a file over the size cap is refused before it is read, and an import can be cancelled
// (nothing is written).
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_CONFIG, makeConfig } from '../../../ml/config';
import { EngineError } from '../../../ml/errors';
import { PAPER_PREPROCESSING } from '../../../ml/preprocess';
import { imagenetModelDir, importWeights } from '../../../ml/weights/imagenet';
import { MAX_ONNX_BYTES, exportOnnx, parseOnnxAlexNet, readFileWithHash } from '../../../ml/weights/onnx';
import { DT_FLOAT, decodeModel, tensorFloats } from '../../../ml/weights/onnx-proto';
import { randomArrays } from '../../helpers/random-model';

let dir = '';
let onnxFile = ''; // a small AlexNet with ImageNet's 1000 classes, importable as "the ImageNet weights"

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'alexnet-limits-'));
  const config = makeConfig({ ...TINY_CONFIG, numClasses: 1000 });
  const classNames = Array.from({ length: 1000 }, (_, i) => `c${i}`);
  await exportOnnx({ config, arrays: randomArrays(config, 2), classNames, preprocessing: PAPER_PREPROCESSING }, path.join(dir, 'tiny'));
  onnxFile = path.join(dir, 'tiny', 'model.onnx');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Protobuf by hand: the unpacked form of a repeated float is one (tag, 4 bytes) pair per value,
// which our encoder never writes.
const varint = (v: number): number[] => {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
};
const field = (n: number, body: Uint8Array): Uint8Array => Uint8Array.from([...varint(n * 8 + 2), ...varint(body.length), ...body]);

/** ModelProto { graph { initializer { dims: [n], data_type: FLOAT, name: 'w', float_data: values (unpacked) } } }. */
function unpackedModel(values: Float32Array): Uint8Array {
  const head = Uint8Array.from([...varint(1 * 8), ...varint(values.length), ...varint(2 * 8), DT_FLOAT, ...varint(8 * 8 + 2), 1, 'w'.charCodeAt(0)]);
  const tensor = new Uint8Array(head.length + values.length * 5);
  tensor.set(head);
  const dv = new DataView(tensor.buffer);
  for (let i = 0; i < values.length; i++) {
    const at = head.length + i * 5;
    tensor[at] = 4 * 8 + 5; // field 4, wire type 5 (fixed32)
    dv.setFloat32(at + 1, values[i], true);
  }
  return field(7, field(5, tensor));
}

describe('unpacked float_data', () => {
  it('decodes a million values in linear time (a copy per value took hours)', () => {
    const n = 1_000_000;
    const values = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 100);
    const bytes = unpackedModel(values);
    const t0 = performance.now();
    const t = decodeModel(bytes).graph.initializers[0];
    const ms = performance.now() - t0;
    expect(t.dims).toEqual([n]);
    const back = tensorFloats(t);
    expect(Buffer.from(back.buffer).equals(Buffer.from(values.buffer))).toBe(true);
    expect(ms).toBeLessThan(5000);
  });
});

describe('the size cap', () => {
  it('refuses a file over MAX_ONNX_BYTES before reading it, in one line', async () => {
    const big = path.join(dir, 'huge.onnx');
    const fd = openSync(big, 'w');
    ftruncateSync(fd, MAX_ONNX_BYTES + 1); // sparse: no disk used
    closeSync(fd);
    const t0 = performance.now();
    await expect(readFileWithHash(big)).rejects.toThrow(/huge\.onnx is 1024 MiB, larger than any AlexNet ONNX file we read \(at most 1024 MiB\)/);
    expect(performance.now() - t0).toBeLessThan(1000); // refused from its size, not read
    const data = path.join(dir, 'data-huge');
    await expect(importWeights(big, data)).rejects.toMatchObject({ code: 'NOT_ALEXNET' });
    expect(existsSync(imagenetModelDir(data))).toBe(false);
    expect(() => parseOnnxAlexNet({ length: MAX_ONNX_BYTES + 1 } as Uint8Array)).toThrow(/larger than any AlexNet ONNX file/);
  });
});

describe('cancelling an import', () => {
  // Once writing starts, the import finishes: the model folder is written atomically and quickly.
  for (const stage of ['read', 'convert'] as const) {
    it(`stops with CANCELLED when aborted at the '${stage}' stage, and writes nothing`, async () => {
      const data = path.join(dir, `data-${stage}`);
      const controller = new AbortController();
      const stages: string[] = [];
      const err = await importWeights(onnxFile, data, {
        signal: controller.signal,
        onStage: (s) => {
          stages.push(s);
          if (s === stage) controller.abort();
        },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).code).toBe('CANCELLED');
      expect(stages.at(-1)).toBe(stage);
      expect(existsSync(imagenetModelDir(data))).toBe(false);
    });
  }

  it('an import that is not cancelled completes (the same file)', async () => {
    const data = path.join(dir, 'data-ok');
    const info = await importWeights(onnxFile, data, { signal: new AbortController().signal });
    expect(info.config.numClasses).toBe(1000);
    expect(existsSync(path.join(imagenetModelDir(data), 'model.json'))).toBe(true);
  });
});
