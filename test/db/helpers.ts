// Shared by the db tests: temp folders, a library in one, and the real photos in ../shared/datasets.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { openLibrary, type Library } from '../../db/index';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const datasetsRoot = path.resolve(repoRoot, '../shared/datasets');
export const hymenoptera = path.join(datasetsRoot, 'hymenoptera');

export function tempDir(prefix = 'alexnet-db-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** For one test file: a new library (<dir>/library.sqlite in a temp folder), opened as the file
 *  loads, closed and removed with its folder after the file's tests. */
export function useTempLibrary(): { dir: string; lib: Library } {
  const dir = tempDir();
  const lib = openLibrary(path.join(dir, 'library.sqlite'));
  afterAll(() => {
    lib.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, lib };
}

/** The first `n` JPEGs of a class folder (sorted), as absolute paths. */
export function someJpegs(split: 'train' | 'val', cls: 'ants' | 'bees', n: number): string[] {
  const dir = path.join(hymenoptera, split, cls);
  return fs
    .readdirSync(dir)
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort()
    .slice(0, n)
    .map((f) => path.join(dir, f));
}

/** Copies the first `n` JPEGs of each hymenoptera class of `split` into <dest>/ants and <dest>/bees; returns dest. */
export function copyClassFolders(dest: string, split: 'train' | 'val', n: number): string {
  for (const cls of ['ants', 'bees'] as const) {
    fs.mkdirSync(path.join(dest, cls), { recursive: true });
    for (const f of someJpegs(split, cls, n)) fs.copyFileSync(f, path.join(dest, cls, path.basename(f)));
  }
  return dest;
}
