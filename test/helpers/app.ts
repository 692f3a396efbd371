// Shared by the main-process tests: a temp data folder with a real library, a small folder of real
// photos (links to ../shared/datasets, never copies in the repo), and a typed call() through the
// same dispatch every transport uses.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { openLibrary, type Library } from '../../db/index';
import { createContext, type AppContext } from '../../main/app/context';
import { dispatch } from '../../main/app/dispatch';
import { createHandlers, type Handlers } from '../../main/app/handlers/index';
import { nodeSpawner } from '../../main/app/worker/spawn';
import type { Channel, EventName, Events, Reply, Req, Res, RunSettings } from '../../preload/contract';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const hymenoptera = path.resolve(repoRoot, '../shared/datasets/hymenoptera');

export function tempDir(prefix = 'alexnet-main-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** <dir>/<class>/<file> links to the first `n` photos of each hymenoptera class of `split`. */
export function photoFolder(n: number, split: 'train' | 'val' = 'train', dir = tempDir('alexnet-photos-')): string {
  for (const cls of ['ants', 'bees']) {
    fs.mkdirSync(path.join(dir, cls), { recursive: true });
    const files = fs.readdirSync(path.join(hymenoptera, split, cls)).filter((f) => /\.jpe?g$/i.test(f)).sort().slice(0, n);
    for (const f of files) fs.symlinkSync(path.join(hymenoptera, split, cls, f), path.join(dir, cls, f));
  }
  return dir;
}

export type Harness = {
  dataDir: string;
  lib: Library;
  ctx: AppContext;
  handlers: Handlers;
  events: { name: EventName; payload: unknown; at: number }[];
  call<C extends Channel>(channel: C, req: Req<C>): Promise<Reply<Res<C>>>;
  ok<C extends Channel>(channel: C, req: Req<C>): Promise<Res<C>>;
  raw(channel: unknown, req: unknown): Promise<Reply<unknown>>;
  next<E extends EventName>(name: E, pred?: (p: Events[E]) => boolean, timeoutMs?: number): Promise<Events[E]>;
  close(): Promise<void>;
};

export function harness(opts: { progressIntervalMs?: number; cancelGraceMs?: number; dataDir?: string } = {}): Harness {
  const dataDir = opts.dataDir ?? tempDir();
  const lib = openLibrary(path.join(dataDir, 'library.sqlite'));
  const logs: string[] = [];
  const ctx = createContext({
    lib,
    dataDir,
    mode: 'browser',
    // wasm unless told otherwise: same numbers on every machine, and 20x faster than the cpu backend
    spawn: nodeSpawner({ env: { ALEXNET_BACKEND: process.env.ALEXNET_BACKEND ?? 'wasm' } }),
    log: (level, message, err) => logs.push(`${level} ${message} ${err instanceof Error ? err.stack : ''}`),
    progressIntervalMs: opts.progressIntervalMs,
    cancelGraceMs: opts.cancelGraceMs,
  });
  const handlers = createHandlers(ctx);
  const events: Harness['events'] = [];
  const waiters: { name: EventName; pred: (p: never) => boolean; resolve: (p: never) => void }[] = [];
  ctx.bus.on((name, payload) => {
    events.push({ name, payload, at: Date.now() });
    for (const w of [...waiters]) {
      if (w.name === name && w.pred(payload as never)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(payload as never);
      }
    }
  });
  const call = <C extends Channel>(channel: C, req: Req<C>) => dispatch(handlers, channel, req) as Promise<Reply<Res<C>>>;
  return {
    dataDir,
    lib,
    ctx,
    handlers,
    events,
    call,
    async ok(channel, req) {
      const r = await call(channel, req);
      if (!r.ok) throw new Error(`${channel} failed: ${r.error.code} ${r.error.message}\n${logs.join('\n')}`);
      return r.value;
    },
    raw: (channel, req) => dispatch(handlers, channel, req),
    next(name, pred = () => true, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${name} event within ${timeoutMs} ms; logs:\n${logs.join('\n')}`)), timeoutMs);
        waiters.push({ name, pred: pred as (p: never) => boolean, resolve: (p: never) => (clearTimeout(t), resolve(p)) });
      });
    },
    async close() {
      await ctx.training.dispose();
      lib.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Imports `folder` as a dataset and waits for the import to finish. */
export async function importDataset(h: Harness, folder: string, name = 'hym'): Promise<number> {
  const { importId, datasetId } = await h.ok('import:start', { folder, datasetName: name });
  const done = await h.next('import:done', (e) => e.importId === importId);
  if (done.error) throw new Error(`import failed: ${done.error.message}`);
  return datasetId;
}

/** For one test file: a harness on an empty library, made before the file's tests, closed after them. */
export function useHarness(): { h: Harness } {
  const env = {} as { h: Harness };
  beforeAll(() => {
    env.h = harness();
  });
  afterAll(() => env.h.close());
  return env;
}

export type ImportedLibrary = { h: Harness; folder: string; ds: number };

/**
 * For one test file: a harness whose library holds `perClass` real photos of each hymenoptera class,
 * imported as dataset 'hym' before the file's tests, closed and removed after them. The fields are
 * set once beforeAll has run, so tests read them from the returned object.
 */
export function useImportedLibrary(perClass: number): ImportedLibrary {
  const env = {} as ImportedLibrary;
  beforeAll(async () => {
    env.h = harness();
    env.folder = photoFolder(perClass);
    env.ds = await importDataset(env.h, env.folder);
  });
  afterAll(async () => {
    await env.h.close();
    fs.rmSync(env.folder, { recursive: true, force: true });
  });
  return env;
}

/** The smallest run that trains: the tiny network, one epoch, no augmentation (for tests that need a trained model). */
export const TINY_RUN: RunSettings = { recipe: 'scratch', architecture: 'tiny', batchSize: 4, valFraction: 0.25, augment: false, epochs: 1 };

/** Starts a run of `settings` on dataset `ds`, waits for its end, and returns its id; throws unless it finished. */
export async function finishedRun(h: Harness, ds: number, settings: RunSettings = TINY_RUN, timeoutMs = 110_000): Promise<number> {
  const runId = (await h.ok('runs:start', { datasetId: ds, settings })).id;
  const end = await h.next('run:status', (e) => e.runId === runId && e.phase === 'done', timeoutMs);
  if (end.status !== 'finished') throw new Error(`the run ended ${end.status}: ${end.error?.message}`);
  return runId;
}

/**
 * Waits until run `runId` has checkpointed its first epoch (last.ckpt on disk), kills its worker with
 * SIGKILL as a crash or the OS would, and waits for the run to end failed. Returns the checkpoint's epoch.
 */
export async function killAfterFirstCheckpoint(h: Harness, runId: number): Promise<number> {
  await h.next('run:epoch', (e) => e.runId === runId && e.epoch === 1, 120_000);
  const ckpt = path.join(String(h.lib.runs.get(runId).config.outDir), 'last.ckpt', 'model.json');
  while (!fs.existsSync(ckpt)) await new Promise((r) => setTimeout(r, 20)); // written just after the epoch's event
  process.kill(h.ctx.training.workerPid!, 'SIGKILL');
  const killed = await h.next('run:status', (e) => e.runId === runId && e.phase === 'done', 30_000);
  if (killed.status !== 'failed') throw new Error(`the killed run ended ${killed.status}`);
  return (JSON.parse(fs.readFileSync(ckpt, 'utf8')) as { epoch: number }).epoch;
}

export type FinishedRunLibrary = ImportedLibrary & { runId: number; out: string };

/**
 * For one test file: useImportedLibrary(perClass) with a finished TINY_RUN on its dataset and an empty
 * folder `out` (named `outPrefix`...) to write into, made before the file's tests, removed after them.
 */
export function useFinishedRun(perClass: number, outPrefix: string): FinishedRunLibrary {
  const env = useImportedLibrary(perClass) as FinishedRunLibrary;
  beforeAll(async () => {
    env.out = tempDir(outPrefix);
    env.runId = await finishedRun(env.h, env.ds);
  }, 120_000);
  afterAll(() => {
    if (env.out) fs.rmSync(env.out, { recursive: true, force: true });
  });
  return env;
}
