// `npm run bench`: our engine against ONNX Runtime and PyTorch on the same CPU, side by side, in one
// run (issue 7), plus the data pipeline, the library's grid queries and (when present) the renderer.
//
//   npm run bench [-- --json] [-- --only infer,train] [-- --quick]
//
// Every figure runs in its own child process, one at a time (never two benchmarks at once on the
// 2 cores): ours (bench/engine.ts, bench/finetune.ts), ONNX Runtime (baselines/ort_alexnet.mjs),
// PyTorch (baselines/torch_alexnet.py, baselines/torch_finetune.py). Each figure: warm-up calls,
// then the median of several timed calls. Ratio > 1 is better for us (memory: PyTorch's RSS / ours;
// fine-tune: PyTorch's wall time / ours; decode: decode rate / training-step rate; db: 50 ms / ours).
//
// Groups (--only): infer, train, transfer, memory, decode, finetune, profile, data, db, grid; and, only
// when named: bfc, gpu (our webgpu engine against PyTorch CUDA on the same GPU, where a hardware
// WebGPU adapter or CUDA is present; bench/gpu.ts, --gpu-batch 128).
// PyTorch is found via ALEXNET_BENCH_PYTHON, ../.venv-bench/bin/python, or python3 if it imports
// torch; without it the PyTorch rows print "n/a" and how to install it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ENGINE_NODE_FLAGS } from '../ml/node-flags';
import { benchChildArgs } from './child';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GOAL_DB_MS = 50; // issue 4: each grid query under 50 ms

export const GROUPS = ['infer', 'train', 'transfer', 'memory', 'decode', 'finetune', 'profile', 'data', 'db', 'grid', 'bfc', 'gpu'] as const;
// Not run unless named in --only: 'bfc' (ours again with TensorFlow's pooling CPU allocator), 'gpu'.
const DEFAULT_GROUPS: readonly Group[] = GROUPS.filter((g) => g !== 'bfc' && g !== 'gpu');
export type Group = (typeof GROUPS)[number];

export type Row = {
  name: string;
  ours: number | null;
  baseline: number | null;
  ratio: number | null; // > 1: better for us
  unit: string;
  notes: string;
};

type Fig = { name: string; value: number; unit: string; [k: string]: unknown };

// -------------------------------------------------------------------------------------------------
// Options

// node's parseArgs, strict, as the CLI's: an unknown or malformed flag is one line and exit 2.
function options() {
  try {
    return parseArgs({
      args: process.argv.slice(2),
      options: {
        json: { type: 'boolean' }, // one JSON object per row on stdout, nothing else there
        quick: { type: 'boolean' }, // smoke run: fewer reps, fewer photos, 1+1 fine-tune epochs
        only: { type: 'string' }, // comma-separated groups
        reps: { type: 'string' },
        'b1-rounds': { type: 'string' },
        'ft-head-epochs': { type: 'string' },
        'ft-epochs': { type: 'string' },
        'ft-torch-epochs': { type: 'string' },
        'ft-full': { type: 'boolean' },
        'gpu-batch': { type: 'string' }, // the gpu group's batch (default 128)
        'gpu-software': { type: 'boolean' }, // smoke run of the gpu group on a software adapter (no speed)
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    return usage((e as Error).message.split('\n')[0]);
  }
}
function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}
const values = options();
/** --name N, a whole number >= 0, or `fallback` when absent. */
const count = <T>(name: 'reps' | 'b1-rounds' | 'ft-head-epochs' | 'ft-epochs' | 'ft-torch-epochs' | 'gpu-batch', fallback: T): number | T => {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : usage(`--${name} must be a whole number, got '${v}'`);
};
const json = values.json ?? false;
const quick = values.quick ?? false;
const only = new Set<Group>(
  (values.only ?? DEFAULT_GROUPS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s): Group => GROUPS.find((g) => g === s) ?? usage(`unknown group '${s}' in --only; groups: ${GROUPS.join(', ')}`)),
);
const REPS = count('reps', quick ? 2 : 5); // timed reps per figure (batch 1: 12x as many)
// Batch 1 is ~35 ms a call on both sides, and this machine's load moves it by 10-20% from one minute
// to the next: after the main runs, ours and ONNX Runtime measure it again in this many alternating
// rounds, and the row gives each side's median over all its runs.
const B1_ROUNDS = count('b1-rounds', quick ? 0 : 3);
// Fine-tune epochs. Ours: the recipe's defaults (3 head epochs, then up to 10 fc6-fc8 epochs that
// early stopping usually ends sooner), unless --ft-head-epochs / --ft-epochs cap them. PyTorch's
// tutorial runs every photo through the whole network every epoch (about a minute per epoch here),
// so the same epoch count would take it past the 10-minute budget: by default it runs
// FT_TORCH_EPOCHS epochs and its wall time is scaled to our epoch count (its epochs all do the same
// work; the row says so). --ft-full runs it for all of them.
const FT_HEAD = count('ft-head-epochs', quick ? 1 : undefined); // our head-only epochs
const FT_EPOCHS = count('ft-epochs', quick ? 1 : undefined); // our fc6-fc8 epochs
const FT_TORCH_EPOCHS = count('ft-torch-epochs', quick ? 1 : 2); // PyTorch epochs measured
const FT_FULL = values['ft-full'] ?? false; // PyTorch runs as many epochs as ours did
const THREADS = 2; // ORT intra-op and PyTorch threads: the issue's setting

const log = (line: string): void => {
  process.stderr.write(line + '\n');
};

// -------------------------------------------------------------------------------------------------
// Children

/** Runs a command; resolves with the JSON objects it printed one per line on stdout. */
function jsonLines(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<Fig[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      process.stderr.write(d); // (--json: stdout holds only the rows; the log is stderr's, children's too)
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const figs: Fig[] = [];
      for (const l of out.split('\n')) {
        const t = l.trim();
        if (!t.startsWith('{')) continue;
        try {
          figs.push(JSON.parse(t) as Fig);
        } catch {
          // a stray line: ignored
        }
      }
      if (code !== 0) {
        // the child's error line (an uncaught one is followed by its stack), else its last lines
        const lines = err.split('\n').map((l) => l.trim()).filter((l) => l !== '');
        const why = lines.find((l) => /^[A-Za-z]*Error\b/.test(l)) ?? lines.slice(-3).join(' | ');
        const script = args.find((a) => /\.(ts|mjs|py)$/.test(a)) ?? cmd;
        reject(new Error(`${path.basename(script)} ${signal ? `killed (${signal})` : `exit ${code}`}: ${why}`));
      } else resolve(figs);
    });
  });
}

// (through tsx, or the prebuilt bundle where ALEXNET_BENCH_BUNDLES says: bench/child.ts)
const tsx = async (script: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<Fig[]> =>
  jsonLines(process.execPath, [...benchChildArgs(script, ENGINE_NODE_FLAGS, env), ...args], timeoutMs, env);

/** A python with torch: ALEXNET_BENCH_PYTHON, ../.venv-bench/bin/python, python3. Null when none. */
function findTorchPython(): { py: string; version: string } | null {
  const candidates = [process.env.ALEXNET_BENCH_PYTHON, path.resolve(repoRoot, '../.venv-bench/bin/python'), 'python3'];
  for (const py of candidates) {
    if (!py) continue;
    const r = spawnSync(py, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { py, version: r.stdout.trim() };
  }
  return null;
}
const TORCH_HINT = 'no python with torch: python3 -m venv ../.venv-bench && ../.venv-bench/bin/pip install torch==2.13.0 onnx numpy pillow (or set ALEXNET_BENCH_PYTHON)';

/** The fixture's initializers as .npz for the PyTorch side (made once, by the system python's onnx). */
async function fixtureNpz(): Promise<string> {
  const { bvlcFixture, findPython } = await import('../test/helpers/bvlc-fixture');
  const dir = process.env.ALEXNET_BENCH_CACHE ?? path.join(os.homedir(), '.cache', 'alexnet-studio', 'bench');
  const file = path.join(dir, 'bvlc_seed2012.npz');
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const onnx = bvlcFixture();
  const py = findPython();
  if (!py) throw new Error('python3 with onnx + numpy is needed to read the fixture (python3 -m venv ../.venv-bench && ../.venv-bench/bin/pip install onnx numpy, or set PYTHON)');
  const tmp = `${file}.${process.pid}.tmp.npz`;
  const r = spawnSync(py, [path.join(repoRoot, 'bench/baselines/onnx_to_npz.py'), onnx, tmp], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`onnx_to_npz.py failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  renameSync(tmp, file);
  return file;
}

// -------------------------------------------------------------------------------------------------
// Rows

const rows: Row[] = [];
const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number): number => (Math.abs(x) >= 100 ? Math.round(x * 10) / 10 : Math.round(x * 1000) / 1000);

function addRow(r: Row): void {
  rows.push(r);
  if (json) console.log(JSON.stringify(r));
  else log(`  -> ${r.name}: ${fmt(r.ours)} vs ${fmt(r.baseline)} ${r.unit} (ratio ${fmt(r.ratio)})`);
}

function compare(name: string, ours: number | null, baseline: number | null, unit: string, notes: string, inverse = false): void {
  const ratio = ours !== null && baseline !== null && ours > 0 && baseline > 0 ? (inverse ? baseline / ours : ours / baseline) : null;
  addRow({ name, ours: ours === null ? null : round(ours), baseline: baseline === null ? null : round(baseline), ratio: ratio === null ? null : Math.round(ratio * 100) / 100, unit, notes });
}

const fmt = (x: number | null): string => (x === null ? 'n/a' : String(x));
const pick = (figs: Fig[], name: string, batch?: number): Fig | undefined =>
  figs.find((f) => f.name === name && (batch === undefined || f.batch === batch));
const val = (f: Fig | undefined): number | null => (f ? f.value : null);
const cpuNote = (o: Fig | undefined, b: Fig | undefined): string => {
  const po = o?.per_cpu_s;
  const pb = b?.per_cpu_s;
  return typeof po === 'number' && typeof pb === 'number' && pb > 0 ? `; per CPU-s ${po}/${pb} = ${(po / pb).toFixed(2)}x` : '';
};
const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');

// The backends the rows ran on, by name, each as the header says it ('tensorflow (versions)', 'webgpu
// on <adapter>'): a group adds its own once its child has said which it loaded. The groups that load
// none (db, data, grid) add nothing, and a run of those alone names no backend.
const backends = new Map<string, string>();
const ranOn = (name: string, described = name): void => {
  if (!backends.has(name) || backends.get(name) === name) backends.set(name, described);
};
const backendWords = (): string => [...backends.values()].join('; ');
/** The backend an engine.ts child says it loaded (its 'backend' figure), if it said one. */
const engineRanOn = (figs: Fig[]): void => {
  const b = pick(figs, 'backend');
  if (b) ranOn(String(b.backend), `${String(b.backend)} (${JSON.stringify(b.versions)})`);
};

// -------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const t0 = performance.now();
  const cores = os.availableParallelism();
  const header: Record<string, unknown> = {
    name: 'header', // (--json: every line has name/ours/baseline/ratio/unit; these two carry the context)
    ours: null,
    baseline: null,
    ratio: null,
    unit: '',
    type: 'header',
    cores,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    threads: `ours: TensorFlow's default pool (intra-op = ${cores} cores); ORT intra-op ${THREADS}, inter-op 1; PyTorch set_num_threads(${THREADS})`,
    load: load(),
    quick,
    reps: REPS,
  };
  const torchPy = findTorchPython();
  const need = (g: Group): boolean => only.has(g);
  let ours: Fig[] = [];
  const engineGroups = (['infer', 'train', 'transfer'] as const).filter(need);
  // The decode row needs the training step's rate: measure it even when only 'decode' is asked for.
  if (need('decode') && !engineGroups.includes('train')) engineGroups.push('train');
  if (engineGroups.length > 0 || need('memory') || need('profile')) {
    log(`[bench] ours: ${engineGroups.join(', ') || '(backend only)'} (load ${load()})`);
    try {
      ours = await tsx('engine.ts', ['--groups', engineGroups.join(',') || 'none', '--reps', String(REPS)], 8 * 60_000);
    } catch (e) {
      log(`[bench] ours failed: ${(e as Error).message}`);
    }
    engineRanOn(ours);
  }
  // known here only where the engine's groups ran; the footer (--json) and the table name them all
  if (backends.size > 0) header.backend = backendWords();
  header.torch = torchPy ? `${torchPy.py} (torch ${torchPy.version})` : 'n/a';
  if (json) console.log(JSON.stringify(header));
  else log(`[bench] ${backends.size > 0 ? `backend ${backendWords()}; ` : ''}${cores} cores (${String(header.cpu)}); ${String(header.threads)}; load ${String(header.load)}`);

  // -- ONNX Runtime (inference)
  let ort: Fig[] = [];
  if (need('infer')) {
    log(`[bench] ONNX Runtime (load ${load()})`);
    try {
      ort = await jsonLines(process.execPath, [path.join(repoRoot, 'bench/baselines/ort_alexnet.mjs'), '--threads', String(THREADS), '--reps', String(REPS), '--batches', '1,32'], 5 * 60_000);
    } catch (e) {
      log(`[bench] ONNX Runtime failed: ${(e as Error).message}`);
    }
  }

  // -- batch 1 again, ours and ONNX Runtime alternating (see B1_ROUNDS)
  const b1Ours: number[] = [];
  const b1Ort: number[] = [];
  if (need('infer')) {
    const o = val(pick(ours, 'ours_infer', 1));
    const b = val(ort.find((f) => f.name === 'ort_infer' && f.batch === 1 && f.input === 227));
    if (o !== null && b !== null) {
      b1Ours.push(o);
      b1Ort.push(b);
      for (let r = 0; r < B1_ROUNDS; r++) {
        log(`[bench] batch 1, round ${r + 2} of ${B1_ROUNDS + 1}: ours, then ONNX Runtime (load ${load()})`);
        try {
          const a = val(pick(await tsx('engine.ts', ['--groups', 'infer1', '--reps', String(REPS)], 2 * 60_000), 'ours_infer', 1));
          const c = await jsonLines(process.execPath, [path.join(repoRoot, 'bench/baselines/ort_alexnet.mjs'), '--threads', String(THREADS), '--reps', String(REPS), '--batches', '1', '--sizes', '227'], 2 * 60_000);
          const d = val(c.find((f) => f.name === 'ort_infer' && f.batch === 1));
          if (a !== null && d !== null) {
            b1Ours.push(a);
            b1Ort.push(d);
          }
        } catch (e) {
          log(`[bench] batch 1 round failed: ${(e as Error).message}`);
        }
      }
    }
  }

  // -- PyTorch (training, transfer, inference, memory)
  let torch: Fig[] = [];
  const torchGroups = [need('train') || need('memory') || need('bfc') ? 'train' : '', need('transfer') || need('bfc') ? 'transfer' : '', need('infer') ? 'infer' : ''].filter(Boolean);
  if (torchPy && torchGroups.length > 0) {
    log(`[bench] PyTorch ${torchPy.version}: ${torchGroups.join(', ')} (load ${load()})`);
    try {
      torch = await jsonLines(torchPy.py, [path.join(repoRoot, 'bench/baselines/torch_alexnet.py'), '--threads', String(THREADS), '--reps', String(REPS), '--only', torchGroups.join(',')], 8 * 60_000);
    } catch (e) {
      log(`[bench] PyTorch failed: ${(e as Error).message}`);
    }
  }
  const torchNote = torchPy ? '' : `; ${TORCH_HINT}`;
  const loadNote = `load ${load()}`;

  if (need('infer')) {
    for (const n of [1, 32]) {
      const o = pick(ours, 'ours_infer', n);
      // ONNX Runtime on the fixture given our 227 input (equal work: see ort_alexnet.mjs); the zoo's
      // own 224 input, ~11% less convolution work, in the notes
      const b = ort.find((f) => f.name === 'ort_infer' && f.batch === n && f.input === 227);
      const b224 = ort.find((f) => f.name === 'ort_infer' && f.batch === n && f.input === 224);
      const rounds = n === 1 && b1Ours.length > 1;
      const roundsNote = rounds
        ? `; medians of ${b1Ours.length} runs alternating with ONNX Runtime (ours ${b1Ours.map(round).join(', ')}; ORT ${b1Ort.map(round).join(', ')}; paired ratios ${b1Ours.map((x, i) => (x / b1Ort[i]).toFixed(2)).join(', ')})`
        : '';
      compare(
        `inference batch ${n} (BVLC AlexNet, 1000 classes)`,
        rounds ? median(b1Ours) : val(o),
        rounds ? median(b1Ort) : val(b),
        'images/s',
        `baseline ONNX Runtime ${String(b?.ort ?? '')} ${THREADS} threads on the fixture at 227 input as ours (at the zoo's 224: ${fmt(val(b224))}); PyTorch ${fmt(val(pick(torch, 'torch_infer', n)))}${cpuNote(o, b)}${roundsNote}; ${loadNote}`,
      );
    }
    const e = pick(ours, 'ours_infer_eager', 1);
    const b1 = ort.find((f) => f.name === 'ort_infer' && f.batch === 1 && f.input === 227);
    if (e !== undefined)
      compare(
        'inference batch 1, op by op (ALEXNET_GRAPH=0, as before ml/graph.ts)',
        val(e),
        val(b1),
        'images/s',
        `the rows above run the network as one TensorFlow graph (ml/graph.ts); baseline as above${cpuNote(e, b1)}; ${loadNote}`,
      );
  }
  if (need('train')) {
    const o = pick(ours, 'ours_train_step');
    const b = pick(torch, 'torch_train_step');
    compare('training step batch 32 (full network)', val(o), val(b), 'images/s', `both: forward with dropout, cross-entropy, all grads, SGD m0.9 wd5e-4, 227 input, 1000 classes; baseline PyTorch${cpuNote(o, b)}${torchNote}; ${loadNote}`);
  }
  if (need('transfer')) {
    const b = pick(torch, 'torch_transfer_step');
    const oa = pick(ours, 'ours_transfer_cached');
    compare('transfer step batch 32 (our recipe: fc6-fc8 on cached pool5)', val(oa), val(b), 'images/s', `ours: no conv, fc6-fc8 fwd+bwd+SGD on [32,9216] cached features; PyTorch: images through frozen conv1-5 every step, fc6-fc8 trained${cpuNote(oa, b)}${torchNote}`);
    const ob = pick(ours, 'ours_transfer_frozen_conv');
    compare('transfer step batch 32 (same work: frozen conv from images)', val(ob), val(b), 'images/s', `both: images through frozen conv1-5, grads + SGD for fc6-fc8 only${cpuNote(ob, b)}${torchNote}; ${loadNote}`);
  }
  if (need('bfc')) {
    // TF_CPU_ALLOCATOR_USE_BFC=true: TensorFlow keeps freed CPU buffers in a pool (best-fit with
    // coalescing) instead of returning them to the OS, so the 150 MB temporaries of fc6's SGD update
    // stop costing fresh page faults every step.
    log(`[bench] ours with TF_CPU_ALLOCATOR_USE_BFC=true: train, transfer, memory (load ${load()})`);
    const env = { ...process.env, TF_CPU_ALLOCATOR_USE_BFC: 'true' };
    let bfc: Fig[] = [];
    try {
      bfc = await tsx('engine.ts', ['--groups', 'train,transfer', '--reps', String(REPS)], 8 * 60_000, env);
      bfc.push(...(await tsx('engine.ts', ['--groups', 'memory'], 5 * 60_000, env)));
    } catch (e) {
      log(`[bench] bfc failed: ${(e as Error).message}`);
    }
    engineRanOn(bfc);
    const tt = pick(torch, 'torch_train_step');
    const tr = pick(torch, 'torch_transfer_step');
    const o1 = pick(bfc, 'ours_train_step');
    const o2 = pick(bfc, 'ours_transfer_cached');
    compare('training step batch 32, TF_CPU_ALLOCATOR_USE_BFC=true', val(o1), val(tt), 'images/s', `as the training row, TensorFlow's pooling allocator${cpuNote(o1, tt)}; ${loadNote}`);
    compare('transfer step batch 32 (cached pool5), TF_CPU_ALLOCATOR_USE_BFC=true', val(o2), val(tr), 'images/s', `as the cached transfer row, TensorFlow's pooling allocator${cpuNote(o2, tr)}`);
    compare('peak memory (RSS) training batch 32, TF_CPU_ALLOCATOR_USE_BFC=true', val(pick(bfc, 'ours_train_memory')), val(pick(torch, 'torch_train_memory')), 'MB', 'ratio = PyTorch RSS / ours', true);
  }
  if (need('memory')) {
    log(`[bench] ours: peak RSS of training at batch 32, own process (load ${load()})`);
    let mem: Fig[] = [];
    try {
      mem = await tsx('engine.ts', ['--groups', 'memory'], 5 * 60_000);
    } catch (e) {
      log(`[bench] memory failed: ${(e as Error).message}`);
    }
    engineRanOn(mem);
    compare('peak memory (RSS) training batch 32', val(pick(mem, 'ours_train_memory')), val(pick(torch, 'torch_train_memory')), 'MB', `ratio = PyTorch RSS / ours; each in its own process after 4 (ours) / 7+2 (PyTorch) steps${torchNote}`, true);
  }

  // -- the data pipeline (decode + resize + augment) against what a training step consumes
  if (need('decode') || need('data')) {
    log(`[bench] data pipeline on the real photos (load ${load()})`);
    try {
      const { benchData } = await import('./data');
      const data = await benchData({ maxImages: quick ? 40 : undefined, log: json ? undefined : (l) => log(`  ${l}`) });
      const step = val(pick(ours, 'ours_train_step'));
      for (const r of data) {
        const isCold = r.name.includes('cold');
        if (isCold && need('decode')) {
          compare('decode+resize+augment (cold, real photos) vs training step', r.ours, step, r.unit, `${r.name}; ratio = decode images/s / full training step images/s at batch 32 (goal >= 2); ${loadNote}`);
        } else if (!isCold && need('data')) {
          // (only the cold row carries 'decode' in its name: the issue's row)
          addRow({ name: r.name.replace('decode+resize', 'read+resize'), ours: r.ours, baseline: null, ratio: null, unit: r.unit, notes: 'no baseline' });
        }
      }
    } catch (e) {
      log(`[bench] data failed: ${(e as Error).message}`);
    }
  }

  if (need('gpu')) await gpuGroup(torchPy);

  // -- one-click fine-tune vs PyTorch's transfer-learning tutorial
  if (need('finetune')) {
    const ourEpochs = FT_HEAD === undefined && FT_EPOCHS === undefined ? "the recipe's default epochs" : `${FT_HEAD ?? 3} head + ${FT_EPOCHS ?? 10} fc6-fc8 epochs`;
    log(`[bench] fine-tune: ours, first run and re-run (${ourEpochs}; load ${load()})`);
    let ft: Fig[] = [];
    try {
      const args = [...(FT_HEAD === undefined ? [] : ['--head-epochs', String(FT_HEAD)]), ...(FT_EPOCHS === undefined ? [] : ['--epochs', String(FT_EPOCHS)])];
      ft = await tsx('finetune.ts', args, 8 * 60_000);
    } catch (e) {
      log(`[bench] fine-tune (ours) failed: ${(e as Error).message}`);
    }
    const first = ft.find((f) => f.run === 'first');
    const rerun = ft.find((f) => f.run === 'rerun');
    if (typeof first?.backend === 'string') ranOn(first.backend);
    const nFirst = typeof first?.epochs === 'number' ? first.epochs : 0;
    const nRerun = typeof rerun?.epochs === 'number' ? rerun.epochs : nFirst;
    const torchEpochs = FT_FULL ? Math.max(nFirst, nRerun, 1) : Math.max(1, Math.min(FT_TORCH_EPOCHS, Math.max(nFirst, 1)));
    let tb: Fig | undefined;
    let tbWhy = '';
    if (torchPy) {
      log(`[bench] fine-tune: PyTorch tutorial recipe, ${torchEpochs} epochs (load ${load()})`);
      try {
        const npz = await fixtureNpz();
        const r = await jsonLines(torchPy.py, [path.join(repoRoot, 'bench/baselines/torch_finetune.py'), '--weights', npz, '--data', path.resolve(repoRoot, '../shared/datasets/hymenoptera'), '--epochs', String(torchEpochs), '--threads', String(THREADS), '--workers', String(THREADS)], 9 * 60_000);
        tb = r.find((f) => f.name === 'torch_finetune');
      } catch (e) {
        tbWhy = `; PyTorch failed: ${(e as Error).message}`;
        log(`[bench] fine-tune (PyTorch) failed: ${(e as Error).message}`);
      }
    } else tbWhy = `; ${TORCH_HINT}`;
    // PyTorch's wall time for `n` epochs: measured when it ran them all, else its measured seconds
    // per epoch times n (every tutorial epoch runs the same photos through the same network)
    const torchWall = (n: number): number | null => {
      const w = val(tb);
      if (w === null || !tb) return null;
      const ran = typeof tb.epochs === 'number' ? tb.epochs : torchEpochs;
      return ran === n ? w : Math.round((w / ran) * n * 10) / 10;
    };
    const torchHow = (n: number): string => {
      if (!tb) return 'PyTorch not run';
      const ran = typeof tb.epochs === 'number' ? tb.epochs : torchEpochs;
      const per = Array.isArray(tb.epoch_s) ? (tb.epoch_s as number[]).join(', ') : '?';
      return ran === n
        ? `PyTorch ran the same ${n} epochs (s each: ${per})`
        : `PyTorch: ${ran} epochs measured (s each: ${per}), scaled to our ${n} (--ft-full runs them all)`;
    };
    const acc = (f: Fig | undefined): string => (f && typeof f.bestValAcc === 'number' ? f.bestValAcc.toFixed(3) : 'n/a');
    const ours = (f: Fig | undefined): string =>
      `ours ${String(f?.epochs ?? '?')} epochs (3 head + fc6-fc8, early stopping) + ${String(f?.lrFindEpochs ?? 5)} one-epoch LR trials on cached features`;
    const accNote = `best val acc ours ${acc(first)}/${acc(rerun)} vs PyTorch ${acc(tb)} after ${String(tb?.epochs ?? '?')} epochs (random fixture weights: both near chance, 0.5)`;
    compare('fine-tune hymenoptera, first run (wall)', val(first), torchWall(nFirst), 's', `ratio = PyTorch wall / ours (goal >= 3), same epoch count; ${ours(first)}; ${torchHow(nFirst)}, batch 4, fc8 only; ${accNote}; ours decoded ${String(first?.decodes ?? '?')} photos, ${String(first?.forwardRows ?? '?')} views through conv${tbWhy}; ${loadNote}`, true);
    compare('fine-tune hymenoptera, re-run (wall)', val(rerun), torchWall(nRerun), 's', `same recipe, feature cache on disk (${String(rerun?.decodes ?? '?')} decodes); ${ours(rerun)}; ${torchHow(nRerun)}: its re-run costs its first run's time again${tbWhy}`, true);
  }

  // -- library and renderer
  if (need('db')) {
    log(`[bench] library grid queries at 100,000 photos (load ${load()})`);
    try {
      const { benchDb } = await import('./db');
      for (const r of await benchDb()) {
        // the 50 ms goal is the grid's (pages, filters, counts); bulk writes and the build have none
        const isMs = r.unit === 'ms' && /page|filter|count/.test(r.name);
        compare(`db: ${r.name.replace(/^db: /, '')}`, r.ours, isMs ? GOAL_DB_MS : null, r.unit, isMs ? `baseline = issue 4's ${GOAL_DB_MS} ms goal; ratio = ${GOAL_DB_MS} / ours` : 'no baseline', true);
      }
    } catch (e) {
      log(`[bench] db failed: ${(e as Error).message}`);
    }
  }
  if (need('grid')) {
    const gridFile = path.join(repoRoot, 'bench', 'grid.ts');
    if (!existsSync(gridFile)) log('[bench] grid: skipped (bench/grid.ts is not there yet)');
    else {
      log(`[bench] renderer grid (load ${load()})`);
      try {
        const mod = (await import(pathToFileURL(gridFile).href)) as { benchGrid?: () => Promise<{ name: string; ours: number; unit: string }[]> };
        if (typeof mod.benchGrid !== 'function') log('[bench] grid: skipped (bench/grid.ts exports no benchGrid())');
        else for (const r of await mod.benchGrid()) addRow({ name: r.name.startsWith('grid') ? r.name : `grid: ${r.name}`, ours: r.ours, baseline: null, ratio: null, unit: r.unit, notes: 'no baseline' });
      } catch (e) {
        log(`[bench] grid: skipped (${(e as Error).message.split('\n')[0]})`);
      }
    }
  }

  // -- where our time goes: per-kernel milliseconds of one inference and one training step
  if (need('profile')) {
    log(`[bench] profile: one inference and one training step at batch 32, per kernel (load ${load()})`);
    try {
      const prof = await tsx('engine.ts', ['--groups', 'profile'], 5 * 60_000);
      engineRanOn(prof);
      for (const p of prof.filter((f) => f.name.startsWith('profile_'))) {
        const kernels = (p.kernels ?? {}) as Record<string, number>;
        const total = p.value;
        const lrnMs = (kernels.LRN ?? 0) + (kernels.LRNGrad ?? 0);
        const top = Object.entries(kernels)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 8)
          .map(([k, ms]) => `${k} ${Math.round(ms)} (${((100 * ms) / total).toFixed(0)}%)`)
          .join(', ');
        const what = p.name === 'profile_infer' ? 'inference' : p.name === 'profile_train' ? 'training step' : 'cached transfer step (fc6-fc8)';
        const notes = `kernels ${total} ms (wall ${String(p.wall_ms)} ms): ${top}`;
        if (p.name === 'profile_transfer') addRow({ name: `profile: ${what} batch 32, kernel time`, ours: total, baseline: null, ratio: null, unit: 'ms', notes });
        else addRow({ name: `profile: LRN share of ${what} batch 32`, ours: round((100 * lrnMs) / Math.max(total, 1e-9)), baseline: null, ratio: null, unit: '%', notes });
      }
    } catch (e) {
      log(`[bench] profile failed: ${(e as Error).message}`);
    }
  }

  const seconds = (performance.now() - t0) / 1000;
  if (json) {
    console.log(JSON.stringify({ name: 'footer', ours: null, baseline: null, ratio: null, unit: '', type: 'footer', seconds: Math.round(seconds), load: load(), backends: [...backends.values()] }));
    return;
  }
  printTable(header, seconds);
}

function printTable(header: Record<string, unknown>, seconds: number): void {
  const lines: string[] = [];
  lines.push(`AlexNet Studio benchmark${backends.size === 0 ? '' : `: backend${backends.size > 1 ? 's' : ''} ${backendWords()}`}`);
  lines.push(`${String(header.cores)} cores (${String(header.cpu)}); threads: ${String(header.threads)}`);
  lines.push(`PyTorch: ${String(header.torch)}; load average at start ${String(header.load)}, at end ${load()}; ${Math.round(seconds)} s${quick ? ' (--quick)' : ''}`);
  const cols = ['name', 'ours', 'baseline', 'ratio', 'unit', 'notes'] as const;
  const cells = rows.map((r) => [r.name, fmt(r.ours), fmt(r.baseline), fmt(r.ratio), r.unit, r.notes]);
  const width = cols.map((c, i) => (i === 5 ? 0 : Math.max(c.length, ...cells.map((row) => row[i].length))));
  const line = (row: readonly string[]): string => row.map((c, i) => (i === 5 ? c : i === 0 || i === 4 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ');
  lines.push('', line(cols), line(width.map((w) => '-'.repeat(Math.max(w, 5)))));
  for (const row of cells) lines.push(line(row));
  console.log(lines.join('\n'));
}

// -------------------------------------------------------------------------------------------------
// gpu: our webgpu engine (a hardware adapter only: bench/gpu.ts refuses a software one) against
// PyTorch CUDA on the same GPU, same model and batch. Equal work: PyTorch fp32 with TF32 off; its
// TF32 and bf16-autocast figures go in the notes, with our CPU backend on the same machine (batch 32,
// bench/engine.ts). Goals (issue 14): webgpu >= 0.5x PyTorch fp32 on the batch-128 rows, >= 10x our
// CPU backend, the one-click fine-tune's first run under 10 s.

// --gpu-software: a smoke run of the whole group where only a software adapter exists (SwiftShader):
// gpu.ts gets --allow-software --tiny, every row says SOFTWARE, and none of its figures is a speed.
async function gpuGroup(torchPy: { py: string; version: string } | null): Promise<void> {
  const batch = count('gpu-batch', 128);
  const software = values['gpu-software'] ?? false;
  const gpuArgs = ['--batch', String(batch), '--reps', String(REPS), ...(software ? ['--allow-software', '--tiny'] : [])];
  log(`[bench] gpu: ours on webgpu, batch ${batch}${software ? ' (--gpu-software: software adapter allowed, TINY_CONFIG; no speed)' : ''} (load ${load()})`);
  let ours: Fig[] = [];
  try {
    ours = await tsx('gpu.ts', gpuArgs, 10 * 60_000);
  } catch (e) {
    log(`[bench] gpu: ours not measured: ${(e as Error).message}`);
  }
  // the same with TF.js's own webgpu kernels only (ALEXNET_WEBGPU_KERNELS=0): what ours change
  let stock: Fig[] = [];
  if (ours.length > 0) {
    log(`[bench] gpu: ours with TF.js's kernels only (load ${load()})`);
    try {
      stock = await tsx('gpu.ts', gpuArgs, 10 * 60_000, { ...process.env, ALEXNET_WEBGPU_KERNELS: '0' });
    } catch (e) {
      log(`[bench] gpu: ours (TF.js's kernels) failed: ${(e as Error).message}`);
    }
  }
  // our other convolution programs (ml/kernels/webgpu/names.ts): naive, one output per invocation;
  // tiled-all, the tiled programs for conv1 and conv3 too (the default tiles the grouped layers only)
  const variants: Partial<Record<'naive' | 'tiled-all', Fig[]>> = {};
  if (ours.length > 0) {
    for (const [k, env] of [['naive', { ALEXNET_WEBGPU_TILED: '0' }], ['tiled-all', { ALEXNET_WEBGPU_TILED: 'all' }]] as const) {
      log(`[bench] gpu: ours with the ${k} convolution programs (load ${load()})`);
      try {
        variants[k] = await tsx('gpu.ts', gpuArgs, 10 * 60_000, { ...process.env, ...env });
      } catch (e) {
        log(`[bench] gpu: ours (${k}) failed: ${(e as Error).message}`);
      }
    }
  }
  const cuda = torchPy !== null && spawnSync(torchPy.py, ['-c', 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)']).status === 0;
  if (!cuda) log(`[bench] gpu: PyTorch CUDA rows n/a: ${torchPy ? `${torchPy.py} (torch ${torchPy.version}) sees no CUDA device` : TORCH_HINT}`);
  const torch: Partial<Record<'fp32' | 'tf32' | 'bf16', Fig[]>> = {};
  if (cuda && torchPy) {
    for (const precision of ['fp32', 'tf32', 'bf16'] as const) {
      log(`[bench] gpu: PyTorch CUDA ${precision} (load ${load()})`);
      try {
        torch[precision] = await jsonLines(torchPy.py, [path.join(repoRoot, 'bench/baselines/torch_alexnet.py'), '--device', 'cuda', '--precision', precision, '--batch', String(batch), '--reps', String(REPS), '--only', 'train,cached,infer'], 10 * 60_000);
      } catch (e) {
        log(`[bench] gpu: PyTorch ${precision} failed: ${(e as Error).message}`);
      }
    }
  }
  if (ours.length === 0 && !cuda) {
    log('[bench] gpu: no hardware WebGPU adapter and no CUDA here: group skipped (a software adapter is never measured)');
    return;
  }
  // our CPU backend: tfjs-node; where it is not installed (the GPU kit carries it apart: bench/README.md
  // ("On a GPU machine")), the wasm backend, and the rows name which one ran
  let cpu: Fig[] = [];
  for (const backend of ['tensorflow', 'wasm']) {
    log(`[bench] gpu: our CPU backend (${backend}) on the same machine (load ${load()})`);
    try {
      cpu = await tsx('engine.ts', ['--groups', 'infer,train,transfer', '--reps', String(REPS)], 8 * 60_000, { ...process.env, ALEXNET_BACKEND: backend });
      break;
    } catch (e) {
      log(`[bench] gpu: our CPU backend (${backend}) failed: ${(e as Error).message}`);
    }
  }
  const cpuInfo = pick(cpu, 'backend');
  const cpuBackend = cpuInfo ? `${String(cpuInfo.backend)}, ${cpuInfo.value} threads` : 'n/a';
  const dev = pick(ours, 'backend');
  const adapter = dev?.adapter as { vendor?: string; architecture?: string; description?: string } | undefined;
  const named = adapter ? `webgpu on ${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' ')}` : 'webgpu not measured';
  const device = dev?.software === true ? `SOFTWARE ADAPTER, smoke run, not a speed (--gpu-software, TINY_CONFIG): ${named}` : named;
  if (dev) ranOn('webgpu', dev.software === true ? `${named} (software adapter)` : named);
  const gpuName = String(pick(torch.fp32 ?? [], 'torch_infer')?.gpu ?? 'n/a');
  const t = (p: 'fp32' | 'tf32' | 'bf16', name: string, b?: number): number | null => val(pick(torch[p] ?? [], name, b));
  const rows: [string, string, string, number, string][] = [
    [`gpu inference batch 1`, 'ours_gpu_infer', 'torch_infer', 1, 'ours_infer'],
    [`gpu inference batch ${batch}`, 'ours_gpu_infer', 'torch_infer', batch, 'ours_infer'],
    [`gpu training step batch ${batch}`, 'ours_gpu_train_step', 'torch_train_step', batch, 'ours_train_step'],
    [`gpu cached transfer step batch ${batch}`, 'ours_gpu_cached_step', 'torch_cached_step', batch, 'ours_transfer_cached'],
  ];
  for (const [title, o, b, n, c] of rows) {
    const cpuBatch = c === 'ours_infer' && n === 1 ? 1 : 32; // engine.ts measures at 1 and 32
    const ourCpu = val(pick(cpu, c, cpuBatch));
    const mine = val(pick(ours, o, n));
    const vsCpu = mine !== null && ourCpu !== null && ourCpu > 0 ? `${(mine / ourCpu).toFixed(1)}x our CPU backend (${cpuBackend}: ${fmt(ourCpu)} images/s, batch ${cpuBatch})` : `our CPU backend (${cpuBackend}) ${fmt(ourCpu)}`;
    const plain = `TF.js's kernels only (ALEXNET_WEBGPU_KERNELS=0) ${fmt(val(pick(stock, o, n)))}, our naive programs ${fmt(val(pick(variants.naive ?? [], o, n)))}, tiled for every conv ${fmt(val(pick(variants['tiled-all'] ?? [], o, n)))}`;
    compare(title, mine, t('fp32', b, n), 'images/s', `${device}; ${plain}; baseline PyTorch ${torchPy?.version ?? 'n/a'} CUDA fp32, TF32 off, on ${gpuName} (TF32 ${fmt(t('tf32', b, n))}, bf16 autocast ${fmt(t('bf16', b, n))}); ${vsCpu}`);
  }
  log(`[bench] gpu: the one-click fine-tune on webgpu (load ${load()})`);
  try {
    const args = [...(FT_HEAD === undefined ? [] : ['--head-epochs', String(FT_HEAD)]), ...(FT_EPOCHS === undefined ? [] : ['--epochs', String(FT_EPOCHS)])];
    const ft = await tsx('finetune.ts', args, 8 * 60_000, { ...process.env, ALEXNET_BACKEND: 'webgpu' });
    const first = ft.find((f) => f.run === 'first');
    const epochs = args.length === 0 ? "the recipe's default epochs" : `${FT_HEAD ?? 3} head + ${FT_EPOCHS ?? 10} fc6-fc8 epochs`;
    const photos = process.env.ALEXNET_BENCH_HYMENOPTERA ? `; photos from ${process.env.ALEXNET_BENCH_HYMENOPTERA} (the GPU kit's re-encoded copies decode faster: bench/README.md)` : '';
    compare('gpu fine-tune hymenoptera, first run (wall)', val(first), 10, 's', `${device}; baseline: the goal, 10 s (ratio = 10 s / ours); ${epochs}${photos}`, true);
  } catch (e) {
    log(`[bench] gpu: fine-tune failed: ${(e as Error).message}`);
  }
}

await main();
