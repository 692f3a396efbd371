// The whole loop in real Chromium against the real backend: import a folder and see its counts;
// label photos by hotkey and undo one; select many and label them at once; a tiny training run with
// live charts to the end; the confusion matrix and relabeling a photo from it; classifying a photo.
// Each screen is saved as a PNG under test-results/screens/. No CSP violation may happen.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, outsidePhoto, screenshot, type App, type Server } from './harness';

const PER_CLASS = 8; // labeled by folder: ants/ and bees/
const LOOSE = 6; // unlabeled photos at the top of the folder

let app: App;
let server: Server;
let page: Page;
let folder: string;
let datasetId: number;

const count = (name: string) => page.locator(`[data-class="${name}"] .count`);
const cells = () => page.getByRole('listbox', { name: 'Photos' }).getByRole('option');
const openAdvanced = async () => {
  if ((await page.locator('details.advanced[open]').count()) === 0) await page.locator('details.advanced > summary').click();
};
const nav = (name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name });

beforeAll(async () => {
  app = await openApp({ photos: { perClass: PER_CLASS, loose: LOOSE } });
  ({ server, page, folder } = app);
});

afterAll(() => app?.close());

describe('AlexNet Studio in Chromium', () => {
  it('imports a folder and shows its per-class counts', async () => {
    await page.getByLabel('Folder to import').fill(folder);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await expect.poll(() => count('ants').textContent(), { timeout: 60_000 }).toBe(String(PER_CLASS));
    await expect.poll(() => count('bees').textContent()).toBe(String(PER_CLASS));
    await expect.poll(() => count('(unlabeled)').textContent()).toBe(String(LOOSE));
    const ds = await server.call('datasets:list', {});
    expect(ds).toHaveLength(1);
    datasetId = ds[0].id;
    expect(ds[0].photoCount).toBe(2 * PER_CLASS + LOOSE);
    // the grid shows thumbnails that really loaded
    await cells().first().locator('img').waitFor();
    await expect.poll(() => page.locator('.cell img').evaluateAll((imgs) => imgs.filter((i) => (i as HTMLImageElement).naturalWidth > 0).length)).toBeGreaterThan(5);
    await screenshot(page, '1-library');
  });

  it('labels photos by hotkey, moving to the next unlabeled one, and undoes the last', async () => {
    await page.getByLabel('Filter').selectOption('unlabeled');
    await expect.poll(() => cells().count()).toBe(LOOSE);
    await cells().first().click();
    const before = await server.call('datasets:counts', { datasetId });
    await page.keyboard.press('1');
    await expect.poll(() => count('ants').textContent()).toBe(String(PER_CLASS + 1));
    await page.keyboard.press('2'); // the focus moved on by itself
    await expect.poll(() => count('bees').textContent()).toBe(String(PER_CLASS + 1));
    await page.keyboard.press('1');
    await expect.poll(() => count('ants').textContent()).toBe(String(PER_CLASS + 2));
    expect((await server.call('datasets:counts', { datasetId })).unlabeled).toBe(before.unlabeled - 3);
    await page.keyboard.press('Control+z');
    await expect.poll(() => count('ants').textContent()).toBe(String(PER_CLASS + 1));
    const after = await server.call('datasets:counts', { datasetId });
    expect(after.unlabeled).toBe(before.unlabeled - 2);
    await expect.poll(() => page.getByRole('status', { name: 'Labeling status' }).getByRole('button', { name: 'Redo' }).isEnabled()).toBe(true);
  });

  it('selects many photos (click, shift-click) and labels them at once', async () => {
    await expect.poll(() => cells().count()).toBe(LOOSE - 2);
    await cells().first().click();
    await cells().last().click({ modifiers: ['Shift'] });
    await expect.poll(() => page.locator('[role=option][aria-selected=true]').count()).toBe(LOOSE - 2);
    await page.keyboard.press('2');
    await expect.poll(() => count('(unlabeled)').textContent()).toBe('0');
    const c = await server.call('datasets:counts', { datasetId });
    expect(c.unlabeled).toBe(0);
    expect(c.byClass.find((x) => x.name === 'bees')!.count).toBe(PER_CLASS + 1 + LOOSE - 2);
    await page.getByLabel('Filter').selectOption('all');
    await nav('Labeling').click();
    await page.getByRole('region', { name: 'Labeling' }).waitFor();
    await screenshot(page, '2-labeling');
  });

  it('shows the shortcuts with ?, and ignores hotkeys typed into a field', async () => {
    await page.getByLabel('New class name').fill('12');
    expect(await page.getByLabel('New class name').inputValue()).toBe('12');
    expect((await server.call('labels:peek', { datasetId })).redo).toBeNull(); // typing labeled nothing
    await page.getByLabel('New class name').fill('');
    await page.getByRole('listbox', { name: 'Photos' }).focus();
    await page.keyboard.press('?');
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.waitFor({ state: 'visible' });
    await help.getByText('Undo the last labeling action').waitFor({ state: 'visible' });
    await screenshot(page, '3-shortcuts');
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'hidden' });
  });

  it('selects with a rubber band, opens the preview and moves through it with the arrows', async () => {
    const box = async (pos: number) => (await page.locator(`[role=option][aria-posinset="${pos}"]`).boundingBox())!;
    const a = await box(1);
    const b = await box(2);
    const pitch = b.x - a.x; // one cell's width plus the gap
    await page.mouse.move(a.x + 4, a.y + 4);
    await page.mouse.down();
    await page.mouse.move(a.x + pitch * 1.5, a.y + pitch * 0.5, { steps: 4 });
    await page.mouse.move(a.x + pitch * 1.5, a.y + pitch * 1.5, { steps: 4 });
    await page.mouse.up();
    await expect.poll(() => page.locator('[role=option][aria-selected=true]').count()).toBe(4); // 2 x 2 cells
    await page.keyboard.press('Enter');
    const preview = page.getByRole('dialog', { name: 'Photo preview' });
    await preview.waitFor({ state: 'visible' });
    const where = async () => (await preview.getByText(/^\d+ of \d+$/).textContent())!;
    const first = await where();
    await page.keyboard.press('ArrowRight');
    await expect.poll(where).toBe(`${Number(first.split(' ')[0]) + 1} of ${2 * PER_CLASS + LOOSE}`);
    await preview.locator('img').waitFor();
    await screenshot(page, '3b-preview');
    await page.keyboard.press('Escape');
    await preview.waitFor({ state: 'hidden' });
  });

  it('creates a class, labels with its new hotkey, merges it (saying how many photos) and deletes one', async () => {
    const side = page.getByRole('region', { name: 'Labeling' });
    await side.getByLabel('New class name').fill('wasps');
    await side.getByRole('button', { name: 'Add class' }).click();
    await side.getByRole('button', { name: 'Label selected as wasps (key 3)' }).waitFor();
    await cells().first().click();
    await page.keyboard.press('3');
    await expect.poll(async () => (await server.call('classes:list', { datasetId })).find((c) => c.name === 'wasps')?.photoCount).toBe(1);
    await side.getByRole('button', { name: 'Merge wasps into another class' }).click();
    const merge = page.getByRole('dialog', { name: 'Merge class' });
    await merge.getByLabel('Merge into').selectOption({ label: 'ants' });
    expect(await merge.textContent()).toContain('1 photo labeled “wasps” will be labeled “ants”');
    const antsBefore = (await server.call('classes:list', { datasetId })).find((c) => c.name === 'ants')!.photoCount;
    await merge.getByRole('button', { name: 'Merge 1 photo' }).click();
    await expect.poll(async () => (await server.call('classes:list', { datasetId })).map((c) => c.name)).toEqual(['ants', 'bees']);
    expect((await server.call('classes:list', { datasetId })).find((c) => c.name === 'ants')!.photoCount).toBe(antsBefore + 1);

    await side.getByLabel('New class name').fill('extra');
    await side.getByRole('button', { name: 'Add class' }).click();
    await side.getByRole('button', { name: 'Rename extra' }).click();
    const rename = page.getByRole('dialog', { name: 'Rename class' });
    await rename.getByLabel('New name').fill('spare');
    await rename.getByRole('button', { name: 'Rename' }).click();
    await expect.poll(async () => (await server.call('classes:list', { datasetId })).map((c) => c.name)).toEqual(['ants', 'bees', 'spare']);
    await side.getByRole('button', { name: 'Delete spare' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete class “spare”?' });
    expect(await confirm.textContent()).toContain('0 photos labeled “spare” will become unlabeled');
    await screenshot(page, '3c-delete-class');
    await confirm.getByRole('button', { name: 'Delete class' }).click();
    await expect.poll(async () => (await server.call('classes:list', { datasetId })).length).toBe(2);
  });

  it('says in words which class has too few photos to train', async () => {
    const side = page.getByRole('region', { name: 'Labeling' });
    await side.getByLabel('New class name').fill('moths');
    await side.getByRole('button', { name: 'Add class' }).click();
    await side.getByRole('button', { name: /^Label selected as moths \(key \d\)$/ }).waitFor();
    const key = /\(key (\d)\)/.exec((await side.getByRole('button', { name: /^Label selected as moths/ }).getAttribute('aria-label'))!)![1];
    await cells().first().click();
    await page.keyboard.press(key);
    await expect.poll(async () => (await server.call('classes:list', { datasetId })).find((c) => c.name === 'moths')?.photoCount).toBe(1);
    await nav('Train').click();
    const train = page.getByRole('region', { name: 'Train' });
    await openAdvanced();
    await train.getByLabel('Model').selectOption('tiny');
    await train.getByRole('button', { name: 'Train', exact: true }).click();
    await expect.poll(() => train.getByRole('alert').textContent()).toMatch(/class "moths" has 1 labeled photo/);
    expect(await server.call('runs:list', { datasetId })).toEqual([]);
    await screenshot(page, '4a-train-too-few');
    // take the label back (undo) and remove the empty class
    await nav('Labeling').click();
    await page.keyboard.press('Control+z');
    await expect.poll(async () => (await server.call('classes:list', { datasetId })).find((c) => c.name === 'moths')?.photoCount).toBe(0);
    await side.getByRole('button', { name: 'Delete moths' }).click();
    await page.getByRole('dialog', { name: 'Delete class “moths”?' }).getByRole('button', { name: 'Delete class' }).click();
    await expect.poll(async () => (await server.call('classes:list', { datasetId })).length).toBe(2);
    expect((await server.call('datasets:counts', { datasetId })).unlabeled).toBe(0);
  });

  it('trains a tiny model with live charts until the run finishes', async () => {
    await nav('Train').click();
    const train = page.getByRole('region', { name: 'Train' });
    // the one-button default needs the ImageNet weights: a clear message, not a crash
    await train.getByRole('button', { name: 'Train', exact: true }).click();
    await expect.poll(() => train.getByRole('alert').textContent()).toMatch(/weights/i);
    // a file that is not the BVLC AlexNet is refused in words
    const weights = train.getByRole('region', { name: 'ImageNet weights' });
    await weights.getByLabel('Weights file to import').fill(outsidePhoto());
    await weights.getByRole('button', { name: 'Import file' }).click();
    await page.locator('.toast.error').filter({ hasText: /Import weights/ }).waitFor({ timeout: 30_000 });
    expect(await page.locator('.toast.error').last().textContent()).toMatch(/The weights file is not the expected AlexNet/);
    expect((await server.call('weights:status', {})).state).toBe('missing');
    await openAdvanced();
    await train.getByLabel('Model').selectOption('tiny');
    await train.getByLabel('Epochs').fill('2');
    await train.getByLabel('Batch size').fill('4');
    await train.getByLabel('Augmentation').uncheck();
    await train.getByRole('button', { name: 'Train', exact: true }).click();
    const status = train.getByLabel('Run status');
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toBe('running');
    // the step chart moves: the step counter and the chart's data change while training
    await expect.poll(() => train.getByText(/^\d+ \/ \d+$/).count(), { timeout: 90_000 }).toBeGreaterThan(0);
    expect(await page.locator('.chart canvas').count()).toBe(4);
    await screenshot(page, '4-train-running');
    await expect.poll(() => status.textContent(), { timeout: 150_000 }).toBe('finished');
    const runs = await server.call('runs:list', { datasetId });
    expect(runs[0].status).toBe('finished');
    const m = await server.call('runs:metrics', { runId: runs[0].id });
    expect(m.epoch.val_acc.idx).toEqual([1, 2]);
    expect(m.step.loss.idx.length).toBeGreaterThan(2);
    // the per-epoch chart holds both epochs: uPlot's legend shows the hovered/last values
    expect(await train.getByLabel('Epoch', { exact: true }).textContent()).toBe('2 / 2');
    // why this backend: every faster one that was not used, in the engine's words (status bar too)
    const backend = (await server.call('app:info', {})).backend!;
    expect(backend.tried.length).toBeGreaterThan(0); // tensorflow-gpu, at least, is not on this machine
    await train.getByText('Why this backend').click();
    for (const t of backend.tried) await train.getByText(`Not ${t.name}: ${t.error}`, { exact: true }).waitFor();
    expect(await page.locator('.backend[title]').first().getAttribute('title')).toContain(`Not ${backend.tried[0].name}: `);
    await screenshot(page, '5-train-finished');
  });

  it('a second run compares with the first: curves overlaid, differing settings highlighted', async () => {
    const train = page.getByRole('region', { name: 'Train' });
    await train.getByLabel('Epochs').fill('1');
    await train.getByLabel('Learning rate').fill('0.02');
    await train.getByRole('button', { name: 'Train', exact: true }).click();
    const status = train.getByLabel('Run status');
    await expect.poll(async () => (await server.call('runs:list', { datasetId })).length).toBe(2);
    await expect.poll(() => status.textContent(), { timeout: 150_000 }).toBe('finished');
    await nav('Runs').click();
    const [second, first] = await server.call('runs:list', { datasetId });
    await page.getByLabel(`Compare run ${first.id}`).check();
    await page.getByLabel(`Compare run ${second.id}`).check();
    await page.getByRole('button', { name: 'Compare 2 runs' }).click();
    const table = page.getByRole('table', { name: 'Settings compared' });
    await table.waitFor();
    const differing = await table.locator('tr.diff td:first-child').allTextContents();
    expect(differing).toEqual(expect.arrayContaining(['Epochs (differs)', 'Learning rate (differs)']));
    expect(differing).not.toContain('Batch size (differs)');
    expect(await page.locator('[aria-label="Comparison"] .chart canvas').count()).toBe(2);
    await screenshot(page, '6a-runs-compare');
  });

  it('exports a run as a TF.js graph model, with labels.json and preprocessing.json', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-e2e-export-'));
    try {
      const runId = (await server.call('runs:list', { datasetId }))[1].id;
      await page.getByLabel('Export folder').fill(out);
      await page.getByRole('button', { name: `Export run ${runId} as TF.js` }).click();
      await page.getByRole('status').filter({ hasText: /^Exported \d+ files/ }).waitFor();
      const dir = path.join(out, `alexnet-run-${runId}-tfjs`);
      expect(fs.readdirSync(dir)).toEqual(expect.arrayContaining(['model.json', 'labels.json', 'preprocessing.json']));
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).format).toBe('graph-model');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('opens the confusion matrix, a cell’s photos, and relabels one in place', async () => {
    await nav('Runs').click();
    const runs = await server.call('runs:list', { datasetId });
    const runId = runs[runs.length - 1].id; // the two-epoch run
    await page.getByRole('button', { name: `Evaluate run ${runId}` }).click();
    const matrix = page.getByRole('table', { name: 'Confusion matrix' });
    await matrix.waitFor();
    const ev = await server.call('runs:evaluation', { runId });
    // prefer a wrong cell; a perfect model leaves the diagonal
    const cells: [number, number][] = [];
    ev.matrix.forEach((row, i) => row.forEach((n, j) => n > 0 && cells.push([i, j])));
    cells.sort((a, b) => Number(a[0] === a[1]) - Number(b[0] === b[1]));
    const [li, pi] = cells[0];
    const label = ev.classes[li].name;
    const predicted = ev.classes[pi].name;
    await matrix.getByRole('button', { name: `${ev.matrix[li][pi]} photos labeled ${label} predicted ${predicted}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Photos of a confusion matrix cell' });
    await expect.poll(() => dialog.getByRole('listitem').count()).toBe(ev.matrix[li][pi]);
    await screenshot(page, '6-runs-matrix-cell');
    const other = ev.classes.find((c) => c.name !== label)!.name;
    const relabel = dialog.getByRole('button', { name: new RegExp(`^Relabel .* as ${other}$`) }).first();
    const photoName = (await relabel.getAttribute('aria-label'))!.replace(/^Relabel (.*) as .*$/, '$1');
    await relabel.click();
    await expect.poll(async () => {
      const page1 = await server.call('photos:list', { datasetId, limit: 500 });
      return page1.items.find((p) => p.name === photoName)?.className;
    }).toBe(other);
    await page.keyboard.press('Escape');
    await screenshot(page, '7-runs');
  });

  it('suggests predicted labels for unlabeled photos, least confident first, accepted with one key', async () => {
    await nav('Labeling').click();
    await cells().first().click();
    await cells().nth(1).click({ modifiers: ['Shift'] });
    await page.keyboard.press('0'); // clear both labels: unlabeled photos the run has predicted
    await expect.poll(async () => (await server.call('datasets:counts', { datasetId })).unlabeled).toBe(2);
    await page.getByRole('tab', { name: /^Suggestions/ }).click();
    const list = page.getByRole('list', { name: 'Suggestions' });
    await expect.poll(() => list.getByRole('listitem').count()).toBe(2);
    const shown = await list.locator('.card').evaluateAll((cards) => cards.map((c) => Number(/(\d+)%/.exec(c.textContent ?? '')?.[1])));
    expect(shown).toEqual([...shown].sort((a, b) => a - b)); // least confident first
    await screenshot(page, '7b-suggestions');
    await list.getByRole('button', { name: /^Accept / }).first().click();
    await expect.poll(async () => (await server.call('datasets:counts', { datasetId })).unlabeled).toBe(1);
    await expect.poll(() => list.getByRole('listitem').count()).toBe(1);
    await page.keyboard.press('a');
    await expect.poll(async () => (await server.call('datasets:counts', { datasetId })).unlabeled).toBe(0);
  });

  it('classifies a photo and adds it to the dataset with its label', async () => {
    await nav('Classify').click();
    const screen = page.getByRole('region', { name: 'Classify' });
    const file = outsidePhoto();
    const name = path.basename(file);
    await screen.getByLabel('Photo paths, one per line').fill(file);
    await screen.getByRole('button', { name: 'Classify paths' }).click();
    const top = screen.getByRole('table', { name: `Top 5 for ${name}` });
    await expect.poll(() => top.getByRole('row').count(), { timeout: 60_000 }).toBe(2); // two classes: top-2 of 5
    const total = (await server.call('datasets:counts', { datasetId })).total;
    await screen.getByRole('button', { name: `Add ${name} to the dataset` }).click();
    await expect.poll(async () => (await server.call('datasets:counts', { datasetId })).total).toBe(total + 1);
    // the batch as CSV: a header and one line for the file, top label first
    const [download] = await Promise.all([page.waitForEvent('download'), screen.getByRole('button', { name: 'Download CSV' }).click()]);
    const csv = fs.readFileSync((await download.path())!, 'utf8').trim().split('\n');
    expect(csv[0]).toBe('file,label1,p1,label2,p2,label3,p3,label4,p4,label5,p5,error');
    expect(csv[1].startsWith(`${file},`)).toBe(true);
    expect(csv[1].split(',')[1]).toMatch(/^(ants|bees)$/);
    await screenshot(page, '8-classify');
  });

  it('classifies a file dropped on the window', async () => {
    // a browser does not tell the page where a dropped file lives: the page uploads its bytes to
    // browser mode's POST /upload, which stores a copy in the data folder
    const bytes = fs.readFileSync(outsidePhoto()).toString('base64'); // a real JPEG's bytes, dropped
    const screen = page.getByRole('region', { name: 'Classify' });
    const dt = await page.evaluateHandle((b64) => {
      const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const d = new DataTransfer();
      d.items.add(new File([bin], 'dropped.jpg', { type: 'image/jpeg' }));
      return d;
    }, bytes);
    await screen.dispatchEvent('drop', { dataTransfer: dt });
    // shown under its own name (not the stored copy's), and the CSV names it so too
    await screen.getByRole('table', { name: 'Top 5 for dropped.jpg', exact: true }).waitFor({ state: 'visible', timeout: 60_000 });
    expect(await screen.getByRole('list', { name: 'Classified photos' }).textContent()).not.toMatch(/uploads|[0-9a-f]{8,}-dropped/);
    const [download] = await Promise.all([page.waitForEvent('download'), screen.getByRole('button', { name: 'Download CSV' }).click()]);
    const csv = fs.readFileSync((await download.path())!, 'utf8').trim().split('\n');
    expect(csv.some((l) => l.startsWith('dropped.jpg,'))).toBe(true);
    expect(csv.join('\n')).not.toMatch(/uploads/);
    await screenshot(page, '9-classify-dropped');
  });

  it("changes the app's compute backend from the status bar: the status bar and the Train screen follow", async () => {
    const choice = page.getByLabel('App compute backend', { exact: true });
    const bar = page.locator('.topbar .backend').filter({ hasText: /· backend / });
    const before = (await server.call('app:info', {})).backend!.name;
    expect(await choice.inputValue()).toBe('auto');
    await choice.selectOption({ label: 'CPU: JavaScript (slow)' });
    // main loads the new backend before it answers: the status bar names it
    await expect.poll(() => bar.textContent()).toMatch(/· backend cpu$/);
    expect(await server.call('settings:get', {})).toEqual({ backend: 'cpu' });
    expect((await server.call('app:info', {})).backend?.name).toBe('cpu');
    expect(JSON.parse(fs.readFileSync(path.join(server.dataDir, 'settings.json'), 'utf8'))).toEqual({ backend: 'cpu' });
    // the Train screen's per-run choice defaults to the app setting, and names it
    await nav('Train').click();
    await openAdvanced();
    const perRun = page.getByRole('region', { name: 'Train' }).getByLabel('Compute backend', { exact: true });
    expect(await perRun.inputValue()).toBe('auto');
    await expect.poll(() => perRun.locator('option').first().textContent()).toBe('App setting (CPU: JavaScript (slow))');
    await screenshot(page, '10-backend-setting');
    // back to Auto: the best backend again
    await choice.selectOption('auto');
    await expect.poll(() => bar.textContent()).toMatch(new RegExp(`· backend ${before}( |$)`));
    expect(await server.call('settings:get', {})).toEqual({ backend: 'auto' });
    await expect.poll(() => perRun.locator('option').first().textContent()).toBe('App setting (Auto (best available))');
  });

  it('had no CSP violation or page error', () => {
    expect(app.problems).toEqual([]); // what the page must never show (harness watchProblems)
  });
});
