// Benchmark of the photo grid at 10,000 photos (issue 6: smooth, only visible rows in the DOM).
// Builds a library in a temp folder: the hymenoptera train photos imported for real (thumbnails
// made), then their rows repeated to 10,000 photos (same bytes, so the same cached thumbnails; other
// paths). Serves it in browser mode (the real server and handlers), opens the built renderer in
// Chromium (test/helpers/browser.ts), and scrolls the grid top to bottom at a steady speed, one step per animation
// frame, counting frames and the thumbnail cells in the DOM at every frame.
// Needs renderer/dist (vite build --config renderer/vite.config.ts). Run alone: node --import tsx bench/grid.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launchBrowser } from '../test/helpers/browser';
import { openLibrary } from '../db/index';
import { importFolder } from '../db/import';
import { startBrowserMode } from '../main/server/serve';

export const GRID_PHOTOS = 10_000; // the scale issue 6 asks for
const FLING_PX_PER_FRAME = 60; // ~3,600 px/s at 60 Hz: a brisk fling (cells show placeholders)
const BROWSE_PX_PER_FRAME = 10; // ~600 px/s: reading the grid while scrolling (every thumbnail loads)
const SCROLL_SECONDS = 5; // how long each measured scroll lasts (or until the bottom)
const VIEWPORT = { width: 1280, height: 800 }; // a laptop window

type ScrollStats = { frames: number; ms: number; maxCells: number; p95: number; scrolled: number; bottom: boolean };

// Runs in the page (as text: tsx's helpers do not exist there). Scrolls `step` px per animation
// frame for `seconds` or to the bottom; records each frame's duration and the cells in the DOM.
const SCROLL_SCRIPT = `(step, seconds) => new Promise((resolve) => {
  const el = document.querySelector('[role=listbox]');
  const spacer = el.firstElementChild;
  const max = el.scrollHeight - el.clientHeight; // read once: no forced layout inside the loop
  const times = [];
  let maxCells = 0, t0 = 0, last = 0, y = el.scrollTop;
  function frame(t) {
    if (t0 === 0) t0 = last = t; else times.push(t - last);
    last = t;
    maxCells = Math.max(maxCells, spacer.childElementCount);
    if (t - t0 >= seconds * 1000 || y >= max) {
      const sorted = [...times].sort((a, b) => a - b);
      resolve({ frames: times.length, ms: t - t0, maxCells, p95: sorted[Math.floor(sorted.length * 0.95)] || 0, scrolled: el.scrollTop, bottom: y >= max });
      return;
    }
    y = Math.min(max, y + step);
    el.scrollTop = y;
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);
})`;

export type BenchResult = { name: string; ours: number; unit: string };

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A library of GRID_PHOTOS photos in `dir`; answers its dataset id. */
async function buildLibrary(dir: string): Promise<number> {
  const lib = openLibrary(path.join(dir, 'library.sqlite'));
  try {
    const s = await importFolder(lib, path.resolve(repoRoot, '../shared/datasets/hymenoptera/train'), { dataset: 'bench' });
    const cols = (lib.db.prepare('PRAGMA table_info(photos)').all() as { name: string }[]).map((c) => c.name).filter((c) => c !== 'id' && c !== 'path' && c !== 'name');
    const copy = lib.db.prepare(
      `INSERT INTO photos (path, name, ${cols.join(', ')}) SELECT path || '#' || ?, ? || '-' || name, ${cols.join(', ')} FROM photos WHERE dataset_id = ? AND path NOT LIKE '%#%' ORDER BY id LIMIT ?`,
    );
    lib.transaction(() => {
      for (let k = 1, have = s.added; have < GRID_PHOTOS; k++) have += copy.run(k, `copy${String(k).padStart(3, '0')}`, s.datasetId, GRID_PHOTOS - have).changes;
    });
    return s.datasetId;
  } finally {
    lib.close();
  }
}

export async function benchGrid(): Promise<BenchResult[]> {
  if (!fs.existsSync(path.join(repoRoot, 'renderer/dist/index.html'))) throw new Error('renderer/dist is not built: vite build --config renderer/vite.config.ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-bench-grid-'));
  const datasetId = await buildLibrary(dir);
  const lib = openLibrary(path.join(dir, 'library.sqlite'));
  const server = await startBrowserMode({ lib, dataDir: dir, log: () => {} });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: VIEWPORT });
    await page.goto(server.url);
    const grid = page.getByRole('listbox', { name: 'Photos' });
    await grid.waitFor();
    const total = await page.evaluate(() => document.querySelector('[role=listbox]')!.querySelector('.grid-spacer')!.getBoundingClientRect().height);
    if (total <= 0) throw new Error('the grid is empty');
    const shown = await page.getByText(`${GRID_PHOTOS} photos`).count();
    if (shown === 0) throw new Error(`the grid does not show ${GRID_PHOTOS} photos (dataset ${datasetId})`);
    await page.waitForTimeout(1000); // first thumbnails settle

    // one step per animation frame; every frame's duration and the number of cells in the DOM
    if (process.env.BENCH_TRACE) await browser.startTracing(page, { path: process.env.BENCH_TRACE, screenshots: false });
    const cdp = process.env.BENCH_PROFILE ? await page.context().newCDPSession(page) : null;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    const m = (await page.evaluate(`(${SCROLL_SCRIPT})(${FLING_PX_PER_FRAME}, ${SCROLL_SECONDS})`)) as ScrollStats;
    await page.waitForTimeout(500);
    const b = (await page.evaluate(`(${SCROLL_SCRIPT})(${BROWSE_PX_PER_FRAME}, ${SCROLL_SECONDS})`)) as ScrollStats;
    const loaded = await page.evaluate(`document.querySelectorAll('[role=listbox] img').length`);
    if (process.env.BENCH_TRACE) await browser.stopTracing();
    // the same scroll over an empty page of the same height: what this machine gives at best now
    const ref = await browser.newPage({ viewport: VIEWPORT });
    await ref.setContent(`<div role="listbox" style="height:${VIEWPORT.height}px;overflow:auto"><div style="height:${Math.round(total)}px;background:linear-gradient(#234,#987)"></div></div>`);
    const r = (await ref.evaluate(`(${SCROLL_SCRIPT})(${BROWSE_PX_PER_FRAME}, ${SCROLL_SECONDS})`)) as ScrollStats;
    await ref.close();
    if (cdp) fs.writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify((await cdp.send('Profiler.stop')).profile));
    const fps = (x: ScrollStats) => Math.round((x.frames / x.ms) * 1000 * 10) / 10;
    return [
      { name: `grid at ${GRID_PHOTOS} photos, browsing scroll (${BROWSE_PX_PER_FRAME * 60} px/s, thumbnails loading): frames per second`, ours: fps(b), unit: 'fps' },
      { name: 'grid, browsing scroll: 95th percentile frame time', ours: Math.round(b.p95 * 10) / 10, unit: 'ms' },
      { name: `grid at ${GRID_PHOTOS} photos, fling (${FLING_PX_PER_FRAME * 60} px/s, placeholders): frames per second`, ours: fps(m), unit: 'fps' },
      { name: `grid: most thumbnail cells in the DOM (of ${GRID_PHOTOS})`, ours: Math.max(m.maxCells, b.maxCells), unit: 'elements' },
      { name: 'grid: thumbnails shown after the browsing scroll', ours: Number(loaded), unit: 'images' },
      { name: 'reference: the browsing scroll of an empty page, same browser, same moment', ours: fps(r), unit: 'fps' },
    ];
  } finally {
    await browser.close();
    await server.close();
    lib.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  for (const r of await benchGrid()) console.log(`${r.name}: ${r.ours} ${r.unit}`);
}
