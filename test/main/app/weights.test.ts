// The ImageNet weights through the contract, and the one-click fine-tune that starts from them:
// status, a refused file, an import of the BVLC-layout fixture (../shared/fixtures, seeded random
// weights with the zoo's exact structure) in a worker, a fine-tune run of the real-size network's
// head on a few real photos, and a download that cannot reach its host.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TINY_CONFIG, makeConfig } from '../../../ml/config';
import { PAPER_PREPROCESSING } from '../../../ml/preprocess';
import { exportOnnx } from '../../../ml/weights/onnx';
import { bvlcFixture } from '../../helpers/bvlc-fixture';
import { randomArrays } from '../../helpers/random-model';
import { useImportedLibrary } from '../../helpers/app';

let fixture: string | null = null;
let why = '';
try {
  fixture = bvlcFixture();
} catch (err) {
  why = (err as Error).message;
}

const lib = useImportedLibrary(5);

describe('ImageNet weights', () => {
  it('are missing at first, and the default run says so', async () => {
    const { h, ds } = lib;
    const s = await h.ok('weights:status', {});
    expect(s).toMatchObject({ state: 'missing', sha256: null });
    const r = await h.call('runs:start', { datasetId: ds });
    expect(r.ok ? null : r.error.code).toBe('NO_WEIGHTS');
  });

  it('refuses a file that is not the BVLC AlexNet, in words', async () => {
    const { h, folder } = lib;
    const bogus = path.join(folder, 'not-alexnet.onnx');
    fs.writeFileSync(bogus, Buffer.from('this is not a protobuf at all'));
    const r = await h.call('weights:import', { file: bogus });
    expect(r.ok ? null : r.error.code).toBe('BAD_WEIGHTS');
    expect(r.ok ? '' : r.error.message).toMatch(/not a readable ONNX file/);
    expect((await h.ok('weights:status', {})).state).toBe('missing');
    const missing = await h.call('weights:import', { file: path.join(folder, 'nope.onnx') });
    expect(missing.ok ? null : missing.error.code).toBe('FOLDER_NOT_FOUND');
  }, 60_000);

  it('an import in progress can be cancelled: it ends with CANCELLED and installs nothing', async () => {
    const { h, folder } = lib;
    const config = makeConfig({ ...TINY_CONFIG, numClasses: 1000 });
    const out = path.join(folder, 'tiny-onnx');
    await exportOnnx({ config, arrays: randomArrays(config, 4), classNames: Array.from({ length: 1000 }, (_, i) => `c${i}`), preprocessing: PAPER_PREPROCESSING }, out);
    const pending = h.call('weights:import', { file: path.join(out, 'model.onnx') });
    const during = await h.ok('weights:cancel', {});
    expect(during.state).toBe('missing');
    const r = await pending;
    expect(r.ok ? null : r.error.code).toBe('CANCELLED');
    expect((await h.ok('weights:status', {})).state).toBe('missing');
    expect((await h.ok('weights:cancel', {})).state).toBe('missing'); // nothing running: nothing to do
  }, 60_000);

  it('a download whose host cannot be reached ends with OFFLINE, not a hang', async () => {
    const { h } = lib;
    process.env.ALEXNET_WEIGHTS_URL = 'http://127.0.0.1:9/bvlcalexnet-12.onnx'; // the worker inherits it
    try {
      const started = await h.ok('weights:download', {});
      expect(started.state).toBe('downloading');
      const done = await h.next('weights:done', () => true, 60_000);
      expect(done.error?.code).toBe('OFFLINE');
      expect(done.status.state).toBe('missing');
    } finally {
      delete process.env.ALEXNET_WEIGHTS_URL;
    }
  }, 60_000);

  it.skipIf(!fixture)(`imports the BVLC-layout fixture in a worker, then fine-tunes its head on real photos ${fixture ? '' : `(skipped: ${why})`}`, async () => {
    const { h, ds } = lib;
    const s = await h.ok('weights:import', { file: fixture! });
    expect(s.state).toBe('ready');
    expect(s.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.existsSync(path.join(s.file!, 'model.json'))).toBe(true);

    const run = await h.ok('runs:start', { datasetId: ds, settings: { headEpochs: 1, fineTune: 'none', batchSize: 4, valFraction: 0.4, augment: false } });
    expect(run.weightsSource).toBe('imagenet');
    const end = await h.next('run:status', (e) => e.runId === run.id && e.phase === 'done', 240_000);
    expect(end.error).toBeNull();
    expect(end.status).toBe('finished');
    const detail = await h.ok('runs:get', { runId: run.id });
    expect(detail.epochs).toBe(1);
    expect(detail.predictions).toBe(10);
    const ev = await h.ok('runs:evaluation', { runId: run.id });
    expect(ev.n).toBe(4);
  }, 300_000);
});
