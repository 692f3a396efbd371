// The Runs manager's views against a real library with runs: whatever order the answers arrive in,
// each view shows the answer of the call made last (an older, slower answer never overwrites a newer
// one): the run list, the watched run, Compare, the summary card, and the suggestions of Labeling.
import { beforeAll, describe, expect, it } from 'vitest';
import { Gallery } from '../../renderer/src/lib/managers/gallery.svelte';
import { Labeling } from '../../renderer/src/lib/managers/labeling.svelte';
import { Library } from '../../renderer/src/lib/managers/library.svelte';
import { DEFAULT_ADVANCED, Runs } from '../../renderer/src/lib/managers/runs.svelte';
import { Selection } from '../../renderer/src/lib/managers/selection.svelte';
import { TINY_RUN, useFinishedRun, type Harness } from '../helpers/app';
import { holding } from './hold';

const lib = useFinishedRun(4, 'alexnet-runs-latest-');
let other: number; // a second run (cancelled) on the same dataset
let empty: number; // a dataset without runs

/** Cancels run `runId`; answers its id once it has ended. */
async function cancelledRun(h: Harness, runId: number): Promise<number> {
  await h.ok('runs:cancel', { runId });
  await h.next('run:status', (e) => e.runId === runId && e.phase === 'done', 60_000);
  return runId;
}

beforeAll(async () => {
  const { h, ds } = lib;
  other = await cancelledRun(h, (await h.ok('runs:start', { datasetId: ds, settings: TINY_RUN })).id);
  empty = (await h.ok('datasets:create', { name: 'empty' })).id;
}, 90_000);

describe('the run list', () => {
  it("shows the dataset chosen last, when the one before answers after it", async () => {
    const held = holding(lib.h, 'runs:list');
    const runs = new Runs(held.api);
    await held.overtake(runs.load(lib.ds), () => runs.load(empty), () => expect(runs.list).toEqual([]));
  });
});

describe('the watched run', () => {
  it('is the run watched last', async () => {
    const held = holding(lib.h, 'runs:metrics');
    const runs = new Runs(held.api);
    await held.overtake(runs.watch(lib.runId), () => runs.watch(other), () => expect(runs.liveId).toBe(other));
  });

  it('a run started meanwhile is watched, with no summary, whatever answers after its start', async () => {
    const { api, release } = holding(lib.h, 'runs:metrics');
    const runs = new Runs(api);
    const watched = runs.watch(lib.runId); // answered after the start
    const summarized = runs.summarize(lib.runId); // runs:get, answered before the start
    await summarized;
    expect(runs.summary?.id).toBe(lib.runId);
    const started = await runs.start(lib.ds, { ...DEFAULT_ADVANCED, model: 'tiny', epochs: 1, batchSize: 4, augment: false });
    try {
      release();
      await watched;
      expect(runs.liveId).toBe(started.id);
      expect(runs.curves).toEqual({ step: {}, epoch: {} });
      expect(runs.summary).toBeNull();
    } finally {
      await cancelledRun(lib.h, started.id);
    }
  });
});

describe('Compare', () => {
  it('shows the runs chosen when it was asked last', async () => {
    const held = holding(lib.h, 'runs:metrics');
    const runs = new Runs(held.api);
    await runs.load(lib.ds);
    runs.toggleCompare(lib.runId);
    const first = runs.loadCompare();
    runs.toggleCompare(lib.runId);
    runs.toggleCompare(other);
    await held.overtake(first, () => runs.loadCompare(), () => expect(runs.compared.map((c) => c.run.id)).toEqual([other]));
  });
});

describe('the summary card', () => {
  it('shows the run summarized last', async () => {
    const held = holding(lib.h, 'runs:get');
    const runs = new Runs(held.api);
    await held.overtake(runs.summarize(lib.runId), () => runs.summarize(other), () => expect(runs.summary?.id).toBe(other));
  });
});

describe('the suggestions', () => {
  it('show the list asked for last (a relabel between two asks)', async () => {
    const { h, ds } = lib;
    const held = holding(h, 'suggestions:list');
    const library = new Library(held.api);
    const gallery = new Gallery(held.api);
    const labeling = new Labeling(held.api, library, gallery, new Selection((i) => gallery.itemAt(i)?.id), () => lib.runId);
    await library.select(ds);
    const [a, b] = (await h.ok('photos:list', { datasetId: ds, limit: 2 })).items.map((p) => p.id);
    await h.ok('labels:set', { datasetId: ds, photoIds: [a], classId: null });
    const first = labeling.loadSuggestions(); // its answer: one suggestion
    await held.answered;
    await h.ok('labels:set', { datasetId: ds, photoIds: [b], classId: null });
    await held.overtake(first, () => labeling.loadSuggestions(), () => {
      expect(labeling.suggestions.map((p) => p.id).sort()).toEqual([a, b].sort());
      expect(labeling.suggestionsTotal).toBe(2);
    });
  });
});
