// The app's preferences (main/app/settings.ts, handlers/settings.ts) through the contract, on a real
// data folder: settings:get/set and their validation, settings.json kept across a new context, a
// damaged file read as the defaults with one warning, a full disk refused with nothing lost, and
// every engine job following the backend preference: the probe, classify:files and a run started
// with 'auto' load the app setting's backend ('cpu' here, against the harness's 'wasm'), while a
// run's own backend wins for that run.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLibrary } from '../../../db/index';
import { createContext } from '../../../main/app/context';
import { dispatch } from '../../../main/app/dispatch';
import { createHandlers } from '../../../main/app/handlers/index';
import { readSettings, SETTINGS_FILE } from '../../../main/app/settings';
import { nodeSpawner } from '../../../main/app/worker/spawn';
import type { Log } from '../../../main/app/log';
import { harness, hymenoptera, tempDir, TINY_RUN, useFinishedRun, type Harness } from '../../helpers/app';
import { fillDisk, mountTmpfs, unmountTmpfs } from '../../helpers/disk';

function capture(): { log: Log; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (level, message) => lines.push(`${level} ${message}`) };
}

describe('settings.json', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  const dirWith = (content: string | Buffer | null): string => {
    const d = tempDir('alexnet-settings-');
    dirs.push(d);
    if (content !== null) fs.writeFileSync(path.join(d, SETTINGS_FILE), content);
    return d;
  };

  it('a missing file is the defaults, without a word', () => {
    const c = capture();
    expect(readSettings(dirWith(null), c.log)).toEqual({ backend: 'auto' });
    expect(c.lines).toEqual([]);
  });

  it('a valid file is read; keys it does not know are ignored', () => {
    const c = capture();
    expect(readSettings(dirWith(JSON.stringify({ backend: 'cpu', later: 1 })), c.log)).toEqual({ backend: 'cpu' });
    expect(c.lines).toEqual([]);
  });

  it.each([
    ['not JSON', '{"backend": "cpu"', 'not valid JSON'],
    ['a list', '["cpu"]', 'not a JSON object'],
    ['null', 'null', 'not a JSON object'],
    ['a wrong type', '{"backend": 3}', 'backend must be one of'],
    ['an unknown backend', '{"backend": "cuda"}', "got 'cuda'"],
    ['a prototype key', '{"__proto__": {"backend": "cpu"}}', null],
    ['too big', `{"backend": "cpu", "pad": "${'x'.repeat(70_000)}"}`, 'more than settings ever take'],
    ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x01]), 'not valid JSON'],
  ])('a damaged or hostile file (%s) is the defaults plus one warning', (_what, content, warning) => {
    const c = capture();
    const s = readSettings(dirWith(content), c.log);
    expect(s).toEqual({ backend: 'auto' });
    expect(Object.getPrototypeOf(s)).toBe(Object.prototype);
    if (warning === null) expect(c.lines).toEqual([]);
    else {
      expect(c.lines).toHaveLength(1);
      expect(c.lines[0]).toMatch(/^warn .*settings\.json: /);
      expect(c.lines[0]).toContain(warning);
      expect(c.lines[0]).toContain('using the default settings');
    }
  });

  it('a folder in its place is the defaults plus one warning', () => {
    const d = dirWith(null);
    fs.mkdirSync(path.join(d, SETTINGS_FILE));
    const c = capture();
    expect(readSettings(d, c.log)).toEqual({ backend: 'auto' });
    expect(c.lines).toEqual([expect.stringContaining('not a file')]);
  });

  it('createContext reads it, and a damaged one does not stop the app', async () => {
    const d = dirWith('{oops');
    const lib = openLibrary(path.join(d, 'library.sqlite'));
    const c = capture();
    const ctx = createContext({ lib, dataDir: d, mode: 'browser', spawn: nodeSpawner(), log: c.log });
    try {
      expect(ctx.settings).toEqual({ backend: 'auto' });
      expect(c.lines.filter((l) => l.startsWith('warn'))).toHaveLength(1);
      const r = await dispatch(createHandlers(ctx), 'settings:get', {});
      expect(r).toEqual({ ok: true, value: { backend: 'auto' } });
    } finally {
      await ctx.training.dispose();
      lib.close();
    }
  });
});

describe('settings:get and settings:set', () => {
  const env = useFinishedRun(2, 'alexnet-settings-out-');
  let h2: Harness | null = null;
  afterAll(async () => {
    await h2?.close();
  });
  const file = () => path.join(env.h.dataDir, SETTINGS_FILE);
  const photo = () => path.join(hymenoptera, 'val', 'ants', fs.readdirSync(path.join(hymenoptera, 'val', 'ants')).sort()[0]);

  it('answers the defaults before anything is saved; no file is written by reading', async () => {
    expect(await env.h.ok('settings:get', {})).toEqual({ backend: 'auto' });
    expect(fs.existsSync(file())).toBe(false);
  });

  it('refuses a bad request with BAD_INPUT and changes nothing', async () => {
    for (const req of [{ backend: 'cuda' }, { backend: null }, { theme: 'dark' }, 'cpu', [], { backend: 'cpu', extra: 1 }]) {
      const r = await env.h.raw('settings:set', req);
      expect(r.ok ? null : r.error.code).toBe('BAD_INPUT');
    }
    const r = await env.h.raw('settings:set', { backend: 'gpu' });
    expect(r.ok ? '' : r.error.message).toBe("request.backend must be one of auto, tensorflow-gpu, webgpu, tensorflow, wasm, cpu, got 'gpu'");
    expect(fs.existsSync(file())).toBe(false);
    expect(await env.h.ok('settings:get', {})).toEqual({ backend: 'auto' });
  });

  it('an empty set changes nothing and answers the settings', async () => {
    expect(await env.h.ok('settings:set', {})).toEqual({ backend: 'auto' });
  });

  it('a new backend is saved, probed before the answer, and app:backend and app:info follow it', async () => {
    const before = env.h.events.length;
    expect(await env.h.ok('settings:set', { backend: 'cpu' })).toEqual({ backend: 'cpu' });
    expect(JSON.parse(fs.readFileSync(file(), 'utf8'))).toEqual({ backend: 'cpu' });
    expect(fs.readdirSync(env.h.dataDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const pushed = env.h.events.slice(before).filter((e) => e.name === 'app:backend');
    expect(pushed.map((e) => (e.payload as { name: string }).name)).toEqual(['cpu']);
    const info = await env.h.ok('app:info', {});
    expect(info.backend?.name).toBe('cpu');
    expect(info.backendError).toBeUndefined();
    expect(await env.h.ok('settings:get', {})).toEqual({ backend: 'cpu' });
  });

  it('a new context on the same data folder reads it back; classify:files there loads that backend', async () => {
    h2 = harness({ dataDir: env.h.dataDir });
    expect(await h2.ok('settings:get', {})).toEqual({ backend: 'cpu' });
    const backend = h2.next('app:backend');
    const { results } = await h2.ok('classify:files', { runId: env.runId, files: [photo()], topK: 2 });
    expect('predictions' in results[0] && results[0].predictions).toHaveLength(2);
    expect((await backend).name).toBe('cpu');
  });

  it("a run started with 'auto' (or no backend) trains on the app setting's backend", async () => {
    const runId = (await h2!.ok('runs:start', { datasetId: env.ds, settings: TINY_RUN })).id;
    const end = await h2!.next('run:status', (e) => e.runId === runId && e.phase === 'done', 110_000);
    expect(end.status).toBe('finished');
    expect(end.backend).toBe('cpu');
    expect((await h2!.ok('runs:get', { runId })).backend).toBe('cpu');
    expect((await h2!.ok('runs:get', { runId })).settings.backend).toBe('auto'); // what the user chose is what is recorded
  }, 120_000);

  it("a run's own backend wins over the app setting for that run", async () => {
    const runId = (await h2!.ok('runs:start', { datasetId: env.ds, settings: { ...TINY_RUN, backend: 'wasm' } })).id;
    const end = await h2!.next('run:status', (e) => e.runId === runId && e.phase === 'done', 110_000);
    expect(end.status).toBe('finished');
    expect(end.backend).toBe('wasm');
    expect(await h2!.ok('settings:get', {})).toEqual({ backend: 'cpu' });
  }, 120_000);

  it('a backend that cannot load: the probe says why in app:info, and jobs fail with BACKEND_UNAVAILABLE naming it', async () => {
    // tensorflow-gpu needs CUDA; on a machine that has it, the backend loads and is reported instead
    await h2!.ok('settings:set', { backend: 'tensorflow-gpu' });
    const info = await h2!.ok('app:info', {});
    if (info.backend !== null) {
      expect(info.backend.name).toBe('tensorflow-gpu');
      return;
    }
    expect(info.backendError).toMatch(/tensorflow-gpu/);
    const r = await h2!.call('classify:files', { runId: env.runId, files: [photo()] });
    expect(r.ok ? null : r.error.code).toBe('BACKEND_UNAVAILABLE');
    expect(r.ok ? '' : r.error.message).toMatch(/tensorflow-gpu/);
    // back to one that loads: the error is gone
    await h2!.ok('settings:set', { backend: 'wasm' });
    const again = await h2!.ok('app:info', {});
    expect(again.backend?.name).toBe('wasm');
    expect(again.backendError).toBeUndefined();
  }, 60_000);
});

// A full disk, for real: the data folder on a small tmpfs (skipped where it cannot be mounted).
const mount = mountTmpfs(1, 'alexnet-full-settings-');

describe.skipIf(!mount)('settings:set on a full disk', () => {
  afterAll(() => {
    unmountTmpfs(mount!);
  });

  it('answers DISK_FULL, keeps the file and the setting as they were, and leaves no temp file', async () => {
    const libDir = tempDir('alexnet-settings-lib-');
    const lib = openLibrary(path.join(libDir, 'library.sqlite'));
    const dataDir = mount!;
    fs.writeFileSync(path.join(dataDir, SETTINGS_FILE), JSON.stringify({ backend: 'wasm' }));
    const ctx = createContext({ lib, dataDir, mode: 'browser', spawn: nodeSpawner(), log: () => {} });
    const handlers = createHandlers(ctx);
    fillDisk(dataDir);
    try {
      const r = await dispatch(handlers, 'settings:set', { backend: 'cpu' });
      expect(r.ok ? null : r.error).toEqual({ code: 'DISK_FULL', message: expect.stringMatching(/^the disk is full \(.*settings\.json.*\)$/) });
      expect(JSON.parse(fs.readFileSync(path.join(dataDir, SETTINGS_FILE), 'utf8'))).toEqual({ backend: 'wasm' });
      expect(fs.readdirSync(dataDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      expect(await dispatch(handlers, 'settings:get', {})).toEqual({ ok: true, value: { backend: 'wasm' } });
    } finally {
      await ctx.training.dispose();
      lib.close();
      fs.rmSync(libDir, { recursive: true, force: true });
    }
  });
});
