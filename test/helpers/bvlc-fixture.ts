// The BVLC AlexNet ONNX fixture: ../shared/fixtures/make_bvlc_onnx.py writes a file with the ONNX
// Model Zoo's exact layout and seeded random weights (~244 MB). Generated once per seed into a cache
// folder outside the repo (os.tmpdir()), so reruns are quick. Needs python3 with the onnx + numpy
// modules (Debian: apt-get install python3-onnx python3-numpy).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDir = path.resolve(repoRoot, '../shared');
export const datasetsDir = path.join(sharedDir, 'datasets');
export const fixtureScript = path.join(sharedDir, 'fixtures', 'make_bvlc_onnx.py');
export const cacheDir = path.join(os.tmpdir(), 'alexnet-studio-test-cache');

/** A python interpreter that can `import onnx, numpy`, or null. Prefers the system one (Debian's packages). */
export function findPython(): string | null {
  for (const py of [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p)) {
    const r = spawnSync(py, ['-c', 'import onnx, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

/** Path of the fixture for `seed` (generated on first use). Throws with the reason if it cannot be made. */
export function bvlcFixture(seed = 2012): string {
  const file = path.join(cacheDir, `bvlcalexnet-fixture-seed${seed}.onnx`);
  if (existsSync(file) && statSync(file).size > 200_000_000) return file;
  const py = findPython();
  if (!py) throw new Error('python3 with the onnx and numpy modules is needed for the BVLC fixture (apt-get install python3-onnx python3-numpy)');
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const r = spawnSync(py, [fixtureScript, tmp, '--seed', String(seed)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make_bvlc_onnx.py failed: ${r.stderr || r.stdout}`);
  renameSync(tmp, file); // atomic: a parallel test never sees half a file
  return file;
}
