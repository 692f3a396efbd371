// Photos and thumbnails for <img>: looked up by photo id in the library, never by a path from the
// request. The target is parsed strictly (a decimal id and a size name, nothing else: no %-escapes,
// no dots, no slashes), so '../', encoded '..%2F', absolute paths and ids of other kinds never
// reach the file system. Shared by browser mode's /img/<id> and Electron's app-img://photo/<id>.
import fs from 'node:fs';
import sharp from 'sharp';
import { ensureThumbnail } from '../../db/thumbnails';
import type { Library } from '../../db/index';
import { sniffImage } from '../../ml/data';
import { IMAGE_SIZES, type ImageSize } from '../../preload/contract';

export type ImageTarget = { photoId: number; size: ImageSize };
export type ImageReply = { status: number; headers: Record<string, string>; body: Buffer };

// What browsers display as-is, by the format the bytes are (sniffed, not the name); anything else
// (TIFF, HEIF) is rendered to WebP for the full view.
const MIME: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
};
const FULL_RENDER_SIZE = 2048; // longest side of a rendered (non-web) full view

/** Parses '<id>' (the path after /img/ or app-img://photo/) and '?size='. null when malformed. */
export function parseImageTarget(idPart: string, size: string | null): ImageTarget | null {
  if (!/^[1-9][0-9]{0,14}$/.test(idPart)) return null;
  const s = size ?? 'thumb';
  if (!(IMAGE_SIZES as readonly string[]).includes(s)) return null;
  return { photoId: Number(idPart), size: s as ImageSize };
}

/**
 * The target of an app-img:// address: app-img://photo/<id>?size=thumb|full, nothing else (another
 * host, a longer path, escapes, dots, a user or port part). Checked on the raw string as well,
 * because URL parsing normalises '..' away before we could see it.
 */
export function imageTargetFromUrl(raw: string): ImageTarget | null {
  const m = /^app-img:\/\/photo\/([^/?#]*)(\?[^#]*)?$/.exec(raw);
  if (!m) return null;
  const size = new URLSearchParams(m[2] ?? '').get('size');
  return parseImageTarget(m[1], size);
}

const text = (status: number, msg: string): ImageReply => ({ status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: Buffer.from(msg) });

/**
 * Reads the image of a known photo. Only photos the import found decodable (status 'ok') are
 * served, and the file must still be a regular file whose bytes are an image: a row stored as
 * unreadable (a link to a text file, a picture too large to decode) is never served raw. 404 for
 * the rest.
 */
export async function readImage(lib: Library, t: ImageTarget): Promise<ImageReply> {
  let photo;
  try {
    photo = lib.photos.get(t.photoId);
  } catch {
    return text(404, 'no such photo');
  }
  if (photo.status !== 'ok') return text(404, `the photo is ${photo.status}`);
  const headers = { 'cache-control': 'private, max-age=3600', 'x-content-type-options': 'nosniff' };
  try {
    if (t.size === 'thumb') {
      const file = await ensureThumbnail(lib, photo.id);
      return { status: 200, headers: { ...headers, 'content-type': 'image/webp' }, body: await fs.promises.readFile(file) };
    }
    const st = await fs.promises.stat(photo.path);
    if (!st.isFile()) return text(404, 'the photo is not a file');
    const bytes = await fs.promises.readFile(photo.path);
    const kind = sniffImage(bytes.subarray(0, 64));
    if (!kind.image) return text(404, 'the photo file is not an image any more');
    const mime = MIME[kind.format];
    if (mime) return { status: 200, headers: { ...headers, 'content-type': mime }, body: bytes };
    const body = await sharp(bytes).rotate().resize(FULL_RENDER_SIZE, FULL_RENDER_SIZE, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 90 }).toBuffer();
    return { status: 200, headers: { ...headers, 'content-type': 'image/webp' }, body };
  } catch {
    return text(404, 'the photo file cannot be read');
  }
}
