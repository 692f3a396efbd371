// app:info and the native dialogs.
import { check, obj, oneOf, opt, str } from '../validate';
import type { AppContext } from '../context';
import { AppError } from '../errors';
import type { HandlerMap } from './common';

export function appHandlers(ctx: AppContext): HandlerMap<'app:info' | 'dialog:pick'> {
  return {
    'app:info': (req) => {
      check(obj({}), req);
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
      };
    },
    'dialog:pick': async (req) => {
      const r = check(obj({ kind: oneOf('folder', 'files', 'save-folder'), title: opt(str(200)) }), req);
      if (!ctx.pick) throw new AppError('UNSUPPORTED', 'there is no file dialog in browser mode: type or paste the path instead');
      return { paths: await ctx.pick(r.kind, r.title) };
    },
  };
}
