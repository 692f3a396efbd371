// Thumbnails: small WebP files in a cache folder keyed by the photo's content hash, so two copies
// of a photo share one thumbnail and a renamed photo keeps its own. Made on demand (the grid asks
// for one) or in bulk (after an import), idempotent, written atomically (temp file + rename) so a
// killed process never leaves half a thumbnail behind.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { DbError } from './errors';
import type { Library } from './index';

export const THUMB_SIZE = 256; // longest side in pixels: sharp on a 2x screen at 128 px cells
export const THUMB_QUALITY = 80; // WebP quality: small files, no visible blocking at this size

export type ThumbnailOptions = { size?: number; dir?: string };

/** <dir>/<size>/<first 2 hex>/<hash>.webp: 256 sub-folders keep folder listings short. */
export function thumbnailPath(dir: string, hash: string, size = THUMB_SIZE): string {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new DbError('IMAGE_UNREADABLE', `not a sha256 content hash: '${hash}'`);
  return path.join(dir, String(size), hash.slice(0, 2), `${hash}.webp`);
}

/**
 * Makes the thumbnail of `source` (a file or its bytes) under `hash` unless it exists. Returns its
 * path. Throws IMAGE_UNREADABLE when sharp cannot decode the whole image (a truncated JPEG too).
 */
export async function makeThumbnail(source: string | Buffer, hash: string, dir: string, size = THUMB_SIZE): Promise<{ path: string; made: boolean }> {
  const target = thumbnailPath(dir, hash, size);
  if (fs.existsSync(target)) return { path: target, made: false };
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await sharp(source, { failOn: 'truncated' })
      .rotate() // honour the EXIF orientation, as every photo viewer does
      .resize(size, size, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: THUMB_QUALITY })
      .toFile(tmp);
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new DbError('IMAGE_UNREADABLE', `cannot decode ${typeof source === 'string' ? source : 'the image'}: ${(err as Error).message.split('\n')[0]}`);
  }
  return { path: target, made: true };
}

/** The thumbnail of one photo of the library, made now if needed. */
export async function ensureThumbnail(lib: Library, photoId: number, opts: ThumbnailOptions = {}): Promise<string> {
  const photo = lib.photos.get(photoId);
  if (!photo.hash) throw new DbError('IMAGE_UNREADABLE', `photo ${photoId} has no content hash (it could not be read at import)`);
  const dir = opts.dir ?? lib.thumbnailDir;
  const target = thumbnailPath(dir, photo.hash, opts.size);
  if (fs.existsSync(target)) return target;
  if (!fs.existsSync(photo.path)) throw new DbError('IMAGE_UNREADABLE', `the photo file is missing: ${photo.path}`);
  return (await makeThumbnail(photo.path, photo.hash, dir, opts.size)).path;
}

export type BulkThumbnailOptions = ThumbnailOptions & {
  concurrency?: number; // photos decoded at once (default 2: sharp already uses every core)
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
};
export type BulkThumbnailSummary = { made: number; existing: number; failed: { photoId: number; reason: string }[]; cancelled: boolean };

/** Thumbnails for every readable photo of a dataset; existing ones are kept. */
export async function makeThumbnails(lib: Library, datasetId: number, opts: BulkThumbnailOptions = {}): Promise<BulkThumbnailSummary> {
  const dir = opts.dir ?? lib.thumbnailDir;
  const photos = lib.photos.all(datasetId).filter((p) => p.status === 'ok' && p.hash);
  const out: BulkThumbnailSummary = { made: 0, existing: 0, failed: [], cancelled: false };
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < photos.length) {
      if (opts.signal?.aborted) {
        out.cancelled = true;
        return;
      }
      const p = photos[next++];
      try {
        const r = await makeThumbnail(p.path, p.hash!, dir, opts.size);
        if (r.made) out.made++;
        else out.existing++;
      } catch (err) {
        out.failed.push({ photoId: p.id, reason: (err as Error).message });
      }
      opts.onProgress?.(++done, photos.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 2) }, worker));
  return out;
}
