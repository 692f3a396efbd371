// Browser mode: the same handlers over HTTP, pushed events as server-sent events, the built
// renderer as static files, photos by id — on 127.0.0.1 only, behind a random token.
//
//   POST /api/<channel>   JSON request -> JSON Reply (status 200, or 4xx/5xx with an error Reply)
//   GET  /api/events      text/event-stream: `event: <name>` + `data: <json>` per pushed event
//   GET  /img/<id>?size=thumb|full   a photo the library knows, by id
//   GET  /, /assets/...   renderer/dist (a placeholder page until it is built)
//
// Authentication, without cookies (a cookie for 127.0.0.1 reaches every other local port: another
// local server's page is the same site): API calls and uploads carry `Authorization: Bearer
// <token>`; the event stream (EventSource sends no headers) carries ?token=; images carry an
// image-only key (?key=, derived from the token: it opens photos, never the API) in the addresses
// app:info hands out. Tokens are compared in constant time; logs never print an address's query.
// The Host header must name this server (a DNS-rebinding page cannot talk to it), and /api/ calls
// must be JSON (a cross-site form cannot send that without a CORS preflight, which we never grant).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorCode, EventName, Events } from '../../preload/contract';
import { dataPaths, uploadFileName, type AppContext } from '../app/context';
import { sniffImage } from '../../ml/data';
import { dispatch, isChannel } from '../app/dispatch';
import type { Handlers } from '../app/handlers/index';
import { parseImageTarget, readImage } from '../app/images';

export type ServerOptions = {
  ctx: AppContext;
  handlers: Handlers;
  port?: number; // 0 (default): a free port
  token?: string; // default: 32 random bytes, hex
  staticDir?: string | null; // the built renderer (default the repo's renderer/dist)
  maxBodyBytes?: number; // largest request body (default 16 MiB)
  maxUploadBytes?: number; // largest file dropped on the page (default 64 MiB)
  heartbeatMs?: number; // SSE keep-alive comment interval (default 15 s)
};

export type RunningServer = { url: string; port: number; token: string; close(): Promise<void> };

const HOST = '127.0.0.1';

// HTTP status of each error code (the body says the rest).
const STATUS: Record<ErrorCode, number> = {
  BAD_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  BUSY: 409,
  CANCELLED: 409,
  FOLDER_NOT_FOUND: 404,
  BAD_IMAGE: 422,
  TOO_FEW_IMAGES: 422,
  NO_WEIGHTS: 422,
  BAD_WEIGHTS: 422,
  OFFLINE: 503,
  DOWNLOAD_FAILED: 502,
  BAD_MODEL: 422,
  OUT_OF_MEMORY: 507,
  DISK_FULL: 507,
  BACKEND_UNAVAILABLE: 503,
  GPU_FAILED: 500,
  LIBRARY_ERROR: 500,
  UNSUPPORTED: 501,
  FORBIDDEN: 403,
  INTERNAL: 500,
};

const STATIC_MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

// The page's policy: our own scripts and styles, images from /img, data from /api; nothing remote.
export const PAGE_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time token check (both sides hashed first, so lengths never leak either). */
export function tokenMatches(expected: string, given: string | null | undefined): boolean {
  if (typeof given !== 'string' || given.length === 0 || given.length > 512) return false;
  return timingSafeEqual(digest(expected), digest(given));
}

/** The image-only key of a token: opens /img/ and nothing else. */
export function imageKey(token: string): string {
  return createHmac('sha256', token).update('alexnet-studio images').digest('hex');
}

function bearer(req: http.IncomingMessage): string | null {
  const h = req.headers.authorization;
  return h && h.startsWith('Bearer ') ? h.slice(7).trim() : null;
}

function send(res: http.ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', ...headers });
  res.end(body);
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
}

/**
 * The request's body, or null when it is larger than `max` (a Content-Length above it is refused
 * before reading). An oversized body is read on and dropped, up to a bound, so that the 413 answer
 * reaches the client instead of a reset connection; past the bound the connection is cut.
 */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length']);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > max;
    if (over) resolve(null);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (!over && size > max) {
        over = true;
        chunks.length = 0;
        resolve(null);
      }
      if (over) {
        if (size > max + DRAIN_BYTES) req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const DRAIN_BYTES = 64 * 1024 * 1024; // how much of an oversized body is read and dropped before cutting the connection

// The extensions an upload may keep, per sniffed format (the first is given when the name has none of them).
const UPLOAD_EXT: Record<string, string[]> = {
  jpeg: ['.jpg', '.jpeg', '.jpe', '.jfif'],
  png: ['.png'],
  gif: ['.gif'],
  webp: ['.webp'],
  tiff: ['.tif', '.tiff'],
  avif: ['.avif'],
  heif: ['.heic', '.heif'],
};

const UPLOAD_MAX_AGE_MS = 24 * 3600_000;

/**
 * Removes what uploads/ holds that nothing needs: files older than a day that no photo of the
 * library points at (a classify drop is used once; an added photo stays).
 */
async function cleanUploads(ctx: AppContext): Promise<void> {
  const dir = dataPaths(ctx).uploads;
  const names = await fs.promises.readdir(dir).catch(() => [] as string[]);
  if (names.length === 0) return;
  const kept = new Set(ctx.lib.photos.pathsUnder(dir + path.sep));
  for (const n of names) {
    const f = path.join(dir, n);
    const st = await fs.promises.lstat(f).catch(() => null);
    if (st && !kept.has(f) && Date.now() - st.mtimeMs > UPLOAD_MAX_AGE_MS) await fs.promises.rm(f, { recursive: true, force: true });
  }
}

const PLACEHOLDER = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>AlexNet Studio</title></head>
<body><h1>AlexNet Studio</h1><p>The backend is running. The window (renderer/dist) is not built yet: run <code>npx vite build</code> in renderer/ and reload.</p></body></html>`;

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const { ctx, handlers } = o;
  const token = o.token ?? randomBytes(32).toString('hex');
  const staticDir = o.staticDir === undefined ? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../renderer/dist') : o.staticDir;
  const maxBody = o.maxBodyBytes ?? 16 * 1024 * 1024;
  const maxUpload = o.maxUploadBytes ?? 64 * 1024 * 1024;

  // POST /upload?name=<file name>, the bytes as body: a browser never tells the page where a dropped
  // file lives, so browser mode stores a copy in the data folder's uploads/ and answers its path
  // (for classify:files and photos:add). Images only, bounded, under a name of ours.
  const upload = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    const bad = (status: number, message: string) => json(res, status, { ok: false, error: { code: 'BAD_INPUT', message } });
    const name = path.basename(url.searchParams.get('name') ?? '').replace(/[^\w.\- ]+/g, '_').slice(-100) || 'photo';
    const body = await readBody(req, maxUpload);
    if (body === null) {
      res.setHeader('connection', 'close');
      return bad(413, `the file is larger than ${maxUpload >> 20} MiB`);
    }
    const kind = sniffImage(body.subarray(0, 64));
    if (!kind.image) return bad(415, `${name} is not an image (${kind.reason})`);
    // stored under an image extension of its real format, whatever the name claimed (a.html -> a.html.png)
    const ext = path.extname(name).toLowerCase();
    const stored = (UPLOAD_EXT[kind.format] ?? ['.img']).includes(ext) ? name : `${name}${(UPLOAD_EXT[kind.format] ?? ['.img'])[0]}`;
    const dir = dataPaths(ctx).uploads;
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, uploadFileName(stored, randomBytes(6).toString('hex')));
    await fs.promises.writeFile(file, body, { flag: 'wx' });
    return json(res, 200, { ok: true, value: { path: file } });
  };
  const clients = new Set<http.ServerResponse>();
  let port = 0;

  const authorised = (req: http.IncomingMessage) => tokenMatches(token, bearer(req));
  const imgKey = imageKey(token);
  // the page's image addresses carry the image key (an <img> cannot send a header)
  if (ctx.imageUrl.thumb.startsWith('/img/')) ctx.imageUrl = { thumb: `/img/{id}?size=thumb&key=${imgKey}`, full: `/img/{id}?size=full&key=${imgKey}` };
  await cleanUploads(ctx);

  const unsubscribe = ctx.bus.on(<E extends EventName>(name: E, payload: Events[E]) => {
    const frame = `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`;
    for (const c of clients) c.write(frame);
  });

  const serveStatic = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    const headers: Record<string, string> = {};
    const index = staticDir ? path.join(staticDir, 'index.html') : null;
    if (!staticDir || !index || !fs.existsSync(index)) {
      send(res, 200, PLACEHOLDER, { ...headers, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_CSP, 'cache-control': 'no-store' });
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname);
    } catch {
      send(res, 400, 'bad address');
      return;
    }
    const file = path.resolve(staticDir, '.' + path.posix.normalize(rel));
    const inside = file === staticDir || file.startsWith(staticDir + path.sep);
    const st = inside ? await fs.promises.stat(file).catch(() => null) : null;
    const target = st?.isFile() ? file : index; // client-side routes get the app
    const mime = STATIC_MIME[path.extname(target).toLowerCase()] ?? 'application/octet-stream';
    send(res, 200, await fs.promises.readFile(target), { ...headers, 'content-type': mime, 'content-security-policy': PAGE_CSP, 'cache-control': target === index ? 'no-store' : 'public, max-age=3600' });
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      // Host must be this server: refuses DNS-rebinding pages that resolve their name to 127.0.0.1.
      const host = req.headers.host ?? '';
      if (host !== `${HOST}:${port}` && host !== `localhost:${port}`) return send(res, 421, 'wrong host');
      // A path that needs normalising ('..', '.', '//', backslashes, encoded dots or slashes) is
      // refused before anything looks at it: no route of ours has one.
      const rawPath = (req.url ?? '/').split('?')[0];
      if (/(^|\/)\.{1,2}(\/|$)|\/\/|\\|%2e|%2f|%5c|%00/i.test(rawPath)) return send(res, 400, 'bad address', { 'content-type': 'text/plain; charset=utf-8' });
      const url = new URL(req.url ?? '/', `http://${HOST}:${port}`);
      const p = url.pathname;

      if (p.startsWith('/api/')) {
        const ok = authorised(req) || (p === '/api/events' && tokenMatches(token, url.searchParams.get('token')));
        if (!ok) return json(res, 401, { ok: false, error: { code: 'FORBIDDEN', message: 'missing or wrong token' } });
        if (p === '/api/events') {
          if (req.method !== 'GET') return send(res, 405, 'GET only');
          res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
          res.write(': connected\n\n');
          clients.add(res);
          const beat = setInterval(() => res.write(': keep-alive\n\n'), o.heartbeatMs ?? 15_000);
          req.on('close', () => {
            clearInterval(beat);
            clients.delete(res);
          });
          return;
        }
        if (req.method !== 'POST') return json(res, 405, { ok: false, error: { code: 'BAD_INPUT', message: 'calls are POST requests' } });
        const channel = p.slice('/api/'.length);
        if (!isChannel(channel)) return json(res, 404, { ok: false, error: { code: 'BAD_INPUT', message: `unknown call '${channel.slice(0, 60)}'` } });
        if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) return json(res, 415, { ok: false, error: { code: 'BAD_INPUT', message: 'send the request as application/json' } });
        const body = await readBody(req, maxBody);
        if (body === null) {
          res.setHeader('connection', 'close');
          return json(res, 413, { ok: false, error: { code: 'BAD_INPUT', message: `the request is larger than ${maxBody} bytes` } });
        }
        let request: unknown;
        try {
          request = body.length ? JSON.parse(body.toString('utf8')) : {};
        } catch {
          return json(res, 400, { ok: false, error: { code: 'BAD_INPUT', message: 'the request body is not valid JSON' } });
        }
        const reply = await dispatch(handlers, channel, request, ctx.log);
        return json(res, reply.ok ? 200 : STATUS[reply.error.code], reply);
      }

      if (p === '/upload') {
        if (!authorised(req)) return json(res, 401, { ok: false, error: { code: 'FORBIDDEN', message: 'missing or wrong token' } });
        if (req.method !== 'POST') return json(res, 405, { ok: false, error: { code: 'BAD_INPUT', message: 'uploads are POST requests' } });
        return upload(req, res, url);
      }

      if (p.startsWith('/img/')) {
        if (!authorised(req) && !tokenMatches(imgKey, url.searchParams.get('key'))) return send(res, 401, 'missing or wrong token');
        if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only');
        const target = parseImageTarget(p.slice('/img/'.length), url.searchParams.get('size'));
        if (!target) return send(res, 400, 'bad image address');
        const r = await readImage(ctx.lib, target);
        return send(res, r.status, r.body, r.headers);
      }

      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only');
      return serveStatic(req, res, url);
    })().catch((err: unknown) => {
      ctx.log('error', `HTTP ${req.method} ${(req.url ?? '').split('?')[0]} failed`, err); // the query may hold a token or key
      if (!res.headersSent) send(res, 500, 'internal error');
      else res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, HOST, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://${HOST}:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        unsubscribe();
        for (const c of clients) c.end();
        clients.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
