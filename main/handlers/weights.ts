// weights:* — the ImageNet weights the one-click fine-tune starts from.
import { absPath, check, obj } from '../validate';
import type { AppContext } from '../context';
import { AppError } from '../errors';
import { importWeights, weightsStatus } from '../weights';
import type { HandlerMap } from './common';

export function weightsHandlers(ctx: AppContext): HandlerMap<'weights:status' | 'weights:download' | 'weights:import'> {
  return {
    'weights:status': (req) => {
      check(obj({}), req);
      return weightsStatus(ctx);
    },
    'weights:download': (req) => {
      check(obj({}), req);
      // The resumable, checksummed download lives in ml/weights/download.ts (not landed yet).
      throw new AppError('UNSUPPORTED', `downloading is not available in this build: get bvlcalexnet-12.onnx from the ONNX Model Zoo and import it (weights:import)`);
    },
    'weights:import': async (req) => {
      const r = check(obj({ file: absPath }), req);
      const status = await importWeights(ctx, r.file);
      ctx.bus.emit('weights:done', { status, error: null });
      return status;
    },
  };
}
