// camera:frame — one frame of the window's camera (getUserMedia, encoded as JPEG by the page)
// classified with a run's model. The frame travels as base64 text (every payload is JSON); it is
// written to the data folder's camera/ folder because the engine reads files, and removed after,
// unless `keep` asks to add it to a dataset (then its path is answered, named by its content).
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors';
import { bool, id, int, obj, opt, str } from '../validate';
import { dataPaths, type AppContext } from '../context';
import { classifyFiles } from './runs';
import { handler, type HandlerMap } from './common';

export const MAX_FRAME_BYTES = 8 * 1024 * 1024; // a 4K JPEG is well under this

/** JPEG (FF D8 FF) or PNG (89 'PNG'): what a canvas encodes. */
function imageKind(b: Buffer): 'jpg' | 'png' | null {
  if (b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpg';
  if (b.length > 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  return null;
}

export function cameraHandlers(ctx: AppContext): HandlerMap<'camera:frame'> {
  return {
    'camera:frame': handler(obj({ runId: id, image: str(Math.ceil((MAX_FRAME_BYTES * 4) / 3) + 4), topK: opt(int(1, 1000)), keep: opt(bool) }), async (r) => {
      const bytes = Buffer.from(r.image, 'base64');
      const kind = imageKind(bytes);
      if (!kind) throw new AppError('BAD_IMAGE', 'the camera frame is not a JPEG or PNG image');
      const dir = dataPaths(ctx).camera;
      fs.mkdirSync(dir, { recursive: true });
      const name = r.keep ? `frame-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.${kind}` : `.live-${randomBytes(6).toString('hex')}.${kind}`;
      const file = path.join(dir, name);
      fs.writeFileSync(file, bytes);
      try {
        const [res] = await classifyFiles(ctx, r.runId, [file], r.topK ?? 5, 'center');
        if ('error' in res) throw new AppError(res.error.code, `the camera frame: ${res.error.message}`);
        return { file: r.keep ? file : null, predictions: res.predictions };
      } finally {
        if (!r.keep) fs.rmSync(file, { force: true });
      }
    }),
  };
}
