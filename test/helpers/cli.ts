// bin/alexnet run as a user would (a child process), for the CLI's tests: its exit code and output,
// and the CLI's one rule for failures (one line on stderr, "alexnet: ...", no stack trace).
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect } from 'vitest';
import { repoRoot } from './bvlc-fixture';

export const alexnetBin = path.join(repoRoot, 'bin', 'alexnet');

export type CliRun = { code: number | null; stdout: string; stderr: string };

/** Runs bin/alexnet with `env` added to this process's environment, and waits for it. */
export function runAlexnet(args: string[], env: Record<string, string>, timeoutMs = 240_000): CliRun {
  const r = spawnSync(alexnetBin, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same without blocking this process (for a test that serves something the CLI reads). */
export function runAlexnetAsync(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(alexnetBin, args, { env: { ...process.env, ...env }, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A failed command: non-zero exit, one line on stderr, "alexnet: " then `pattern`, no stack trace. */
export function expectOneLineError(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^alexnet: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}
