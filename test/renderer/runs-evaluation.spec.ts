// The Runs manager's evaluation view against a real library with a finished run: whatever order the
// answers arrive in, the view shows the evaluation asked for last (CI once saw a refresh after a
// relabel land after the user's "today's labels" and put the run's own view back).
import { describe, expect, it } from 'vitest';
import { Api } from '../../renderer/src/lib/api';
import { Runs } from '../../renderer/src/lib/managers/runs.svelte';
import { useFinishedRun } from '../helpers/app';
import { holding } from './hold';

const lib = useFinishedRun(6, 'alexnet-eval-order-');

/** The real handlers, with the `nth` runs:evaluation answer (1 = the first) held back until `release()`. */
const holdingEvaluation = (nth = 1) => holding(lib.h, 'runs:evaluation', nth);

describe('the evaluation view', () => {
  it('shows the evaluation asked for last, when an earlier one answers after it', async () => {
    const { api, release } = holdingEvaluation(1);
    const runs = new Runs(api);
    const atEnd = runs.evaluate(lib.runId, 'val', 'at-end'); // answered last
    await runs.evaluate(lib.runId, 'val', 'today');
    expect(runs.evaluation?.labels).toBe('today');
    release();
    await atEnd;
    expect(runs.evaluation?.labels).toBe('today');
    expect(runs.evaluation?.runId).toBe(lib.runId);
  });

  it('in order, each answer is shown in turn', async () => {
    const runs = new Runs(new Api({ invoke: (c, r) => lib.h.call(c, r), on: () => () => {} }));
    await runs.evaluate(lib.runId, 'val', 'today');
    expect(runs.evaluation?.labels).toBe('today');
    await runs.evaluate(lib.runId, 'val', 'at-end');
    expect(runs.evaluation?.labels).toBe('at-end');
  });
});

describe('refreshing the evaluation (labels changed)', () => {
  it('asks again for what was asked last, even before its answer has come', async () => {
    const { api, release } = holdingEvaluation(2);
    const runs = new Runs(api);
    await runs.evaluate(lib.runId, 'val', 'at-end'); // shown
    const today = runs.evaluate(lib.runId, 'val', 'today'); // asked, its answer held
    const refresh = runs.refreshEvaluation(); // a relabel lands now: it must keep "today's labels"
    await refresh;
    release();
    await today;
    expect(runs.evaluation?.labels).toBe('today');
  });

  it('a closed view is not refreshed', async () => {
    const runs = new Runs(new Api({ invoke: (c, r) => lib.h.call(c, r), on: () => () => {} }));
    await runs.evaluate(lib.runId, 'val', 'today');
    runs.closeEvaluation();
    await runs.refreshEvaluation();
    expect(runs.evaluation).toBeNull();
  });
});
