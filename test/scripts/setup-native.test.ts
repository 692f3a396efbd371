// scripts/setup-native.mjs: after setup, @tensorflow/tfjs-node loads in a fresh process with no
// LD_LIBRARY_PATH, registers the 'tensorflow' backend, and its conv2d forward + gradients agree with
// the cpu backend; `--check` reports the same state; a second run is a quick no-op.
//
// Without a native build the tests are skipped with a message, unless ALEXNET_REQUIRE_NATIVE=1 (CI),
// where that is a failure.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(repoRoot, 'scripts/setup-native.mjs');
const REQUIRE = process.env.ALEXNET_REQUIRE_NATIVE === '1';

type PackageState = { ok: boolean; tfVersion?: string; source?: string; error?: string; addon: string };
type CheckReport = { native: boolean; packages: Record<string, PackageState> };

/** Environment for children: no library path, so the addon must find libtensorflow by its own rpath. */
function childEnv(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' };
  delete e.LD_LIBRARY_PATH;
  return e;
}

function runScript(args: string[]): { status: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [script, ...args], { cwd: repoRoot, encoding: 'utf8', env: childEnv(), timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

// Decided at collection time, so that the native tests can be skipped or required.
const checkRun = runScript(['--check', '--json']);
const check = JSON.parse(checkRun.stdout.trim().split('\n').pop() ?? '{}') as CheckReport;
const cpuState = check.packages?.['@tensorflow/tfjs-node'];
const native = cpuState?.ok === true;
const why = native ? '' : `native TensorFlow backend not set up: ${cpuState?.error ?? 'tfjs-node not installed'}; run \`node scripts/setup-native.mjs\``;
if (!native && !REQUIRE) console.warn(`[setup-native.test] skipping the native tests (${why})`);

// The child: load tfjs-node, then run conv2d (forward, d/dx, d/dw) on 'tensorflow' and on 'cpu'.
// Shapes like conv1 (11x11 stride 4) and conv3 (3x3 'same'), small enough to take milliseconds.
const CHILD = `
const tf = require('@tensorflow/tfjs-node');
const out = { backend: tf.getBackend(), registered: Object.keys(tf.engine().registryFactory),
              tfVersion: tf.backend().binding.TF_Version, cases: [] };
const cases = [
  { x: [2, 35, 35, 3], w: [11, 11, 3, 8], stride: 4, pad: 'valid' },
  { x: [2, 9, 9, 16], w: [3, 3, 16, 12], stride: 1, pad: 'same' },
];
function run(c) {
  const x = tf.randomNormal(c.x, 0, 1, 'float32', 1), w = tf.randomNormal(c.w, 0, 0.1, 'float32', 2);
  const f = (x, w) => tf.conv2d(x, w, c.stride, c.pad);
  const y = f(x, w);
  const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 3);
  const [dx, dw] = tf.grads((x, w) => f(x, w).mul(dy).sum())([x, w]);
  return [y, dx, dw].map((t) => Array.from(t.dataSync()));
}
for (const c of cases) {
  tf.setBackend('tensorflow'); const nat = run(c);
  tf.setBackend('cpu'); const ref = run(c);
  out.cases.push({ nat, ref });
}
console.log(JSON.stringify(out));`;

describe('scripts/setup-native.mjs', () => {
  it.runIf(native || REQUIRE)('has set up the native backend (required when ALEXNET_REQUIRE_NATIVE=1)', () => {
    expect(native, why).toBe(true);
    expect(checkRun.status).toBe(0);
    expect(existsSync(cpuState.addon)).toBe(true);
  });

  it.skipIf(!native)('loads tfjs-node without LD_LIBRARY_PATH and matches the cpu backend on conv2d and its gradients', () => {
    const r = spawnSync(process.execPath, ['-e', CHILD], { cwd: repoRoot, encoding: 'utf8', env: childEnv(), timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
      backend: string; registered: string[]; tfVersion: string; cases: { nat: number[][]; ref: number[][] }[];
    };
    expect(out.backend).toBe('tensorflow');
    expect(out.registered).toContain('tensorflow');
    // --check names the same TensorFlow library that the child loaded.
    expect(out.tfVersion).toBe(cpuState.tfVersion);
    expect(out.cases).toHaveLength(2);
    for (const { nat, ref } of out.cases) {
      for (let k = 0; k < 3; k++) { // y, dx, dw
        expect(nat[k].length).toBe(ref[k].length);
        let maxErr = 0, maxRef = 0;
        for (let i = 0; i < ref[k].length; i++) {
          maxErr = Math.max(maxErr, Math.abs(nat[k][i] - ref[k][i]) / (1 + Math.abs(ref[k][i])));
          maxRef = Math.max(maxRef, Math.abs(ref[k][i]));
        }
        expect(maxRef).toBeGreaterThan(0.1); // something was computed
        expect(maxErr).toBeLessThan(1e-4);
      }
    }
  });

  it.skipIf(!native)('--check reports the state in text and JSON; a second setup run is a quick no-op', () => {
    expect(check.native).toBe(true);
    expect(cpuState.tfVersion).toMatch(/^\d+\.\d+\.\d+/);
    const text = runScript(['--check']);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`@tensorflow/tfjs-node: ok, TensorFlow ${cpuState.tfVersion}`);
    expect(text.stdout).toContain('backend: tensorflow (native)');
    const again = runScript([]);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/@tensorflow\/tfjs-node: ok, TensorFlow/);
    expect(again.stdout).not.toContain('set up,'); // nothing rebuilt
    expect(again.ms).toBeLessThan(30_000);
  });
});
