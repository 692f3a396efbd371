// The browser the end-to-end tests (and the grid bench) drive, found without downloading anything
// from outside npm, in this order:
//   1. an explicit path: CHROMIUM_PATH;
//   2. an installed Chrome or Chromium: the usual system paths on Linux, macOS and Windows, then
//      Playwright's own browser cache (~/.cache/ms-playwright and its macOS/Windows equivalents);
//   3. on Linux x64/arm64, the Chromium the npm package @sparticuz/chromium carries (a devDependency,
//      so `npm ci` alone brings a browser to a fresh machine).
// ALEXNET_E2E_BROWSER=npm skips 1 and 2: CI sets it so that every run proves the fresh-machine path,
// even where an earlier run left a system browser behind.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

export type FoundBrowser = { path: string; source: 'env' | 'system' | 'playwright-cache' | 'npm'; name: string };

/** Flags for a headless run on a closed network (background services off: their connections fail here). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

function systemCandidates(): string[] {
  switch (process.platform) {
    case 'darwin':
      return [
        '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
        '/Applications/Chromium.app/Contents/MacOS/Chromium',
        path.join(os.homedir(), 'Applications/Google Chrome.app/Contents/MacOS/Google Chrome'),
        path.join(os.homedir(), 'Applications/Chromium.app/Contents/MacOS/Chromium'),
      ];
    case 'win32': {
      const roots = [process.env['PROGRAMFILES'], process.env['PROGRAMFILES(X86)'], process.env.LOCALAPPDATA].filter((r): r is string => !!r);
      return roots.flatMap((r) => [path.join(r, 'Google', 'Chrome', 'Application', 'chrome.exe'), path.join(r, 'Chromium', 'Application', 'chrome.exe')]);
    }
    default:
      return ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/snap/bin/chromium', '/opt/google/chrome/chrome'];
  }
}

/** Chromium builds in Playwright's cache (`npx playwright install` puts them there), newest first. */
function playwrightCacheCandidates(): string[] {
  const cache =
    process.env.PLAYWRIGHT_BROWSERS_PATH ??
    (process.platform === 'darwin'
      ? path.join(os.homedir(), 'Library', 'Caches', 'ms-playwright')
      : process.platform === 'win32'
        ? path.join(process.env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local'), 'ms-playwright')
        : path.join(os.homedir(), '.cache', 'ms-playwright'));
  if (!existsSync(cache)) return [];
  const inside =
    process.platform === 'darwin'
      ? ['chrome-mac/Chromium.app/Contents/MacOS/Chromium', 'chrome-mac-arm64/Chromium.app/Contents/MacOS/Chromium']
      : process.platform === 'win32'
        ? ['chrome-win/chrome.exe', 'chrome-win64/chrome.exe']
        : ['chrome-linux/chrome', 'chrome-linux64/chrome'];
  const dirs = readdirSync(cache)
    .filter((d) => /^chromium-\d+$/.test(d))
    .sort((a, b) => Number(b.split('-')[1]) - Number(a.split('-')[1]));
  return dirs.flatMap((d) => inside.map((i) => path.join(cache, d, i)));
}

let found: Promise<FoundBrowser> | null = null;

/** The browser to drive (see the order above). Throws one line saying what was tried. */
export function findBrowser(): Promise<FoundBrowser> {
  found ??= locate();
  return found;
}

async function locate(): Promise<FoundBrowser> {
  const npmOnly = process.env.ALEXNET_E2E_BROWSER === 'npm';
  if (!npmOnly) {
    const env = process.env.CHROMIUM_PATH;
    if (env) {
      if (!existsSync(env)) throw new Error(`CHROMIUM_PATH=${env}: no such file`);
      return { path: env, source: 'env', name: path.basename(env) };
    }
    for (const p of systemCandidates()) if (existsSync(p)) return { path: p, source: 'system', name: p };
    for (const p of playwrightCacheCandidates()) if (existsSync(p)) return { path: p, source: 'playwright-cache', name: p };
  }
  if (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64')) {
    // @sparticuz/chromium unpacks its brotli-compressed browser (and SwiftShader beside it) into
    // os.tmpdir() on first use; later calls find it there.
    const mod = await import('@sparticuz/chromium');
    const exe = await mod.default.executablePath();
    const pkg = path.resolve(path.dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..', 'package.json');
    const { version } = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string };
    return { path: exe, source: 'npm', name: `@sparticuz/chromium ${version}` };
  }
  throw new Error(
    npmOnly
      ? `ALEXNET_E2E_BROWSER=npm: @sparticuz/chromium has no build for ${process.platform}-${process.arch}`
      : 'no Chrome or Chromium found: install one, or set CHROMIUM_PATH',
  );
}

/** Launches the found browser headless; says once per process which one runs. */
export async function launchBrowser(extraArgs: string[] = [], opts: LaunchOptions = {}): Promise<Browser> {
  const b = await findBrowser();
  if (!announced) {
    announced = true;
    process.stderr.write(`[browser] ${b.name} (${b.source}: ${b.path})\n`);
  }
  // Chromium takes its locale from LANG; under LANG=C (common on servers and CI) it reports
  // 'en-US@posix', a tag that Intl (toLocaleString) rejects: give it a real one.
  const env = { ...process.env, LANG: /^(C|POSIX)([.@]|$)/.test(process.env.LANG ?? 'C') ? 'en_US.UTF-8' : process.env.LANG! };
  return chromium.launch({ env, ...opts, executablePath: b.path, args: [...CHROMIUM_ARGS, ...extraArgs] });
}
let announced = false;
