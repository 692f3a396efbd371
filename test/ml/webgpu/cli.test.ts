// bin/alexnet on the webgpu backend, in a child process as a user runs it: `info --json` names the
// adapter (and, without ALEXNET_BACKEND, says why a software adapter was not chosen); `train
// --weights none` trains (a tiny network, 1 epoch) and the model it writes classifies and evaluates
// (10-crop) the same on the native backend as on webgpu, and exports. The child inherits this
// project's Vulkan driver (vitest.config.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findNativeBinding } from '../../../ml/backend';
import { repoRoot, someJpegs, tempDir } from '../../db/helpers';
import { webgpuSkipReason } from './setup';

const skip = await webgpuSkipReason();
const bin = path.join(repoRoot, 'bin', 'alexnet');
const REFERENCE = findNativeBinding('@tensorflow/tfjs-node') !== null ? 'tensorflow' : 'cpu';
const dir = tempDir('alexnet-webgpu-cli-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function alexnet(args: string[], backend: string | null) {
  const env: NodeJS.ProcessEnv = { ...process.env, ALEXNET_HOME: path.join(dir, 'home'), ALEXNET_BACKEND: backend ?? undefined };
  if (backend === null) delete env.ALEXNET_BACKEND; // 'auto'
  const r = spawnSync(bin, args, { encoding: 'utf8', env, timeout: 170_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Classified = { file: string; predictions: { label: string; p: number }[] };

describe.skipIf(skip !== null)('alexnet on webgpu', () => {
  it('info --json reports webgpu and the adapter', () => {
    const r = alexnet(['info', '--json'], 'webgpu');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.backend).toBe('webgpu');
    expect(info.versions.webgpu).toMatch(/^\d+\.\d+\.\d+$/);
    expect(typeof info.adapter.vendor).toBe('string');
    expect(typeof info.adapter.software).toBe('boolean');
    expect(info.adapter.description.length).toBeGreaterThan(0);
  });

  it('without ALEXNET_BACKEND, a software adapter is not chosen, and info says why', () => {
    const r = alexnet(['info', '--json'], null);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as { backend: string; adapter: { software: boolean } | null; tried: { name: string; error: string }[] };
    if (info.backend === 'webgpu') {
      expect(info.adapter?.software).toBe(false); // a real GPU here: then it is the right choice
      return;
    }
    const webgpu = info.tried.find((t) => t.name === 'webgpu');
    expect(webgpu?.error).toMatch(/^only a software WebGPU adapter, .+, which is slower than the CPU backends \(ALEXNET_BACKEND=webgpu uses it anyway\)$/);
  });

  it('trains --weights none; its model classifies and evaluates (10-crop) the same on the native backend, and exports', () => {
    const photos = path.join(dir, 'photos');
    const val = path.join(dir, 'val');
    for (const cls of ['ants', 'bees'] as const) {
      fs.mkdirSync(path.join(photos, cls), { recursive: true });
      fs.mkdirSync(path.join(val, cls), { recursive: true });
      for (const f of someJpegs('train', cls, 4)) fs.copyFileSync(f, path.join(photos, cls, path.basename(f)));
      for (const f of someJpegs('val', cls, 2)) fs.copyFileSync(f, path.join(val, cls, path.basename(f)));
    }
    const model = path.join(dir, 'model');
    const t = alexnet(['train', photos, '--val', val, '--weights', 'none', '--tiny', '--epochs', '1', '--batch', '4', '--out', model, '--json'], 'webgpu');
    expect(t.stderr).toBe('');
    expect(t.code).toBe(0);
    const last = JSON.parse(t.stdout.trim().split('\n').pop() ?? '{}');
    expect(last).toMatchObject({ type: 'result', backend: 'webgpu', epochs: 1, stopped: 'completed' });
    expect(Number.isFinite(last.valLoss)).toBe(true);
    expect(fs.existsSync(path.join(model, 'best.ckpt', 'model.json'))).toBe(true);

    const files = ['ants', 'bees'].flatMap((c) => fs.readdirSync(path.join(val, c)).map((f) => path.join(val, c, f)));
    const classify = (backend: string): Classified[] => {
      const r = alexnet(['classify', model, ...files, '--json'], backend);
      expect(r.code).toBe(0);
      return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Classified);
    };
    const gpu = classify('webgpu');
    const ref = classify(REFERENCE);
    expect(gpu.map((c) => c.file)).toEqual(files);
    gpu.forEach((g, i) => {
      expect(g.predictions[0].label).toBe(ref[i].predictions[0].label);
      for (const p of g.predictions) {
        const q = ref[i].predictions.find((x) => x.label === p.label);
        expect(Math.abs(p.p - (q?.p ?? NaN))).toBeLessThan(1e-5);
      }
    });

    // evaluation with the paper's 10 crops, and an export, on webgpu
    const evaluate = (backend: string): { n: number; top1: number; loss: number } => {
      const r = alexnet(['eval', model, val, '--tta', '10crop', '--json'], backend);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as { n: number; top1: number; loss: number };
    };
    const eg = evaluate('webgpu');
    const er = evaluate(REFERENCE);
    expect(eg.n).toBe(4);
    expect(eg.top1).toBe(er.top1);
    expect(Math.abs(eg.loss - er.loss) / er.loss).toBeLessThan(1e-5);
    const exported = path.join(dir, 'onnx');
    expect(alexnet(['export', model, '--format', 'onnx', exported], 'webgpu').code).toBe(0);
    expect(fs.statSync(path.join(exported, 'model.onnx')).size).toBeGreaterThan(10_000);
  });
});

if (skip !== null) it.skip(`webgpu cli: ${skip}`, () => {});
