// weights:* — the ImageNet weights the one-click fine-tune starts from.
import { absPath, obj, noArgs } from '../validate';
import type { AppContext } from '../context';
import { cancelWeights, importWeightsFile, startDownload, weightsStatus } from '../weights';
import { handler, type HandlerMap } from './common';

export function weightsHandlers(ctx: AppContext): HandlerMap<'weights:status' | 'weights:download' | 'weights:import' | 'weights:cancel'> {
  return {
    'weights:status': handler(noArgs, () => weightsStatus(ctx)),
    'weights:download': handler(noArgs, () => startDownload(ctx)),
    'weights:import': handler(obj({ file: absPath }), async (r) => {
      const status = await importWeightsFile(ctx, r.file);
      ctx.bus.emit('weights:done', { status, error: null });
      return status;
    }),
    'weights:cancel': handler(noArgs, () => {
      cancelWeights();
      return weightsStatus(ctx);
    }),
  };
}
