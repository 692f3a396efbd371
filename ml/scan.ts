// The one folder scanner: which files under a folder are photos, which class folder each lies in,
// and why every other file is left out. `alexnet train <folder>` (ml/data.ts) and the library import
// (db/import.ts) both call it, so the two can never disagree about a folder. Node built-ins only:
// it is the one module of ml/ that db/ imports, and loading it must never load TensorFlow.
//
// The rules:
// - A file is a photo when its first bytes say so (sniffImage): extensions lie ('IMG_0001' has none,
//   a '.jpg' can be a web page). A non-photo is skipped with the sniffer's reason, and with
//   "(despite its .jpg name)" when its name says image.
// - Hidden names (a leading '.', Thumbs.db, desktop.ini): hidden files are skipped ("hidden file"),
//   hidden folders (.git, .thumbnails) are not entered and not listed.
// - Links to files are followed (the photo keeps the link's path); links to folders are not (a
//   `ln -s . loop` would otherwise hold every photo again, under a class 'loop'); broken links,
//   sockets, FIFOs and devices are skipped. Every folder is entered once, so a scan always ends.
// - A photo's class is the folder directly under the root it lies in (`<root>/<class>/**/<photo>`,
//   however deep); a photo directly in the root has none (the caller decides what that means).
//   A root whose folders are all split names (train, val, test, ...: `<root>/train/<class>/...`,
//   as datasets ship) has its classes one level down, the splits merged: a split is not a class.
// - Everything is listed in code-unit order of names, the same on every machine.

import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export type ScannedPhoto = {
  path: string; // absolute path (a link's own path when reached through a link to a file)
  className: string | null; // the name of the class folder it lies in (the rules above); null above them
  format: string; // what its first bytes say: jpeg, png, gif, webp, tiff, avif
  size: number; // bytes
  mtimeMs: number;
};
export type ScanSkip = { path: string; reason: string }; // a file or folder left out, and why

export type FolderScan = {
  root: string; // absolute
  photos: ScannedPhoto[]; // in walk order (depth first, names sorted)
  classFolders: string[]; // every (non-hidden, non-link) class-level folder, sorted, once each, photos or not
  skipped: ScanSkip[];
};

export type ScanOptions = {
  signal?: AbortSignal; // abort: stop walking, return what was found so far
  limit?: number; // stop once this many photos are found (e.g. 1: "does it hold any photo?")
};

export const FOLDER_LINK_REASON = 'link to a folder (not followed)';

/** File names that say "image"; a file with one that is not an image is reported as such. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

/** The formats sniffImage accepts, in words (for messages). */
export const PHOTO_FORMATS = 'JPEG, PNG, WebP, GIF, TIFF or AVIF';

/**
 * What kind of file this is, from its first bytes (16 are enough). 'image' = a format sharp decodes
 * here; otherwise why it is not used.
 */
export function sniffImage(head: Uint8Array): { image: true; format: string } | { image: false; reason: string } {
  const b = head;
  const ascii = (from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));
  if (b.length === 0) return { image: false, reason: 'empty file' };
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { image: true, format: 'jpeg' };
  if (b[0] === 0x89 && ascii(1, 4) === 'PNG') return { image: true, format: 'png' };
  if (ascii(0, 4) === 'GIF8') return { image: true, format: 'gif' };
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return { image: true, format: 'webp' };
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return { image: true, format: 'tiff' };
  if (ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    if (brand === 'avif' || brand === 'avis') return { image: true, format: 'avif' };
    if (/^(heic|heix|hevc|hevx|heim|heis|mif1|msf1)$/.test(brand))
      return { image: false, reason: 'HEIC/HEIF photo: not supported, convert it to JPEG' };
    return { image: false, reason: `not an image (an ISO media file, brand '${brand.replace(/[^\x20-\x7e]/g, '?')}')` };
  }
  if (ascii(0, 2) === 'BM') return { image: false, reason: 'BMP image: not supported, convert it to PNG or JPEG' };
  return { image: false, reason: `not an image (not ${PHOTO_FORMATS})` };
}

const SPLIT_NAMES = new Set(['train', 'training', 'val', 'valid', 'validation', 'test', 'testing']);

export const isHiddenName = (name: string): boolean => name.startsWith('.') || name === 'Thumbs.db' || name === 'desktop.ini';

// Code-unit order, not the locale's: the same order (and class indices) on every machine.
export const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const oneLine = (e: unknown): string => ((e as NodeJS.ErrnoException).code ?? (e as Error).message).replace(/\s+/g, ' ');

/** The root itself cannot be read: the callers turn this into their own error. */
export class FolderScanError extends Error {}

type Candidate = { path: string; className: string | null };

/** Regular files (or links to them) under `root`, depth first in name order; skips go to `skipped`. */
async function* candidates(root: string, skipped: ScanSkip[], classFolders: Set<string>, signal?: AbortSignal): AsyncGenerator<Candidate> {
  let top;
  try {
    top = await readdir(root, { withFileTypes: true });
  } catch (e) {
    throw new FolderScanError(`cannot read folder ${root}: ${oneLine(e)}`);
  }
  const topFolders = top.filter((e) => e.isDirectory() && !isHiddenName(e.name));
  const classDepth = topFolders.length > 0 && topFolders.every((e) => SPLIT_NAMES.has(e.name.toLowerCase())) ? 2 : 1;

  const visit = async function* (dir: string, depth: number, className: string | null): AsyncGenerator<Candidate> {
    let entries;
    if (dir === root) entries = top;
    else {
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        skipped.push({ path: dir, reason: `cannot read folder: ${oneLine(e)}` });
        return;
      }
    }
    entries.sort((a, b) => byName(a.name, b.name));
    for (const e of entries) {
      if (signal?.aborted) return;
      const p = path.join(dir, e.name);
      if (isHiddenName(e.name)) {
        if (!e.isDirectory()) skipped.push({ path: p, reason: 'hidden file' });
        continue;
      }
      if (e.isDirectory()) {
        if (depth + 1 === classDepth) classFolders.add(e.name);
        yield* visit(p, depth + 1, className ?? (depth + 1 === classDepth ? e.name : null));
      } else if (e.isSymbolicLink()) {
        const s = await stat(p).catch(() => null);
        if (!s) skipped.push({ path: p, reason: 'broken link' });
        else if (s.isDirectory()) skipped.push({ path: p, reason: FOLDER_LINK_REASON });
        else if (!s.isFile()) skipped.push({ path: p, reason: 'not a regular file' });
        else yield { path: p, className };
      } else if (e.isFile()) yield { path: p, className };
      else skipped.push({ path: p, reason: 'not a regular file' });
    }
  };
  yield* visit(root, 0, null);
}

/** Opens one regular file once: its size and date, and whether its first bytes are a photo. */
async function examine(c: Candidate): Promise<ScannedPhoto | ScanSkip> {
  let fh;
  try {
    fh = await open(c.path, 'r');
  } catch (e) {
    return { path: c.path, reason: `cannot read: ${oneLine(e)}` };
  }
  try {
    const st = await fh.stat();
    const head = new Uint8Array(16);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const kind = sniffImage(head.subarray(0, bytesRead));
    if (kind.image) return { path: c.path, className: c.className, format: kind.format, size: st.size, mtimeMs: st.mtimeMs };
    const ext = path.extname(c.path).toLowerCase();
    return { path: c.path, reason: IMAGE_EXTENSIONS.has(ext) ? `${kind.reason} (despite its ${ext} name)` : kind.reason };
  } catch (e) {
    return { path: c.path, reason: `cannot read: ${oneLine(e)}` };
  } finally {
    await fh.close();
  }
}

const OPEN_AT_ONCE = 64; // files examined at once: quick for thousands of photos, far below fd limits

/**
 * Scans the folder `dir` by the rules above. Throws FolderScanError when `dir` itself cannot be
 * read (the callers check first that it exists and is a folder). Reads only: never modifies a file.
 */
export async function scanFolder(dir: string, opts: ScanOptions = {}): Promise<FolderScan> {
  const root = path.resolve(dir);
  const skipped: ScanSkip[] = [];
  const classFolders = new Set<string>();
  const photos: ScannedPhoto[] = [];
  const limit = opts.limit ?? Infinity;
  let chunk: Candidate[] = [];
  const flush = async (): Promise<void> => {
    for (const r of await Promise.all(chunk.map(examine))) {
      if ('reason' in r) skipped.push(r);
      else photos.push(r);
    }
    chunk = [];
  };
  for await (const c of candidates(root, skipped, classFolders, opts.signal)) {
    chunk.push(c);
    if (chunk.length >= OPEN_AT_ONCE) await flush();
    if (photos.length >= limit) break;
  }
  await flush();
  return { root, photos, classFolders: [...classFolders].sort(byName), skipped };
}
