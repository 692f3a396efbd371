// The renderer's client over the real handlers and events of a harness (test/helpers/app.ts), with one
// answer held back: the answer is computed when asked (what the library held then) and delivered only
// once release() is called, as a slow answer that a later call overtakes.
import type { AlexNetApi, Channel, EventName, Events, Req } from '../../preload/contract';
import { Api } from '../../renderer/src/lib/api';
import type { Harness } from '../helpers/app';

export type Holding = {
  api: Api;
  release: () => void;
  /** Resolves once the held answer is computed (what the library holds from then on is not in it). */
  answered: Promise<void>;
  /** `first` (the call whose answer is held) is overtaken by `later`: `shown` checks the view once
   *  `later` has answered, and again once `first` has been released and has answered too. */
  overtake(first: Promise<unknown>, later: () => Promise<unknown>, shown: () => void): Promise<void>;
};

/** The real handlers, with the `nth` answer on `channel` (1 = the first) held back until `release()`. */
export function holding(h: Harness, channel: Channel, nth = 1): Holding {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let computed!: () => void;
  const answered = new Promise<void>((r) => (computed = r));
  let n = 0;
  const raw: AlexNetApi = {
    invoke: async <C extends Channel>(c: C, r: Req<C>) => {
      const answer = await h.call(c, r);
      if (c === channel && ++n === nth) {
        computed();
        await held;
      }
      return answer;
    },
    on: <E extends EventName>(e: E, l: (p: Events[E]) => void) => h.ctx.bus.on((name: EventName, p: unknown) => (name === e ? l(p as Events[E]) : undefined)),
  };
  return {
    api: new Api(raw),
    release,
    answered,
    async overtake(first, later, shown) {
      await later();
      shown();
      release();
      await first;
      shown();
    },
  };
}
