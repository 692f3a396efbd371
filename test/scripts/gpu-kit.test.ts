// The GPU-machine kit's way of running the benchmark without tsx (issue 14): bench/child.ts picks a
// prebuilt bundle where ALEXNET_BENCH_BUNDLES says, and scripts/gpu-kit.mjs's bundles run under plain
// Node from another folder: each one's main-module check holds for its own entry only (gpu.mjs
// contains engine.ts, whose main must not run there), and repoRoot still means this checkout.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchChildArgs } from '../../bench/child';
import { findVulkanDriver, vulkanEnv } from '../helpers/vulkan';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const vulkan = findVulkanDriver();
if (vulkan === null) console.warn('[gpu-kit.test] no SwiftShader (@sparticuz/chromium or Debian chromium): the webgpu run of gpu.mjs is skipped');

describe('bench/child.ts', () => {
  it('runs the TypeScript through tsx by default', () => {
    expect(benchChildArgs('engine.ts', ['--expose-gc'], {})).toEqual(['--expose-gc', '--import', 'tsx', path.join(repoRoot, 'bench', 'engine.ts')]);
  });

  it('runs the bundle from ALEXNET_BENCH_BUNDLES, and names a missing one in one line', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-child-'));
    try {
      mkdirSync(path.join(dir, 'bench'));
      writeFileSync(path.join(dir, 'bench', 'gpu.mjs'), '');
      expect(benchChildArgs('gpu.ts', ['--expose-gc'], { ALEXNET_BENCH_BUNDLES: dir })).toEqual(['--expose-gc', path.join(dir, 'bench', 'gpu.mjs')]);
      expect(() => benchChildArgs('finetune.ts', [], { ALEXNET_BENCH_BUNDLES: dir })).toThrow(/^no bundle of bench\/finetune\.ts at .*finetune\.mjs \(ALEXNET_BENCH_BUNDLES; scripts\/gpu-kit\.mjs writes them\)$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scripts/gpu-kit.mjs bundles', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gpu-kit-bundles-'));
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'gpu-kit.mjs'), '--bundles-only', path.join(dir, 'js')], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    // the externals resolve from the bundle's folder upwards, as from .gpu-kit/run/node_modules there
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const bundle = (name: string, args: string[], env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, ['--expose-gc', path.join(dir, 'js', 'bench', `${name}.mjs`), ...args], {
      cwd: os.tmpdir(), // not the checkout: the bundles find it through their sources' URLs
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, NODE_PATH: path.join(repoRoot, 'node_modules'), ...env },
    });

  it('engine.mjs runs its main and loads the backend it is told', () => {
    const r = bundle('engine', ['--groups', 'none'], { ALEXNET_BACKEND: 'cpu' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; backend?: string; versions?: Record<string, string> });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ name: 'backend', backend: 'cpu' });
    // ml/backend.ts's createRequire lookups found the packages (a version, not 'absent')
    expect(lines[0].versions?.['@tensorflow/tfjs-backend-cpu']).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("gpu.mjs runs only gpu.ts's main, not that of engine.ts inside it", () => {
    // no Vulkan driver in its environment: gpu.ts stops with its one-line reason, and nothing else ran
    const r = bundle('gpu', ['--reps', '1'], { VK_ICD_FILENAMES: path.join(dir, 'none.json'), LD_LIBRARY_PATH: '' });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^bench\/gpu\.ts: (no WebGPU adapter|only a software WebGPU adapter)/m);
    expect(r.stdout.trim()).toBe('');
  });

  // tfjs-backend-webgpu registers itself only if navigator.gpu exists when it is first imported: the
  // bundle must keep ml/kernels/webgpu/device.ts's late imports late (code splitting)
  it.skipIf(vulkan === null)('gpu.mjs registers the webgpu backend and runs every figure on a software adapter', () => {
    const r = bundle('gpu', ['--allow-software', '--tiny', '--batch', '2', '--reps', '1'], vulkanEnv(vulkan, {}));
    expect(r.status, r.stderr).toBe(0);
    const figs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; backend?: string; software?: boolean; value: number });
    expect(figs[0]).toMatchObject({ name: 'backend', backend: 'webgpu', software: true });
    expect(figs.map((f) => f.name)).toEqual(['backend', 'ours_gpu_infer', 'ours_gpu_infer', 'ours_gpu_train_step', 'ours_gpu_cached_step']);
    for (const f of figs.slice(1)) expect(f.value).toBeGreaterThan(0);
  });
});

// scripts/gpu-kit-run.sh's checks and its collection of .gpu-kit-cpu parts over several calls, on a copy
// of the script in an empty checkout (the real kit is too big for a test; bench/README.md says how it
// was run end to end)
describe('scripts/gpu-kit-run.sh', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gpu-kit-run-'));
    mkdirSync(path.join(dir, 'repo', 'scripts'), { recursive: true });
    writeFileSync(path.join(dir, 'repo', 'scripts', 'gpu-kit-run.sh'), readFileSync(path.join(repoRoot, 'scripts', 'gpu-kit-run.sh')));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const runScript = (args: string[]) =>
    spawnSync('bash', [path.join(dir, 'repo', 'scripts', 'gpu-kit-run.sh'), ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, OUT: path.join(dir, 'out'), ALEXNET_KIT_STASH: path.join(dir, 'stash') },
    });
  const part = (n: number, text: string) => {
    const p = path.join(dir, 'repo', '.gpu-kit-cpu', `part${n}`);
    rmSync(path.join(dir, 'repo', '.gpu-kit-cpu'), { recursive: true, force: true }); // each call carries one part
    mkdirSync(p, { recursive: true });
    writeFileSync(path.join(p, `tfjs-node.tar.xz.${n}`), text);
    writeFileSync(path.join(p, 'whole'), `2 ${createHash('sha256').update('ab').digest('hex')}\n`);
  };

  it('says in one line that the kit is missing', () => {
    const r = runScript([]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^!! gpu-kit: no kit at .*\.gpu-kit \(node scripts\/gpu-kit\.mjs makes it; name \.gpu-kit in carry\)$/m);
  });

  it("--cpu keeps each part until all have come, then needs the first call's kit", () => {
    expect(runScript(['--cpu']).stdout).toMatch(/no part of \.gpu-kit-cpu here yet/);
    part(1, 'a');
    const first = runScript(['--cpu']);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/have 1 of 2 parts of tfjs-node: carry the next \(\.gpu-kit-cpu\/part2\) in the next call, at once/);
    part(2, 'b');
    const second = runScript(['--cpu']);
    expect(second.status).toBe(1);
    expect(second.stdout).toMatch(/the first call's kit is gone from .*\.gpu-kit\/run/);
    expect(readFileSync(path.join(dir, 'stash', 'tfjs-node.tar.xz.1'), 'utf8') + readFileSync(path.join(dir, 'stash', 'tfjs-node.tar.xz.2'), 'utf8')).toBe('ab');
  });
});
