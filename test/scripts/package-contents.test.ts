// scripts/package-contents.mjs, which npm run check-package uses to read the packed app: on a real
// app.asar made here with @electron/asar (a native addon unpacked, as electron-builder does), the file
// listing, reading packed and unpacked files, and the resolution of bare imports as Node does it
// (nearest node_modules, `exports` with conditions, `main`, extension and index fallbacks).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asarFiles, presentUnder, readAsarText, resolveExports, resolveInFiles, splitSpecifier, unresolvedImports } from '../../scripts/package-contents.mjs';

type Asar = { createPackageWithOptions(src: string, dest: string, options: { unpack?: string }): Promise<void> };
const asar = createRequire(import.meta.url)('@electron/asar') as Asar;

const tree: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'app', main: 'dist/electron/main.mjs' }),
  'dist/electron/main.mjs': "import a from 'a';\n",
  'node_modules/a/package.json': JSON.stringify({ name: 'a', main: 'lib/a' }),
  'node_modules/a/lib/a.js': 'module.exports = 1;\n',
  'node_modules/a/node_modules/c/package.json': JSON.stringify({ name: 'c' }),
  'node_modules/a/node_modules/c/index.js': 'module.exports = 3;\n',
  'node_modules/@s/b/package.json': JSON.stringify({ name: '@s/b', exports: { '.': { types: './b.d.ts', import: './esm/b.mjs', require: './cjs/b.cjs' }, './sub': './sub.js', './feature/*': './features/*.js' } }),
  'node_modules/@s/b/esm/b.mjs': 'export default 2;\n',
  'node_modules/@s/b/cjs/b.cjs': 'module.exports = 2;\n',
  'node_modules/@s/b/sub.js': 'module.exports = 4;\n',
  'node_modules/@s/b/features/x.js': 'module.exports = 5;\n',
  'node_modules/n/package.json': JSON.stringify({ name: 'n' }),
  'node_modules/n/index.js': "module.exports = require('./build/n.node');\n",
  'node_modules/n/build/n.node': 'not really an addon, but unpacked as one\n',
  'node_modules/broken/package.json': JSON.stringify({ name: 'broken', main: 'gone.js' }),
};

let dir = '';
let archive = '';
let files: Map<string, { unpacked: boolean; size: number }>;
const readJson = (f: string) => JSON.parse(readAsarText(archive, f)) as { main?: string; exports?: unknown };

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'alexnet-asar-'));
  for (const [f, text] of Object.entries(tree)) {
    mkdirSync(path.dirname(path.join(dir, 'src', f)), { recursive: true });
    writeFileSync(path.join(dir, 'src', f), text);
  }
  archive = path.join(dir, 'app.asar');
  await asar.createPackageWithOptions(path.join(dir, 'src'), archive, { unpack: '*.node' });
  files = asarFiles(archive);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reading app.asar', () => {
  it('lists every file, not its folders, and marks the unpacked ones', () => {
    expect([...files.keys()].sort()).toEqual(Object.keys(tree).sort());
    expect(files.get('node_modules/n/build/n.node')?.unpacked).toBe(true);
    expect(files.get('node_modules/n/index.js')?.unpacked).toBe(false);
  });
  it('reads packed and unpacked files', () => {
    expect(readAsarText(archive, 'node_modules/a/lib/a.js')).toBe(tree['node_modules/a/lib/a.js']);
    expect(readAsarText(archive, 'node_modules/n/build/n.node')).toBe(tree['node_modules/n/build/n.node']);
  });
  it('finds the first file under each prefix that should be absent', () => {
    expect(presentUnder(files, ['node_modules/tsx/', 'node_modules/n/build/'])).toEqual([['node_modules/n/build/', 'node_modules/n/build/n.node']]);
  });
});

describe('resolving imports in the archive', () => {
  const from = 'dist/electron';
  it('splits package names from subpaths', () => {
    expect(splitSpecifier('@s/b/sub/x')).toEqual(['@s/b', 'sub/x']);
    expect(splitSpecifier('a')).toEqual(['a', '']);
  });
  it('follows main with extension and index fallbacks', () => {
    expect(resolveInFiles('a', from, files, readJson)).toBe('node_modules/a/lib/a.js');
    expect(resolveInFiles('n', from, files, readJson)).toBe('node_modules/n/index.js');
    expect(resolveInFiles('n/build/n', from, files, readJson)).toBe('node_modules/n/build/n.node');
    expect(resolveInFiles('broken', from, files, readJson)).toBeNull();
  });
  it('follows exports: the first matching condition, subpaths, patterns, and nothing else', () => {
    expect(resolveInFiles('@s/b', from, files, readJson)).toBe('node_modules/@s/b/esm/b.mjs');
    expect(resolveInFiles('@s/b/sub', from, files, readJson)).toBe('node_modules/@s/b/sub.js');
    expect(resolveInFiles('@s/b/feature/x', from, files, readJson)).toBe('node_modules/@s/b/features/x.js');
    expect(resolveInFiles('@s/b/feature/y', from, files, readJson)).toBeNull();
    expect(resolveInFiles('@s/b/cjs/b.cjs', from, files, readJson)).toBeNull(); // not exported
    expect(resolveExports({ require: './r.js', default: './d.js' }, '.')).toBe('./r.js');
    expect(resolveExports('./only.js', './other')).toBeNull();
  });
  it('looks in the nearest node_modules up from the importing file only', () => {
    expect(resolveInFiles('c', from, files, readJson)).toBeNull();
    expect(resolveInFiles('c', 'node_modules/a/lib', files, readJson)).toBe('node_modules/a/node_modules/c/index.js');
    expect(resolveInFiles('node:fs', from, files, readJson)).toBe('node:fs');
    expect(resolveInFiles('path', from, files, readJson)).toBe('path');
  });
  it('names each import that does not resolve, with the bundle that makes it', () => {
    const externals = { 'dist/electron/main.mjs': ['a', 'electron', 'node:fs', 'gone'], 'dist/electron/worker.mjs': ['@s/b', 'broken'], 'package.json': ['n'] };
    expect(unresolvedImports(externals, files, readJson)).toEqual(['gone (from dist/electron/main.mjs)', 'broken (from dist/electron/worker.mjs)']);
  });
});
