#!/usr/bin/env node
// Builds what Electron runs, from the TypeScript sources:
//   dist/electron/main.mjs     the main process (main/electron/index.ts), ESM
//   dist/electron/worker.mjs   the training / inference worker (main/app/worker/entry.ts), ESM
//   dist/electron/preload.cjs  the preload (preload/index.ts), CommonJS: sandboxed preloads cannot load ESM
//   dist/electron/migrations/  db/migrations/*.sql (db/migrate.ts reads them next to the bundle)
//   renderer/dist/             the window (vite build of renderer/), unless --no-renderer
// npm packages stay external (node_modules ships with the app; native addons cannot be bundled).
// Usage: node scripts/build-app.mjs [--no-renderer] [--sourcemap]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'electron');
const args = new Set(process.argv.slice(2));
const sourcemap = args.has('--sourcemap');

export async function buildApp({ renderer = !args.has('--no-renderer'), log = console.log } = {}) {
  const t0 = Date.now();
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const common = { bundle: true, platform: 'node', target: 'node22', packages: 'external', sourcemap, metafile: true, logLevel: 'warning', absWorkingDir: root };
  const results = await Promise.all([
    esbuild.build({ ...common, entryPoints: ['main/electron/index.ts'], outfile: path.join(out, 'main.mjs'), format: 'esm', external: ['electron'] }),
    esbuild.build({ ...common, entryPoints: ['main/app/worker/entry.ts'], outfile: path.join(out, 'worker.mjs'), format: 'esm' }),
    esbuild.build({ ...common, entryPoints: ['preload/index.ts'], outfile: path.join(out, 'preload.cjs'), format: 'cjs', external: ['electron'] }),
  ]);
  fs.cpSync(path.join(root, 'db', 'migrations'), path.join(out, 'migrations'), { recursive: true });
  log(`built dist/electron/ (main, worker, preload, migrations) in ${Date.now() - t0} ms`);
  // what each bundle imports at run time and left external (npm packages, node: builtins, electron):
  // { 'dist/electron/main.mjs': ['better-sqlite3', 'node:fs', ...] }; scripts/check-package.mjs resolves them in the package
  const externals = {};
  for (const r of results) {
    for (const [file, output] of Object.entries(r.metafile.outputs)) {
      if (file.endsWith('.map')) continue;
      externals[file] = [...new Set(output.imports.filter((i) => i.external).map((i) => i.path))].sort();
    }
  }
  if (renderer) {
    const config = path.join(root, 'renderer', 'vite.config.ts');
    if (!fs.existsSync(config)) {
      log('renderer/vite.config.ts not found: skipping the renderer build (the window shows nothing until it exists)');
      return { externals };
    }
    const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
    const r = spawnSync(process.execPath, [vite, 'build', '--config', config], { cwd: path.join(root, 'renderer'), stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`the renderer build failed (vite exited with ${r.status})`);
  }
  return { externals };
}

if (path.resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  buildApp().catch((err) => {
    console.error(`build-app: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
