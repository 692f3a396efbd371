// The handlers against a careful user and a hostile caller: no empty dataset from an empty folder,
// no inherited names taken for fields, no forged cursor reaching SQL.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportLabels } from '../../db/export';
import { readImage } from '../../main/images';
import { harness, hymenoptera, importDataset, tempDir, type Harness } from './helpers';

let h: Harness;
beforeAll(() => {
  h = harness();
});
afterAll(async () => {
  await h.close();
});

describe('import', () => {
  it('refuses a folder without photos and makes no dataset', async () => {
    const empty = tempDir('alexnet-empty-');
    fs.mkdirSync(path.join(empty, 'ants'));
    fs.writeFileSync(path.join(empty, 'ants', 'notes.txt'), 'no photos');
    const r = await h.call('import:start', { folder: empty, datasetName: 'empty' });
    expect(r.ok ? null : r.error.code).toBe('BAD_INPUT');
    expect(r.ok ? '' : r.error.message).toMatch(/^no photos in .*: nothing to import$/);
    expect((await h.ok('datasets:list', {})).map((d) => d.name)).not.toContain('empty');
    fs.rmSync(empty, { recursive: true, force: true });
  });
});

describe('images', () => {
  it('serve only photos stored as ok, still regular image files, under the type their bytes are', async () => {
    const dir = tempDir('alexnet-img-');
    const secret = path.join(dir, 'secret.txt');
    fs.writeFileSync(secret, 'password=hunter2\n'.repeat(50));
    fs.mkdirSync(path.join(dir, 'c'));
    fs.symlinkSync(secret, path.join(dir, 'c', 'link.png'));
    const [a, b] = fs.readdirSync(path.join(hymenoptera, 'val', 'ants')).sort().map((f) => path.join(hymenoptera, 'val', 'ants', f));
    fs.copyFileSync(a, path.join(dir, 'c', 'named.png')); // a JPEG under a .png name
    fs.copyFileSync(b, path.join(dir, 'c', 'later.jpg'));
    const ds = await importDataset(h, dir, 'img');
    const rows = h.lib.photos.all(ds);
    const byName = (n: string) => rows.find((r) => path.basename(r.path) === n)!;
    expect(byName('link.png').status).not.toBe('ok');
    const link = await readImage(h.lib, { photoId: byName('link.png').id, size: 'full' });
    expect(link.status).toBe(404);
    expect(link.body.toString()).not.toContain('hunter2');
    expect((await readImage(h.lib, { photoId: byName('link.png').id, size: 'thumb' })).status).toBe(404);
    const named = await readImage(h.lib, { photoId: byName('named.png').id, size: 'full' });
    expect(named.status).toBe(200);
    expect(named.headers['content-type']).toBe('image/jpeg');
    // a file swapped for something else after the import is not served either
    fs.writeFileSync(path.join(dir, 'c', 'later.jpg'), 'not a photo any more');
    expect((await readImage(h.lib, { photoId: byName('later.jpg').id, size: 'full' })).status).toBe(404);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('class names and export', () => {
  it("refuses '.' and '..' as class names, and an export never writes outside its folder", async () => {
    const d = await h.ok('datasets:create', { name: 'dots' });
    for (const name of ['..', '.', ' .. ']) {
      const r = await h.call('classes:create', { datasetId: d.id, name });
      expect(r.ok ? null : r.error.code, name).toBe('BAD_INPUT');
    }
    const c = await h.ok('classes:create', { datasetId: d.id, name: 'ok' });
    const renamed = await h.call('classes:update', { classId: c.id, name: '..' });
    expect(renamed.ok ? null : renamed.error.code).toBe('BAD_INPUT');
    // a library from before the rule: the class is called '..' already
    const src = tempDir('alexnet-dots-src-');
    const photo = path.join(src, 'p.jpg');
    fs.copyFileSync(path.join(hymenoptera, 'val', 'bees', fs.readdirSync(path.join(hymenoptera, 'val', 'bees')).sort()[0]), photo);
    await h.ok('photos:add', { datasetId: d.id, files: [photo], classId: c.id });
    h.lib.db.prepare("UPDATE classes SET name = '..' WHERE id = ?").run(c.id);
    const parent = tempDir('alexnet-dots-out-');
    const out = path.join(parent, 'out');
    expect(() => exportLabels(h.lib, d.id, { format: 'folders', out })).toThrow(/cannot be a folder name/);
    expect(fs.readdirSync(parent).filter((f) => f !== 'out')).toEqual([]);
    fs.rmSync(src, { recursive: true, force: true });
    fs.rmSync(parent, { recursive: true, force: true });
  });
});
