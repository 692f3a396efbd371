// What every handler works with: the open library, the data folder, the event bus, the training
// host, the worker spawner. Built once by main/electron/index.ts (Electron) or main/server/server.ts's caller
// (browser mode) and by tests, with the same code.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Library } from '../../db/index';
import type { AppSettings, BackendInfo, EventName, Events } from '../../preload/contract';
import { consoleLog, type Log } from './log';
import { readSettings } from './settings';
import { TrainingHost } from './training-host';
import { runWorkerJob } from './worker/run';
import type { Spawner } from './worker/spawn';

export type EventListener = <E extends EventName>(event: E, payload: Events[E]) => void;

/** Pushed events fan out to every transport (the window's webContents, SSE clients, tests). */
export class EventBus {
  private readonly listeners = new Set<EventListener>();
  on(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit<E extends EventName>(event: E, payload: Events[E]): void {
    for (const l of this.listeners) {
      try {
        l(event, payload);
      } catch {
        // a broken transport must not stop the others
      }
    }
  }
}

export type PickKind = 'folder' | 'files' | 'save-folder';

export type AppContext = {
  lib: Library;
  dataDir: string; // runs/, cache/, weights/ live here
  mode: 'electron' | 'browser';
  version: string;
  bus: EventBus;
  log: Log;
  spawn: Spawner;
  training: TrainingHost;
  imageUrl: { thumb: string; full: string };
  backend: BackendInfo | null; // the last backend a worker reported
  backendError: string | null; // why the last probe loaded no backend (app:info shows it)
  probes: number; // probes started: only the latest one's answer is kept
  settings: AppSettings; // <dataDir>/settings.json (settings.ts); every engine job follows settings.backend
  imports: Map<string, AbortController>;
  pick: ((kind: PickKind, title: string | undefined) => Promise<string[]>) | null; // native dialogs (Electron only)
};

export type ContextOptions = {
  lib: Library;
  dataDir: string;
  mode: 'electron' | 'browser';
  spawn: Spawner;
  version?: string;
  log?: Log;
  imageUrl?: { thumb: string; full: string };
  pick?: AppContext['pick'];
  progressIntervalMs?: number;
  cancelGraceMs?: number;
};

export function appVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function createContext(o: ContextOptions): AppContext {
  const bus = new EventBus();
  const log = o.log ?? consoleLog;
  const ctx: AppContext = {
    lib: o.lib,
    dataDir: path.resolve(o.dataDir),
    mode: o.mode,
    version: o.version ?? appVersion(),
    bus,
    log,
    spawn: o.spawn,
    training: null as unknown as TrainingHost, // set just below (it needs ctx for onBackend)
    imageUrl: o.imageUrl ?? (o.mode === 'electron' ? { thumb: 'app-img://photo/{id}?size=thumb', full: 'app-img://photo/{id}?size=full' } : { thumb: '/img/{id}?size=thumb', full: '/img/{id}?size=full' }),
    backend: null,
    backendError: null,
    probes: 0,
    settings: readSettings(path.resolve(o.dataDir), log),
    imports: new Map(),
    pick: o.pick ?? null,
  };
  ctx.training = new TrainingHost({
    lib: o.lib,
    spawn: o.spawn,
    emit: (e, p) => bus.emit(e, p),
    log,
    progressIntervalMs: o.progressIntervalMs,
    cancelGraceMs: o.cancelGraceMs,
    onBackend: (b) => setBackend(ctx, b),
  });
  return ctx;
}

/** Folders of the data directory. */
export const dataPaths = (ctx: Pick<AppContext, 'dataDir'>) => ({
  runs: path.join(ctx.dataDir, 'runs'),
  featureCache: path.join(ctx.dataDir, 'feature-cache'), // shared with the CLI's train
  weights: path.join(ctx.dataDir, 'weights'),
  logs: path.join(ctx.dataDir, 'logs'),
  uploads: path.join(ctx.dataDir, 'uploads'), // files dropped on the page in browser mode
  camera: path.join(ctx.dataDir, 'camera'), // camera frames added to a dataset (camera:frame)
});

// A browser-mode upload is stored as uploads/<12 hex>-<its name> (two drops of one name never
// collide); the photo it becomes is shown under the name the user dropped.
const UPLOAD_PREFIX_HEX = 12;

/** The stored name of an upload called `name`. */
export const uploadFileName = (name: string, random: string): string => `${random.slice(0, UPLOAD_PREFIX_HEX)}-${name}`;

/** A file's name for display: an upload's own name without the stored copy's prefix, else its base name. */
export function displayName(ctx: Pick<AppContext, 'dataDir'>, file: string): string {
  const base = path.basename(file);
  if (path.dirname(path.resolve(file)) !== path.resolve(dataPaths(ctx).uploads)) return base;
  const m = new RegExp(`^[0-9a-f]{${UPLOAD_PREFIX_HEX}}-(.+)$`).exec(base);
  return m ? m[1] : base;
}

/** Records the backend a worker loaded; tells the window when it is news. */
export function setBackend(ctx: AppContext, b: BackendInfo): void {
  const changed = JSON.stringify(ctx.backend) !== JSON.stringify(b);
  ctx.backend = b;
  ctx.backendError = null;
  if (changed) ctx.bus.emit('app:backend', b);
}

/**
 * Loads the app setting's backend in a worker (at start-up, and when the setting changes), so the
 * window shows it before any run. When it cannot load, the log says why, and so does app:info
 * (backend null, backendError). Of overlapping probes, the last one started decides.
 */
export async function probeBackend(ctx: AppContext): Promise<BackendInfo | null> {
  const n = ++ctx.probes;
  try {
    const b = await runWorkerJob(ctx.spawn, { kind: 'probe', backend: ctx.settings.backend }, { log: ctx.log });
    if (n === ctx.probes) setBackend(ctx, b);
    return b;
  } catch (err) {
    const why = (err as Error).message;
    ctx.log('warn', `no compute backend could be loaded: ${why}`);
    if (n === ctx.probes) {
      ctx.backend = null;
      ctx.backendError = why;
    }
    return null;
  }
}
