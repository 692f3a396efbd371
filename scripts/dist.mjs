#!/usr/bin/env node
// npm run dist: installers for the current OS (electron-builder.yml): builds better-sqlite3 for
// Electron, the bundles and the renderer, then runs electron-builder. Extra arguments go to
// electron-builder (e.g. npm run dist -- --linux AppImage).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from './build-app.mjs';
import { ensureElectronSqlite } from './electron-native.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
try {
  ensureElectronSqlite();
  await buildApp({ renderer: true });
} catch (err) {
  console.error(`dist: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const cli = path.join(root, 'node_modules', 'electron-builder', 'cli.js');
const r = spawnSync(process.execPath, [cli, '--config', 'electron-builder.yml', '--publish', 'never', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
