#!/usr/bin/env node
// npm start: the desktop app. Makes sure Electron's binary is there (its install script downloads
// it), builds better-sqlite3 for Electron's ABI (scripts/electron-native.mjs), bundles main,
// preload and worker and builds the renderer (scripts/build-app.mjs), then launches Electron.
// Options after `--` go to Electron (e.g. npm start -- --db=/path/library.sqlite).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from './build-app.mjs';
import { ensureElectronSqlite } from './electron-native.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function fail(msg) {
  console.error(`start: ${msg}`);
  process.exit(1);
}

/** Electron's executable, downloading it first if needed; null when it cannot be had. */
export function electronBinary() {
  const load = () => {
    try {
      const p = require('electron'); // the package's index.js returns the binary's path, or throws
      return typeof p === 'string' && fs.existsSync(p) ? p : null;
    } catch {
      return null;
    }
  };
  const found = load();
  if (found) return found;
  console.log("Electron's binary is missing: downloading it (node node_modules/electron/install.js)...");
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'electron', 'install.js')], { cwd: path.join(root, 'node_modules', 'electron'), stdio: 'inherit' });
  if (r.status !== 0) return null;
  delete require.cache[require.resolve('electron')];
  return load();
}

async function main() {
  const bin = electronBinary();
  if (!bin) {
    fail(
      "Electron's binary could not be downloaded (offline, or a proxy in the way). Set ELECTRON_MIRROR or HTTPS_PROXY and retry, " +
        'or use the browser mode instead: npm run serve',
    );
  }
  try {
    ensureElectronSqlite();
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  await buildApp({ renderer: !process.argv.includes('--no-renderer') });
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  // `electron .` needs package.json's "main" to point at the bundle; without it, run the bundle directly
  const entry = pkg.main === 'dist/electron/main.mjs' ? '.' : path.join('dist', 'electron', 'main.mjs');
  const extra = process.argv.slice(2).filter((a) => a !== '--no-renderer');
  const child = spawn(bin, [entry, ...extra], { cwd: root, stdio: 'inherit', env: { ...process.env, ELECTRON_ENABLE_LOGGING: process.env.ELECTRON_ENABLE_LOGGING ?? '1' } });
  child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
  for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => child.kill(s));
}

if (path.resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
}
