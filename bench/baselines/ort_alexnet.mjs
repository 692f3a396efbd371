#!/usr/bin/env node
// ONNX Runtime baseline for the benchmark: inference of the BVLC AlexNet (ONNX Model Zoo layout,
// rebuilt with seeded weights by ../shared/fixtures/make_bvlc_onnx.py) at batch 1 and 32, images/s.
//
// Prints one JSON line per figure: {"name":"ort_infer","value","unit":"images/s","batch","input","best","per_cpu_s","threads","reps","ort"}
// (value from the median run, best from the fastest: their gap shows how busy the machine was;
// per_cpu_s = images per CPU-second of this process, times threads estimates an idle machine's figure).
// The ~244 MB .onnx files are written to a cache outside the repo (ALEXNET_BENCH_CACHE, default
// ~/.cache/alexnet-studio/bench); generating them needs a python with onnx + numpy (PYTHON, the
// bench venv ../.venv-bench, or the system python).
// --sizes: 224 is the zoo's graph as published; 227 is the same graph given our (Caffe's) 227 crop,
// which is exactly our network: conv5 is then 13x13, and pool5's bottom/right padding of one (which
// keeps 224's 12x12 at 6x6) is never read, so pool5 is 6x6 both ways. 227 does ~11% more convolution
// work than 224, as we do: the benchmark's ratio compares equal work.
// Usage: node bench/baselines/ort_alexnet.mjs [--threads 2] [--reps 10] [--batches 1,32] [--sizes 224,227]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const threads = Number(arg('threads', 2)); // intra-op threads, the 2
const reps = Number(arg('reps', 10)); // timed runs per batch size (median reported)
const batches = arg('batches', '1,32').split(',').map(Number); // the fixture bakes the batch into its Reshape
const sizes = arg('sizes', '224,227').split(',').map(Number);
const cacheDir = process.env.ALEXNET_BENCH_CACHE || path.join(os.homedir(), '.cache', 'alexnet-studio', 'bench');
const fixture = path.resolve(repoRoot, '../shared/fixtures/make_bvlc_onnx.py');

// The same graph with its input declared S x S (ONNX Runtime checks inputs against the declaration).
const RESIZE_INPUT = `
import sys, onnx
m = onnx.load(sys.argv[1])
dims = m.graph.input[0].type.tensor_type.shape.dim
dims[2].dim_value = dims[3].dim_value = int(sys.argv[3])
onnx.checker.check_model(m)
onnx.save(m, sys.argv[2])
`;

// the fixture script needs onnx + numpy: PYTHON, the bench venv (../.venv-bench), or the system python
const PYTHONS = [process.env.PYTHON, path.resolve(repoRoot, '../.venv-bench/bin/python'), '/usr/bin/python3', 'python3'].filter(Boolean);

function onnxFile(batch, size = 224) {
  if (size !== 224) {
    const f = path.join(cacheDir, `bvlc_b${batch}_${size}.onnx`);
    if (fs.existsSync(f)) return f;
    const src = onnxFile(batch);
    for (const py of PYTHONS) {
      const r = spawnSync(py, ['-c', RESIZE_INPUT, src, `${f}.tmp`, String(size)], { stdio: 'inherit' });
      if (r.status === 0) { fs.renameSync(`${f}.tmp`, f); return f; }
    }
    throw new Error(`could not write ${f} (needs python with onnx: ../.venv-bench/bin/pip install onnx numpy)`);
  }
  const f = path.join(cacheDir, `bvlc_b${batch}.onnx`);
  if (fs.existsSync(f)) return f;
  fs.mkdirSync(cacheDir, { recursive: true });
  for (const py of PYTHONS) {
    const r = spawnSync(py, [fixture, `${f}.tmp`, '--batch', String(batch)], { stdio: 'inherit' });
    if (r.status === 0) { fs.renameSync(`${f}.tmp`, f); return f; }
  }
  throw new Error(`could not generate ${f} with ${fixture} (needs python with onnx + numpy: python3 -m venv ../.venv-bench && ../.venv-bench/bin/pip install onnx numpy)`);
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

for (const size of sizes) for (const batch of batches) {
  const session = await ort.InferenceSession.create(onnxFile(batch, size), {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const data = new Float32Array(batch * 3 * size * size); // NCHW
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i) * 50;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [batch, 3, size, size]) };
  const n = batch === 1 ? reps * 12 : reps; // batch 1 runs are short: more of them (as ours: BATCH1_REPS_FACTOR)
  for (let i = 0; i < 2; i++) await session.run(feeds); // warm-up
  const times = [], cpu = []; // wall and process CPU seconds per run
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  console.log(JSON.stringify({ name: 'ort_infer', value: +(batch / median(times)).toFixed(3), unit: 'images/s', batch, input: size, best: +(batch / Math.min(...times)).toFixed(3), per_cpu_s: +(batch / median(cpu)).toFixed(3), threads, reps: n, ort: ort.env.versions?.node ?? '' }));
  await session.release();
}
