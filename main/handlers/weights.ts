// weights:* — the ImageNet weights the one-click fine-tune starts from.
import { absPath, check, obj } from '../validate';
import type { AppContext } from '../context';
import { cancelWeights, importWeightsFile, startDownload, weightsStatus } from '../weights';
import type { HandlerMap } from './common';

export function weightsHandlers(ctx: AppContext): HandlerMap<'weights:status' | 'weights:download' | 'weights:import' | 'weights:cancel'> {
  return {
    'weights:status': (req) => {
      check(obj({}), req);
      return weightsStatus(ctx);
    },
    'weights:download': (req) => {
      check(obj({}), req);
      return startDownload(ctx);
    },
    'weights:import': async (req) => {
      const r = check(obj({ file: absPath }), req);
      const status = await importWeightsFile(ctx, r.file);
      ctx.bus.emit('weights:done', { status, error: null });
      return status;
    },
    'weights:cancel': (req) => {
      check(obj({}), req);
      cancelWeights();
      return weightsStatus(ctx);
    },
  };
}
