#!/usr/bin/env node
// better-sqlite3 for Electron's ABI, built into build/electron-native/better_sqlite3.node so that
// the Node build in node_modules (the one tests use) is never replaced. main/electron/index.ts passes this
// file to openLibrary's `nativeBinding` option; electron-builder ships it as resources/native/.
// (tfjs-node and sharp are N-API addons: the same binary loads in Node and Electron.)
//
// How: copy the package's sources to build/electron-native/better-sqlite3/, then fetch a prebuilt
// binary for Electron (prebuild-install --runtime electron) or compile one against Electron's
// headers (node-gyp --runtime=electron). Both need the network the first time; a stamp file
// records what was built so later starts skip it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const NATIVE_DIR = path.join(root, 'build', 'electron-native');
export const NATIVE_FILE = path.join(NATIVE_DIR, 'better_sqlite3.node');

const version = (pkg) => JSON.parse(fs.readFileSync(path.join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, npm_config_runtime: 'electron' } });
  return r.status === 0;
}

/** Makes sure NATIVE_FILE exists for this Electron and better-sqlite3; returns its path. */
export function ensureElectronSqlite({ arch = process.arch, force = false, log = console.log } = {}) {
  const electron = version('electron');
  const sqlite = version('better-sqlite3');
  const stampFile = path.join(NATIVE_DIR, 'stamp.json');
  const stamp = { electron, betterSqlite3: sqlite, platform: process.platform, arch };
  if (!force && fs.existsSync(NATIVE_FILE) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === JSON.stringify(stamp)) return NATIVE_FILE;

  log(`building better-sqlite3 ${sqlite} for Electron ${electron} (${process.platform}-${arch}) into ${path.relative(root, NATIVE_DIR)}/`);
  const src = path.join(NATIVE_DIR, 'better-sqlite3');
  fs.rmSync(src, { recursive: true, force: true });
  fs.mkdirSync(src, { recursive: true });
  const from = path.join(root, 'node_modules', 'better-sqlite3');
  for (const entry of ['package.json', 'binding.gyp', 'src', 'deps', 'lib']) fs.cpSync(path.join(from, entry), path.join(src, entry), { recursive: true });

  const bin = (p) => path.join(root, 'node_modules', p);
  const prebuilt = run(process.execPath, [bin('prebuild-install/bin.js'), '--runtime', 'electron', '--target', electron, '--arch', arch, '--platform', process.platform], src);
  const built =
    prebuilt ||
    run(process.execPath, [bin('node-gyp/bin/node-gyp.js'), 'rebuild', '--release', `--target=${electron}`, `--arch=${arch}`, '--dist-url=https://electronjs.org/headers', '--runtime=electron'], src);
  const out = path.join(src, 'build', 'Release', 'better_sqlite3.node');
  if (!built || !fs.existsSync(out)) {
    throw new Error(
      'could not get better-sqlite3 for Electron: both the prebuilt download and the build against Electron headers failed ' +
        '(offline? no C++ toolchain?). Connect to the network (or install python3, make and a C++ compiler) and run `node scripts/electron-native.mjs` again.',
    );
  }
  fs.copyFileSync(out, NATIVE_FILE);
  fs.writeFileSync(stampFile, JSON.stringify(stamp));
  log(`wrote ${path.relative(root, NATIVE_FILE)}`);
  return NATIVE_FILE;
}

if (path.resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  try {
    ensureElectronSqlite({ force: process.argv.includes('--force') });
  } catch (err) {
    console.error(`electron-native: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
