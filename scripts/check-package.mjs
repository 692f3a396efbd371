#!/usr/bin/env node
// Checks what `npm run dist` would put in the app, without Electron's binary (it cannot be downloaded
// everywhere) and without signing: electron-builder packs an unpacked app for this OS and architecture
// (`--dir`) around a stand-in Electron folder, from electron-builder.yml less its fuses (flipping fuses
// needs the real binary), into a temporary folder. Then it checks the rules the app depends on:
//   - `webgpu` ships this target's dawn.node only, unpacked (dawn.node is loaded from disk);
//   - every native addon (*.node) is outside app.asar, with sharp's libvips beside it;
//   - the main process, worker and preload bundles are in app.asar; the cluster job's files and the
//     Electron build of better-sqlite3 are in resources/ (a placeholder stands in when it is not built).
// Prints the sizes and one line per failed rule; exits 1 when a rule fails.
//   node scripts/check-package.mjs [--keep]     (about a minute; writes ~1 GB to the temp folder)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from './build-app.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const platform = { linux: 'linux', darwin: 'mac', win32: 'win' }[process.platform];
const dawnFolder = process.platform === 'darwin' ? 'darwin-universal' : `${process.platform}-${process.arch}`;
if (!platform) throw new Error(`check-package: no electron-builder target for ${process.platform}`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-package-'));
const problems = [];
try {
  await buildApp({ renderer: false, log: () => {} });
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
  const asarList = spawnSync(process.execPath, [path.join(root, 'node_modules', '@electron', 'asar', 'bin', 'asar.js'), 'list', path.join(resources, 'app.asar')], { encoding: 'utf8' });
  if (asarList.status !== 0) throw new Error(`check-package: cannot list app.asar: ${asarList.stderr}`);
  const inAsar = asarList.stdout.split('\n').filter(Boolean);
  // a file asar only points at (unpacked) is listed too: those on disk are fine
  const packedNative = inAsar.filter((f) => f.endsWith('.node') && !fs.existsSync(path.join(unpacked, f)));
  if (packedNative.length) problems.push(`native addons inside app.asar (they cannot be loaded from there): ${packedNative.join(', ')}`);
  for (const f of ['/dist/electron/main.mjs', '/dist/electron/worker.mjs', '/dist/electron/preload.cjs', '/package.json']) if (!inAsar.includes(f.replaceAll('/', path.sep))) problems.push(`${f} is missing from app.asar`);
  if (!onDisk.some((f) => /sharp-libvips-[^/\\]+[/\\]lib[/\\]libvips/.test(f))) problems.push("sharp's libvips is not unpacked");
  for (const f of [path.join('cluster-job', 'train.py'), path.join('native', 'better_sqlite3.node')]) if (!fs.existsSync(path.join(resources, f))) problems.push(`resources/${f} is missing`);

  const size = (p) => {
    const r2 = spawnSync('du', ['-sm', p], { encoding: 'utf8' });
    return r2.status === 0 ? `${r2.stdout.split('\t')[0]} MB` : '?';
  };
  console.log(`check-package: ${path.relative(tmp, unpackedApp)} for ${process.platform}-${process.arch}: app.asar ${size(path.join(resources, 'app.asar'))}, app.asar.unpacked ${size(unpacked)}; dawn.node: ${dawn.join(', ') || 'none'}${placeholder ? '; better_sqlite3.node was a placeholder (not built for Electron here)' : ''}`);
  for (const p of problems) console.log(`check-package: FAIL ${p}`);
  if (!problems.length) console.log('check-package: every rule holds');
} finally {
  if (keep) console.log(`check-package: kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(problems.length ? 1 : 0);
