// The handlers against a careful user and a hostile caller: no empty dataset from an empty folder,
// no inherited names taken for fields, no forged cursor reaching SQL.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
