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
import { holding, type Holding } from './hold';

let b: Backend;
beforeAll(async () => {
  b = await backend(2); // 4 unlabeled photos, classes ants and bees
});
afterAll(async () => {
  await b?.close();
});

/** Library and Labeling on the dataset, with the `nth` answer on `channel` held back. */
async function managers(channel: Channel, nth = 1): Promise<{ held: Holding; library: Library; labeling: Labeling }> {
  const held = holding(b.h, channel, nth);
  const library = new Library(held.api);
  const gallery = new Gallery(held.api);
  const labeling = new Labeling(held.api, library, gallery, new Selection((i) => gallery.itemAt(i)?.id));
  await library.loadDatasets();
  await library.select(b.datasetId);
  await gallery.show({ datasetId: b.datasetId });
  return { held, library, labeling };
}

describe('the dataset list', () => {
  it('shows the list asked for last (a dataset created between two asks)', async () => {
    const held = holding(b.h, 'datasets:list');
    const library = new Library(held.api);
    const first = library.loadDatasets(); // its answer lacks the new dataset
    await held.answered;
    const created = await b.h.ok('datasets:create', { name: 'later' });
    await held.overtake(first, () => library.loadDatasets(), () => expect(library.datasets.map((d) => d.id)).toContain(created.id));
    await b.h.ok('datasets:delete', { datasetId: created.id });
  });
});

describe('the classes', () => {
  it('show the list asked for last (a class renamed between two asks of the same dataset)', async () => {
    const { held, library } = await managers('classes:list', 2); // the first: select()'s
    const ants = library.classes.find((c) => c.name === 'ants')!;
    const first = library.loadClasses(); // its answer has the old name
    await held.answered;
    await b.h.ok('classes:update', { classId: ants.id, name: 'formicidae' });
    await held.overtake(first, () => library.loadClasses(), () => expect(library.classes.map((c) => c.name)).toContain('formicidae'));
    await b.h.ok('classes:update', { classId: ants.id, name: 'ants' });
  });
});

describe('what undo would do', () => {
  it('is the answer of the peek asked last (a label between two asks)', async () => {
    const { held, library, labeling } = await managers('labels:peek');
    const first = labeling.peek(); // its answer is from before the label
    await held.answered;
    const photo = (await b.h.ok('photos:list', { datasetId: b.datasetId, limit: 1 })).items[0].id;
    await b.h.ok('labels:set', { datasetId: b.datasetId, photoIds: [photo], classId: library.classes[0].id });
    const after = await b.h.ok('labels:peek', { datasetId: b.datasetId });
    await held.overtake(first, () => labeling.peek(), () => expect(labeling.undoText).toBe(after.undo));
  });

  it('is the last labeling action once it is done, not a peek asked before it', async () => {
    const { held, library, labeling } = await managers('labels:peek');
    const first = labeling.peek(); // its answer is from before the label
    await held.answered;
    const photos = (await b.h.ok('photos:list', { datasetId: b.datasetId, limit: 4 })).items.map((p) => p.id);
    const bees = library.classes.find((c) => c.name === 'bees')!;
    let after: string | null = null;
    const label = async () => {
      await labeling.labelPhotos(photos.slice(2), bees.id);
      after = (await b.h.ok('labels:peek', { datasetId: b.datasetId })).undo;
    };
    await held.overtake(first, label, () => {
      expect(labeling.undoText).toBe(after);
      expect(labeling.undoText).toMatch(/bees/);
    });
  });
});
