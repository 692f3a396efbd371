// Issue 16, items 3 and 7, in real Chromium against the real backend: an export in progress shows
// which format is being written and a Cancel that stops it leaving nothing in the export folder; a
// classify in progress can be cancelled; a typed path's result shows its thumbnail (made by the
// classify job, sent as a data: URL); a dropped photo added to the dataset keeps its own name.
// Screenshots: test-results/screens/cancel-*.png.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { datasets, openApp, screenshot, type App, type Server } from './harness';

let app: App;
let server: Server;
let page: Page;
let out: string;
let runId: number;
let datasetId: number;

const nav = (name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name });
const valPhotos = (cls: string) => {
  const d = path.join(datasets, 'hymenoptera', 'val', cls);
  return fs.readdirSync(d).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => path.join(d, f));
};

/** Waits until `ok` holds (expect.poll works only inside a test). */
async function until(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms\n${server.log.join('')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-e2e-cancel-'));
  app = await openApp({
    photos: { perClass: 4, loose: 0 },
    // the state to start from, set up through the backend: a dataset and a finished tiny run
    async prepare(s, folder) {
      server = s;
      datasetId = (await server.call('import:start', { folder, datasetName: 'hym' })).datasetId;
      await until('the import', async () => (await server.call('datasets:list', {}))[0]?.photoCount === 8, 60_000);
      runId = (await server.call('runs:start', { datasetId, settings: { recipe: 'scratch', architecture: 'tiny', epochs: 1, batchSize: 2, valFraction: 0.25, augment: false } })).id;
      await until('the run', async () => (await server.call('runs:get', { runId })).status === 'finished', 120_000);
    },
  });
  ({ page } = app);
}, 180_000);

afterAll(async () => {
  await app?.close();
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

it('an export in progress says which format it writes and can be cancelled, leaving no folder', async () => {
  await nav('Runs').click();
  await page.getByLabel('Export folder').fill(out);
  const onnx = page.getByRole('button', { name: `Export run ${runId} as ONNX` });
  await onnx.click();
  const cancel = page.getByRole('button', { name: `Cancel the export of run ${runId}` });
  await cancel.waitFor({ timeout: 5000 });
  expect(await onnx.textContent()).toBe('Exporting ONNX…');
  expect(await page.getByRole('button', { name: `Export run ${runId} as TF.js` }).isDisabled()).toBe(true); // one export at a time
  await screenshot(page, 'cancel-1-exporting');
  await cancel.click();
  await page.locator('.toast').filter({ hasText: 'Export cancelled' }).waitFor({ timeout: 10_000 });
  expect(fs.readdirSync(out)).toEqual([]); // the half-made folder is gone
  await expect.poll(() => cancel.count()).toBe(0);
  expect(await onnx.textContent()).toBe('ONNX');
  expect(await onnx.isEnabled()).toBe(true);
  // and the same export runs to its end afterwards
  await onnx.click();
  await page.locator('.toast').filter({ hasText: /^Exported \d+ files/ }).waitFor({ timeout: 60_000 });
  expect(fs.readdirSync(path.join(out, `alexnet-run-${runId}-onnx`))).toContain('model.onnx');
});

it('a classify in progress can be cancelled; a typed path gets its thumbnail', async () => {
  await nav('Classify').click();
  const typed = page.getByLabel('Photo paths, one per line');
  const status = page.getByRole('status').filter({ hasText: 'Classifying…' });
  await typed.fill(valPhotos('ants').slice(0, 30).join('\n'));
  await page.getByRole('button', { name: 'Classify paths' }).click();
  await status.getByRole('button', { name: 'Cancel' }).click({ timeout: 5000 });
  await expect.poll(() => status.count(), { timeout: 10_000 }).toBe(0);
  const cards = page.getByRole('list', { name: 'Classified photos' }).getByRole('listitem');
  expect(await cards.count()).toBe(0); // cancelled: no results, no error toast
  expect(await page.locator('.toast.error').count()).toBe(0);

  const file = valPhotos('bees')[2];
  await typed.fill(file);
  await page.getByRole('button', { name: 'Classify paths' }).click();
  await expect.poll(() => cards.count(), { timeout: 60_000 }).toBe(1);
  const img = cards.first().getByRole('img', { name: path.basename(file) });
  expect(await img.getAttribute('src')).toMatch(/^data:image\/jpeg;base64,/);
  await expect.poll(() => img.evaluate((e) => (e as HTMLImageElement).naturalWidth)).toBe(160); // decoded under the page's CSP
  // a card's top-5 labels keep their line (they wrapped one letter per line), and one result is "1 result"
  const label = cards.first().getByRole('table').locator('td').first();
  const { height, lineHeight } = await label.evaluate((e) => ({ height: e.getBoundingClientRect().height, lineHeight: parseFloat(getComputedStyle(e).lineHeight) || 16 }));
  expect(height).toBeLessThan(lineHeight * 1.6);
  expect(await page.getByRole('heading', { name: '1 result', exact: true }).count()).toBe(1);
  await screenshot(page, 'cancel-2-typed-thumbnail');
});

it('a dropped photo added to the dataset keeps its own name', async () => {
  const file = valPhotos('ants')[5];
  await page.getByLabel('Photos to classify').setInputFiles(file);
  const name = path.basename(file);
  const add = page.getByRole('button', { name: `Add ${name} to the dataset` });
  await add.click({ timeout: 60_000 });
  await page.locator('.toast').filter({ hasText: 'Added to the dataset' }).waitFor({ timeout: 10_000 });
  const items = (await server.call('photos:list', { datasetId, limit: 500 })).items;
  const added = items.find((p) => p.path.includes(`${path.sep}uploads${path.sep}`));
  expect(added?.name).toBe(name); // not the stored copy's <hex>-<name>
  expect(path.basename(added!.path)).toMatch(new RegExp(`^[0-9a-f]{12}-${name.replace(/\./g, '\\.')}$`));
});

it('the page showed no problem along the way', () => {
  expect(app.problems).toEqual([]); // what the page must never show (harness watchProblems)
});
