// The Library and Labeling views against the real handlers: whatever order the answers arrive in,
// each shows the answer of the call made last (an older, slower answer never overwrites a newer one):
// the dataset list, the classes and counts, and what undo / redo would do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel } from '../../preload/contract';
import { Gallery } from '../../renderer/src/lib/managers/gallery.svelte';
import { Labeling } from '../../renderer/src/lib/managers/labeling.svelte';
import { Library } from '../../renderer/src/lib/managers/library.svelte';
import { Selection } from '../../renderer/src/lib/managers/selection.svelte';
import { backend, type Backend } from './backend';
import { holding } from './hold';

let b: Backend;
beforeAll(async () => {
  b = await backend(2); // 4 unlabeled photos, classes ants and bees
});
afterAll(async () => {
  await b?.close();
});

/** Library and Labeling on the dataset, with the `nth` answer on `channel` held back until `release()`. */
async function managers(channel: Channel, nth = 1): Promise<{ library: Library; labeling: Labeling; release: () => void; answered: Promise<void> }> {
  const { api, release, answered } = holding(b.h, channel, nth);
  const library = new Library(api);
  const gallery = new Gallery(api);
  const labeling = new Labeling(api, library, gallery, new Selection((i) => gallery.itemAt(i)?.id));
  await library.loadDatasets();
  await library.select(b.datasetId);
  await gallery.show({ datasetId: b.datasetId });
  return { library, labeling, release, answered };
}

describe('the dataset list', () => {
  it('shows the list asked for last (a dataset created between two asks)', async () => {
    const { api, release, answered } = holding(b.h, 'datasets:list');
    const library = new Library(api);
    const first = library.loadDatasets(); // its answer lacks the new dataset; answered last
    await answered;
    const created = await b.h.ok('datasets:create', { name: 'later' });
    await library.loadDatasets();
    expect(library.datasets.map((d) => d.id)).toContain(created.id);
    release();
    await first;
    expect(library.datasets.map((d) => d.id)).toContain(created.id);
    await b.h.ok('datasets:delete', { datasetId: created.id });
  });
});

describe('the classes', () => {
  it('show the list asked for last (a class renamed between two asks of the same dataset)', async () => {
    const { library, release, answered } = await managers('classes:list', 2); // the first: select()'s
    const ants = library.classes.find((c) => c.name === 'ants')!;
    const first = library.loadClasses(); // its answer has the old name; answered last
    await answered;
    await b.h.ok('classes:update', { classId: ants.id, name: 'formicidae' });
    await library.loadClasses();
    expect(library.classes.map((c) => c.name)).toContain('formicidae');
    release();
    await first;
    expect(library.classes.map((c) => c.name)).toContain('formicidae');
    await b.h.ok('classes:update', { classId: ants.id, name: 'ants' });
  });
});

describe('what undo would do', () => {
  it('is the answer of the peek asked last (a label between two asks)', async () => {
    const { library, labeling, release, answered } = await managers('labels:peek');
    const first = labeling.peek(); // its answer is from before the label; answered last
    await answered;
    const photo = (await b.h.ok('photos:list', { datasetId: b.datasetId, limit: 1 })).items[0].id;
    await b.h.ok('labels:set', { datasetId: b.datasetId, photoIds: [photo], classId: library.classes[0].id });
    const after = await b.h.ok('labels:peek', { datasetId: b.datasetId });
    await labeling.peek();
    expect(labeling.undoText).toBe(after.undo);
    release();
    await first;
    expect(labeling.undoText).toBe(after.undo);
  });

  it('is the last labeling action once it is done, not a peek asked before it', async () => {
    const { library, labeling, release, answered } = await managers('labels:peek');
    const first = labeling.peek(); // its answer is from before the label; answered last
    await answered;
    const photos = (await b.h.ok('photos:list', { datasetId: b.datasetId, limit: 4 })).items.map((p) => p.id);
    const bees = library.classes.find((c) => c.name === 'bees')!;
    await labeling.labelPhotos(photos.slice(2), bees.id);
    const after = await b.h.ok('labels:peek', { datasetId: b.datasetId });
    expect(labeling.undoText).toBe(after.undo);
    expect(labeling.undoText).toMatch(/bees/);
    release();
    await first;
    expect(labeling.undoText).toBe(after.undo);
  });
});
