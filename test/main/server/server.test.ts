// Browser mode over real HTTP: the token (401 without it, constant-time check), a call with it,
// server-sent events, the Host check, and the image route's refusals of path tricks.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../../main/app/handlers/index';
import { imageTargetFromUrl, parseImageTarget } from '../../../main/app/images';
import { startServer, tokenMatches, type RunningServer } from '../../../main/server/server';
import { harness, importDataset, photoFolder, tempDir, type Harness } from '../../helpers/app';

type Raw = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

/** A raw request: the path goes out exactly as written (fetch would normalise '..' away). */
function request(port: number, rawPath: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: opts.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

let h: Harness;
let srv: RunningServer;
let folder: string;
let staticDir: string;
let ds: number;
let photoId: number;
let photoPath: string;
const auth = () => ({ authorization: `Bearer ${srv.token}` });
const post = (channel: string, body: unknown, headers: Record<string, string> = auth()) =>
  request(srv.port, `/api/${channel}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

beforeAll(async () => {
  h = harness();
  folder = photoFolder(2);
  ds = await importDataset(h, folder);
  const first = (await h.ok('photos:list', { datasetId: ds, limit: 1 })).items[0];
  photoId = first.id;
  photoPath = first.path;
  staticDir = tempDir('alexnet-static-');
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>app</title>');
  fs.mkdirSync(path.join(staticDir, 'assets'));
  fs.writeFileSync(path.join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  srv = await startServer({ ctx: h.ctx, handlers: createHandlers(h.ctx), staticDir, heartbeatMs: 100 });
});

afterAll(async () => {
  await srv.close();
  await h.close();
  fs.rmSync(folder, { recursive: true, force: true });
  fs.rmSync(staticDir, { recursive: true, force: true });
});

describe('token', () => {
  it('prints a 127.0.0.1 address with a 64-hex token', () => {
    expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
  });

  it('answers 401 to /api/ calls and the event stream without the token or with a wrong one', async () => {
    expect((await post('datasets:list', {}, {})).status).toBe(401);
    expect((await post('datasets:list', {}, { authorization: `Bearer ${srv.token.slice(0, -1)}${srv.token.endsWith('0') ? '1' : '0'}` })).status).toBe(401);
    expect((await post('datasets:list', {}, { authorization: 'Bearer ' })).status).toBe(401);
    expect((await post('no:such', {}, {})).status).toBe(401); // even unknown calls
    expect((await request(srv.port, '/api/events')).status).toBe(401);
    const r = await post('datasets:create', { name: 'sneaky' }, {});
    expect(JSON.parse(r.body.toString())).toEqual({ ok: false, error: { code: 'FORBIDDEN', message: 'missing or wrong token' } });
    expect((await h.ok('datasets:list', {})).map((d) => d.name)).toEqual(['hym']); // nothing made
  });

  it('compares tokens whatever their length', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abc', 'abcd')).toBe(false);
    expect(tokenMatches('abc', '')).toBe(false);
    expect(tokenMatches('abc', null)).toBe(false);
  });

  it('a call with the token answers the handler Reply; errors carry their HTTP status', async () => {
    const r = await post('datasets:list', {});
    expect(r.status).toBe(200);
    const reply = JSON.parse(r.body.toString()) as { ok: boolean; value: { name: string; photoCount: number }[] };
    expect(reply.value.map((d) => [d.name, d.photoCount])).toEqual([['hym', 4]]);
    const nf = await post('photos:get', { photoId: 123456 });
    expect(nf.status).toBe(404);
    expect(JSON.parse(nf.body.toString())).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: 'no photo with id 123456' } });
    const bad = await post('photos:get', { photoId: 'x' });
    expect(bad.status).toBe(400);
    const unknown = await post('photos:burn', {});
    expect(unknown.status).toBe(404);
    const notJson = await request(srv.port, '/api/datasets:list', { method: 'POST', headers: { ...auth(), 'content-type': 'text/plain' }, body: '{}' });
    expect(notJson.status).toBe(415);
    const broken = await request(srv.port, '/api/datasets:list', { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: '{nope' });
    expect(broken.status).toBe(400);
  });

  it('sets no cookie and takes none: a cookie reaches every local port, so only the header opens the API', async () => {
    const page = await request(srv.port, `/?token=${srv.token}`);
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain('<title>app</title>');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['set-cookie']).toBeUndefined();
    expect((await post('app:info', {}, { cookie: `alexnet_token=${srv.token}` })).status).toBe(401);
    // the token in a query opens the event stream only; the image key opens images only
    expect((await request(srv.port, `/api/datasets:list?token=${srv.token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    const info = JSON.parse((await post('app:info', {})).body.toString()).value as { imageUrl: { thumb: string } };
    const key = new URL(info.imageUrl.thumb, 'http://x').searchParams.get('key')!;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toBe(srv.token);
    expect((await post('datasets:list', {}, { authorization: `Bearer ${key}` })).status).toBe(401);
    expect((await request(srv.port, `/api/events?token=${key}`)).status).toBe(401);
  });

  it('never writes a token or key into the log', async () => {
    const logs: string[] = [];
    const broken = tempDir('alexnet-static-broken-');
    fs.mkdirSync(path.join(broken, 'index.html')); // reading the page fails: the failure is logged
    const ctx = { ...h.ctx, log: (_l: string, m: string) => void logs.push(m) };
    const other = await startServer({ ctx, handlers: createHandlers(ctx), staticDir: broken, token: 'secret-token-123' });
    try {
      expect((await request(other.port, '/?token=secret-token-123')).status).toBe(500);
    } finally {
      await other.close();
      fs.rmSync(broken, { recursive: true, force: true });
    }
    expect(logs.join('\n')).toContain('HTTP GET / failed');
    expect(logs.join('\n')).not.toContain('secret-token-123');
  });

  it('refuses a Host header that is not this server (DNS rebinding)', async () => {
    const r = await request(srv.port, '/api/datasets:list', { method: 'POST', headers: { ...auth(), host: 'evil.example:80', 'content-type': 'application/json' }, body: '{}' });
    expect(r.status).toBe(421);
  });
});

describe('server-sent events', () => {
  it('delivers pushed events to a subscriber with the token', async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: srv.port, path: `/api/events?token=${srv.token}`, headers: { host: `127.0.0.1:${srv.port}` } }, (res) => {
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toContain('text/event-stream');
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          if (buf.includes(': connected') && !buf.includes('library:changed')) h.ctx.bus.emit('library:changed', { datasetId: ds, what: 'labels' });
          const m = /event: library:changed\ndata: (.*)\n\n/.exec(buf);
          if (m) {
            req.destroy();
            resolve(m[1]);
          }
        });
      });
      req.on('error', (e) => (String(e).includes('socket hang up') ? null : reject(e)));
      req.end();
    });
    expect(JSON.parse(got)).toEqual({ datasetId: ds, what: 'labels' });
  });
});

describe('images', () => {
  it('serves a thumbnail (WebP) and the full photo, by id, with the token', async () => {
    const thumb = await request(srv.port, `/img/${photoId}?size=thumb`, { headers: auth() });
    expect(thumb.status).toBe(200);
    expect(thumb.headers['content-type']).toBe('image/webp');
    expect(thumb.body.subarray(8, 12).toString()).toBe('WEBP');
    expect((await request(srv.port, `/img/${photoId}?size=full&token=${srv.token}`)).status).toBe(401); // the token is not an image key
    const info = JSON.parse((await post('app:info', {})).body.toString()).value as { imageUrl: { full: string } };
    const full = await request(srv.port, info.imageUrl.full.replace('{id}', String(photoId)));
    expect(full.status).toBe(200);
    expect(full.headers['content-type']).toBe('image/jpeg');
    expect(full.body.equals(fs.readFileSync(photoPath))).toBe(true);
    expect((await request(srv.port, `/img/${photoId}?size=thumb`)).status).toBe(401);
  });

  it('refuses path tricks, other kinds of ids and unknown photos, serving no file', async () => {
    const passwd = fs.existsSync('/etc/passwd') ? fs.readFileSync('/etc/passwd') : Buffer.from('root:');
    const attempts = [
      '/img/../../../../etc/passwd',
      '/img/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
      '/img/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/img//etc/passwd',
      '/img/%2Fetc%2Fpasswd',
      `/img/${photoId}/../../etc/passwd`,
      `/img/${photoId}%00.jpg`,
      `/img/${photoId}?size=../../etc/passwd`,
      `/img/${photoId}?size=original`,
      '/img/0',
      '/img/-1',
      '/img/1.5',
      '/img/0x1',
      '/img/1e3',
      '/img/%201',
      '/img/run/1',
      '/img/class:1',
      `/img/${encodeURIComponent(photoPath)}`,
      '/img/99999999',
    ];
    for (const a of attempts) {
      const r = await request(srv.port, a, { headers: auth() });
      expect([400, 404], a).toContain(r.status);
      expect(r.body.includes(passwd.subarray(0, 5)), a).toBe(false);
      expect(String(r.headers['content-type']), a).not.toMatch(/^image\//);
    }
    expect((await request(srv.port, '/img/99999999', { headers: auth() })).status).toBe(404);
  });

  it('parses only a decimal id and a known size', () => {
    expect(parseImageTarget('17', 'full')).toEqual({ photoId: 17, size: 'full' });
    expect(parseImageTarget('17', null)).toEqual({ photoId: 17, size: 'thumb' });
    for (const bad of ['', '017', '17/', '..', '%31', '1'.repeat(20), '17 ']) expect(parseImageTarget(bad, null), bad).toBeNull();
  });

  it('app-img:// addresses: only app-img://photo/<id>?size=..., every trick refused', () => {
    expect(imageTargetFromUrl('app-img://photo/17?size=full')).toEqual({ photoId: 17, size: 'full' });
    expect(imageTargetFromUrl('app-img://photo/17')).toEqual({ photoId: 17, size: 'thumb' });
    for (const bad of [
      'app-img://photo/../../etc/passwd',
      'app-img://photo/..%2F..%2Fetc%2Fpasswd',
      'app-img://photo/%2Fetc%2Fpasswd',
      'app-img://photo//etc/passwd',
      'app-img://photo/17/../18',
      'app-img://photo/17%00',
      'app-img://photo/17?size=..%2F..%2Fx',
      'app-img://photo/17?size=original',
      'app-img://run/17',
      'app-img://thumbnails/17',
      'app-img://photo:80/17',
      'app-img://user@photo/17',
      'app-img:///etc/passwd',
      'file:///etc/passwd',
      'app-img://photo/-1',
      'app-img://photo/0x11',
    ]) {
      expect(imageTargetFromUrl(bad), bad).toBeNull();
    }
  });

  it('static files stay inside the renderer folder', async () => {
    const js = await request(srv.port, '/assets/app.js');
    expect(js.body.toString()).toBe('console.log(1)');
    expect(js.headers['content-type']).toContain('text/javascript');
    for (const a of ['/../../../../etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd', '/assets/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd']) {
      const r = await request(srv.port, a);
      expect(r.status, a).toBe(400);
      expect(r.body.toString(), a).toBe('bad address');
    }
  });
});

describe('upload (files dropped on the page in browser mode)', () => {
  it('stores an image in the data folder under a name of its own and answers its path', async () => {
    const bytes = fs.readFileSync(photoPath);
    const r = await request(srv.port, '/upload?name=' + encodeURIComponent('../../my photo.jpg'), { method: 'POST', headers: { ...auth(), 'content-type': 'image/jpeg' }, body: bytes });
    expect(r.status).toBe(200);
    const reply = JSON.parse(r.body.toString());
    expect(reply.ok).toBe(true);
    const stored: string = reply.value.path;
    expect(path.dirname(stored)).toBe(path.join(h.ctx.dataDir, 'uploads')); // '../' in the name went nowhere
    expect(path.basename(stored)).toMatch(/^[0-9a-f]{12}-my photo\.jpg$/);
    expect(fs.readFileSync(stored).equals(bytes)).toBe(true);
    // and the stored path is what classify/add calls accept
    const add = await post('photos:add', { datasetId: ds, files: [stored] });
    expect(add.status, add.body.toString()).toBe(200);
  });

  it('keeps only an image extension of the real format', async () => {
    const bytes = fs.readFileSync(photoPath);
    const r = await request(srv.port, '/upload?name=page.html', { method: 'POST', headers: auth(), body: bytes });
    const stored: string = JSON.parse(r.body.toString()).value.path;
    expect(path.basename(stored)).toMatch(/^[0-9a-f]{12}-page\.html\.jpg$/);
    fs.rmSync(stored);
  });

  it('refuses without the token, a non-image, and GET', async () => {
    const bytes = fs.readFileSync(photoPath);
    expect((await request(srv.port, '/upload?name=a.jpg', { method: 'POST', body: bytes })).status).toBe(401);
    const text = await request(srv.port, '/upload?name=a.jpg', { method: 'POST', headers: auth(), body: 'hello, not a photo' });
    expect(text.status).toBe(415);
    expect(JSON.parse(text.body.toString()).error.message).toMatch(/not an image/);
    expect((await request(srv.port, '/upload?name=a.jpg', { headers: auth() })).status).toBe(405);
    const before = fs.readdirSync(path.join(h.ctx.dataDir, 'uploads')).length;
    expect(before).toBe(1); // only the accepted file was stored
  });
});
