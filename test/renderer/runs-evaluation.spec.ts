// The Runs manager's evaluation view against a real library with a finished run: whatever order the
// answers arrive in, the view shows the evaluation asked for last (CI once saw a refresh after a
// relabel land after the user's "today's labels" and put the run's own view back).
import { describe, expect, it } from 'vitest';
import type { AlexNetApi, Channel, Req } from '../../preload/contract';
import { Api } from '../../renderer/src/lib/api';
import { Runs } from '../../renderer/src/lib/managers/runs.svelte';
import { useFinishedRun } from '../helpers/app';

const lib = useFinishedRun(6, 'alexnet-eval-order-');

/** The real handlers, with the first runs:evaluation answer held back until `release()`. */
function holdingFirstEvaluation(): { api: Api; release: () => void } {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let first = true;
  const raw: AlexNetApi = {
    invoke: async <C extends Channel>(c: C, r: Req<C>) => {
      const answer = await lib.h.call(c, r);
      if (c === 'runs:evaluation' && first) {
        first = false;
        await held;
      }
      return answer;
    },
    on: () => () => {},
  };
  return { api: new Api(raw), release };
}

describe('the evaluation view', () => {
  it('shows the evaluation asked for last, when an earlier one answers after it', async () => {
    const { api, release } = holdingFirstEvaluation();
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
