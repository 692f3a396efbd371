#!/usr/bin/env node
// The GPU-machine kit (issue 14): everything `npm run bench -- --only gpu` needs on a machine that has
// a GPU, python3 with CUDA torch, and nothing else of ours (no Node, no npm, no network), which gets
// this repository's tracked files plus a few carried folders of at most 64 MiB in all per call.
// Run here (Linux x64, node_modules installed); it writes two ignored folders in the repo root:
//
//   .gpu-kit/       node.xz              this machine's Node binary (linux-x64)
//                   app.tar.xz           js/bench/{index,gpu,engine,finetune}.mjs: esbuild bundles of
//                                        bench/*.ts and the engine code they import; node_modules/: the
//                                        npm packages they load at run time (TF.js's Node builds, `webgpu`
//                                        with linux-x64's dawn.node, sharp with @img's linux-x64 libvips),
//                                        as plain files, only the ones they load
//                   gl/*.deb             the Vulkan loader (the device README's `.gl` procedure)
//                   hymenoptera.tar      the fine-tune row's photos, re-encoded (same pixel dimensions,
//                                        JPEG quality --quality, default 75): the originals are too big
//   .gpu-kit-cpu/   part1/, part2/, ...  @tensorflow/tfjs-node with libtensorflow (stripped), for the
//                                        "our CPU backend" figures on tfjs-node: one .tar.xz cut in parts
//                                        that each fit a call of their own (it never fits beside
//                                        .gpu-kit: bench/README.md ("On a GPU machine")); each part holds
//                                        its piece, the number of parts and the whole file's sha256
//                   tfjs-node.tar.xz     the whole file, kept to skip recompressing (never carried)
//
// scripts/gpu-kit-run.sh is the one command that unpacks and runs them there. This prints the size of
// each part and what would travel with it (the part + `git ls-files`), and fails when either call
// would be over 60 MiB.
//
//   node scripts/gpu-kit.mjs [--quality 75] [--no-cpu] [--no-debs]
//   node scripts/gpu-kit.mjs --bundles-only DIR    (only the bundles, into DIR/bench/, to be run there:
//                                                  test/scripts/gpu-kit.test.ts)
//
// Bundling: every `import.meta.url` in our code is rewritten to the URL its source file has in the
// checkout, relative to where the bundle lies there (.gpu-kit/run/js/bench/), so that repoRoot and
// ../shared resolve as they do under tsx; each bundle sets process.argv[1] to its source file, so that
// the `import.meta.url === argv[1]` main-module checks hold for its entry alone. The run script gives
// bench/index.ts ALEXNET_BENCH_BUNDLES (bench/child.ts) and NODE_PATH (the createRequire lookups of
// ml/backend.ts, which resolve from ml/).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import sharp from 'sharp';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KIT = path.join(repo, '.gpu-kit');
const KIT_CPU = path.join(repo, '.gpu-kit-cpu');
const RUN_DIR = path.join(KIT, 'run'); // where scripts/gpu-kit-run.sh unpacks app.tar.xz on the machine
const LIMIT = 60 * 1024 * 1024; // of a call's 64 MiB: room for files added to the tree meanwhile
const MiB = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const log = (l) => process.stderr.write(`gpu-kit: ${l}\n`);
const fail = (l) => {
  log(l);
  process.exit(1);
};

let opts;
try {
  opts = parseArgs({ options: { quality: { type: 'string' }, 'no-cpu': { type: 'boolean' }, 'no-debs': { type: 'boolean' }, 'bundles-only': { type: 'string' } }, strict: true }).values;
} catch (e) {
  fail(e.message.split('\n')[0]);
}
const QUALITY = Number(opts.quality ?? 75);
if (!Number.isInteger(QUALITY) || QUALITY < 1 || QUALITY > 100) fail(`--quality must be a whole number 1-100, got '${opts.quality}'`);
if (process.platform !== 'linux' || process.arch !== 'x64') fail(`the GPU machine is Linux x64; this is ${process.platform}-${process.arch}: its Node and native addons would not run there`);
const nm = path.join(repo, 'node_modules');
if (!fs.existsSync(path.join(nm, 'esbuild'))) fail('node_modules is missing (npm ci first)');

const run = (cmd, args, o = {}) => {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...o });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
};
const size = (f) => fs.statSync(f).size;
const dirSize = (d) => fs.readdirSync(d, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((s, e) => s + size(path.join(e.parentPath, e.name)), 0);

const bundlesOnly = opts['bundles-only'] === undefined ? null : path.resolve(opts['bundles-only']);
if (bundlesOnly === null) {
  fs.mkdirSync(KIT, { recursive: true });
  fs.rmSync(RUN_DIR, { recursive: true, force: true }); // (unpacked by a run of the kit in place)
}
const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'gpu-kit-'));
process.on('exit', () => fs.rmSync(stage, { recursive: true, force: true }));

// -------------------------------------------------------------------------------------------------
// 1. Node: xz -9 of this binary, redone only when the binary changed (it takes a minute)

if (bundlesOnly === null) {
  const stamp = `${process.execPath} ${process.version} ${size(process.execPath)} ${fs.statSync(process.execPath).mtimeMs}`;
  const out = path.join(KIT, 'node.xz');
  const stampFile = path.join(KIT, 'node.stamp');
  if (!fs.existsSync(out) || !fs.existsSync(stampFile) || fs.readFileSync(stampFile, 'utf8') !== stamp) {
    log(`compressing Node ${process.version} (${MiB(size(process.execPath))})`);
    fs.rmSync(out, { force: true });
    fs.writeFileSync(out + '.tmp', execFileSync('xz', ['-9', '-T2', '-c', process.execPath], { maxBuffer: 1 << 30 }));
    fs.renameSync(out + '.tmp', out);
    fs.writeFileSync(stampFile, stamp);
  }
  log(`node.xz ${MiB(size(out))} (Node ${process.version})`);
}

// -------------------------------------------------------------------------------------------------
// 2. Bundles

const ENTRIES = ['index', 'gpu', 'engine', 'finetune']; // bench/index.ts and every child of its gpu group
// Loaded at run time from node_modules, never bundled: native addons, and TF.js, whose packages must
// share the one @tensorflow/tfjs-core that tfjs-node and tfjs-backend-webgpu require (ml/backend.ts).
const EXTERNAL = ['@tensorflow/*', 'webgpu', 'sharp', 'better-sqlite3'];
// bench/index.ts's groups that the kit does not carry (the library and the data pipeline need
// better-sqlite3 and ../shared): left as imports that fail, in their group, with a one-line reason.
const NOT_CARRIED = /^\.\/(db|data)$/;
const bundleDir = path.join(bundlesOnly ?? path.join(RUN_DIR, 'js'), 'bench'); // where the bundles lie when they run
const bundleOut = bundlesOnly === null ? path.join(stage, 'app', 'js', 'bench') : bundleDir;

const sourceUrls = {
  name: 'source-import-meta-url',
  setup(build) {
    build.onResolve({ filter: NOT_CARRIED }, (a) => (a.importer === path.join(repo, 'bench', 'index.ts') ? { path: a.path, external: true } : undefined));
    build.onLoad({ filter: /\.ts$/ }, (a) => {
      if (a.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const src = fs.readFileSync(a.path, 'utf8');
      if (!src.includes('import.meta.url')) return undefined;
      const rel = path.relative(bundleDir, a.path).split(path.sep).join('/');
      return { contents: src.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader: 'ts' };
    });
  },
};

const externalsUsed = new Set();
for (const name of ENTRIES) {
  const entry = path.join(repo, 'bench', `${name}.ts`);
  const rel = path.relative(bundleDir, entry).split(path.sep).join('/');
  const r = await esbuild.build({
    entryPoints: [entry],
    outdir: bundleOut,
    entryNames: '[name]',
    chunkNames: '[name]-[hash]', // (beside the entries: the URLs above are relative to this folder)
    outExtension: { '.js': '.mjs' },
    // Code split at dynamic imports, so that they stay lazy: esbuild hoists a bundled module's
    // external imports to the top of its chunk, and ml/kernels/webgpu/register.ts (imported once
    // navigator.gpu exists) imports tfjs-backend-webgpu, which registers itself only if it does.
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    plugins: [sourceUrls],
    banner: { js: `import { fileURLToPath as __kitPath } from 'node:url'; process.argv[1] = __kitPath(new URL(${JSON.stringify(rel)}, import.meta.url));` },
    metafile: true,
    logLevel: 'warning',
  });
  for (const [file, input] of Object.entries(r.metafile.inputs)) {
    if (file.includes('node_modules/')) fail(`bench/${name}.ts bundles ${file}: every npm package should be external (EXTERNAL)`);
    for (const i of input.imports) if (i.external && !i.path.startsWith('node:') && !NOT_CARRIED.test(i.path)) externalsUsed.add(i.path.split('/').slice(0, i.path.startsWith('@') ? 2 : 1).join('/'));
  }
}
log(`bundles: ${ENTRIES.map((e) => `bench/${e}.mjs`).join(', ')}; packages they load: ${[...externalsUsed].sort().join(', ')}`);
if (bundlesOnly !== null) process.exit(0);

// -------------------------------------------------------------------------------------------------
// 3. node_modules: the files those packages load (each TF.js package's Node build is one file)

// [package, files or folders inside it ('' = all of it)]
const MODULES = [
  ['@tensorflow/tfjs-core', ['package.json', 'dist/tf-core.node.js']],
  ['@tensorflow/tfjs-backend-cpu', ['package.json', 'dist/tf-backend-cpu.node.js']],
  ['@tensorflow/tfjs-backend-webgpu', ['package.json', 'dist/tf-backend-webgpu.node.js']],
  // wasm: "our CPU backend" there when tfjs-node does not travel (bench/index.ts's gpu group)
  ['@tensorflow/tfjs-backend-wasm', ['package.json', 'dist/tf-backend-wasm.node.js', 'dist/tfjs-backend-wasm.wasm', 'dist/tfjs-backend-wasm-simd.wasm', 'dist/tfjs-backend-wasm-threaded-simd.wasm', 'wasm-out']],
  // @tensorflow/tfjs: ml/kernels/gradients.ts imports it for the gradients it registers; it requires these
  ['@tensorflow/tfjs', ['package.json', 'dist/tf.node.js']],
  ['@tensorflow/tfjs-layers', ['package.json', 'dist/tf-layers.node.js']],
  ['@tensorflow/tfjs-converter', ['package.json', 'dist/tf-converter.node.js']],
  ['@tensorflow/tfjs-data', ['package.json', 'dist/tf-data.node.js']],
  ['@tensorflow/tfjs-backend-webgl', ['package.json', 'dist/tf-backend-webgl.node.js']],
  ['seedrandom', ['']],
  ['long', ['']],
  ['webgpu', ['package.json', 'index.js', 'dist/linux-x64']],
  ['sharp', ['package.json', 'lib']],
  ['@img/colour', ['']],
  ['detect-libc', ['']],
  ['semver', ['']],
  ['@img/sharp-linux-x64', ['']],
  ['@img/sharp-libvips-linux-x64', ['']],
];
// better-sqlite3 is external only for bench/db.ts, which the kit leaves out (NOT_CARRIED)
const carried = new Set([...MODULES.map(([p]) => p), 'better-sqlite3']);
for (const p of externalsUsed) if (!carried.has(p)) fail(`the bundles load ${p}, which MODULES does not carry`);

function copyInto(root, modules) {
  for (const [pkg, files] of modules) {
    const from = path.join(nm, pkg);
    if (!fs.existsSync(from)) fail(`node_modules/${pkg} is missing (npm ci)`);
    for (const f of files) fs.cpSync(path.join(from, f), path.join(root, 'node_modules', pkg, f), { recursive: true, dereference: true });
  }
}
copyInto(path.join(stage, 'app'), MODULES);
const appRaw = dirSize(path.join(stage, 'app'));
log(`app: ${MiB(appRaw)} of bundles and node_modules; compressing`);
run('tar', ['-C', path.join(stage, 'app'), '-cf', path.join(stage, 'app.tar'), '.']);
fs.writeFileSync(path.join(KIT, 'app.tar.xz'), execFileSync('xz', ['-9', '-T2', '-c', path.join(stage, 'app.tar')], { maxBuffer: 1 << 30 }));
log(`app.tar.xz ${MiB(size(path.join(KIT, 'app.tar.xz')))}`);

// -------------------------------------------------------------------------------------------------
// 4. The Vulkan loader (the device README: the machine's image has none)

if (!opts['no-debs']) {
  const gl = path.join(KIT, 'gl');
  fs.rmSync(gl, { recursive: true, force: true });
  fs.mkdirSync(gl, { recursive: true });
  const lists = path.join(os.tmpdir(), 'gpu-kit-apt-amd64');
  fs.mkdirSync(path.join(lists, 'partial'), { recursive: true });
  const o = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', `-oDir::State::Lists=${lists}`];
  if (!fs.readdirSync(lists).some((f) => f.endsWith('_Packages') || f.endsWith('_Packages.lz4'))) run('apt-get', [...o, '-qq', 'update']);
  run('apt-get', [...o, '-qq', 'download', 'libvulkan1'], { cwd: gl });
  log(`gl: ${fs.readdirSync(gl).join(', ')} (${MiB(dirSize(gl))})`);
}

// -------------------------------------------------------------------------------------------------
// 5. hymenoptera, re-encoded at a lower JPEG quality, each photo as decoding work like its original:
//    the same pixel dimensions, chroma subsampling (most are 4:4:4) and progressive or baseline
//    scan; its EXIF where it had some (orientation: the engine reads it); the same names and folders.

{
  const src = path.resolve(repo, '../shared/datasets/hymenoptera');
  if (!fs.existsSync(src)) fail(`${src} is missing`);
  const dst = path.join(stage, 'hymenoptera');
  let n = 0;
  for (const e of fs.readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const from = path.join(e.parentPath, e.name);
    const to = path.join(dst, path.relative(src, from));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    if (!/\.jpe?g$/i.test(e.name)) {
      fs.copyFileSync(from, to);
      continue;
    }
    const meta = await sharp(from).metadata();
    const img = sharp(from);
    if (meta.exif) img.keepExif();
    await img.jpeg({ quality: QUALITY, chromaSubsampling: meta.chromaSubsampling === '4:4:4' ? '4:4:4' : '4:2:0', progressive: meta.isProgressive === true }).toFile(to);
    const again = await sharp(to).metadata();
    const same = (m) => `${m.width}x${m.height} ${m.chromaSubsampling} ${m.isProgressive ? 'progressive' : 'baseline'}`;
    if (same(again) !== same(meta)) fail(`${from}: re-encoded as ${same(again)}, not ${same(meta)}`);
    n++;
  }
  run('tar', ['-C', stage, '-cf', path.join(KIT, 'hymenoptera.tar'), 'hymenoptera']);
  log(`hymenoptera.tar ${MiB(size(path.join(KIT, 'hymenoptera.tar')))} (${n} photos at JPEG quality ${QUALITY}; originals ${MiB(dirSize(src))})`);
}

// -------------------------------------------------------------------------------------------------
// 6. The CPU backend's part: @tensorflow/tfjs-node and libtensorflow (stripped of its symbols)

if (!opts['no-cpu']) {
  const pkg = path.join(nm, '@tensorflow', 'tfjs-node');
  const root = path.join(stage, 'cpu');
  // its dependencies, whole (node-pre-gyp finds the addon; small JS packages), but those .gpu-kit has
  const deps = new Set();
  const walk = (name) => {
    const pj = JSON.parse(fs.readFileSync(path.join(nm, name, 'package.json'), 'utf8'));
    for (const d of Object.keys(pj.dependencies ?? {})) {
      if (deps.has(d) || carried.has(d) || d.startsWith('@tensorflow/')) continue;
      if (!fs.existsSync(path.join(nm, d, 'package.json'))) fail(`${name} needs ${d}, which is not in node_modules (nested copies are not handled)`);
      deps.add(d);
      walk(d);
    }
  };
  walk('@tensorflow/tfjs-node');
  // xz -9 of 600 MiB takes a quarter of an hour on 2 cores: kept beside the parts (never carried) and
  // redone only when the packages or the library changed
  const version = (p) => JSON.parse(fs.readFileSync(path.join(nm, p, 'package.json'), 'utf8')).version;
  const libs = fs.readdirSync(path.join(pkg, 'deps', 'lib')).map((f) => [f, fs.lstatSync(path.join(pkg, 'deps', 'lib', f))]);
  const stamp = JSON.stringify([['@tensorflow/tfjs-node', ...deps].map((p) => `${p}@${version(p)}`), libs.map(([f, st]) => `${f} ${st.size} ${st.mtimeMs}`)]);
  const xz = path.join(KIT_CPU, 'tfjs-node.tar.xz');
  const stampFile = path.join(KIT_CPU, 'tfjs-node.stamp');
  if (fs.existsSync(xz) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) log(`cpu: ${path.relative(repo, xz)} is up to date`);
  else {
    copyInto(root, [['@tensorflow/tfjs-node', ['package.json', 'dist', 'lib']], ...[...deps].sort().map((d) => [d, ['']])]);
    const libDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-node', 'deps', 'lib');
    fs.mkdirSync(libDir, { recursive: true });
    for (const [f, st] of libs) {
      const from = path.join(pkg, 'deps', 'lib', f);
      if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), path.join(libDir, f));
      else run('strip', ['--strip-unneeded', '-o', path.join(libDir, f), from]);
    }
    log(`cpu: ${MiB(dirSize(root))} (tfjs-node, libtensorflow stripped); compressing (many minutes)`);
    run('tar', ['-C', root, '-cf', path.join(stage, 'cpu.tar'), '.']);
    fs.rmSync(KIT_CPU, { recursive: true, force: true });
    fs.mkdirSync(KIT_CPU, { recursive: true });
    run('sh', ['-c', 'xz -9 -T2 -c "$0" > "$1.tmp" && mv "$1.tmp" "$1"', path.join(stage, 'cpu.tar'), xz]);
    fs.writeFileSync(stampFile, stamp);
  }
  for (const d of fs.readdirSync(KIT_CPU)) if (d.startsWith('part')) fs.rmSync(path.join(KIT_CPU, d), { recursive: true });
  const whole = fs.readFileSync(xz);
  const sha = createHash('sha256').update(whole).digest('hex');
  const PART = 50 * 1024 * 1024; // each call: a part + the tracked files, under LIMIT
  const parts = Math.ceil(whole.length / PART);
  for (let i = 0; i < parts; i++) {
    const dir = path.join(KIT_CPU, `part${i + 1}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `tfjs-node.tar.xz.${i + 1}`), whole.subarray(i * PART, (i + 1) * PART));
    fs.writeFileSync(path.join(dir, 'whole'), `${parts} ${sha}\n`);
  }
  log(`.gpu-kit-cpu: tfjs-node.tar.xz ${MiB(whole.length)} in ${parts} parts (${Array.from({ length: parts }, (_, i) => `part${i + 1}`).join(', ')})`);
}

// -------------------------------------------------------------------------------------------------
// 7. What would travel

const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: repo, encoding: 'utf8' })
  .split('\0')
  .filter(Boolean)
  .reduce((s, f) => s + (fs.existsSync(path.join(repo, f)) ? fs.lstatSync(path.join(repo, f)).size : 0), 0);
const kit = dirSize(KIT);
log(`tracked files ${MiB(tracked)}; .gpu-kit ${MiB(kit)}; call 1 carries .gpu-kit: ${MiB(tracked + kit)} (limit ${MiB(LIMIT)})`);
let over = tracked + kit > LIMIT;
if (fs.existsSync(KIT_CPU)) {
  for (const part of fs.readdirSync(KIT_CPU).filter((d) => d.startsWith('part')).sort()) {
    const n = dirSize(path.join(KIT_CPU, part));
    log(`.gpu-kit-cpu/${part}: a call of its own carries ${MiB(tracked + n)}`);
    over ||= tracked + n > LIMIT;
  }
}
if (over) fail('over the limit: what would travel in one call is more than 60 MiB');
