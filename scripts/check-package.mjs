#!/usr/bin/env node
// Checks what `npm run dist` would put in the app, without Electron's binary (it cannot be downloaded
// everywhere) and without signing: electron-builder packs an unpacked app for this OS and architecture
// (`--dir`) around a stand-in Electron folder, from electron-builder.yml less its fuses (flipping fuses
// needs the real binary), into a temporary folder. Then it checks the rules the app depends on:
//   - app.asar holds package.json, dist/electron/, renderer/dist/, resources/icon.png and node_modules/
//     only (no sources, tests, docs);
//   - what the app never loads is absent: tsx, esbuild, @esbuild/*, webgpu's build scripts, other
//     targets' dawn.node (tsx serves bin/alexnet from a checkout only);
//   - every import the bundles left external (scripts/build-app.mjs), and every runtime dependency of
//     package.json installed here (ml/backend.ts imports the TensorFlow bindings by name), resolves to a
//     file in app.asar / app.asar.unpacked (scripts/package-contents.mjs), named when it does not;
//   - each of those packages that loads in Node from this checkout also loads from the packed files
//     (app.asar's files laid out in a temporary folder, the unpacked ones hard-linked): a file that a
//     package requires when it loads and the package lacks fails here;
//   - `webgpu` ships this target's dawn.node only, unpacked (dawn.node is loaded from disk);
//   - every native addon (*.node) is outside app.asar, with sharp's libvips beside it, and the wasm
//     backend's files that ml/backend.ts reads by path are there (its .wasm binaries unpacked);
//   - the main process, worker and preload bundles are in app.asar; the cluster job's files and the
//     Electron build of better-sqlite3 are in resources/ (a placeholder stands in when it is not built).
// Prints the sizes and one line per failed rule; exits 1 when a rule fails.
//   node scripts/check-package.mjs [--keep]     (about a minute; writes ~1 GB to the temp folder)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { buildApp } from './build-app.mjs';
import { asarFiles, presentUnder, readAsarText, unresolvedImports } from './package-contents.mjs';

const asar = createRequire(import.meta.url)('@electron/asar');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const platform = { linux: 'linux', darwin: 'mac', win32: 'win' }[process.platform];
const dawnFolder = process.platform === 'darwin' ? 'darwin-universal' : `${process.platform}-${process.arch}`;
if (!platform) throw new Error(`check-package: no electron-builder target for ${process.platform}`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-package-'));
const problems = [];
try {
  const { externals } = await buildApp({ renderer: false, log: () => {} });
  // a stand-in Electron: electron-builder copies the folder and renames the executable
  const fake = path.join(tmp, 'electron');
  fs.mkdirSync(fake, { recursive: true });
  const exe = process.platform === 'win32' ? 'electron.exe' : 'electron';
  fs.writeFileSync(path.join(fake, exe), '');
  fs.writeFileSync(path.join(fake, 'LICENSE'), '');
  const yml = fs.readFileSync(path.join(root, 'electron-builder.yml'), 'utf8');
  const fuses = yml.match(/^electronFuses:\n(?:[ #].*\n)+/m);
  if (!fuses) throw new Error('check-package: electron-builder.yml has no electronFuses block to leave out');
  const config = path.join(root, `.check-package-${process.pid}.yml`); // beside the original: its paths are relative to the project
  fs.writeFileSync(config, yml.replace(fuses[0], ''));
  const sqlite = path.join(root, 'build', 'electron-native', 'better_sqlite3.node');
  const placeholder = !fs.existsSync(sqlite);
  if (placeholder) {
    fs.mkdirSync(path.dirname(sqlite), { recursive: true });
    fs.writeFileSync(sqlite, 'placeholder: npm run dist builds it for Electron');
  }
  const out = path.join(tmp, 'release');
  const cli = path.join(root, 'node_modules', 'electron-builder', 'cli.js');
  const electronVersion = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).devDependencies.electron.replace(/^[^\d]*/, '');
  const r = spawnSync(process.execPath, [cli, '--config', config, '--publish', 'never', `--${platform}`, 'dir', `-c.electronDist=${fake}`, `-c.electronVersion=${electronVersion}`, `-c.directories.output=${out}`], { cwd: root, encoding: 'utf8' });
  fs.rmSync(config, { force: true });
  if (placeholder) fs.rmSync(sqlite, { force: true });
  if (r.status !== 0) throw new Error(`check-package: electron-builder failed:\n${r.stdout}\n${r.stderr}`);

  const unpackedApp = fs.readdirSync(out).map((d) => path.join(out, d)).find((d) => fs.statSync(d).isDirectory() && d.endsWith('unpacked'));
  if (!unpackedApp) throw new Error(`check-package: no unpacked app in ${out}`);
  const resources = process.platform === 'darwin' ? path.join(unpackedApp, fs.readdirSync(unpackedApp).find((n) => n.endsWith('.app')) ?? '', 'Contents', 'Resources') : path.join(unpackedApp, 'resources');
  const unpacked = path.join(resources, 'app.asar.unpacked');
  const walk = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => path.join(dir, f)) : []);
  const onDisk = walk(unpacked);

  const dawn = onDisk.filter((f) => f.endsWith('dawn.node')).map((f) => path.relative(unpacked, f));
  if (dawn.length !== 1 || !dawn[0].includes(`webgpu${path.sep}dist${path.sep}${dawnFolder}${path.sep}`)) problems.push(`expected one dawn.node, for ${dawnFolder}; found: ${dawn.join(', ') || 'none'}`);
  const archive = path.join(resources, 'app.asar');
  const files = asarFiles(archive); // a file asar only points at (unpacked) is listed too
  const packedNative = [...files].filter(([f, e]) => f.endsWith('.node') && !e.unpacked).map(([f]) => f);
  if (packedNative.length) problems.push(`native addons inside app.asar (they cannot be loaded from there): ${packedNative.join(', ')}`);
  for (const f of ['dist/electron/main.mjs', 'dist/electron/worker.mjs', 'dist/electron/preload.cjs', 'package.json', 'resources/icon.png']) if (!files.has(f)) problems.push(`/${f} is missing from app.asar`);
  // files ml/backend.ts loads by path when the wasm backend starts, which no import resolves
  const wasm = 'node_modules/@tensorflow/tfjs-backend-wasm';
  for (const f of ['wasm-out/tfjs-backend-wasm-threaded-simd.js', 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js']) if (!files.has(`${wasm}/${f}`)) problems.push(`${wasm}/${f} is missing from app.asar`);
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) if (!files.get(`${wasm}/dist/${f}`)?.unpacked) problems.push(`${wasm}/dist/${f} is not unpacked`);
  const shipped = new Set(['package.json', 'dist/electron', 'renderer/dist', 'resources/icon.png', 'node_modules']);
  const extra = [...new Set([...files.keys()].map((f) => f.split('/')).map((p) => (shipped.has(p[0]) ? p[0] : p.slice(0, 2).join('/'))))].filter((t) => !shipped.has(t));
  if (extra.length) problems.push(`app.asar holds more than package.json, dist/electron/, renderer/dist/, resources/icon.png and node_modules/: ${extra.sort().slice(0, 12).join(', ')}${extra.length > 12 ? ` and ${extra.length - 12} more` : ''}`);
  const dawnOthers = [...new Set([...files.keys()].filter((f) => f.startsWith('node_modules/webgpu/dist/') && f.split('/').length > 4).map((f) => f.split('/')[3]))].filter((d) => d !== dawnFolder);
  const absent = ['node_modules/tsx/', 'node_modules/esbuild/', 'node_modules/@esbuild/', 'node_modules/webgpu/build/', ...dawnOthers.map((d) => `node_modules/webgpu/dist/${d}/`)];
  for (const [prefix, example] of presentUnder(files, absent)) problems.push(`${prefix} ships but the app never loads it (e.g. ${example})`);

  // what the app imports: the bundles' externals, and the runtime dependencies installed here
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const cliOnly = ['tsx'];
  const installed = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }).filter((d) => !cliOnly.includes(d) && fs.existsSync(path.join(root, 'node_modules', d, 'package.json')));
  const wanted = { ...externals, 'package.json': installed };
  const readJson = (f) => JSON.parse(readAsarText(archive, f));
  for (const m of unresolvedImports(wanted, files, readJson)) problems.push(`import ${m} does not resolve inside app.asar`);

  // load each of them in Node, from this checkout and from the packed files laid out on disk
  const specs = [...new Set(Object.values(wanted).flat())].filter((s) => s !== 'electron' && !s.startsWith('node:')).sort();
  const tree = path.join(tmp, 'app');
  for (const [f, e] of files) {
    const dest = path.join(tree, ...f.split('/'));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    if (e.unpacked) {
      try {
        fs.linkSync(path.join(unpacked, ...f.split('/')), dest);
      } catch {
        fs.copyFileSync(path.join(unpacked, ...f.split('/')), dest);
      }
    } else fs.writeFileSync(dest, asar.extractFile(archive, f.split('/').join(path.sep)));
  }
  const loads = (dir, spec) => {
    const probe = path.join(dir, 'dist', 'electron', `check-load-${process.pid}.mjs`);
    fs.writeFileSync(probe, `await import(${JSON.stringify(spec)});\n`);
    const r2 = spawnSync(process.execPath, ['--no-warnings', probe], { cwd: dir, encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } });
    fs.rmSync(probe, { force: true });
    return r2.status === 0 ? null : (r2.stderr.split('\n').find((l) => /^\w*Error( \[\w+\])?: /.test(l)) ?? r2.stderr.trim().split('\n').pop() ?? `exit ${r2.status}`);
  };
  const loaded = [];
  for (const spec of specs) {
    if (loads(root, spec) !== null) continue; // does not load here either (an optional binding not built, say)
    const err = loads(tree, spec);
    if (err === null) loaded.push(spec);
    else problems.push(`${spec} loads from this checkout but not from the package: ${err.trim()}`);
  }
  if (!onDisk.some((f) => /sharp-libvips-[^/\\]+[/\\]lib[/\\]libvips/.test(f))) problems.push("sharp's libvips is not unpacked");
  for (const f of [path.join('cluster-job', 'train.py'), path.join('native', 'better_sqlite3.node')]) if (!fs.existsSync(path.join(resources, f))) problems.push(`resources/${f} is missing`);

  const size = (p) => {
    const r2 = spawnSync('du', ['-sm', p], { encoding: 'utf8' });
    return r2.status === 0 ? `${r2.stdout.split('\t')[0]} MB` : '?';
  };
  console.log(`check-package: ${path.relative(tmp, unpackedApp)} for ${process.platform}-${process.arch}: app.asar ${size(archive)}, app.asar.unpacked ${size(unpacked)}; dawn.node: ${dawn.join(', ') || 'none'}${placeholder ? '; better_sqlite3.node was a placeholder (not built for Electron here)' : ''}`);
  console.log(`check-package: loaded from the package in Node: ${loaded.join(', ') || 'nothing'}`);
  for (const p of problems) console.log(`check-package: FAIL ${p}`);
  if (!problems.length) console.log('check-package: every rule holds');
} finally {
  if (keep) console.log(`check-package: kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(problems.length ? 1 : 0);
