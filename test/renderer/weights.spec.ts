// The Weights manager against the real handlers and events: the status shown is the answer of the
// call made last, and weights:done is newer than any answer still on its way (a download whose host
// cannot be reached can end before its weights:download is answered).
import { describe, expect, it } from 'vitest';
import { Weights } from '../../renderer/src/lib/managers/weights.svelte';
import { useHarness } from '../helpers/app';
import { holding } from './hold';

const env = useHarness();

/** Runs `fn` with downloads pointed at a port nothing listens on (the worker inherits the variable). */
async function offline(fn: () => Promise<void>): Promise<void> {
  process.env.ALEXNET_WEIGHTS_URL = 'http://127.0.0.1:9/bvlcalexnet-12.onnx';
  try {
    await fn();
  } finally {
    delete process.env.ALEXNET_WEIGHTS_URL;
  }
}

describe('the weights status', () => {
  it('is the answer of the call made last', () =>
    offline(async () => {
      const held = holding(env.h, 'weights:status');
      const w = new Weights(held.api);
      const ended = env.h.next('weights:done');
      const first = w.load(); // 'missing'
      await held.answered;
      await held.overtake(first, () => w.download(), () => expect(w.status?.state).toBe('downloading'));
      await ended;
    }));

  it('is the end of a download that ended before its start was answered', () =>
    offline(async () => {
      const { api, release } = holding(env.h, 'weights:download');
      const w = new Weights(api);
      api.on('weights:done', (d) => w.onDone(d));
      const ended = env.h.next('weights:done').then(release); // the answer ('downloading') comes after the end
      await w.download();
      await ended;
      expect(w.status?.state).toBe('missing');
      expect(w.error).toMatch(/\S/);
    }));
});
