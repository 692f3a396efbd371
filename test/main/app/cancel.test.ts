// Every worker job can be cancelled and none outlives its end (issue 16, item 3): models:cancel stops
// an export (CANCELLED, its folder removed, its worker gone, the same export possible again),
// classify:cancel a classify call and predict:cancel the background predictions of new photos. And original names and thumbnails everywhere (item 7): a typed
// path's classify result carries a small JPEG thumbnail made by the job; a photo added from the
// browser's uploads/ keeps the name the user dropped, not the stored copy's `<hex>-` name.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { hymenoptera, useFinishedRun } from '../../helpers/app';


const lib = useFinishedRun(4, 'alexnet-cancel-');

/** This process's child processes (the workers it forked), by pid. */
function children(): number[] {
  try {
    const rows = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n').map((s) => s.trim().split(/\s+/));
    return rows.filter(([pid, comm]) => Number(pid) > 0 && comm !== 'ps').map(([pid]) => Number(pid)); // not ps itself
  } catch {
    return []; // ps exits 1 when there are none
  }
}

const valPhoto = (c: 'ants' | 'bees', i: number) => {
  const d = path.join(hymenoptera, 'val', c);
  return path.join(d, fs.readdirSync(d).sort()[i]);
};

describe('cancel', () => {
  it('models:cancel stops an export: CANCELLED, no folder left, no worker left, and it can run again', async () => {
    const { h, out, runId } = lib;
    expect(await h.ok('models:cancel', { runId, format: 'onnx' })).toEqual({ cancelled: false }); // nothing at work
    const before = children();
    const target = path.join(out, `alexnet-run-${runId}-onnx`);
    const pending = h.call('models:export', { runId, format: 'onnx', folder: out });
    await new Promise((r) => setTimeout(r, 300));
    expect(fs.existsSync(target)).toBe(true); // made before the worker started
    const fresh = () => children().filter((pid) => !before.includes(pid)); // workers started since
    expect(fresh().length).toBe(1); // the export's worker
    const twice = await h.call('models:export', { runId, format: 'onnx', folder: out });
    expect(twice.ok ? null : twice.error.code).toBe('BUSY');
    expect(await h.ok('models:cancel', { runId, format: 'onnx' })).toEqual({ cancelled: true });
    const res = await pending;
    expect(res.ok ? null : res.error).toEqual({ code: 'CANCELLED', message: 'the export was cancelled' });
    expect(fs.existsSync(target)).toBe(false);
    expect(fresh()).toEqual([]); // it has exited
    const again = await h.ok('models:export', { runId, format: 'onnx', folder: out });
    expect(again.files).toContain('model.onnx');
  }, 60_000);

  it('classify:cancel stops a classify call at work', async () => {
    const { h, runId } = lib;
    expect(await h.ok('classify:cancel', { runId })).toEqual({ cancelled: false });
    const before = children();
    const files = Array.from({ length: 20 }, (_, i) => valPhoto(i % 2 ? 'ants' : 'bees', i));
    const pending = h.call('classify:files', { runId, files });
    await new Promise((r) => setTimeout(r, 300));
    expect(await h.ok('classify:cancel', { runId })).toEqual({ cancelled: true });
    const res = await pending;
    expect(res.ok ? null : res.error).toEqual({ code: 'CANCELLED', message: 'the classify was cancelled' });
    expect(children().filter((pid) => !before.includes(pid))).toEqual([]);
  }, 60_000);

  it('predict:cancel stops runs:predict: its progress ends with CANCELLED and a later call finds the photos still to do', async () => {
    const { h, runId, ds } = lib;
    expect(await h.ok('predict:cancel', { runId })).toEqual({ cancelled: false });
    const files = Array.from({ length: 24 }, (_, i) => valPhoto(i % 2 ? 'ants' : 'bees', 40 + i));
    const { photoIds } = await h.ok('photos:add', { datasetId: ds, files });
    expect(photoIds.length).toBe(24);
    const before = children();
    const ended = h.next('predict:progress', (p) => p.runId === runId && p.error !== null);
    expect(await h.ok('runs:predict', { runId })).toEqual({ queued: 24 });
    await new Promise((r) => setTimeout(r, 300));
    expect(await h.ok('predict:cancel', { runId })).toEqual({ cancelled: true });
    expect((await ended).error).toEqual({ code: 'CANCELLED', message: 'predicting new photos was cancelled' });
    await expect.poll(() => children().filter((pid) => !before.includes(pid))).toEqual([]);
    expect(await h.ok('runs:predict', { runId })).toEqual({ queued: 24 }); // nothing was half-written
    await h.next('predict:progress', (p) => p.runId === runId && p.done === 24, 60_000);
  }, 90_000);
});

describe('names and thumbnails', () => {
  it('classify:files with thumbs: each readable file comes back with a small upright JPEG', async () => {
    const { h, out, runId } = lib;
    const bad = path.join(out, 'broken.jpg');
    fs.writeFileSync(bad, fs.readFileSync(valPhoto('ants', 0)).subarray(0, 200));
    const files = [valPhoto('ants', 1), valPhoto('bees', 1), bad];
    const { results } = await h.ok('classify:files', { runId, files, thumbs: true });
    expect(results.map((r) => r.file)).toEqual(files);
    for (const r of results.slice(0, 2)) {
      if (!('predictions' in r)) throw new Error(r.error.message);
      expect(r.thumb).toMatch(/^data:image\/jpeg;base64,/);
      const bytes = Buffer.from(r.thumb!.split(',')[1], 'base64');
      expect(bytes.length).toBeLessThan(20_000);
      const meta = await sharp(bytes).metadata();
      expect(meta.format).toBe('jpeg');
      expect(Math.max(meta.width!, meta.height!)).toBe(160);
      const src = await sharp(r.file).rotate().toBuffer({ resolveWithObject: true });
      expect(meta.width! > meta.height!).toBe(src.info.width > src.info.height); // same shape as the photo
    }
    expect('error' in results[2]).toBe(true);
    const plain = await h.ok('classify:files', { runId, files: files.slice(0, 1) });
    expect('thumb' in plain.results[0]).toBe(false); // only when asked: a batch of 10,000 stays small
  }, 60_000);

  it('a photo added from uploads/ keeps the name the user dropped; any other file its own name', async () => {
    const { h, out, ds } = lib;
    const uploads = path.join(h.dataDir, 'uploads');
    fs.mkdirSync(uploads, { recursive: true });
    const dropped = path.join(uploads, 'a4cde59248e3-daisy in the garden.jpg');
    fs.copyFileSync(valPhoto('bees', 7), dropped);
    const elsewhere = path.join(out, '0123456789ab-kept as is.jpg');
    fs.copyFileSync(valPhoto('ants', 7), elsewhere);
    const { photoIds, skipped } = await h.ok('photos:add', { datasetId: ds, files: [dropped, elsewhere] });
    expect(skipped).toEqual([]);
    const names = await Promise.all(photoIds.map(async (id) => (await h.ok('photos:get', { photoId: id })).name));
    expect(names).toEqual(['daisy in the garden.jpg', '0123456789ab-kept as is.jpg']);
    expect((await h.ok('photos:get', { photoId: photoIds[0] })).path).toBe(dropped); // the stored copy is what is read
  });
});
