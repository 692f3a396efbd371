// End-to-end harness: the REAL browser-mode server (scripts/serve.mjs, what `npm run serve` runs) on
// a temp data folder, a folder of real photos (links into ../shared/datasets, never copies), a
// Chromium (test/helpers/browser.ts) through playwright-core, screenshots saved under test-results/screens/.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser';
import type { Channel, Reply, Req, Res } from '../../preload/contract';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const datasets = path.resolve(repoRoot, '../shared/datasets');
export const screensDir = path.join(repoRoot, 'test-results', 'screens');

/** The browser test/helpers/browser.ts finds (an installed one, or npm's @sparticuz/chromium). */
export function launch(extraArgs: string[] = []): Promise<Browser> {
  return launchBrowser(extraArgs);
}

/**
 * What the page must never show, collected as it happens: CSP refusals, Svelte's runtime warnings,
 * uncaught errors. A test file ends by expecting the list empty.
 */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to|assignment_value_stale|ownership_invalid/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return problems;
}

export type Server = { url: string; origin: string; token: string; dataDir: string; proc: ChildProcess; log: string[]; call<C extends Channel>(c: C, req: Req<C>): Promise<Res<C>>; stop(): Promise<void> };

/** Starts browser mode on a fresh data folder and waits for the one line with its address. */
export async function startServer(extraEnv: Record<string, string> = {}): Promise<Server> {
  if (!fs.existsSync(path.join(repoRoot, 'renderer/dist/index.html'))) throw new Error('renderer/dist is not built: run vite build --config renderer/vite.config.ts first');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-e2e-'));
  // E2E_SERVE_ENTRY: another browser-mode entry to test against (a .ts one runs through tsx)
  const entry = process.env.E2E_SERVE_ENTRY ?? 'scripts/serve.mjs';
  const proc = spawn(process.execPath, [...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), entry, '--data', dataDir, '--db', path.join(dataDir, 'library.sqlite')], {
    cwd: repoRoot,
    env: { ...process.env, ALEXNET_HOME: dataDir, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  proc.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`the server printed no address within 60 s:\n${log.join('')}`)), 60_000);
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /http:\/\/127\.0\.0\.1:\d+\/\S*token=\S+/.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(m[0]);
      }
      log.push(d.toString());
    });
    proc.once('exit', (code) => reject(new Error(`the server exited (${code}):\n${log.join('')}`)));
  });
  const u = new URL(url);
  const token = u.searchParams.get('token')!;
  return {
    url,
    origin: u.origin,
    token,
    dataDir,
    proc,
    log,
    /** A call straight to the backend, to check what the UI did (never to do the UI's work). */
    async call<C extends Channel>(c: C, req: Req<C>): Promise<Res<C>> {
      const res = await fetch(`${u.origin}/api/${c}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(req) });
      const r = (await res.json()) as Reply<Res<C>>;
      if (!r.ok) throw new Error(`${c}: ${r.error.code} ${r.error.message}`);
      return r.value;
    },
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** <dir>/ants/*, <dir>/bees/* (labeled by folder) and loose photos at the top (unlabeled): links. */
export function photoFolder(o: { perClass: number; loose: number }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-e2e-photos-'));
  const jpgs = (split: string, cls: string) => fs.readdirSync(path.join(datasets, 'hymenoptera', split, cls)).filter((f) => /\.jpe?g$/i.test(f)).sort();
  for (const cls of ['ants', 'bees']) {
    fs.mkdirSync(path.join(dir, cls));
    for (const f of jpgs('train', cls).slice(0, o.perClass)) fs.symlinkSync(path.join(datasets, 'hymenoptera', 'train', cls, f), path.join(dir, cls, f));
  }
  const loose = [...jpgs('val', 'ants').slice(0, Math.ceil(o.loose / 2)).map((f) => ['ants', f]), ...jpgs('val', 'bees').slice(0, Math.floor(o.loose / 2)).map((f) => ['bees', f])];
  for (const [cls, f] of loose) fs.symlinkSync(path.join(datasets, 'hymenoptera', 'val', cls, f), path.join(dir, f));
  return dir;
}

/** A val photo that is not in the folder (for Classify). */
export function outsidePhoto(): string {
  const d = path.join(datasets, 'hymenoptera', 'val', 'bees');
  const files = fs.readdirSync(d).filter((f) => /\.jpe?g$/i.test(f)).sort();
  return path.join(d, files[files.length - 1]);
}

export type App = { server: Server; browser: Browser; page: Page; folder: string; problems: string[]; close(): Promise<void> };

export type AppOptions = {
  /** The folder of photos (photoFolder). */
  photos: { perClass: number; loose: number };
  viewport?: { width: number; height: number };
  /** Chromium's extra flags (launch) and the page's permissions, e.g. a fake camera. */
  browserArgs?: string[];
  permissions?: string[];
  /** The state a file starts from, set up through the backend before the page first loads. */
  prepare?: (server: Server, folder: string) => Promise<void>;
};

/**
 * One test file's app: the photo folder, browser mode on a fresh data folder, Chromium with one page
 * open at the app (1280x800 unless told) and the page's problem watcher (watchProblems). close()
 * ends all of it and removes both folders; it is also what a failed start runs before it throws.
 */
export async function openApp(o: AppOptions): Promise<App> {
  const folder = photoFolder(o.photos);
  let server: Server | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await server?.stop();
    fs.rmSync(folder, { recursive: true, force: true });
  };
  try {
    server = await startServer();
    await o.prepare?.(server, folder);
    browser = await launch(o.browserArgs);
    const context = await browser.newContext({ viewport: o.viewport ?? { width: 1280, height: 800 }, ...(o.permissions ? { permissions: o.permissions } : {}) });
    const page = await context.newPage();
    const problems = watchProblems(page);
    await page.goto(server.url);
    return { server, browser, page, folder, problems, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(screensDir, { recursive: true });
  const file = path.join(screensDir, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
