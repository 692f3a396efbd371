// settings:get and settings:set — the app's preferences (settings.ts). A new backend is probed before
// settings:set answers, so app:backend (or app:info's backendError) already names what it loads.
import type { AppContext } from '../context';
import { probeBackend } from '../context';
import { settingsPatchV, writeSettings } from '../settings';
import { noArgs } from '../validate';
import { handler, type HandlerMap } from './common';

export function settingsHandlers(ctx: AppContext): HandlerMap<'settings:get' | 'settings:set'> {
  return {
    'settings:get': handler(noArgs, () => ({ ...ctx.settings })),
    'settings:set': handler(settingsPatchV, async (r) => {
      const next = { ...ctx.settings, ...r };
      writeSettings(ctx.dataDir, next); // first: a full disk changes nothing
      const backendChanged = next.backend !== ctx.settings.backend;
      ctx.settings = next;
      if (backendChanged) await probeBackend(ctx);
      return { ...ctx.settings };
    }),
  };
}
