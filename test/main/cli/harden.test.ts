// The command line under a careful user's hands: a killed `train --dataset` resumes with --resume,
// bad flags and numbers get one line, an empty folder is refused, a bad --out is found before any
// training, a symlink loop is not a class, and a model is never overwritten silently.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLibrary } from '../../../db/index';
import { copyClassFolders, tempDir } from '../../db/helpers';
import { alexnetBin, expectOneLineError, runAlexnet } from '../../helpers/cli';

let dir: string;
let photos: string;
let db: string;

const alexnet = (args: string[]) => runAlexnet(args, { ALEXNET_HOME: path.join(dir, 'home'), ALEXNET_DB: db });

beforeAll(() => {
  dir = tempDir('alexnet-harden-cli-');
  db = path.join(dir, 'lib.sqlite');
  photos = copyClassFolders(path.join(dir, 'photos'), 'train', 4);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('alexnet train --dataset --resume', () => {
  it('continues a killed run from its last checkpoint, in the same run', async () => {
    expect(alexnet(['library', 'import', photos, '--dataset', 'bugs']).code).toBe(0);
    const nothing = alexnet(['train', '--dataset', 'bugs', '--resume']);
    expectOneLineError(nothing, /no interrupted, cancelled or failed run to resume/);

    // a run killed (SIGKILL, no chance to clean up) once its first checkpoint is on disk
    const child = spawn(alexnetBin, ['train', '--dataset', 'bugs', '--tiny', '--epochs', '40', '--batch', '2', '--json'], { env: { ...process.env, ALEXNET_HOME: path.join(dir, 'home'), ALEXNET_DB: db }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString())); // the worker writes here too
    const exited = new Promise((r) => child.on('exit', r));
    const runsDir = path.join(dir, 'home', 'runs');
    const ckpt = () => (fs.existsSync(runsDir) ? fs.readdirSync(runsDir).map((d) => path.join(runsDir, d, 'last.ckpt', 'model.json')).find((f) => fs.existsSync(f)) : undefined);
    const deadline = Date.now() + 120_000;
    while (!ckpt() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(ckpt()).toBeTruthy();
    child.kill('SIGKILL');
    await exited;
    await new Promise((r) => setTimeout(r, 1500)); // the orphaned worker notices and leaves
    expect(out).not.toContain('"type":"result"');
    expect(err).not.toMatch(/EPIPE|\n\s+at /); // quietly: no stack trace
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

describe('one clear line for bad input', () => {
  it('an unknown flag or a negative number', () => {
    const unknown = alexnet(['train', photos, '--out', path.join(dir, 'x'), '--frobnicate']);
    expectOneLineError(unknown, /^alexnet: Unknown option '--frobnicate'; see 'alexnet train --help'$/);
    expect(unknown.code).toBe(2);
    expectOneLineError(alexnet(['train', photos, '--tiny', '--out', path.join(dir, 'x'), '--epochs', '-1']), /--epochs must be an integer from 1 to 10000, got '-1'/);
    expectOneLineError(alexnet(['library', 'stats', '--nope']), /see 'alexnet library --help'/);
  }, 60_000);

  it('an empty folder is not imported and makes no dataset', () => {
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(path.join(empty, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(empty, 'notes.txt'), 'no photos here');
    expectOneLineError(alexnet(['library', 'import', empty, '--dataset', 'nothing']), /no photos in .*empty.*nothing to import/);
    expect(alexnet(['library', 'stats']).stdout).not.toContain('nothing');
  }, 60_000);

  it('an --out that cannot be written, found before any training', () => {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'x');
    const r = alexnet(['train', photos, '--tiny', '--weights', 'none', '--out', path.join(file, 'model')]);
    expectOneLineError(r, /cannot write to .*a-file\/model: .*a-file is a file, not a folder/);
    expectOneLineError(alexnet(['train', photos, '--tiny', '--out', '/proc/nope/model']), /cannot write to \/proc\/nope\/model: folders cannot be created in \/proc/);
    expectOneLineError(alexnet(['train', photos, '--out', path.join(dir, 'w'), '--weights', path.join(dir, 'missing.onnx')]), /--weights .*missing\.onnx: no such file or folder/);
  }, 60_000);

  it('a symlink loop is no class, an existing model is not overwritten, a photo named twice is classified once', () => {
    const looped = path.join(dir, 'looped');
    fs.cpSync(photos, looped, { recursive: true });
    fs.symlinkSync('.', path.join(looped, 'loop'));
    const out = path.join(dir, 'model');
    const r = alexnet(['train', looped, '--tiny', '--epochs', '1', '--batch', '4', '--out', out, '--json']);
    expect(r.code).toBe(0);
    const config = JSON.parse(r.stdout.split('\n')[0]) as { classes: string[]; images: number };
    expect(config).toMatchObject({ classes: ['ants', 'bees'], images: 8 });
    expectOneLineError(alexnet(['train', looped, '--tiny', '--epochs', '1', '--out', out]), /already holds a model \(best\.ckpt, last\.ckpt\): --resume continues it, --force replaces it/);

    const one = fs.readdirSync(path.join(looped, 'ants')).map((f) => path.join(looped, 'ants', f))[0];
    const broken = path.join(dir, 'to-classify');
    fs.mkdirSync(broken);
    fs.copyFileSync(one, path.join(broken, 'a.jpg'));
    fs.writeFileSync(path.join(broken, 'broken.jpg'), fs.readFileSync(one).subarray(0, 300));
    const c = alexnet(['classify', out, path.join(broken, 'a.jpg'), broken]);
    expect(c.code).toBe(0);
    expect(c.stdout.trim().split('\n').map((l) => l.split('\t')[0])).toEqual([path.join(broken, 'a.jpg')]);
    const warning = c.stderr.trim().split('\n').filter((l) => l.startsWith('warning:'));
    expect(warning).toHaveLength(1);
    expect(warning[0].split(path.join(broken, 'broken.jpg')).length).toBe(2); // the path once
  }, 240_000);
});

describe('a damaged library', () => {
  it('is refused by every command with its path and what to do, not read as empty', () => {
    const file = path.join(dir, 'damaged.sqlite');
    fs.copyFileSync(db, file);
    for (const ext of ['-wal', '-shm']) if (fs.existsSync(db + ext)) fs.copyFileSync(db + ext, file + ext);
    const lib = openLibrary(file);
    lib.db.pragma('wal_checkpoint(TRUNCATE)');
    lib.close();
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r+');
    for (let page = 2; page < size / 4096; page += 3) fs.writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, (page - 1) * 4096);
    fs.closeSync(fd);
    for (const args of [['runs', 'list'], ['library', 'stats']]) {
      const r = alexnet([...args, '--db', file]);
      expectOneLineError(r, /the library .*damaged\.sqlite is damaged .*: restore/);
    }
  }, 60_000);
});
