// The desktop app itself, through Playwright's _electron: open the app, check that the page is
// isolated (no Node, window.api only), import a folder, see thumbnails load over app-img://.
// Runs where Electron's binary is installed (node node_modules/electron/install.js) and
// better-sqlite3 could be built for it (node scripts/electron-native.mjs); skipped with the reason
// elsewhere (e.g. here, offline). Part of `npm run test:e2e` (test/e2e/vitest.config.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const hymenoptera = path.resolve(repoRoot, '../shared/datasets/hymenoptera');
const PER_CLASS = 4;

/** Electron's executable, or why there is none. */
function electronBinary(): { bin: string | null; why: string } {
  try {
    const p = createRequire(import.meta.url)('electron') as unknown;
    if (typeof p === 'string' && fs.existsSync(p)) return { bin: p, why: '' };
    return { bin: null, why: "Electron's binary is not installed (run: node node_modules/electron/install.js)" };
  } catch (err) {
    return { bin: null, why: `Electron's binary is not installed (${(err as Error).message.split('\n')[0]}); run: node node_modules/electron/install.js` };
  }
}

/** better-sqlite3 for Electron's ABI (built once), or why it cannot be had. */
function electronSqlite(): string {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'electron-native.mjs')], { cwd: repoRoot, encoding: 'utf8' });
  return r.status === 0 ? '' : `better-sqlite3 could not be built for Electron: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
}

const found = electronBinary();
const nativeWhy = found.bin ? electronSqlite() : '';
const skipWhy = found.why || nativeWhy;
if (skipWhy) console.warn(`electron smoke test skipped: ${skipWhy}`);

describe.skipIf(Boolean(skipWhy))(`the Electron app${skipWhy ? ` (skipped: ${skipWhy})` : ''}`, () => {
  let app: ElectronApplication;
  let page: Page;
  let home: string;
  let folder: string;

  beforeAll(async () => {
    const build = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'build-app.mjs')], { cwd: repoRoot, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`build-app failed: ${build.stderr}`);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-electron-'));
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-electron-photos-'));
    for (const cls of ['ants', 'bees']) {
      fs.mkdirSync(path.join(folder, cls));
      for (const f of fs.readdirSync(path.join(hymenoptera, 'train', cls)).sort().slice(0, PER_CLASS)) fs.symlinkSync(path.join(hymenoptera, 'train', cls, f), path.join(folder, cls, f));
    }
    app = await _electron.launch({
      executablePath: found.bin!,
      args: [path.join(repoRoot, 'dist', 'electron', 'main.mjs'), ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])],
      cwd: repoRoot,
      env: { ...process.env, ALEXNET_HOME: home, ALEXNET_BACKEND: 'wasm' },
    });
    page = await app.firstWindow();
    await page.waitForLoadState('domcontentloaded');
  });

  afterAll(async () => {
    await app?.close();
    for (const d of [home, folder]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('opens one window whose page has window.api and no Node', async () => {
    expect(app.windows()).toHaveLength(1);
    const probe = await page.evaluate(async () => {
      const w = window as unknown as { api?: { invoke(c: string, r: object): Promise<{ ok: boolean; value?: { mode: string } }> }; require?: unknown; process?: unknown };
      const info = await w.api?.invoke('app:info', {});
      return { hasApi: typeof w.api?.invoke === 'function', require: typeof w.require, process: typeof w.process, mode: info?.value?.mode };
    });
    expect(probe).toEqual({ hasApi: true, require: 'undefined', process: 'undefined', mode: 'electron' });
    const windows = await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().map((w) => w.webContents.getURL()));
    expect(windows).toHaveLength(1);
    expect(windows[0]).toMatch(/^file:.*\/renderer\/dist\/index\.html/);
  });

  it('imports a folder and shows its thumbnails through app-img://', async () => {
    await page.getByLabel('Folder to import').fill(folder);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.locator('.cell img').first().waitFor({ timeout: 60_000 });
    await expect
      .poll(() => page.locator('.cell img').evaluateAll((imgs) => imgs.filter((i) => (i as HTMLImageElement).naturalWidth > 0 && (i as HTMLImageElement).src.startsWith('app-img://')).length), { timeout: 60_000 })
      .toBe(2 * PER_CLASS);
    const shots = path.join(repoRoot, 'test-results', 'screens');
    fs.mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'electron-library.png') });
  });
});
