// The command line under a careful user's hands: a killed `train --dataset` resumes with --resume,
// bad flags and numbers get one line, an empty folder is refused, a bad --out is found before any
// training, a symlink loop is not a class, and a model is never overwritten silently.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLibrary } from '../../db/index';
import { repoRoot, someJpegs, tempDir } from '../db/helpers';

const bin = path.join(repoRoot, 'bin', 'alexnet');
let dir: string;
let photos: string;
let db: string;

function alexnet(args: string[]) {
  const r = spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, ALEXNET_HOME: path.join(dir, 'home'), ALEXNET_DB: db }, timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectOneLineError(r: { code: number | null; stderr: string }, pattern: RegExp) {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^alexnet: /);
  expect(lines[0]).toMatch(pattern);
}

beforeAll(() => {
  dir = tempDir('alexnet-harden-cli-');
  db = path.join(dir, 'lib.sqlite');
  photos = path.join(dir, 'photos');
  for (const cls of ['ants', 'bees'] as const) {
    fs.mkdirSync(path.join(photos, cls), { recursive: true });
    for (const f of someJpegs('train', cls, 4)) fs.copyFileSync(f, path.join(photos, cls, path.basename(f)));
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('alexnet train --dataset --resume', () => {
  it('continues a killed run from its last checkpoint, in the same run', async () => {
    expect(alexnet(['library', 'import', photos, '--dataset', 'bugs']).code).toBe(0);
    const nothing = alexnet(['train', '--dataset', 'bugs', '--resume']);
    expectOneLineError(nothing, /no interrupted, cancelled or failed run to resume/);

    // a run killed (SIGKILL, no chance to clean up) once its first checkpoint is on disk
    const child = spawn(bin, ['train', '--dataset', 'bugs', '--tiny', '--epochs', '40', '--batch', '2', '--json'], { env: { ...process.env, ALEXNET_HOME: path.join(dir, 'home'), ALEXNET_DB: db }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => child.on('exit', r));
    const runsDir = path.join(dir, 'home', 'runs');
    const ckpt = () => (fs.existsSync(runsDir) ? fs.readdirSync(runsDir).map((d) => path.join(runsDir, d, 'last.ckpt', 'model.json')).find((f) => fs.existsSync(f)) : undefined);
    const deadline = Date.now() + 120_000;
    while (!ckpt() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(ckpt()).toBeTruthy();
    child.kill('SIGKILL');
    await exited;
    expect(out).not.toContain('"type":"result"');
    const saved = (JSON.parse(fs.readFileSync(ckpt()!, 'utf8')) as { epoch: number }).epoch;

    const r = alexnet(['train', '--dataset', 'bugs', '--resume', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; epoch?: number; status?: string; runId?: number });
    const result = lines.at(-1)!;
    expect(result).toMatchObject({ type: 'result', status: 'finished', runId: 1 });
    const epochs = lines.filter((l) => l.type === 'epoch').map((l) => l.epoch!);
    expect(epochs.length).toBeGreaterThan(0);
    expect(epochs).toEqual(epochs.map((_, i) => saved + 1 + i)); // on from the checkpoint, none redone twice
    const last = epochs.at(-1)!;
    const lib = openLibrary(db, { readonly: true });
    try {
      expect(lib.runs.list().map((x) => x.status)).toEqual(['finished']);
      expect(lib.metrics.series(1, 'epoch').val_acc.map((x) => x.idx)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    } finally {
      lib.close();
    }
    expectOneLineError(alexnet(['train', '--dataset', 'bugs', '--resume', '--epochs', '5']), /--resume continues a run with its own settings/);
  }, 300_000);
});
