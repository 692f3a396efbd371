// A full disk, for real: the data folder on a small tmpfs (needs root to mount one; skipped where it
// cannot be mounted), filled up while a run trains. The run ends 'failed' with "the disk is full
// (<path>)", no .tmp of ours is left, this process (the server's) stays up, and the library opens
// afterwards with everything it had committed.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLibrary, RESERVE_BYTES } from '../../../db/index';
import { ensureWritableFolder } from '../../../ml/checkpoint';
import type { RunSettings } from '../../../preload/contract';
import { harness, importDataset, photoFolder } from '../../helpers/app';
import { fillDisk, mountTmpfs, unmountTmpfs } from '../../helpers/disk';

const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) {
    unmountTmpfs(m);
  }
});

const probe = mountTmpfs(1);
if (probe) mounts.push(probe);

function tmpFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.tmp(-\d+)?$/.test(f) || f.includes('.tmp/'));
}

describe.skipIf(!probe)('a full disk', () => {
  it('a metrics commit that fails in its timer reports the error instead of crashing', () => {
    const dir = mountTmpfs(4)!;
    mounts.push(dir);
    const lib = openLibrary(path.join(dir, 'library.sqlite'));
    const ds = lib.datasets.create('d');
    const run = lib.runs.create({ datasetId: ds.id, splitId: null, name: null, config: {}, preprocessing: {}, classes: ['a', 'b'], weightsSource: 'none' });
    const filler = fillDisk(dir);
    const errors: unknown[] = [];
    const writer = lib.metrics.writer(run.id, { maxRows: 1_000_000, maxDelayMs: 10, onError: (e) => errors.push(e) });
    for (let i = 0; i < 20_000; i++) writer.log('step', i, { loss: Math.random(), acc: Math.random() });
    return new Promise<void>((resolve) => setTimeout(resolve, 200)).then(() => {
      expect(errors).toHaveLength(1);
      expect((errors[0] as { code: string }).code).toBe('SQLITE_FULL');
      writer.discard();
      fs.rmSync(filler);
      lib.close();
      const again = openLibrary(path.join(dir, 'library.sqlite'));
      expect(again.runs.get(run.id).status).toBe('running');
      again.close();
    });
  });

  it('the library keeps a reserve file that, given back, lets a run\'s end be recorded on a full disk', () => {
    const dir = mountTmpfs(4)!;
    mounts.push(dir);
    const lib = openLibrary(path.join(dir, 'library.sqlite'));
    expect(fs.statSync(path.join(dir, 'library.sqlite.reserve')).size).toBe(RESERVE_BYTES);
    const ds = lib.datasets.create('d');
    const run = lib.runs.create({ datasetId: ds.id, splitId: null, name: null, config: {}, preprocessing: {}, classes: ['a', 'b'], weightsSource: 'none' });
    lib.db.exec('CREATE TABLE pad (x BLOB)');
    const pad = lib.db.prepare('INSERT INTO pad VALUES (?)');
    const filler = fillDisk(dir);
    try {
      // fill the WAL's spare room too: rows until SQLite itself says the disk is full
      let full: unknown = null;
      for (let i = 0; i < 100_000 && !full; i++) {
        try {
          pad.run(Buffer.alloc(4000, i));
        } catch (e) {
          full = e;
        }
      }
      expect((full as { code?: string } | null)?.code).toBe('SQLITE_FULL');
      expect(() => lib.runs.end(run.id, 'failed', 'the disk is full')).toThrow();
      expect(lib.releaseReserve()).toBe(true);
      lib.runs.end(run.id, 'failed', 'the disk is full');
      expect(lib.runs.get(run.id).status).toBe('failed');
      expect(lib.releaseReserve()).toBe(false); // given back once
    } finally {
      fs.rmSync(filler);
      lib.close();
    }
  });

  it('an output folder on a full disk is refused before any work, in one line', () => {
    const dir = mountTmpfs(1)!;
    mounts.push(dir);
    fillDisk(dir);
    expect(() => ensureWritableFolder(path.join(dir, 'model'))).toThrow(expect.objectContaining({ code: 'DISK_FULL', message: `the disk is full (${path.join(dir, 'model')})` }));
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.alexnet-write-test'))).toEqual([]);
  });

  it('a run on a disk that fills up ends failed, says so, and leaves no temporary file', async () => {
    const dir = mountTmpfs(24)!;
    mounts.push(dir);
    const h = harness({ dataDir: path.join(dir, 'data') });
    const photos = photoFolder(6);
    try {
      const ds = await importDataset(h, photos);
      const settings: RunSettings = { recipe: 'scratch', architecture: 'tiny', batchSize: 2, valFraction: 0.25, augment: false, lr: 0.01, epochs: 200 };
      const run = await h.ok('runs:start', { datasetId: ds, settings });
      await h.next('run:epoch', (e) => e.runId === run.id, 120_000); // a checkpoint and metrics are committed
      const filler = fillDisk(dir);
      const end = await h.next('run:status', (e) => e.runId === run.id && e.phase === 'done', 120_000);
      expect(end.status).toBe('failed');
      expect(end.error?.code).toBe('DISK_FULL');
      expect(end.error?.message).toMatch(/^the disk is full \(\//);
      expect(tmpFiles(h.dataDir)).toEqual([]);
      expect(h.lib.runs.get(run.id)).toMatchObject({ status: 'failed', error: end.error?.message });
      // what was committed is there; the process and the library keep working
      expect(h.lib.metrics.count(run.id)).toBeGreaterThan(0);
      fs.rmSync(filler);
      expect((await h.ok('runs:list', {})).map((r) => r.status)).toEqual(['failed']);
      const again = openLibrary(path.join(h.dataDir, 'library.sqlite'), { readonly: true });
      expect(again.runs.get(run.id).status).toBe('failed');
      again.close();
    } finally {
      await h.close();
      fs.rmSync(photos, { recursive: true, force: true });
    }
  }, 300_000);
});
