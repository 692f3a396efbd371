// Python with PyTorch for the cluster-job tests: $ALEXNET_PYTHON, else the virtual environment at
// ../.venv-bench (next to the repository, as .ci/run makes it). Absent, those tests skip with one
// line saying how to enable them; under CI (CI=true) they are required and fail instead.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './app';

export const ENABLE_HINT =
  'cluster-job tests skipped: no Python with torch; enable with `python3 -m venv ../.venv-bench && ../.venv-bench/bin/pip install torch pillow onnx` (or set ALEXNET_PYTHON)';

function find(): string | null {
  const candidates = [process.env.ALEXNET_PYTHON, path.resolve(repoRoot, '../.venv-bench/bin/python')].filter((p): p is string => !!p);
  for (const py of candidates) {
    if (!fs.existsSync(py) && py.includes('/')) continue;
    const r = spawnSync(py, ['-c', 'import torch, PIL, onnx'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

/** The python to run jobs with, or null (after saying how to enable the tests; CI: throws). */
export function torchPython(): string | null {
  const py = find();
  if (py) return py;
  if (process.env.CI === 'true') throw new Error('CI requires Python with torch, pillow and onnx for the cluster-job tests: .ci/run installs them in ../.venv-bench');
  console.warn(ENABLE_HINT);
  return null;
}
