// The everyday loop without a stumble (issue 16), in real Chromium against the real backend: the
// first-run guide; a selection that never relabels photos out of view; a re-import that says what
// was already there; a tanh and a ReLU run of the tiny network (the paper's switches), each ending
// on a summary card, compared in words; a run's row that opens it with per-class F1; exports in
// every format and an export folder that cannot be made; the live camera (Chromium's fake capture
// device) with a frame added to the dataset; the screen kept across a reload.
// Screenshots: test-results/screens/loop-*.png.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasets, openApp, screenshot, type App, type Server } from './harness';

const PER_CLASS = 5;
const LOOSE = 6;

let app: App;
let server: Server;
let page: Page;
let folder: string;
let datasetId: number;

const nav = (name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name });
const cells = () => page.getByRole('listbox', { name: 'Photos' }).getByRole('option');
const count = (name: string) => page.locator(`[data-class="${name}"] .count`);
const train = () => page.getByRole('region', { name: 'Train' });

async function tinyRun(activation: 'relu' | 'tanh', name: string): Promise<number> {
  await nav('Train').click();
  if ((await page.locator('details.advanced[open]').count()) === 0) await page.locator('details.advanced > summary').click();
  const t = train();
  await t.getByLabel('Model').selectOption('tiny');
  await t.getByLabel('Epochs', { exact: true }).fill('2');
  await t.getByLabel('Batch size').fill('4');
  await t.getByLabel('Augmentation').uncheck();
  await t.getByLabel('Activation').selectOption(activation);
  await t.getByLabel('Run name (optional)').fill(name);
  const before = (await server.call('runs:list', { datasetId })).length;
  await t.getByRole('button', { name: 'Train', exact: true }).click();
  await expect.poll(async () => (await server.call('runs:list', { datasetId })).length, { timeout: 20_000 }).toBe(before + 1);
  const run = (await server.call('runs:list', { datasetId }))[0];
  await expect.poll(() => t.getByLabel('Run', { exact: true }).textContent(), { timeout: 20_000 }).toBe(name);
  await expect.poll(() => t.getByLabel('Run status').textContent(), { timeout: 150_000 }).toBe('finished');
  return run.id;
}

beforeAll(async () => {
  app = await openApp({ photos: { perClass: PER_CLASS, loose: LOOSE }, browserArgs: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'], permissions: ['camera'] });
  ({ server, page, folder } = app);
});

afterAll(() => app?.close());

describe('the everyday loop', () => {
  it('a first run is led: three steps, the weights up front, a disabled Train that says why', async () => {
    const steps = page.getByRole('list', { name: 'Getting started' });
    await steps.waitFor();
    expect(await steps.getByRole('listitem').allTextContents()).toEqual([expect.stringMatching(/Import/), expect.stringMatching(/Label/), expect.stringMatching(/Train/)]);
    expect(await steps.locator('[aria-current=step]').textContent()).toMatch(/Import/);
    await page.getByRole('region', { name: 'ImageNet weights' }).getByRole('button', { name: 'Download ImageNet weights' }).waitFor();
    await screenshot(page, 'loop-1-first-run');
    await nav('Train').click();
    expect(await train().getByRole('button', { name: 'Train', exact: true }).isDisabled()).toBe(true);
    expect(await train().locator('#train-blocked').textContent()).toBe('Import photos first (Library).');
    await nav('Library').click();
  });

  it('imports, then a re-import says how many photos were already in the library', async () => {
    await page.getByLabel('Folder to import').fill(folder);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await expect.poll(() => count('ants').textContent(), { timeout: 60_000 }).toBe(String(PER_CLASS));
    datasetId = (await server.call('datasets:list', {}))[0].id;
    await page.getByLabel('Import into').selectOption('current');
    await page.getByLabel('Folder to import').fill(folder);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.locator('.toast').filter({ hasText: `0 new photos in ${path.basename(folder)}, ${2 * PER_CLASS + LOOSE} already in the library` }).waitFor({ timeout: 60_000 });
    // sub-folders labeled both classes: the next step is training
    expect(await page.getByRole('list', { name: 'Getting started' }).locator('[aria-current=step]').textContent()).toMatch(/Train/);
  });

  it('a selection holds only photos in view: labeled out of the "Unlabeled" view, another key relabels nothing', async () => {
    await page.getByLabel('Filter').selectOption('unlabeled');
    await expect.poll(() => cells().count()).toBe(LOOSE);
    await cells().first().click();
    await cells().nth(2).click({ modifiers: ['Shift'] });
    await expect.poll(() => page.locator('[role=option][aria-selected=true]').count()).toBe(3);
    await page.keyboard.press('1');
    await expect.poll(() => count('ants').textContent()).toBe(String(PER_CLASS + 3));
    await expect.poll(() => page.locator('.toolbar [aria-live]').textContent()).toBe(`${LOOSE - 3} photos`);
    await page.keyboard.press('2'); // nothing selected in view: nothing changes
    await page.waitForTimeout(300);
    expect((await server.call('datasets:counts', { datasetId })).byClass.map((c) => c.count)).toEqual([PER_CLASS + 3, PER_CLASS]);
    // label the rest so both classes train
    await cells().first().click();
    await page.keyboard.press('2');
    await page.keyboard.press('2');
    await page.keyboard.press('1');
    await expect.poll(async () => (await server.call('datasets:counts', { datasetId })).unlabeled).toBe(0);
    await page.getByLabel('Filter').selectOption('all');
  });

  it('a tanh run ends on a summary card that leads on', async () => {
    const runId = await tinyRun('tanh', 'tanh');
    const card = train().getByRole('region', { name: 'Training summary' });
    await card.waitFor();
    expect(await card.getByLabel('Best validation accuracy').textContent()).toMatch(/^\d+\.\d%$/);
    expect(await card.getByLabel('Run length').textContent()).toMatch(/^2 \(best: [12]\)$/);
    expect(await card.getByLabel('Why it stopped').textContent()).toBe('Ran all 2 epochs.');
    expect(await card.getByLabel('Time taken').textContent()).toMatch(/\d+ s|min/);
    expect((await server.call('runs:get', { runId })).settings.activation).toBe('tanh');
    await screenshot(page, 'loop-2-summary');
    expect(await page.getByRole('list', { name: 'Getting started' }).count()).toBe(0); // the guide is done
    await card.getByRole('button', { name: 'Review mistakes' }).click();
    await page.getByRole('table', { name: 'Confusion matrix' }).waitFor();
    const f1 = page.getByRole('table', { name: 'Per-class precision, recall and F1' });
    expect(await f1.locator('thead th').allTextContents()).toEqual(['Class', 'Precision', 'Recall', 'F1', 'Photos']);
    expect(await f1.locator('tbody tr').count()).toBe(2);
  });

  it('a ReLU run compared with the tanh one: the differing switch named in words', async () => {
    const relu = await tinyRun('relu', 'relu');
    const tanh = (await server.call('runs:list', { datasetId })).find((r) => r.name === 'tanh')!.id;
    await nav('Runs').click();
    await page.getByLabel(`Compare run ${tanh}`).check();
    await page.getByLabel(`Compare run ${relu}`).check();
    await page.getByRole('button', { name: 'Compare 2 runs' }).click();
    const table = page.getByRole('table', { name: 'Settings compared' });
    await table.waitFor();
    const rows = await table.locator('tr.diff').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows).toEqual([['Activation (paper 3.1) (differs)', 'tanh', 'ReLU']]);
    expect(await table.locator('td:first-child').allTextContents()).toEqual(expect.arrayContaining(['Local response normalisation (paper 3.3)', 'Pooling (paper 3.4)', 'Two-GPU groups in conv2/4/5 (paper 3.2)']));
    await screenshot(page, 'loop-3-compare-tanh-relu');
    // clicking a run's row opens it
    await page.getByRole('table', { name: 'Run history' }).getByRole('row').filter({ hasText: 'relu' }).locator('td').nth(3).click();
    const evaluation = page.getByRole('region', { name: 'Evaluation' });
    await expect.poll(() => evaluation.locator('h2').textContent()).toMatch(new RegExp(`^Run ${relu}:`));
    // relabeling a photo afterwards leaves what the run measured as it was
    const measured = await evaluation.locator('h2').textContent();
    const matrix = page.getByRole('table', { name: 'Confusion matrix' });
    await matrix.getByRole('button', { name: /^[1-9]\d* photos labeled ants predicted/ }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Photos of a confusion matrix cell' });
    await dialog.getByRole('button', { name: /^Relabel .* as bees$/ }).first().click();
    await expect.poll(async () => (await server.call('datasets:counts', { datasetId })).byClass.find((c) => c.name === 'bees')!.count).toBe(PER_CLASS + 2 + 1);
    await page.keyboard.press('Escape');
    expect(await evaluation.locator('h2').textContent()).toBe(measured);
    await evaluation.getByLabel('Labels scored against').selectOption('today');
    await expect.poll(() => evaluation.locator('h2').textContent()).toMatch(/with today’s labels$/);
    // ctrl+Z on Runs says what it undid, and the view of today's labels follows
    await page.locator('body').press('Control+z');
    await page.locator('.toast').filter({ hasText: /^Undone: / }).first().waitFor();
    await expect.poll(async () => (await server.call('datasets:counts', { datasetId })).byClass.find((c) => c.name === 'bees')!.count).toBe(PER_CLASS + 2);
    await expect.poll(async () => (await evaluation.locator('h2').textContent())!.replace(' with today’s labels', '')).toBe(measured);
  });

  it('exports in every format; a folder that cannot be made fails at once with its cause', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-e2e-export-'));
    try {
      const runId = (await server.call('runs:list', { datasetId }))[0].id;
      await page.getByLabel('Export folder').fill(out);
      for (const [name, format, file] of [['TF.js', 'tfjs', 'model.json'], ['ONNX', 'onnx', 'model.onnx'], ['Checkpoint', 'checkpoint', 'model.json']]) {
        await page.getByRole('button', { name: `Export run ${runId} as ${name}` }).click();
        const dir = path.join(out, `alexnet-run-${runId}-${format}`);
        await expect.poll(() => fs.existsSync(path.join(dir, 'preprocessing.json')) && fs.readdirSync(dir).includes(file), { timeout: 30_000 }).toBe(true);
        expect(fs.readdirSync(dir)).toContain('labels.json');
      }
      expect(JSON.parse(fs.readFileSync(path.join(out, `alexnet-run-${runId}-tfjs`, 'model.json'), 'utf8')).format).toBe('graph-model');
      await page.getByLabel('Export folder').fill('/proc/nope');
      await page.getByRole('button', { name: `Export run ${runId} as TF.js` }).click();
      const err = page.locator('.toast.error').filter({ hasText: 'cannot write to /proc/nope: folders cannot be created in /proc' });
      await err.waitFor({ timeout: 5000 });
      expect(await err.textContent()).not.toMatch(/Something went wrong/);
      expect(await page.getByRole('button', { name: `Export run ${runId} as TF.js` }).isEnabled()).toBe(true);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('the camera: live top-5 from Chromium’s fake capture device, and a frame added to the dataset', async () => {
    await nav('Classify').click();
    const cam = page.getByRole('region', { name: 'Camera' });
    await cam.getByRole('button', { name: 'Start camera' }).click();
    const live = cam.getByRole('table', { name: 'Live top 5' });
    await expect.poll(() => live.getByRole('row').count(), { timeout: 60_000 }).toBe(2);
    const frames = async () => Number((await cam.getByText(/frames? classified$/).textContent())!.split(' ')[0]);
    const first = await frames();
    await expect.poll(frames, { timeout: 60_000 }).toBeGreaterThan(first); // it keeps updating
    await screenshot(page, 'loop-4-camera');
    const total = (await server.call('datasets:counts', { datasetId })).total;
    await cam.getByLabel('Class for the frame').selectOption({ label: 'bees' });
    await cam.getByRole('button', { name: 'Add this frame to the dataset' }).click();
    await expect.poll(async () => (await server.call('datasets:counts', { datasetId })).total, { timeout: 30_000 }).toBe(total + 1);
    const counts = await server.call('datasets:counts', { datasetId });
    expect(counts.byClass.find((c) => c.name === 'bees')!.count).toBe(PER_CLASS + 2 + 1);
    await cam.getByRole('button', { name: 'Stop camera' }).click();
  });

  it('the model in use is the best run; it predicts newly imported photos in the background; bulk accept', async () => {
    const runs = await server.call('runs:list', { datasetId });
    const best = [...runs].sort((a, b) => (b.bestValAcc ?? 0) - (a.bestValAcc ?? 0) || b.id - a.id)[0];
    expect(await page.getByRole('region', { name: 'Classify' }).getByLabel('Model run').inputValue()).toBe(String(best.id));
    // three photos the library has not seen, imported into the dataset
    const more = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-e2e-more-'));
    const antsDir = path.join(datasets, 'hymenoptera', 'val', 'ants');
    for (const f of fs.readdirSync(antsDir).filter((x) => /\.jpe?g$/i.test(x)).sort().slice(20, 23)) fs.symlinkSync(path.join(antsDir, f), path.join(more, f));
    try {
      await nav('Library').click();
      await page.getByLabel('Import into').selectOption('current');
      await page.getByLabel('Folder to import').fill(more);
      await page.getByRole('button', { name: 'Import', exact: true }).click();
      await page.locator('.toast').filter({ hasText: /^3 new photos in / }).waitFor({ timeout: 60_000 });
      const predicted = async () => (await server.call('photos:list', { datasetId, runId: best.id, unlabeled: true, minP: 0 })).total;
      await expect.poll(predicted, { timeout: 60_000 }).toBe(3);
      await nav('Labeling').click();
      await page.getByRole('tab', { name: /^Suggestions/ }).click();
      expect(await page.getByLabel('Model in use').locator('option:checked').textContent()).toMatch(new RegExp(`^The best: ${best.name}`));
      await expect.poll(() => page.getByRole('list', { name: 'Suggestions' }).getByRole('listitem').count()).toBe(3);
      const sure = (await server.call('photos:list', { datasetId, runId: best.id, unlabeled: true, minP: 0.9 })).total!;
      const bulk = page.getByRole('button', { name: 'Accept every suggestion at 90% or more' });
      // a tiny model is rarely that sure: with none at 90%, the button is off rather than a no-op
      expect(await bulk.isDisabled()).toBe(sure === 0);
      if (sure > 0) {
        await bulk.click();
        await page.locator('.toast').filter({ hasText: `Accepted ${sure} suggestion` }).waitFor();
        expect((await server.call('datasets:counts', { datasetId })).unlabeled).toBe(3 - sure);
      }
    } finally {
      fs.rmSync(more, { recursive: true, force: true });
    }
  });

  it('a reload comes back to the same screen', async () => {
    await nav('Classify').click();
    await page.reload();
    await page.getByRole('region', { name: 'Classify' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Screens' }).locator('[aria-current=page]').textContent()).toBe('Classify');
  });

  it('renames a dataset (the pre-filled name is selected: typing replaces it) and deletes a run', async () => {
    await nav('Library').click();
    await page.getByRole('button', { name: /^Rename dataset / }).click();
    const dialog = page.getByRole('dialog', { name: 'Rename dataset' });
    await expect.poll(() => dialog.getByLabel('New dataset name').evaluate((i) => (i as HTMLInputElement).selectionEnd! - (i as HTMLInputElement).selectionStart!)).toBe(path.basename(folder).length);
    await page.keyboard.type('pets');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await server.call('datasets:list', {}))[0].name).toBe('pets');
    await nav('Runs').click();
    const tanh = (await server.call('runs:list', { datasetId })).find((r) => r.name === 'tanh')!.id;
    await page.getByRole('button', { name: `Delete run ${tanh}` }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete run “tanh”?' });
    expect(await confirm.textContent()).toMatch(/cannot be undone/);
    await confirm.getByRole('button', { name: 'Delete run' }).click();
    await expect.poll(async () => (await server.call('runs:list', { datasetId })).map((r) => r.name)).toEqual(['relu']);
    await expect.poll(() => page.getByRole('table', { name: 'Run history' }).locator('tbody tr').count()).toBe(1);
  });

  it('had no CSP violation, page error or Svelte warning; the server log has no TF.js advice banner', () => {
    expect(app.problems).toEqual([]); // what the page must never show (harness watchProblems)
    expect(server.log.join('')).not.toMatch(/install our node backend/);
  });
});
