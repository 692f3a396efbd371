// A stopped run resumed from the Runs screen: the Resume button on a cancelled run continues it
// from its last checkpoint in the same row until it finishes. And the page keeps its token out of
// the address bar and out of cookies.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openApp, screenshot, type App, type Server } from './harness';

let app: App;
let server: Server;
let page: Page;
let folder: string;

beforeAll(async () => {
  app = await openApp({ photos: { perClass: 6, loose: 0 } });
  ({ server, page, folder } = app);
});

afterAll(() => app?.close());

it('takes the token out of the address bar and sets no cookie', async () => {
  await page.getByRole('navigation', { name: 'Screens' }).waitFor();
  expect(page.url()).not.toContain('token');
  expect(await page.context().cookies()).toEqual([]);
});

it('resumes a cancelled run from the Runs screen until it finishes, in the same row', async () => {
  // the state to start from, set up through the backend: a dataset and a run cancelled midway
  const { datasetId } = await server.call('import:start', { folder, datasetName: 'hym' });
  await expect.poll(async () => (await server.call('datasets:list', {}))[0]?.photoCount ?? 0, { timeout: 60_000 }).toBe(12);
  const run = await server.call('runs:start', { datasetId, settings: { recipe: 'scratch', architecture: 'tiny', epochs: 60, batchSize: 2, valFraction: 0.25, augment: false } });
  await expect.poll(async () => (await server.call('runs:get', { runId: run.id })).epochs, { timeout: 120_000 }).toBeGreaterThanOrEqual(2);
  await server.call('runs:cancel', { runId: run.id });
  await expect.poll(async () => (await server.call('runs:get', { runId: run.id })).status, { timeout: 60_000 }).toBe('cancelled');

  await page.reload();
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Runs' }).click();
  const resume = page.getByRole('button', { name: `Resume run ${run.id}` });
  await resume.waitFor({ timeout: 30_000 });
  await screenshot(page, 'resume-1-cancelled');
  await resume.click();
  await expect.poll(async () => (await server.call('runs:get', { runId: run.id })).status, { timeout: 180_000 }).toBe('finished');
  const runs = await server.call('runs:list', { datasetId });
  expect(runs.map((r) => r.id)).toEqual([run.id]);
  const m = await server.call('runs:metrics', { runId: run.id });
  expect(m.epoch.val_acc.idx).toEqual(m.epoch.val_acc.idx.map((_, i) => i + 1)); // every epoch once, none missing
  await expect.poll(() => page.getByRole('table', { name: 'Run history' }).getByText('finished').count(), { timeout: 30_000 }).toBeGreaterThan(0);
  await expect.poll(() => page.getByRole('button', { name: `Resume run ${run.id}` }).count()).toBe(0);
  await screenshot(page, 'resume-2-finished');
});

it('the page showed no problem along the way', () => {
  expect(app.problems).toEqual([]); // what the page must never show (harness watchProblems)
});
