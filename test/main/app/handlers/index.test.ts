// main/app/handlers/index.ts: the registry answers every channel of the contract, and only those.
import { describe, expect, it } from 'vitest';
import { CHANNELS } from '../../../../preload/contract';
import { useHarness } from '../../../helpers/app';

const lib = useHarness();

describe('registry', () => {
  it('has a handler for every channel of the contract', () => {
    const { h } = lib;
    for (const c of CHANNELS) {
      const x = h.handlers[c];
      expect([typeof x.input, typeof x.run], c).toEqual(['function', 'function']); // handler()'s { input, run }
    }
    expect(Object.keys(h.handlers).sort()).toEqual([...CHANNELS].sort());
  });

  it('refuses an unknown channel', async () => {
    const { h } = lib;
    const r = await h.raw('photos:destroy', {});
    expect(r).toEqual({ ok: false, error: { code: 'BAD_INPUT', message: "unknown call 'photos:destroy'" } });
  });
});
