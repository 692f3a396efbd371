// `npm run serve` as a user runs it: scripts/serve.mjs on a fresh data folder prints exactly one
// line on stdout, the 127.0.0.1 address with its token; the API answers 401 without the token and
// works with it; SIGTERM stops it cleanly.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot, tempDir } from '../../helpers/app';

it('scripts/serve.mjs prints one address line and serves the API behind its token', async () => {
  const dir = tempDir('alexnet-serve-');
  const proc = spawn(process.execPath, ['scripts/serve.mjs', '--db', path.join(dir, 'library.sqlite')], { cwd: repoRoot, env: { ...process.env, ALEXNET_BACKEND: 'wasm' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no address within 30 s; stderr:\n${err}`)), 30_000);
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) {
          clearTimeout(t);
          resolve(out.split('\n')[0]);
        }
      });
    });
    expect(line).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    const u = new URL(line);
    const token = u.searchParams.get('token')!;
    const call = (headers: Record<string, string>) => fetch(`${u.origin}/api/datasets:create`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name: 'served' }) });
    expect((await call({})).status).toBe(401);
    const ok = await call({ authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { value: { name: string } }).value.name).toBe('served');
    expect(fs.existsSync(path.join(dir, 'library.sqlite'))).toBe(true); // the library is where --db says
  } finally {
    proc.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  expect(out.trim().split('\n')).toHaveLength(1); // nothing else on stdout
  fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);
