// The handlers against a careful user and a hostile caller: no empty dataset from an empty folder,
// no inherited names taken for fields, no forged cursor reaching SQL.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportLabels } from '../../../db/export';
import http from 'node:http';
import { createHandlers } from '../../../main/app/handlers/index';
import { readImage } from '../../../main/app/images';
import { startServer } from '../../../main/server/server';
import { harness, hymenoptera, importDataset, tempDir, type Harness } from '../../helpers/app';

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
    const bytes = fs.readFileSync(b);
    fs.writeFileSync(path.join(dir, 'c', 'broken.jpg'), bytes.subarray(0, bytes.length >> 1)); // stored as unreadable
    const ds = await importDataset(h, dir, 'img');
    const rows = h.lib.photos.all(ds);
    const byName = (n: string) => rows.find((r) => path.basename(r.path) === n)!;
    expect(byName('link.png')).toBeUndefined(); // the folder scanner sniffs the link's target: not an image, not imported
    expect(byName('broken.jpg').status).toBe('unreadable');
    for (const size of ['full', 'thumb'] as const) expect((await readImage(h.lib, { photoId: byName('broken.jpg').id, size })).status).toBe(404);
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

describe('validation', () => {
  it('takes no inherited name for a field', async () => {
    for (const body of ['{"name":"x","constructor":1}', '{"name":"x","toString":"y"}', '{"name":"x","__proto__":{"a":1}}', '{"name":"x","hasOwnProperty":null}']) {
      const r = await h.raw('datasets:create', JSON.parse(body));
      expect(r.ok ? null : r.error, body).toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/is not a known field/) });
    }
  });

  it('answers a forged page cursor with BAD_INPUT, never INTERNAL', async () => {
    const d = await h.ok('datasets:create', { name: 'cursor' });
    const forge = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const after of [forge([{ a: 1 }, 1]), forge([true, 1]), forge(['x', 1.5]), forge(['x', '1']), forge([[1], 2]), 'not base64 at all!']) {
      const r = await h.call('photos:list', { datasetId: d.id, sort: 'name', after });
      expect(r.ok ? null : r.error.code, after).toBe('BAD_INPUT');
    }
  });

  it('answers an oversized body with 413 instead of resetting the connection', async () => {
    const srv = await startServer({ ctx: h.ctx, handlers: createHandlers(h.ctx), staticDir: null, maxBodyBytes: 1000, maxUploadBytes: 2000 });
    const post = (p: string, body: Buffer, chunked: boolean) =>
      new Promise<number>((resolve, reject) => {
        const headers: Record<string, string> = { host: `127.0.0.1:${srv.port}`, 'content-type': 'application/json', authorization: `Bearer ${srv.token}` };
        if (!chunked) headers['content-length'] = String(body.length);
        const req = http.request({ host: '127.0.0.1', port: srv.port, path: p, method: 'POST', headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        if (chunked) for (let i = 0; i < body.length; i += 4096) req.write(body.subarray(i, i + 4096));
        else req.write(body);
        req.end();
      });
    try {
      const big = Buffer.alloc(200_000, 0x20);
      expect(await post('/api/datasets:list', big, false)).toBe(413);
      expect(await post('/api/datasets:list', big, true)).toBe(413);
      expect(await post('/upload?name=a.jpg', big, false)).toBe(413);
    } finally {
      await srv.close();
    }
  });
});

describe('uploads/', () => {
  it('loses old files nothing points at when the server starts, and keeps photos of the library', async () => {
    const dir = path.join(h.ctx.dataDir, 'uploads');
    fs.mkdirSync(dir, { recursive: true });
    const src = path.join(hymenoptera, 'val', 'ants', fs.readdirSync(path.join(hymenoptera, 'val', 'ants')).sort()[5]);
    const kept = path.join(dir, 'aaaaaaaaaaaa-kept.jpg');
    const old = path.join(dir, 'bbbbbbbbbbbb-old.jpg');
    const fresh = path.join(dir, 'cccccccccccc-fresh.jpg');
    for (const f of [kept, old, fresh]) fs.copyFileSync(src, f);
    fs.appendFileSync(old, 'x'); // different bytes from `kept`
    const d = await h.ok('datasets:create', { name: 'uploaded' });
    await h.ok('photos:add', { datasetId: d.id, files: [kept] });
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600_000);
    for (const f of [kept, old]) fs.utimesSync(f, twoDaysAgo, twoDaysAgo);
    const srv = await startServer({ ctx: h.ctx, handlers: createHandlers(h.ctx), staticDir: null });
    await srv.close();
    expect(fs.readdirSync(dir).sort()).toEqual(['aaaaaaaaaaaa-kept.jpg', 'cccccccccccc-fresh.jpg']);
  });
});
