// Shared by the engine's tests (test/ml): the real photos in ../shared/datasets (beside the repo,
// never copied into it), labeled the way the engine takes them, and a test file's temp folder and
// TensorFlow.js backend. Engine only: no library, no app.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { initBackend, type BackendName } from '../../ml/backend';
import { datasetsDir } from './bvlc-fixture';

/** The first `perClass` files (by name) of each class folder `classes` of `dir`, labeled with the
 *  class's place in `classes`. */
export function labeledPhotos(dir: string, classes: readonly string[], perClass: number): { path: string; label: number }[] {
  return classes.flatMap((c, label) =>
    readdirSync(path.join(dir, c))
      .sort()
      .slice(0, perClass)
      .map((f) => ({ path: path.join(dir, c, f), label })),
  );
}

/** labeledPhotos of hymenoptera's `split`: ants 0, bees 1. */
export function hymenopteraPhotos(split: 'train' | 'val', perClass: number): { path: string; label: number }[] {
  return labeledPhotos(path.join(datasetsDir, 'hymenoptera', split), ['ants', 'bees'], perClass);
}

/** For one test file: TF.js on `backend` before its tests, and a temp folder (named `prefix`...),
 *  made as the file loads and removed after its tests. Answers the folder. */
export function useEngine(prefix: string, backend: BackendName | 'auto'): string {
  const tmp = mkdtempSync(path.join(os.tmpdir(), prefix));
  beforeAll(async () => {
    await initBackend(backend);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  return tmp;
}
