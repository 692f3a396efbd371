#!/usr/bin/env node
// Set up the native TensorFlow backend (@tensorflow/tfjs-node, optionally -gpu) for AlexNet Studio.
//
// Runs as the root package's postinstall (npm ci) and by hand:
//   node scripts/setup-native.mjs            set up if needed (idempotent; ~1 s when already done)
//   node scripts/setup-native.mjs --force    rebuild even if the native backend already loads
//   node scripts/setup-native.mjs --check    only report the state; exit 0 if native loads, else 1
//   add --json for one machine-readable JSON line instead of the text report.
//
// Order of attempts for each package (tfjs-node-gpu first when wanted, then tfjs-node):
//   (a) the addon is already built and loads in a child process            -> done
//   (b) the package's own install script (downloads libtensorflow 2.9.1 + a prebuilt addon from
//       Google's storage; the normal path on users' machines), under a stall/hard timeout
//   (c) a local TensorFlow (tfjs-node only): ALEXNET_TF_DIR, the wheel ALEXNET_TF_WHEEL, a
//       pip-installed Python tensorflow / tensorflow-cpu, a cached wheel, or `pip download
//       tensorflow-cpu==2.21.0`; its libtensorflow_cc.so.2 exports the TF C API the binding calls.
//       We place its libraries and C headers in the package's deps/ and build the addon with node-gyp.
//   (d) otherwise: one paragraph saying the app will use the (slower) wasm backend and how to fix it.
//
// It never fails the install (exit 0) unless ALEXNET_REQUIRE_NATIVE=1 (CI), where no working native
// backend is exit 1. Plain Node ESM, no dependencies: it runs before anything is built.
//
// Environment:
//   ALEXNET_REQUIRE_NATIVE=1   exit 1 when no native backend works (CI)
//   ALEXNET_SKIP_NATIVE=1      do nothing (e.g. packaging for another platform)
//   ALEXNET_GPU=1 | 0          force / forbid the tfjs-node-gpu attempt (default: when an NVIDIA GPU is seen)
//   ALEXNET_NATIVE_NO_DOWNLOAD=1  skip step (b)
//   ALEXNET_TF_DIR=DIR         a TensorFlow folder: a Python `tensorflow` package dir or a libtensorflow tarball
//   ALEXNET_TF_WHEEL=FILE      a TensorFlow wheel (.whl) to take the libraries from
//   ALEXNET_TF_PIP_SPEC=SPEC   what `pip download` fetches (default tensorflow-cpu==2.21.0)
//   ALEXNET_NATIVE_CACHE=DIR   where fetched wheels are kept (default $XDG_CACHE_HOME or ~/.cache, /alexnet-studio/native)
//   ALEXNET_NATIVE_TIMEOUT_S=N hard limit per step in seconds (default 600; a step with no progress for 90 s is stopped too)

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const env = process.env;
const CHECK = args.has('--check'); // report only, change nothing
const FORCE = args.has('--force'); // rebuild even when the addon already loads
const JSON_OUT = args.has('--json'); // one JSON line instead of text
const REQUIRE = env.ALEXNET_REQUIRE_NATIVE === '1'; // CI: a broken native setup must be loud
const HARD_TIMEOUT_MS = Number(env.ALEXNET_NATIVE_TIMEOUT_S || 600) * 1000; // per step
const STALL_MS = 90_000; // a step whose output and files have not changed for this long is stopped
const PROBE_TIMEOUT_MS = 60_000; // loading TensorFlow + one conv in a child process
const PIP_SPEC = env.ALEXNET_TF_PIP_SPEC || 'tensorflow-cpu==2.21.0'; // TF 2.21's C API works with tfjs-node 4.22
const CACHE_DIR = env.ALEXNET_NATIVE_CACHE ||
  path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'alexnet-studio', 'native');
const MARKER = '.alexnet-native.json'; // written into the package's deps/ after a successful setup

// Header files the binding needs, as prefixes inside a TF include/ dir (c_api.h, eager/c_api.h and
// what they include: tf_tstring.h -> core/platform/ctstring*.h -> tsl/platform/ctstring*.h, tsl_status.h).
const HEADER_PREFIXES = ['tensorflow/c/', 'tensorflow/core/platform/ctstring', 'tsl/platform/ctstring', 'xla/tsl/c/'];

const lines = []; // the short report
const say = (s) => { lines.push(s); if (!JSON_OUT) console.log(`[native] ${s}`); };

// ---------------------------------------------------------------------------------------------
// Packages and probing

const rootRequire = createRequire(path.join(ROOT, 'package.json'));

/** @returns {{name: string, dir: string, pkg: any, modulePath: string, napi: number} | null} */
function findPackage(name) {
  let pj;
  try { pj = rootRequire.resolve(`${name}/package.json`); } catch { return null; }
  const dir = path.dirname(pj);
  const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
  // Same choice as node-pre-gyp's binary.find: the highest N-API version the package lists that this
  // Node supports (Node 20: 9 -> the package's 8, so lib/napi-v8).
  const have = Number(process.versions.napi);
  const napi = Math.max(...pkg.binary.napi_versions.filter((v) => v <= have));
  const modulePath = path.resolve(dir, pkg.binary.module_path.replace('{napi_build_version}', String(napi)));
  return { name, dir, pkg, modulePath, napi };
}

/** Load the package in a fresh Node and run one conv2d; returns {ok, tfVersion?, error?}. */
function probe(p) {
  const addon = path.join(p.modulePath, 'tfjs_binding.node');
  if (!fs.existsSync(addon)) return { ok: false, error: `addon not built (${path.relative(ROOT, addon)} missing)` };
  const code = `
    const tf = require(${JSON.stringify(p.dir)});
    const x = tf.ones([1, 5, 5, 2]), w = tf.ones([3, 3, 2, 4]);
    const y = tf.conv2d(x, w, 1, 'valid').dataSync();
    if (tf.getBackend() !== 'tensorflow' || y[0] !== 18) throw new Error('bad result ' + tf.getBackend() + ' ' + y[0]);
    console.log(JSON.stringify({ tfVersion: tf.backend().binding.TF_Version }));`;
  const r = spawnSync(process.execPath, ['-e', code], {
    encoding: 'utf8', timeout: PROBE_TIMEOUT_MS, env: { ...env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  if (r.status === 0) {
    try { return { ok: true, ...JSON.parse(r.stdout.trim().split('\n').pop()) }; } catch { /* fall through */ }
  }
  const text = (r.error?.message || r.stderr || r.stdout || '').trim().split('\n');
  const err = text.find((l) => /^\s*\w*Error\b/.test(l)) || text.find((l) => /cannot|not found|No such/i.test(l)) || text[0] || `exit ${r.status}`;
  return { ok: false, error: err.trim().slice(0, 300) };
}

function readMarker(p) {
  try { return JSON.parse(fs.readFileSync(path.join(p.dir, 'deps', MARKER), 'utf8')); } catch { return null; }
}
function writeMarker(p, source, tfVersion) {
  fs.mkdirSync(path.join(p.dir, 'deps'), { recursive: true });
  fs.writeFileSync(path.join(p.dir, 'deps', MARKER),
    JSON.stringify({ source, tfVersion, napi: p.napi, node: process.version, at: new Date().toISOString() }, null, 2) + '\n');
}

function nvidiaGpuSeen() {
  if (os.platform() !== 'linux' && os.platform() !== 'win32') return false;
  if (fs.existsSync('/proc/driver/nvidia/version')) return true;
  const r = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 && /GPU \d/.test(r.stdout || '');
}

// ---------------------------------------------------------------------------------------------
// Running steps with a watchdog

function dirSize(d) {
  let n = 0;
  const walk = (x) => {
    let st; try { st = fs.lstatSync(x); } catch { return; }
    if (st.isDirectory()) { for (const e of fs.readdirSync(x)) walk(path.join(x, e)); } else n += st.size;
  };
  walk(d);
  return n;
}

/**
 * Run a command; stop it after HARD_TIMEOUT_MS, or after STALL_MS with neither output nor a change in
 * the size of `watch` dirs. Resolves {ok, out, why}.
 */
function runStep(cmd, argv, { cwd, extraEnv = {}, watch = [] } = {}) {
  return new Promise((resolve) => {
    let out = '', last = Date.now(), lastSize = -1, done = false;
    const child = spawn(cmd, argv, { cwd, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: os.platform() !== 'win32' });
    const onData = (b) => { out = (out + b.toString()).slice(-20_000); last = Date.now(); };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const start = Date.now();
    const kill = (why) => {
      if (done) return;
      done = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { try { child.kill('SIGKILL'); } catch { /* gone */ } }
      clearInterval(timer);
      resolve({ ok: false, out, why });
    };
    const timer = setInterval(() => {
      const size = watch.reduce((s, d) => s + dirSize(d), 0);
      if (size !== lastSize) { lastSize = size; last = Date.now(); }
      if (Date.now() - start > HARD_TIMEOUT_MS) kill(`timed out after ${HARD_TIMEOUT_MS / 1000} s`);
      else if (Date.now() - last > STALL_MS) kill(`no progress for ${STALL_MS / 1000} s`);
    }, 2000);
    child.on('error', (e) => { if (!done) { done = true; clearInterval(timer); resolve({ ok: false, out, why: e.message }); } });
    child.on('close', (code) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      resolve({ ok: code === 0, out, why: code === 0 ? '' : `exit ${code}` });
    });
  });
}

const lastLine = (s) => {
  const ls = (s || '').trim().split('\n').map((l) => l.trim());
  return ls.filter((l) => /^\w*Error\b/.test(l)).pop() || ls.filter((l) => /error|fail|cannot|No matching/i.test(l)).pop() || ls.pop() || '';
};

// ---------------------------------------------------------------------------------------------
// (b) the package's own download

async function tryOwnDownload(p, libType) {
  // install.js rewrites the package's package.json while node-pre-gyp runs and puts it back at the
  // end; if we have to stop it halfway, restore the original bytes ourselves.
  const pjPath = path.join(p.dir, 'package.json');
  const original = fs.readFileSync(pjPath);
  // node-pre-gyp is called by name (root node_modules/.bin); it finds node-gyp via npm_config_node_gyp.
  const gyp = nodeGyp();
  const PATH = [path.join(ROOT, 'node_modules', '.bin'), env.PATH || ''].join(path.delimiter);
  const nodedir = nodeDir();
  const r = await runStep(process.execPath, ['scripts/install.js', libType, 'download'], {
    cwd: p.dir,
    extraEnv: { PATH, ...(nodedir ? { npm_config_nodedir: nodedir } : {}), ...(gyp ? { npm_config_node_gyp: gyp } : {}) },
    watch: [path.join(p.dir, 'deps'), path.join(p.dir, 'lib'), path.join(p.dir, 'build')],
  });
  if (!fs.readFileSync(pjPath).equals(original)) fs.writeFileSync(pjPath, original);
  if (!r.ok) return { ok: false, error: `${r.why}: ${lastLine(r.out)}`.slice(0, 300) };
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// (c) a local TensorFlow

function nodeGypPath() {
  const cands = [];
  if (env.npm_config_node_gyp) cands.push(env.npm_config_node_gyp);
  try { cands.push(rootRequire.resolve('node-gyp/bin/node-gyp.js')); } catch { /* not a direct dep */ }
  if (env.npm_execpath) cands.push(path.join(path.dirname(path.dirname(env.npm_execpath)), 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const prefix = path.dirname(path.dirname(process.execPath));
  cands.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  cands.push(path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const r = spawnSync('npm', ['prefix', '-g'], { encoding: 'utf8', timeout: 15_000 });
  if (r.status === 0) cands.push(path.join(r.stdout.trim(), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return cands.find((c) => c && fs.existsSync(c)) || null;
}
let _nodeGyp; // memo
const nodeGyp = () => (_nodeGyp === undefined ? (_nodeGyp = nodeGypPath()) : _nodeGyp);

/** Node's headers, if they are on disk (else node-gyp downloads them). */
function nodeDir() {
  const cands = [env.npm_config_nodedir, path.dirname(path.dirname(process.execPath))];
  return cands.find((d) => d && fs.existsSync(path.join(d, 'include', 'node', 'node_api.h'))) || null;
}

/** Python 3 interpreters on this machine, each with whether it has pip (first found first). */
function pythons() {
  const seen = new Set(), out = [];
  for (const py of [env.PYTHON, 'python3', 'python', '/usr/bin/python3', '/usr/local/bin/python3']) {
    if (!py) continue;
    const r = spawnSync(py, ['-c', 'import sys, importlib.util as u; print(sys.version_info[0], sys.executable, bool(u.find_spec("pip")))'],
      { encoding: 'utf8', timeout: 15_000 });
    const [major, exe, pip] = r.status === 0 ? r.stdout.trim().split(' ') : [];
    if (major !== '3' || seen.has(exe)) continue;
    seen.add(exe);
    out.push({ py: exe, pip: pip === 'True' });
  }
  return out;
}

/** Where a TF folder keeps what we need: {cc, framework, include} or null. */
function tfLayout(dir) {
  const inc = path.join(dir, 'include');
  if (!fs.existsSync(path.join(inc, 'tensorflow', 'c', 'c_api.h'))) return null;
  // Python package: <dir>/libtensorflow_cc.so.2; libtensorflow C tarball: <dir>/lib/libtensorflow.so.2.
  for (const [cc, fw] of [['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'], ['lib/libtensorflow.so.2', 'lib/libtensorflow_framework.so.2']]) {
    if (fs.existsSync(path.join(dir, cc)) && fs.existsSync(path.join(dir, fw))) {
      return { cc: path.join(dir, cc), framework: path.join(dir, fw), include: inc };
    }
  }
  return null;
}

function pythonTensorflowDir(pys) {
  for (const { py } of pys) {
    // find_spec, not import: importing tensorflow takes seconds and prints a lot.
    const r = spawnSync(py, ['-c', "import importlib.util as u, os; s = u.find_spec('tensorflow'); print(os.path.dirname(s.origin) if s and s.origin else '')"],
      { encoding: 'utf8', timeout: 30_000 });
    const d = r.status === 0 ? r.stdout.trim() : '';
    if (d && tfLayout(d)) return d;
  }
  return null;
}

/** Fresh deps/ with lib/ and include/. */
function cleanDeps(p) {
  const deps = path.join(p.dir, 'deps');
  fs.rmSync(deps, { recursive: true, force: true });
  fs.mkdirSync(path.join(deps, 'lib'), { recursive: true });
  return deps;
}

/** The names the binding links (-ltensorflow -ltensorflow_framework) and loads (the real sonames). */
function linkAliases(libDir, ccName) {
  const alias = (name, target) => { if (name !== target) { fs.rmSync(path.join(libDir, name), { force: true }); fs.symlinkSync(target, path.join(libDir, name)); } };
  alias('libtensorflow.so', ccName);
  alias('libtensorflow.so.2', ccName);
  alias('libtensorflow_framework.so', 'libtensorflow_framework.so.2');
}

/** Stage from a TF folder by symlinks (nothing is copied; the folder must stay). */
function stageFromDir(p, dir) {
  const lay = tfLayout(dir);
  const deps = cleanDeps(p);
  const lib = path.join(deps, 'lib');
  const ccName = path.basename(lay.cc);
  fs.symlinkSync(lay.cc, path.join(lib, ccName));
  fs.symlinkSync(lay.framework, path.join(lib, 'libtensorflow_framework.so.2'));
  linkAliases(lib, ccName);
  fs.symlinkSync(lay.include, path.join(deps, 'include'));
}

/** Stage from a wheel: extract the two libraries and the C headers into deps/ (about 5 s). */
async function stageFromWheel(p, wheel, py) {
  const deps = cleanDeps(p);
  const script = `
import sys, zipfile, os, shutil
whl, deps, prefixes = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
z = zipfile.ZipFile(whl)
names = set(z.namelist())
libs = {'tensorflow/libtensorflow_cc.so.2': 'lib/libtensorflow_cc.so.2',
        'tensorflow/libtensorflow_framework.so.2': 'lib/libtensorflow_framework.so.2'}
missing = [n for n in libs if n not in names]
if missing: sys.exit('wheel lacks ' + ', '.join(missing))
todo = dict(libs)
for n in names:
    if n.startswith('tensorflow/include/') and not n.endswith('/'):
        rel = n[len('tensorflow/include/'):]
        if any(rel.startswith(x) for x in prefixes): todo[n] = 'include/' + rel
for src, dst in todo.items():
    out = os.path.join(deps, dst)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with z.open(src) as f, open(out, 'wb') as g: shutil.copyfileobj(f, g, 1 << 22)
print(len(todo))`;
  if (!py) return { ok: false, error: 'python3 is needed to unpack a wheel' };
  const r = await runStep(py, ['-c', script, wheel, deps, HEADER_PREFIXES.join(',')], { watch: [deps] });
  if (!r.ok) return { ok: false, error: `unpacking ${path.basename(wheel)}: ${lastLine(r.out)}` };
  linkAliases(path.join(deps, 'lib'), 'libtensorflow_cc.so.2');
  return { ok: true };
}

/** Build tfjs_binding.node against deps/ with node-gyp; the rpath $ORIGIN/../../deps/lib is the binding's own. */
async function buildAddon(p) {
  const gyp = nodeGyp();
  if (!gyp) return { ok: false, error: 'node-gyp not found (it ships with npm)' };
  const nodedir = nodeDir();
  fs.rmSync(path.join(p.modulePath, 'tfjs_binding.node'), { force: true });
  const r = await runStep(process.execPath, [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : []),
    '--module_name=tfjs_binding', `--module_path=${p.modulePath}`, `--napi_build_version=${p.napi}`,
    `--jobs=${Math.max(1, Math.min(2, os.cpus().length))}`], { cwd: p.dir, watch: [path.join(p.dir, 'build')] });
  if (!r.ok) return { ok: false, error: `node-gyp ${r.why}: ${lastLine(r.out)}` };
  fs.rmSync(path.join(p.dir, 'build'), { recursive: true, force: true }); // objects; the addon is in lib/
  return { ok: true };
}

function findCachedWheel() {
  try {
    return fs.readdirSync(CACHE_DIR).filter((f) => /^tensorflow(_cpu)?-.*\.whl$/.test(f)).map((f) => path.join(CACHE_DIR, f))[0] || null;
  } catch { return null; }
}

async function pipDownload(py) {
  if (!py) return { ok: false, error: 'no python3 with pip found' };
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const base = ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', '-d', CACHE_DIR, PIP_SPEC];
  let r = await runStep(py, base, { watch: [CACHE_DIR] });
  // A Python newer than the wheels: ask for the cp311 build explicitly (the C libraries are the same).
  if (!r.ok) r = await runStep(py, [...base, '--only-binary=:all:', '--python-version', '3.11'], { watch: [CACHE_DIR] });
  const w = findCachedWheel();
  if (!r.ok || !w) return { ok: false, error: `pip download ${PIP_SPEC}: ${lastLine(r.out)}` };
  return { ok: true, wheel: w };
}

/** Try the local sources in order; first one that builds and loads wins. */
async function tryLocal(p, tried) {
  if (os.platform() !== 'linux') { tried.push({ step: 'local', error: 'local TensorFlow is supported on Linux only' }); return null; }
  const pys = pythons();
  const py = pys[0]?.py ?? null; // any Python 3 unpacks a wheel
  const pipPy = pys.find((x) => x.pip)?.py ?? null; // the first one with pip downloads
  const sources = [];
  if (env.ALEXNET_TF_DIR) sources.push({ kind: 'dir', label: `ALEXNET_TF_DIR ${env.ALEXNET_TF_DIR}`, dir: env.ALEXNET_TF_DIR });
  if (env.ALEXNET_TF_WHEEL) sources.push({ kind: 'wheel', label: `ALEXNET_TF_WHEEL ${env.ALEXNET_TF_WHEEL}`, wheel: env.ALEXNET_TF_WHEEL });
  const pyDir = pythonTensorflowDir(pys);
  if (pyDir) sources.push({ kind: 'dir', label: `Python tensorflow at ${pyDir}`, dir: pyDir });
  const cached = findCachedWheel();
  if (cached) sources.push({ kind: 'wheel', label: `cached wheel ${cached}`, wheel: cached });
  sources.push({ kind: 'pip', label: `pip download ${PIP_SPEC}` });

  for (const s of sources) {
    let st;
    if (s.kind === 'dir') {
      st = tfLayout(s.dir) ? (stageFromDir(p, s.dir), { ok: true }) : { ok: false, error: 'no libtensorflow + include/tensorflow/c there' };
    } else if (s.kind === 'wheel') {
      st = fs.existsSync(s.wheel) ? await stageFromWheel(p, s.wheel, py) : { ok: false, error: 'no such file' };
    } else {
      const dl = await pipDownload(pipPy);
      st = dl.ok ? await stageFromWheel(p, dl.wheel, py) : dl;
      if (dl.ok) s.label += ` -> ${dl.wheel}`;
    }
    if (st.ok) st = await buildAddon(p);
    if (st.ok) {
      const pr = probe(p);
      if (pr.ok) { writeMarker(p, s.label, pr.tfVersion); return { source: s.label, tfVersion: pr.tfVersion }; }
      st = pr;
    }
    tried.push({ step: s.label, error: st.error });
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Main

const FALLBACK_HELP = 'The app will use the WebAssembly backend, which works everywhere but trains AlexNet ' +
  'roughly 15x slower. To get the native TensorFlow backend: (1) run `node scripts/setup-native.mjs` with ' +
  'internet access (it downloads libtensorflow from storage.googleapis.com), or (2) `pip install tensorflow-cpu` ' +
  '(or point ALEXNET_TF_WHEEL at a TensorFlow wheel, or ALEXNET_TF_DIR at a TensorFlow folder) and run it again, ' +
  'on Linux with make, g++ and Python 3. Check with `node scripts/setup-native.mjs --check`. See docs/native-backend.md.';

async function setupOne(p, libType, allowLocal) {
  const tried = [];
  if (!FORCE) {
    const pr = probe(p);
    if (pr.ok) return { ok: true, source: readMarker(p)?.source || 'already built', tfVersion: pr.tfVersion, changed: false, tried };
    tried.push({ step: 'already built', error: pr.error });
  }
  if (env.ALEXNET_NATIVE_NO_DOWNLOAD !== '1') {
    const t0 = Date.now();
    const dl = await tryOwnDownload(p, libType);
    const pr = dl.ok ? probe(p) : dl;
    if (pr.ok) {
      writeMarker(p, 'libtensorflow download (tfjs-node install script)', pr.tfVersion);
      return { ok: true, source: 'libtensorflow download', tfVersion: pr.tfVersion, changed: true, tried };
    }
    tried.push({ step: `download (${((Date.now() - t0) / 1000).toFixed(0)} s)`, error: pr.error });
  }
  if (allowLocal) {
    const loc = await tryLocal(p, tried);
    if (loc) return { ok: true, ...loc, changed: true, tried };
  }
  return { ok: false, tried, changed: true };
}

async function main() {
  const t0 = Date.now();
  const result = { native: false, packages: {} };
  if (env.ALEXNET_SKIP_NATIVE === '1' && !CHECK) { say('skipped (ALEXNET_SKIP_NATIVE=1)'); return 0; }
  const cpu = findPackage('@tensorflow/tfjs-node');
  const gpu = findPackage('@tensorflow/tfjs-node-gpu');
  const wantGpu = env.ALEXNET_GPU === '1' || (env.ALEXNET_GPU !== '0' && !CHECK && nvidiaGpuSeen());

  if (CHECK) {
    for (const p of [gpu, cpu]) {
      if (!p) continue;
      const pr = probe(p);
      const m = readMarker(p);
      result.packages[p.name] = { ok: pr.ok, tfVersion: pr.tfVersion, source: m?.source, error: pr.error, addon: path.join(p.modulePath, 'tfjs_binding.node') };
      if (pr.ok) result.native = true;
      say(`${p.name}: ${pr.ok ? `ok, TensorFlow ${pr.tfVersion}${m ? ` (from ${m.source})` : ''}` : `not working (${pr.error})`}`);
    }
    if (!cpu && !gpu) say('@tensorflow/tfjs-node is not installed');
    say(result.native ? 'backend: tensorflow (native)' : 'backend: wasm (native TensorFlow not set up)');
    if (JSON_OUT) console.log(JSON.stringify(result));
    return result.native ? 0 : 1;
  }

  const todo = [];
  if (gpu && wantGpu) todo.push([gpu, 'gpu', false]);
  if (cpu) todo.push([cpu, 'cpu', true]);
  for (const [p, libType, allowLocal] of todo) {
    const r = await setupOne(p, libType, allowLocal);
    result.packages[p.name] = r;
    if (r.ok) {
      result.native = true;
      for (const t of r.tried.filter((t) => t.step !== 'already built')) say(`  tried ${t.step}: ${t.error}`);
      say(`${p.name}: ${r.changed ? 'set up' : 'ok'}, TensorFlow ${r.tfVersion} (${r.source})`);
    } else {
      say(`${p.name}: not available`);
      for (const t of r.tried) say(`  tried ${t.step}: ${t.error}`);
    }
  }
  if (!cpu && !gpu) say('@tensorflow/tfjs-node is not installed (optional dependency skipped)');
  if (!result.native) { say(FALLBACK_HELP); }
  say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (JSON_OUT) console.log(JSON.stringify(result));
  return !result.native && REQUIRE ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e) => {
  // Never fail an install on our own bug, unless CI asked for a loud failure.
  console.error(`[native] setup-native crashed: ${e?.stack || e}`);
  if (!CHECK) console.error(`[native] ${FALLBACK_HELP}`);
  process.exitCode = REQUIRE || CHECK ? 1 : 0;
});
