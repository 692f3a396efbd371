// bin/alexnet weights import|download|info and bin/alexnet export, run as a user would (child
// processes), with ALEXNET_HOME pointing at a temporary data folder.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../../ml/checkpoint';
import { TINY_CONFIG } from '../../../ml/config';
import { disposeParams, paramsFromArrays } from '../../../ml/model';
import { PAPER_PREPROCESSING } from '../../../ml/preprocess';
import { bvlcFixture } from '../../helpers/bvlc-fixture';
import { randomArrays } from '../../helpers/random-model';
import { runAlexnetAsync } from '../../helpers/cli';

let home = '';
let work = '';

// not blocking: some tests serve the file the CLI downloads from this process
const alexnet = (args: string[], env: Record<string, string> = {}) => runAlexnetAsync(args, { ALEXNET_HOME: home, ...env });

beforeAll(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'alexnet-home-'));
  work = mkdtempSync(path.join(os.tmpdir(), 'alexnet-cli-'));
});
afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe('alexnet weights', () => {
  it('info says nothing is imported yet (exit 1)', async () => {
    const r = await alexnet(['weights', 'info']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('no ImageNet weights');
    expect(r.stdout).toContain(home);
  });

  it('import <file.onnx> --json converts the fixture; info then describes it', async () => {
    const fixture = bvlcFixture(2012);
    const r = await alexnet(['weights', 'import', fixture, '--json']);
    expect(r.stderr).not.toMatch(/alexnet:/);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.verified).toBe('structure');
    expect(info.modelDir.startsWith(home)).toBe(true);
    expect(existsSync(path.join(info.modelDir, 'weights.bin'))).toBe(true);
    const i2 = await alexnet(['weights', 'info', '--json']);
    expect(i2.code).toBe(0);
    expect(JSON.parse(i2.stdout).sha256).toBe(info.sha256);
    const text = await alexnet(['weights', 'info']);
    expect(text.stdout).toMatch(/unverified weights/);
  });

  it('import of a damaged file fails with one line', async () => {
    const bad = path.join(work, 'bad.onnx');
    writeFileSync(bad, Buffer.from('not an onnx file at all, just text\n'));
    const r = await alexnet(['weights', 'import', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('alexnet:'))).toHaveLength(1);
    expect(r.stderr).toMatch(/alexnet: not (a readable ONNX file|the BVLC AlexNet)/);
  });

  it('download refuses a file with the wrong SHA-256 and deletes it; offline names the import alternative', async () => {
    const body = Buffer.alloc(200_000, 7);
    const server = http.createServer((_req, res) => res.writeHead(200, { 'Content-Length': body.length }).end(body));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const r = await alexnet(['weights', 'download', '--url', `http://127.0.0.1:${port}/bvlcalexnet-12.onnx`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(createHash('sha256').update(body).digest('hex'));
    expect(r.stderr).toMatch(/deleted/);
    expect(existsSync(path.join(home, 'weights', 'bvlcalexnet-12.onnx'))).toBe(false);
    expect(existsSync(path.join(home, 'weights', 'bvlcalexnet-12.onnx.part'))).toBe(false);
    await new Promise<void>((res) => server.close(() => res()));
    // The same port, now closed: OFFLINE, via the environment variable this time.
    const off = await alexnet(['weights', 'download'], { ALEXNET_WEIGHTS_URL: `http://127.0.0.1:${port}/x.onnx` });
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\).*alexnet weights import/);
  });
});

describe('alexnet export', () => {
  it('writes ONNX (runs in ONNX Runtime) and TF.js from a model folder', async () => {
    const modelDir = path.join(work, 'tiny.ckpt');
    const params = paramsFromArrays(TINY_CONFIG, randomArrays(TINY_CONFIG, 5));
    const prep = { ...PAPER_PREPROCESSING, resize: 112, crop: TINY_CONFIG.inputSize };
    await saveCheckpoint(modelDir, {
      config: TINY_CONFIG,
      classNames: ['ants', 'bees', 'wasps'],
      preprocessing: prep,
      epoch: 1,
      metrics: [],
      trainOptions: {},
      seed: 1,
      weightsSource: 'none',
      trainState: null,
      params,
    });
    disposeParams(params);

    const onnxOut = path.join(work, 'out-onnx');
    const r = await alexnet(['export', modelDir, '--format', 'onnx', onnxOut, '--json']);
    expect(r.stderr).not.toMatch(/alexnet:/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).files).toEqual(['model.onnx', 'labels.json', 'preprocessing.json']);
    expect(JSON.parse(readFileSync(path.join(onnxOut, 'labels.json'), 'utf8'))).toEqual(['ants', 'bees', 'wasps']);
    const s = await ort.InferenceSession.create(path.join(onnxOut, 'model.onnx'));
    const S = TINY_CONFIG.inputSize;
    const y = await s.run({ data: new ort.Tensor('float32', new Float32Array(2 * 3 * S * S).fill(0.5), [2, 3, S, S]) });
    expect(y.prob.dims).toEqual([2, 3]);
    const p = y.prob.data as Float32Array;
    expect(p[0] + p[1] + p[2]).toBeCloseTo(1, 5);

    const tfjsOut = path.join(work, 'out-tfjs');
    const t = await alexnet(['export', modelDir, '--format', 'tfjs', tfjsOut]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/exported .* as tfjs/);
    expect(JSON.parse(readFileSync(path.join(tfjsOut, 'model.json'), 'utf8')).format).toBe('graph-model');

    const bad = await alexnet(['export', modelDir, '--format', 'caffe', path.join(work, 'x')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--format must be onnx or tfjs');
    const missing = await alexnet(['export', path.join(work, 'nope'), '--format', 'onnx', path.join(work, 'x')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/alexnet: model folder not found/);
  });
});
