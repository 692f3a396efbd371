// Downloading the ImageNet weights (or any big file) into the app's data folder: resumable,
// verified, cancellable, with progress.
//
//   <dest>.part   grows as bytes arrive; after an interruption (a cut connection, a crash, a cancel)
//                 the next attempt asks for the rest with an HTTP Range request. A server that
//                 ignores Range (200 instead of 206) makes us start again from 0.
//   <dest>        appears (rename) only once the SHA-256 of the whole file is the expected one; a
//                 mismatch deletes the file and throws EngineError 'BAD_CHECKSUM'.
//
// https only, after every redirect too (plain http only to a loopback address), and never more
// bytes than the expected size.
//
// Errors: 'OFFLINE' when the host cannot be reached at all (the message names the import-from-file
// alternative), 'DOWNLOAD_FAILED' for an HTTP error, a transfer that keeps breaking, plain http or
// too many bytes, 'CANCELLED'
// when the AbortSignal fires (the .part file is kept for a later resume).

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors';

// The ONNX Model Zoo's BVLC AlexNet, as now published on Hugging Face (the GitHub onnx/models copy
// is a Git LFS pointer). `resolve/main/` serves the file itself (after a redirect to a CDN).
export const DEFAULT_WEIGHTS_URL =
  'https://huggingface.co/onnxmodelzoo/legacy_models/resolve/main/validated/vision/classification/alexnet/model/bvlcalexnet-12.onnx';

/** The weights URL: env ALEXNET_WEIGHTS_URL if set, else DEFAULT_WEIGHTS_URL. */
export function weightsUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.ALEXNET_WEIGHTS_URL?.trim() || DEFAULT_WEIGHTS_URL;
}

export type DownloadProgress = {
  bytes: number; // bytes of the file on disk so far (including a resumed part)
  total: number | null; // the file's size, when the server or the caller says it
  rate: number; // bytes per second over this attempt's transfer (0 at the start)
  etaSeconds: number | null; // seconds left at that rate (null when unknown)
  resumedFrom: number; // bytes that were already on disk when this attempt started
};

export type DownloadOptions = {
  url: string;
  dest: string; // final path; `${dest}.part` while downloading
  sha256?: string; // expected hex digest; checked before the file is renamed into place
  expectedBytes?: number; // the size, if known (a total for progress before the server says it)
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  retries?: number; // attempts after a connection breaks mid-body, each resuming (default 3)
  progressIntervalMs?: number; // least time between two progress calls (default 100; the last is always sent)
  hint?: string; // appended to OFFLINE messages: what the user can do instead
};

export type DownloadResult = {
  file: string;
  bytes: number;
  sha256: string;
  resumed: boolean; // some bytes came from an earlier, interrupted attempt
  attempts: number; // HTTP requests made
};

// Network error codes that mean "the host cannot be reached at all".
const OFFLINE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENETDOWN', 'UND_ERR_CONNECT_TIMEOUT']);

/** The system error code behind a fetch failure (undici wraps it in `cause`, sometimes twice). */
function errorCode(e: unknown): string {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const errors = (cur as { errors?: unknown[] }).errors; // AggregateError (IPv4 + IPv6 attempts)
    if (Array.isArray(errors) && errors.length) cur = errors[0];
    else cur = (cur as { cause?: unknown }).cause;
  }
  return 'unknown';
}

const isAbort = (e: unknown, signal?: AbortSignal): boolean => signal?.aborted === true || (e as Error)?.name === 'AbortError';

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** Feeds an existing file's bytes into `hash` (to continue hashing after a resume). */
async function hashFile(file: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
}

/** Total size from a 206's Content-Range ("bytes 100-199/1000") or a 200's Content-Length. */
function totalFrom(res: Response, offset: number): number | null {
  const range = res.headers.get('content-range');
  const m = range ? /\/(\d+)\s*$/.exec(range) : null;
  if (m) return Number(m[1]);
  const len = res.headers.get('content-length');
  return len !== null && /^\d+$/.test(len) ? Number(len) + offset : null;
}

const MAX_REDIRECTS = 5;

/**
 * Only https travels the network: plain http would let anyone on the path swap the weights (the
 * SHA-256 check catches a changed file only where a digest is given). Loopback addresses are the
 * exception (a local mirror, the tests): nothing between us and them to tamper with.
 */
function checkScheme(u: URL, what: string): void {
  const loopback = u.hostname === 'localhost' || u.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(u.hostname);
  if (u.protocol === 'https:' || (u.protocol === 'http:' && loopback)) return;
  throw new EngineError('DOWNLOAD_FAILED', `${what} ${u.href} is not https; the weights are downloaded over https only`);
}

/** fetch with redirects followed by hand, each hop checked by checkScheme. */
async function fetchChecked(url: string, init: RequestInit): Promise<Response> {
  let cur = new URL(url);
  for (let hop = 0; ; hop++) {
    checkScheme(cur, hop === 0 ? 'the address' : 'a redirect to');
    const res = await fetch(cur, { ...init, redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status < 300 || res.status > 399 || location === null) return res;
    await res.body?.cancel();
    if (hop >= MAX_REDIRECTS) throw new EngineError('DOWNLOAD_FAILED', `${cur.host} redirects more than ${MAX_REDIRECTS} times`);
    cur = new URL(location, cur);
  }
}

/** Downloads `url` to `dest` (see the header for the rules). */
export async function downloadFile(opts: DownloadOptions): Promise<DownloadResult> {
  const { url, dest, signal } = opts;
  const part = `${dest}.part`;
  const parsed = (() => {
    try {
      return new URL(url);
    } catch {
      throw new EngineError('DOWNLOAD_FAILED', `not a valid URL: ${url}`);
    }
  })();
  checkScheme(parsed, 'the address');
  const host = parsed.host;
  await mkdir(path.dirname(dest), { recursive: true });
  const retries = opts.retries ?? 3;
  const interval = opts.progressIntervalMs ?? 100;
  let attempts = 0;
  let resumed = false;
  let lastError = '';

  for (;;) {
    if (signal?.aborted) throw new EngineError('CANCELLED', `download cancelled; ${await sizeOf(part)} bytes kept in ${part} for a later resume`);
    const offset = await sizeOf(part);
    attempts++;
    let res: Response;
    try {
      res = await fetchChecked(url, {
        headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
        signal,
      });
    } catch (e) {
      if (e instanceof EngineError) throw e;
      if (isAbort(e, signal)) throw new EngineError('CANCELLED', `download cancelled; ${offset} bytes kept in ${part} for a later resume`);
      const code = errorCode(e);
      if (attempts === 1 || OFFLINE_CODES.has(code))
        throw new EngineError('OFFLINE', `cannot reach ${host} (${code})${opts.hint ? `; ${opts.hint}` : ''}`);
      lastError = code;
      if (attempts > retries + 1) throw new EngineError('DOWNLOAD_FAILED', `download from ${host} keeps failing (${lastError}); run it again to resume`);
      continue;
    }

    // What the server sent decides where the bytes go.
    let start: number;
    if (res.status === 206 && offset > 0) {
      const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== offset) {
        await res.body?.cancel();
        await rm(part, { force: true }); // a range we did not ask for: start over
        continue;
      }
      start = offset;
      resumed = true;
    } else if (res.status === 200) {
      start = 0; // no Range support (or no part): the whole file from the start
    } else if (res.status === 416 && offset > 0) {
      await res.body?.cancel();
      await rm(part, { force: true }); // our part is larger than the file: it is not this file
      continue;
    } else {
      await res.body?.cancel();
      throw new EngineError('DOWNLOAD_FAILED', `${host} answered HTTP ${res.status} ${res.statusText} for ${url}`);
    }
    const total = totalFrom(res, start) ?? opts.expectedBytes ?? null;
    // never more than the file should have: the caller's size first, else the server's own
    const limit = opts.expectedBytes ?? total;

    const hash = createHash('sha256');
    if (start > 0) await hashFile(part, hash);
    const fh = await open(part, start > 0 ? 'a' : 'w');
    let bytes = start;
    const t0 = performance.now();
    let lastReport = -Infinity;
    const report = (force: boolean): void => {
      const now = performance.now();
      if (!opts.onProgress || (!force && now - lastReport < interval)) return;
      lastReport = now;
      const secs = (now - t0) / 1000;
      const rate = secs > 0 ? (bytes - start) / secs : 0;
      const eta = total !== null && rate > 0 ? Math.max(0, (total - bytes) / rate) : null;
      opts.onProgress({ bytes, total, rate, etaSeconds: eta, resumedFrom: start });
    };
    let broken: unknown = null;
    try {
      report(true);
      if (!res.body) throw new Error('empty response');
      const reader = res.body.getReader();
      for (;;) {
        const { done, value: b } = await reader.read();
        if (done) break;
        if (limit !== null && bytes + b.length > limit) {
          await reader.cancel();
          throw new EngineError('DOWNLOAD_FAILED', `${host} sent more than the expected ${limit} bytes; the download was stopped and deleted`);
        }
        await fh.write(b);
        hash.update(b);
        bytes += b.length;
        report(false);
      }
    } catch (e) {
      broken = e;
    } finally {
      await fh.close();
    }
    if (broken !== null) {
      if (broken instanceof EngineError) {
        await rm(part, { force: true });
        throw broken;
      }
      if (isAbort(broken, signal)) throw new EngineError('CANCELLED', `download cancelled; ${bytes} bytes kept in ${part} for a later resume`);
      lastError = errorCode(broken) === 'unknown' ? (broken as Error).message : errorCode(broken);
      if (attempts > retries) throw new EngineError('DOWNLOAD_FAILED', `download from ${host} broke off ${attempts} times (${lastError}); ${bytes} bytes kept, run it again to resume`);
      continue; // resume from what is on disk
    }
    if (total !== null && bytes < total) {
      lastError = `connection closed at ${bytes} of ${total} bytes`;
      if (attempts > retries) throw new EngineError('DOWNLOAD_FAILED', `download from ${host} broke off ${attempts} times (${lastError}); run it again to resume`);
      continue;
    }
    report(true);

    const digest = hash.digest('hex');
    if (opts.sha256 && digest !== opts.sha256.toLowerCase()) {
      await rm(part, { force: true });
      throw new EngineError(
        'BAD_CHECKSUM',
        `the downloaded file's SHA-256 is ${digest}, expected ${opts.sha256}; the file was deleted (run the download again, or import a file you trust)`,
      );
    }
    await rename(part, dest);
    return { file: dest, bytes, sha256: digest, resumed, attempts };
  }
}
