// app:info and the native dialogs.
import { obj, oneOf, opt, str, noArgs } from '../validate';
import type { AppContext } from '../context';
import { AppError } from '../errors';
import { handler, type HandlerMap } from './common';

export function appHandlers(ctx: AppContext): HandlerMap<'app:info' | 'dialog:pick'> {
  return {
    'app:info': handler(noArgs, () => {
      return {
        name: 'AlexNet Studio',
        version: ctx.version,
        mode: ctx.mode,
        platform: process.platform,
        dataDir: ctx.dataDir,
        dbFile: ctx.lib.file,
        backend: ctx.backend,
        imageUrl: ctx.imageUrl,
        runningRunId: ctx.training.runningRunId,
        ...(ctx.backendError !== null ? { backendError: ctx.backendError } : {}),
      };
    }),
    'dialog:pick': handler(obj({ kind: oneOf('folder', 'files', 'save-folder'), title: opt(str(200)) }), async (r) => {
      if (!ctx.pick) throw new AppError('UNSUPPORTED', 'there is no file dialog in browser mode: type or paste the path instead');
      return { paths: await ctx.pick(r.kind, r.title) };
    }),
  };
}
