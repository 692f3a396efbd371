// downloadFile against a real HTTP server on 127.0.0.1 serving a generated file: progress, resume
// after a cut connection (Range), a server without Range, checksum refusal, 404, offline, cancel.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { downloadFile, weightsUrl, DEFAULT_WEIGHTS_URL, type DownloadProgress } from '../../../ml/weights/download';
import { engineError } from '../../helpers/engine-error';

const FILE = randomBytes(1_500_000); // the served file
const SHA = createHash('sha256').update(FILE).digest('hex');
const CHUNK = 64 * 1024;

type Behaviour = { range: boolean; cutAt: number | null; cutTimes: number; stallAt: number | null };
let behaviour: Behaviour;
let seen: { url: string; range: string | undefined }[] = [];
let server: http.Server;
let base = '';
let dir = '';

/** Sends body[from..] in chunks, stopping (socket destroyed) at `cutAt` or stalling at `stallAt`. */
function send(res: http.ServerResponse, body: Buffer, from: number): void {
  let pos = from;
  const step = (): void => {
    if (behaviour.cutAt !== null && behaviour.cutTimes > 0 && pos >= behaviour.cutAt) {
      behaviour.cutTimes--;
      res.socket?.destroy(); // the connection drops mid-body
      return;
    }
    if (behaviour.stallAt !== null && pos >= behaviour.stallAt) return; // hangs until the client gives up
    if (pos >= body.length) {
      res.end();
      return;
    }
    const end = Math.min(body.length, pos + CHUNK, behaviour.cutAt !== null && behaviour.cutTimes > 0 && pos < behaviour.cutAt ? behaviour.cutAt : Infinity);
    res.write(body.subarray(pos, end), () => setImmediate(step));
    pos = end;
  };
  step();
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', range: req.headers.range });
    if (req.url !== '/bvlcalexnet-12.onnx') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (behaviour.range && m) {
      const from = Number(m[1]);
      if (from >= FILE.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${FILE.length}` }).end();
        return;
      }
      res.writeHead(206, { 'Content-Length': FILE.length - from, 'Content-Range': `bytes ${from}-${FILE.length - 1}/${FILE.length}`, 'Accept-Ranges': 'bytes' });
      send(res, FILE, from);
    } else {
      res.writeHead(200, { 'Content-Length': FILE.length });
      send(res, FILE, 0);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(() => {
  behaviour = { range: true, cutAt: null, cutTimes: 0, stallAt: null };
  seen = [];
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = mkdtempSync(path.join(os.tmpdir(), 'alexnet-dl-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('downloadFile', () => {
  it('downloads with progress (bytes, total, rate, ETA) and checks the SHA-256', async () => {
    const dest = path.join(dir, 'w', 'bvlcalexnet-12.onnx');
    const events: DownloadProgress[] = [];
    const r = await downloadFile({ url: `${base}/bvlcalexnet-12.onnx`, dest, sha256: SHA, onProgress: (p) => events.push(p), progressIntervalMs: 0 });
    expect(r).toMatchObject({ file: dest, bytes: FILE.length, sha256: SHA, resumed: false, attempts: 1 });
    expect(readFileSync(dest).equals(FILE)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(events.length).toBeGreaterThan(5);
    for (let i = 1; i < events.length; i++) expect(events[i].bytes).toBeGreaterThanOrEqual(events[i - 1].bytes);
    expect(events.every((e) => e.total === FILE.length)).toBe(true);
    const last = events[events.length - 1];
    expect(last.bytes).toBe(FILE.length);
    expect(last.rate).toBeGreaterThan(0);
    expect(last.etaSeconds).toBe(0);
    expect(events.some((e) => e.etaSeconds !== null && e.etaSeconds > 0)).toBe(true);
  });

  it('resumes with a Range request after the server cuts the connection mid-body', async () => {
    behaviour.cutAt = 600_000;
    behaviour.cutTimes = 1;
    const dest = path.join(dir, 'f.onnx');
    const r = await downloadFile({ url: `${base}/bvlcalexnet-12.onnx`, dest, sha256: SHA });
    expect(r.resumed).toBe(true);
    expect(r.attempts).toBe(2);
    // The second request asks for the rest of what reached the disk (at most the 600,000 sent).
    expect(seen.length).toBe(2);
    expect(seen[0].range).toBeUndefined();
    const from = Number(/^bytes=(\d+)-$/.exec(seen[1].range ?? '')?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(600_000);
    expect(readFileSync(dest).equals(FILE)).toBe(true);
  });

  it('keeps the .part file when cancelled and resumes from it on the next call', async () => {
    behaviour.stallAt = 400_000;
    const dest = path.join(dir, 'f.onnx');
    const ac = new AbortController();
    const p = downloadFile({
      url: `${base}/bvlcalexnet-12.onnx`,
      dest,
      sha256: SHA,
      progressIntervalMs: 0,
      signal: ac.signal,
      onProgress: (e) => {
        if (e.bytes >= 400_000) ac.abort();
      },
    });
    expect((await engineError(p)).code).toBe('CANCELLED');
    const kept = statSync(`${dest}.part`).size;
    expect(kept).toBeGreaterThanOrEqual(400_000);
    expect(kept).toBeLessThan(FILE.length);
    expect(existsSync(dest)).toBe(false);
    behaviour.stallAt = null;
    const r = await downloadFile({ url: `${base}/bvlcalexnet-12.onnx`, dest, sha256: SHA });
    expect(r.resumed).toBe(true);
    expect(seen[seen.length - 1].range).toBe(`bytes=${kept}-`);
    expect(readFileSync(dest).equals(FILE)).toBe(true);
  });

  it('starts again from 0 when the server ignores Range', async () => {
    behaviour.range = false;
    const dest = path.join(dir, 'f.onnx');
    writeFileSync(`${dest}.part`, FILE.subarray(0, 300_000));
    const r = await downloadFile({ url: `${base}/bvlcalexnet-12.onnx`, dest, sha256: SHA });
    expect(seen[0].range).toBe('bytes=300000-'); // it asked...
    expect(r.resumed).toBe(false); // ...got the whole file, and did not append it to the part
    expect(statSync(dest).size).toBe(FILE.length);
    expect(r.sha256).toBe(SHA);
  });

  it('refuses a file whose SHA-256 differs, deletes it and says so', async () => {
    const dest = path.join(dir, 'f.onnx');
    const e = await engineError(downloadFile({ url: `${base}/bvlcalexnet-12.onnx`, dest, sha256: '0'.repeat(64) }));
    expect(e.code).toBe('BAD_CHECKSUM');
    expect(e.message).toContain(SHA);
    expect(e.message).toMatch(/deleted/);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('reports an HTTP 404 as DOWNLOAD_FAILED', async () => {
    const e = await engineError(downloadFile({ url: `${base}/nope.onnx`, dest: path.join(dir, 'f.onnx') }));
    expect(e.code).toBe('DOWNLOAD_FAILED');
    expect(e.message).toContain('404');
    expect(existsSync(path.join(dir, 'f.onnx'))).toBe(false);
  });

  it('says OFFLINE, with the import alternative, when nothing listens', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const e = await engineError(
      downloadFile({ url: `http://127.0.0.1:${port}/x.onnx`, dest: path.join(dir, 'f.onnx'), hint: "or import a copy with 'alexnet weights import <file.onnx>'" }),
    );
    expect(e.code).toBe('OFFLINE');
    expect(e.message).toContain('ECONNREFUSED');
    expect(e.message).toContain('weights import');
  });

  it('takes the URL from ALEXNET_WEIGHTS_URL, else the Hugging Face copy', () => {
    expect(weightsUrl({})).toBe(DEFAULT_WEIGHTS_URL);
    expect(DEFAULT_WEIGHTS_URL).toMatch(/^https:\/\/huggingface\.co\/onnxmodelzoo\/legacy_models\/resolve\/main\/validated\/vision\/classification\/alexnet\/model\/bvlcalexnet-12\.onnx$/);
    expect(weightsUrl({ ALEXNET_WEIGHTS_URL: 'http://mirror.local/a.onnx' })).toBe('http://mirror.local/a.onnx');
  });
});
