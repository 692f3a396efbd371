// Labeling against the real backend: a hotkey labels the focused photo and advances to the next
// unlabeled one; bulk labeling of a selection; undo and redo through labels:undo/redo restore the
// library's labels; counts and the undo text follow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gallery } from '../../renderer/src/lib/managers/gallery.svelte';
import { Labeling } from '../../renderer/src/lib/managers/labeling.svelte';
import { Library } from '../../renderer/src/lib/managers/library.svelte';
import { Selection } from '../../renderer/src/lib/managers/selection.svelte';
import { backend, type Backend } from './backend';

let b: Backend;
let lib: Library;
let g: Gallery;
let sel: Selection;
let lab: Labeling;

const labelOf = async (photoId: number) => (await b.api.call('photos:get', { photoId })).className;

beforeAll(async () => {
  b = await backend(5); // 10 unlabeled photos
  lib = new Library(b.api);
  g = new Gallery(b.api);
  sel = new Selection((i) => g.itemAt(i)?.id);
  lab = new Labeling(b.api, lib, g, sel);
  await lib.loadDatasets();
  await lib.select(b.datasetId);
  await g.show({ datasetId: b.datasetId });
});
afterAll(async () => {
  await b?.close();
});

describe('Labeling', () => {
  it('classes carry hotkeys 1 and 2; an unknown hotkey does nothing', async () => {
    expect(lib.classes.map((c) => [c.name, c.hotkey])).toEqual([
      ['ants', '1'],
      ['bees', '2'],
    ]);
    sel.focusOn(0);
    expect(await lab.hotkey('7')).toBe(false);
    expect(lib.counts!.labeled).toBe(0);
  });

  it('hotkey labels the focused photo and moves to the next unlabeled one', async () => {
    sel.focusOn(0);
    const first = g.itemAt(0)!.id;
    expect(await lab.hotkey('1')).toBe(true);
    expect(await labelOf(first)).toBe('ants');
    expect(sel.focus).toBe(1);
    expect(sel.targets()).toEqual([g.itemAt(1)!.id]);
    expect(lab.undoText).toMatch(/ants/);
    expect(lib.counts!.labeled).toBe(1);
    expect(lib.classes.find((c) => c.name === 'ants')!.photoCount).toBe(1);
    expect(g.itemAt(0)!.className).toBe('ants'); // the grid's pages were refreshed

    // photo 2 is labeled already, so labeling 1 skips over it
    await b.api.call('labels:set', { datasetId: b.datasetId, photoIds: [g.itemAt(2)!.id], classId: null });
    const two = g.itemAt(2)!.id;
    await lab.labelPhotos([two], lib.classes[1].id);
    sel.focusOn(1);
    await lab.hotkey('2');
    expect(sel.focus).toBe(3);
  });

  it('hotkeys pressed faster than the library answers label successive photos, in order', async () => {
    await g.show({ filter: { unlabeled: true } });
    const n = g.total;
    const [a, b2] = [g.itemAt(0)!.id, g.itemAt(1)!.id];
    sel.focusOn(0);
    const pending = [lab.hotkey('1'), lab.hotkey('2')]; // the second key before the first is saved
    await Promise.all(pending);
    expect(await labelOf(a)).toBe('ants');
    expect(await labelOf(b2)).toBe('bees');
    expect(g.total).toBe(n - 2);
    await lab.undo();
    await lab.undo();
    await g.show({ filter: {} });
    expect(await labelOf(a)).toBeNull();
  });

  it('undo restores the previous label in the library, redo applies it again', async () => {
    const before = lib.counts!.labeled;
    const id = g.itemAt(1)!.id;
    expect(await labelOf(id)).toBe('bees');
    await lab.undo();
    expect(await labelOf(id)).toBeNull();
    expect(lib.counts!.labeled).toBe(before - 1);
    expect(lab.redoText).not.toBeNull();
    await lab.redo();
    expect(await labelOf(id)).toBe('bees');
    expect(lib.counts!.labeled).toBe(before);
  });

  it('labels every selected photo at once, and one undo takes back the whole bulk action', async () => {
    const idx = [4, 5, 6, 7, 8];
    sel.click(4);
    sel.click(8, { shift: true });
    expect(sel.count).toBe(5);
    await lab.hotkey('2');
    const ids = idx.map((i) => g.itemAt(i)!.id);
    for (const id of ids) expect(await labelOf(id)).toBe('bees');
    expect(lab.lastAction).toMatch(/5 photos/);
    expect(sel.count).toBe(5); // a bulk action keeps the selection (no auto-advance)
    await lab.undo();
    for (const id of ids) expect(await labelOf(id)).toBeNull();
  });

  it('a selection holds only photos in view: relabeled out of a filter, they leave it; another key relabels nothing unseen', async () => {
    await g.show({ filter: { unlabeled: true } });
    const n = g.total;
    expect(n).toBeGreaterThan(4);
    sel.click(0);
    sel.click(2, { shift: true });
    const three = sel.targets();
    await lab.hotkey('1'); // the three leave the "unlabeled" view
    expect(g.total).toBe(n - 3);
    expect(sel.count).toBe(0);
    expect(sel.targets()).toEqual([]);
    await lab.hotkey('2'); // nothing in view is selected: nothing changes
    for (const id of three) expect(await labelOf(id)).toBe('ants');
    // a filter that still shows some selected photos keeps just those
    const unlabeled = (await b.api.call('photos:list', { datasetId: b.datasetId, unlabeled: true })).items[0].id;
    sel.selectAll([three[0], unlabeled]);
    await g.show({ filter: { classIds: [lib.classes[0].id] } });
    await lab.pruneSelection();
    expect([...sel.ids]).toEqual([three[0]]);
    await lab.undo();
    await g.show({ filter: {} });
  });
});
