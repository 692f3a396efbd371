// One call from any transport (IPC, HTTP, tests): find the handler, run it, and answer a Reply.
// Errors never escape as exceptions: they become { ok: false, error: { code, message } }.
import { CHANNELS, type Channel, type Reply } from '../../preload/contract';
import type { Log } from './log';
import { toErrorPayload } from './errors';
import type { Handlers } from './handlers/index';
import type { Validator } from './validate';

const KNOWN = new Set<string>(CHANNELS);

export function isChannel(v: unknown): v is Channel {
  return typeof v === 'string' && KNOWN.has(v);
}

export async function dispatch(handlers: Handlers, channel: unknown, req: unknown, log?: Log): Promise<Reply<unknown>> {
  if (!isChannel(channel)) return { ok: false, error: { code: 'BAD_INPUT', message: `unknown call '${String(channel).slice(0, 60)}'` } };
  try {
    // one channel's input and run agree by construction (handler() checks them against the
    // contract); indexed by a channel only known at run time, the pair is seen as unknown -> unknown
    const h = handlers[channel] as { input: Validator<unknown>; run(req: unknown): unknown };
    const request = req === undefined ? {} : req;
    const value = await h.run(h.input(request, 'request'));
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: toErrorPayload(err, (e) => log?.('error', `${channel} failed`, e)) };
  }
}
