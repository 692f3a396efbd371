// The library and runs commands end to end: bin/alexnet in a child process, a real library file,
// real photos.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLibrary } from '../../../db/index';
import { copyClassFolders, someJpegs, tempDir } from '../../db/helpers';
import { runAlexnet } from '../../helpers/cli';

let dir: string;
let src: string;
let db: string;

const alexnet = (args: string[], env: Record<string, string> = {}) => runAlexnet(args, { ALEXNET_DB: db, ALEXNET_HOME: path.join(dir, 'home'), ...env }, 60_000);

beforeAll(() => {
  dir = tempDir('alexnet-cli-');
  db = path.join(dir, 'lib', 'library.sqlite');
  src = copyClassFolders(path.join(dir, 'photos'), 'val', 3);
  const bytes = fs.readFileSync(someJpegs('val', 'bees', 4)[3]);
  fs.writeFileSync(path.join(src, 'bees', 'broken.jpg'), bytes.subarray(0, bytes.length >> 1));
  fs.writeFileSync(path.join(src, 'readme.txt'), 'hi');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('alexnet library', () => {
  it('imports a folder with a progress bar and a summary, then a second time adds nothing', () => {
    const r = alexnet(['library', 'import', src, '--dataset', 'bugs', '--json']);
    expect(r.stderr).toContain('ETA');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.added).toBe(7);
    expect(s.unreadable).toHaveLength(1);
    expect(s.unreadable[0].path).toContain('broken.jpg');
    expect(s.skipped.map((x: { path: string }) => path.basename(x.path))).toEqual(['readme.txt']);
    expect(fs.existsSync(db)).toBe(true);
    const again = alexnet(['library', 'import', src, '--dataset', 'bugs']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Imported 0 new photos into 'bugs'/);
    expect(again.stdout).toMatch(/7 already in the library/);
  });

  it('shows stats as text and JSON', () => {
    const text = alexnet(['library', 'stats']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/bugs: 7 photos, 6 labeled, 1 unlabeled, 1 unreadable/);
    const json = JSON.parse(alexnet(['library', 'stats', '--dataset', 'bugs', '--json']).stdout);
    expect(json.datasets[0].classes.map((c: { name: string; count: number }) => [c.name, c.count])).toEqual([
      ['ants', 3],
      ['bees', 3],
    ]);
  });

  it('exports labels as CSV, as folders of links, and as copies', () => {
    const csv = path.join(dir, 'labels.csv');
    expect(alexnet(['library', 'export', 'bugs', '--format', 'csv', csv]).code).toBe(0);
    const lines = fs.readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('path,label');
    expect(lines).toHaveLength(7);
    expect(lines.filter((l) => l.endsWith(',ants')).every((l) => l.includes(`${path.sep}ants${path.sep}`))).toBe(true);

    const links = path.join(dir, 'links');
    const r = alexnet(['library', 'export', 'bugs', '--format', 'folders', links]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Exported 6 labeled photos/);
    const ant = fs.readdirSync(path.join(links, 'ants'))[0];
    expect(fs.lstatSync(path.join(links, 'ants', ant)).isSymbolicLink()).toBe(true);
    expect(fs.realpathSync(path.join(links, 'ants', ant))).toBe(fs.realpathSync(path.join(src, 'ants', ant)));

    const copies = path.join(dir, 'copies');
    expect(alexnet(['library', 'export', 'bugs', '--format', 'folders', copies, '--copy']).code).toBe(0);
    const bee = fs.readdirSync(path.join(copies, 'bees'))[0];
    expect(fs.lstatSync(path.join(copies, 'bees', bee)).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(copies, 'bees', bee)).equals(fs.readFileSync(path.join(src, 'bees', bee)))).toBe(true);

    const again = alexnet(['library', 'export', 'bugs', '--format', 'folders', copies]);
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('verifies: a deleted photo becomes missing', () => {
    const victim = path.join(src, 'ants', fs.readdirSync(path.join(src, 'ants'))[0]);
    fs.rmSync(victim);
    const r = alexnet(['library', 'verify', '--dataset', 'bugs', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).missing).toBe(1);
    expect(alexnet(['library', 'stats']).stdout).toMatch(/1 missing/);
  });

  it('answers bad input with one clear line and a non-zero exit', () => {
    const missing = alexnet(['library', 'import', path.join(dir, 'nope'), '--dataset', 'x']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`alexnet: no such folder: ${path.join(dir, 'nope')}`);
    const noDataset = alexnet(['library', 'stats', '--dataset', 'nope']);
    expect(noDataset.code).toBe(1);
    expect(noDataset.stderr).toMatch(/^alexnet: no dataset 'nope'; datasets: bugs\n$/);
    const noLibrary = alexnet(['library', 'stats', '--db', path.join(dir, 'none.sqlite')]);
    expect(noLibrary.code).toBe(1);
    expect(noLibrary.stderr).toMatch(/no library at/);
    expect(fs.existsSync(path.join(dir, 'none.sqlite'))).toBe(false);
    expect(alexnet(['library', 'frobnicate']).code).toBe(2);
    expect(alexnet(['library', 'export', 'bugs', '--format', 'zip', path.join(dir, 'z')]).stderr).toMatch(/--format must be folders or csv/);
  });
});

describe('alexnet runs', () => {
  let runId: number;
  beforeAll(() => {
    const lib = openLibrary(db);
    const ds = lib.datasets.require('bugs');
    const run = lib.runs.create({ datasetId: ds.id, name: 'cli-test', config: { epochs: 2, lr: 0.01 }, classes: ['ants', 'bees'], backend: 'cpu', weightsSource: 'imagenet' });
    lib.metrics.write(run.id, [
      { scope: 'epoch', name: 'loss', idx: 1, value: 0.9 },
      { scope: 'epoch', name: 'val_acc', idx: 1, value: 0.61 },
      { scope: 'epoch', name: 'loss', idx: 2, value: 0.5 },
      { scope: 'epoch', name: 'val_acc', idx: 2, value: 0.83 },
    ]);
    lib.models.add(run.id, { kind: 'final', path: '/models/cli-test', epoch: 2, metrics: { val_acc: 0.83 } });
    lib.runs.end(run.id, 'finished');
    runId = run.id;
    lib.close();
  });

  it('lists runs and shows one, as text and JSON', () => {
    const list = alexnet(['runs', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${runId}\\s+finished\\s+bugs\\s+cli-test`, 'm'));
    expect(list.stdout).toContain('83.0%');
    const json = JSON.parse(alexnet(['runs', 'list', '--json']).stdout);
    expect(json[0]).toMatchObject({ id: runId, status: 'finished', bestValAcc: 0.83, epochs: 2 });
    const show = alexnet(['runs', 'show', String(runId)]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/val_acc/);
    expect(show.stdout).toMatch(/0\.8300/);
    expect(show.stdout).toContain('/models/cli-test');
    const shown = JSON.parse(alexnet(['runs', 'show', String(runId), '--json']).stdout);
    expect(shown.config).toEqual({ epochs: 2, lr: 0.01 });
    expect(shown.metrics.epoch.loss.map((p: { value: number }) => p.value)).toEqual([0.9, 0.5]);
  });

  it('refuses an unknown run in one line', () => {
    const r = alexnet(['runs', 'show', '999']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('alexnet: no run with id 999\n');
    expect(alexnet(['runs', 'show', 'abc']).code).toBe(2);
  });
});
