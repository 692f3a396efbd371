// The downloader against a server that misbehaves: plain http (and redirects to it) are refused,
// and a body longer than the expected size is cut off at that size and deleted.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { downloadFile } from '../../../ml/weights/download';

let server: http.Server;
let base: string;
let served = 0; // bytes the endless route wrote
const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-harden-'));

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/to-http') {
      res.writeHead(302, { location: 'http://example.com/bvlcalexnet-12.onnx' });
      res.end();
    } else if (req.url === '/endless') {
      // no Content-Length: the bytes keep coming
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      const write = () => {
        while (served < 64 * 1024 * 1024 && res.write(chunk)) served += chunk.length;
        if (served >= 64 * 1024 * 1024) res.end();
      };
      res.on('drain', write);
      res.on('close', () => res.off('drain', write));
      write();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

it('refuses plain http to the network, first or after a redirect', async () => {
  await expect(downloadFile({ url: 'http://example.com/bvlcalexnet-12.onnx', dest: path.join(dir, 'a.onnx') })).rejects.toThrow(/is not https/);
  await expect(downloadFile({ url: `${base}/to-http`, dest: path.join(dir, 'b.onnx') })).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringMatching(/a redirect to http:\/\/example\.com\/.* is not https/) });
  await expect(downloadFile({ url: 'ftp://example.com/x', dest: path.join(dir, 'c.onnx') })).rejects.toThrow(/is not https/);
});

it('stops at the expected byte count and keeps nothing', async () => {
  const dest = path.join(dir, 'big.onnx');
  await expect(downloadFile({ url: `${base}/endless`, dest, expectedBytes: 1_000_000, retries: 0 })).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringMatching(/more than the expected 1000000 bytes/) });
  expect(existsSync(`${dest}.part`)).toBe(false);
  expect(existsSync(dest)).toBe(false);
  expect(served).toBeLessThan(64 * 1024 * 1024); // it did not read on to the end
});
