// Importing a folder of photos into a dataset. Which files are photos, and why the others are
// skipped, is the one folder scanner's call (ml/scan.ts, the same rules as `alexnet train`);
// with classesFromFolders the folder directly under the root names a photo's class (ImageFolder
// layout: <root>/<class>/**/<file>, or <root>/train/<class>/...); photos above the class folders come
// in unlabeled. For each photo
// we read the bytes once: sha256 for duplicates,
// sharp for size and EXIF, and a thumbnail, whose full decode also tells a truncated JPEG from a
// good one. Results are written in batches, one transaction each, so a cancel or a crash leaves
// every finished batch in place and nothing half-written. The user's files are only read.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { FolderScanError, IMAGE_EXTENSIONS, PHOTO_FORMATS, scanFolder } from '../ml/scan';
import { DbError } from './errors';
import { exifDateTimeOriginal, localDateTime } from './exif';
import type { Library } from './index';
import type { NewPhoto, PhotoStatus } from './repos/photos';
import { makeThumbnail } from './thumbnails';

export { IMAGE_EXTENSIONS };

export type ImportOptions = {
  dataset: string | number; // name (created if absent) or id of the dataset
  classesFromFolders?: boolean; // parent folder name -> class (default true)
  thumbnails?: boolean; // make thumbnails while the bytes are in memory (default true)
  signal?: AbortSignal; // abort to stop after the batch in progress
  onProgress?: (p: ImportProgress) => void;
  concurrency?: number; // files read and decoded at once (default 4)
  batchSize?: number; // photos per transaction (default 100)
};
export type ImportProgress = { phase: 'scan' | 'import' | 'verify'; done: number; total: number; added: number; file?: string };
export type ImportSummary = {
  datasetId: number;
  dataset: string;
  root: string;
  found: number; // image files seen
  added: number; // new photos (readable or not)
  unchanged: number; // already in the dataset, same size and date
  updated: number; // already in the dataset, edited since (new hash)
  reappeared: number; // were 'missing', file is back
  relocated: { from: string; to: string }[]; // were 'missing', same bytes found at a new path: moved, labels kept
  duplicates: { path: string; duplicateOf: string }[]; // same bytes as a photo already in the dataset: not added
  unreadable: { path: string; reason: string }[]; // added with status 'unreadable'
  skipped: { path: string; reason: string }[]; // what the folder scanner left out (not images, hidden, links to folders, ...), and why
  classesCreated: string[];
  labeled: number; // new photos labeled from their folder
  missing: number; // photos under this folder whose file is gone, marked 'missing'
  cancelled: boolean;
  durationMs: number;
};

type Candidate = { file: string; size: number; mtime: number; className: string | null };
/** What reading one file tells: its hash, size as displayed, capture date, and whether it decodes. */
export type PhotoFacts = { hash: string | null; width: number | null; height: number | null; takenAt: string | null; dateSource: 'exif' | 'mtime' | null; status: PhotoStatus; reason: string | null };
type Examined = PhotoFacts & { c: Candidate };

/** True when `root` holds at least one photo by the scanner's rules; stops at the first one. */
export async function hasPhotos(root: string): Promise<boolean> {
  try {
    return (await scanFolder(root, { limit: 1 })).photos.length > 0;
  } catch (e) {
    if (e instanceof FolderScanError) return false; // unreadable: no photo can come from it
    throw e;
  }
}

/** The refusal of a folder without photos. */
export function noPhotos(root: string): DbError {
  return new DbError('NO_PHOTOS', `no photos in ${root} (no ${PHOTO_FORMATS} file in it or its sub-folders): nothing to import`);
}

/** The photos under `root` (the one folder scanner), with a reason for everything skipped. */
async function walk(root: string, skipped: ImportSummary['skipped'], signal?: AbortSignal): Promise<Candidate[]> {
  let scan;
  try {
    scan = await scanFolder(root, { signal });
  } catch (e) {
    if (e instanceof FolderScanError) throw new DbError('FOLDER_NOT_FOUND', e.message);
    throw e;
  }
  for (const s of scan.skipped) skipped.push(s);
  return scan.photos.map((p) => ({ file: p.path, size: p.size, mtime: Math.round(p.mtimeMs), className: p.className }));
}

/**
 * Reads one file (modified at `mtime`, ms): hash, dimensions, capture date, and (with thumbDir) its
 * thumbnail. A file that cannot be read or decoded is status 'unreadable' with the reason, not an
 * error: the importer records it; a single added file (photos:add) refuses it.
 */
export async function examinePhoto(file: string, mtime: number, thumbDir: string | null): Promise<PhotoFacts> {
  const base: PhotoFacts = { hash: null, width: null, height: null, takenAt: localDateTime(new Date(mtime)), dateSource: 'mtime', status: 'ok', reason: null };
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (err) {
    return { ...base, status: 'unreadable', reason: `cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  base.hash = createHash('sha256').update(bytes).digest('hex');
  try {
    const meta = await sharp(bytes).metadata();
    // EXIF orientations 5-8 are rotated by 90 degrees: report the size as displayed
    const swap = (meta.orientation ?? 1) >= 5;
    base.width = (swap ? meta.height : meta.width) ?? null;
    base.height = (swap ? meta.width : meta.height) ?? null;
    const exifDate = exifDateTimeOriginal(meta.exif);
    if (exifDate) {
      base.takenAt = exifDate;
      base.dateSource = 'exif';
    }
    if (thumbDir) await makeThumbnail(bytes, base.hash, thumbDir);
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0].replace(/^cannot decode the image: /, '');
    return { ...base, status: 'unreadable', reason: `not a readable image: ${msg}` };
  }
  return base;
}

const examine = async (c: Candidate, thumbDir: string | null): Promise<Examined> => ({ c, ...(await examinePhoto(c.file, c.mtime, thumbDir)) });

/** Imports every image under `dir` into a dataset; see ImportSummary for what is reported. */
export async function importFolder(lib: Library, dir: string, opts: ImportOptions): Promise<ImportSummary> {
  const t0 = Date.now();
  const root = path.resolve(dir);
  const st = await fs.promises.stat(root).catch(() => null);
  if (!st) throw new DbError('FOLDER_NOT_FOUND', `no such folder: ${root}`);
  if (!st.isDirectory()) throw new DbError('NOT_A_FOLDER', `not a folder: ${root}`);
  // a new dataset only for a folder that holds photos (an empty dataset is a mistake, not a result)
  if (typeof opts.dataset === 'string' && !lib.datasets.byName(opts.dataset) && !(await hasPhotos(root))) throw noPhotos(root);
  const dataset = typeof opts.dataset === 'number' ? lib.datasets.require(opts.dataset) : lib.datasets.ensure(opts.dataset, root);
  lib.datasets.setRoot(dataset.id, root);
  const fromFolders = opts.classesFromFolders ?? true;
  const thumbDir = opts.thumbnails === false ? null : lib.thumbnailDir;
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const batchSize = Math.max(1, opts.batchSize ?? 100);
  const summary: ImportSummary = {
    datasetId: dataset.id, dataset: dataset.name, root, found: 0, added: 0, unchanged: 0, updated: 0, reappeared: 0, relocated: [],
    duplicates: [], unreadable: [], skipped: [], classesCreated: [], labeled: 0, missing: 0, cancelled: false, durationMs: 0,
  };

  opts.onProgress?.({ phase: 'scan', done: 0, total: 0, added: 0 });
  const files = await walk(root, summary.skipped, opts.signal);
  summary.found = files.length;
  const seen = new Set(files.map((f) => f.file));
  let done = 0;
  const progress = (file?: string) => opts.onProgress?.({ phase: 'import', done, total: files.length, added: summary.added, file });
  progress();

  for (let start = 0; start < files.length && !opts.signal?.aborted; start += batchSize) {
    const chunk = files.slice(start, start + batchSize);
    // Photos already known with the same size and date need no reading at all.
    const todo: Candidate[] = [];
    const known: { id: number; reappeared: boolean }[] = [];
    for (const c of chunk) {
      const p = lib.photos.byPath(dataset.id, c.file);
      if (p && p.size === c.size && p.mtime === c.mtime) {
        known.push({ id: p.id, reappeared: p.status === 'missing' });
        done++;
      } else todo.push(c);
    }
    // Read the rest, `concurrency` at a time.
    const examined: Examined[] = new Array(todo.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, todo.length) }, async () => {
        while (next < todo.length) {
          const i = next++;
          examined[i] = await examine(todo[i], thumbDir);
          done++;
          progress(todo[i].file);
        }
      }),
    );
    // One transaction for the whole batch.
    lib.transaction(() => {
      for (const k of known) {
        if (k.reappeared) {
          lib.photos.setStatus(k.id, 'ok');
          summary.reappeared++;
        } else summary.unchanged++;
      }
      const toLabel = new Map<number, number[]>();
      for (const e of examined) {
        const existing = lib.photos.byPath(dataset.id, e.c.file);
        const facts = { hash: e.hash, size: e.c.size, mtime: e.c.mtime, width: e.width, height: e.height, takenAt: e.takenAt, dateSource: e.dateSource, status: e.status, statusReason: e.reason };
        if (existing) {
          // same path, new bytes: the user edited the photo; keep its label and history
          lib.photos.updateFile(existing.id, facts);
          summary.updated++;
          continue;
        }
        const dup = e.hash ? lib.photos.byHash(dataset.id, e.hash) : undefined;
        if (dup && e.status === 'ok' && (dup.status === 'missing' || !fs.existsSync(dup.path))) {
          // the user moved or renamed the file: follow it instead of adding a second photo
          lib.photos.relocate(dup.id, e.c.file, path.basename(e.c.file), e.c.mtime);
          summary.relocated.push({ from: dup.path, to: e.c.file });
          continue;
        }
        if (dup) {
          summary.duplicates.push({ path: e.c.file, duplicateOf: dup.path });
          continue;
        }
        const photo: NewPhoto = { datasetId: dataset.id, path: e.c.file, name: path.basename(e.c.file), importedAt: Date.now(), ...facts };
        const id = lib.photos.insert(photo);
        summary.added++;
        if (e.status === 'unreadable') summary.unreadable.push({ path: e.c.file, reason: e.reason ?? 'unreadable' });
        const name = e.c.className;
        if (fromFolders && name !== null && e.status === 'ok') {
          let cls = lib.classes.byName(dataset.id, name);
          if (!cls) {
            cls = lib.classes.create(dataset.id, name);
            summary.classesCreated.push(cls.name);
          }
          toLabel.set(cls.id, [...(toLabel.get(cls.id) ?? []), id]);
        }
      }
      for (const [classId, ids] of toLabel) {
        const a = lib.labels.set(dataset.id, ids, classId, { source: 'folder', kind: 'import', undoable: false, description: `Import ${ids.length} photos labeled by folder` });
        summary.labeled += a?.changed ?? 0;
      }
    });
    progress();
  }
  summary.cancelled = Boolean(opts.signal?.aborted);

  // A complete import is also a rescan of its folder: photos under it whose file is gone are missing.
  if (!summary.cancelled) {
    const prefix = root.endsWith(path.sep) ? root : root + path.sep;
    const under = lib.photos.all(dataset.id).filter((p) => p.path.startsWith(prefix) && !seen.has(p.path) && p.status !== 'missing');
    opts.onProgress?.({ phase: 'verify', done: 0, total: under.length, added: summary.added });
    const gone = under.filter((p) => !fs.existsSync(p.path));
    lib.transaction(() => {
      for (const p of gone) lib.photos.setStatus(p.id, 'missing', `file not found: ${p.path}`);
    });
    summary.missing = gone.length;
  }
  summary.durationMs = Date.now() - t0;
  return summary;
}

export type VerifySummary = { checked: number; missing: number; reappeared: number; stillMissing: number };

/**
 * Checks that every photo of a dataset still exists: a gone file becomes status 'missing' (kept,
 * with its labels, never dropped), a missing one that is back becomes 'ok' again.
 */
export async function verifyPhotos(lib: Library, datasetId: number, opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {}): Promise<VerifySummary> {
  lib.datasets.require(datasetId);
  const photos = lib.photos.all(datasetId);
  const out: VerifySummary = { checked: 0, missing: 0, reappeared: 0, stillMissing: 0 };
  const changes: { id: number; status: PhotoStatus; reason: string | null }[] = [];
  for (const p of photos) {
    if (opts.signal?.aborted) break;
    const exists = await fs.promises.stat(p.path).then((s) => s.isFile(), () => false);
    out.checked++;
    if (!exists && p.status !== 'missing') {
      changes.push({ id: p.id, status: 'missing', reason: `file not found: ${p.path}` });
      out.missing++;
    } else if (!exists) out.stillMissing++;
    else if (p.status === 'missing') {
      changes.push({ id: p.id, status: 'ok', reason: null });
      out.reappeared++;
    }
    if (out.checked % 500 === 0) opts.onProgress?.(out.checked, photos.length);
  }
  lib.transaction(() => {
    for (const c of changes) lib.photos.setStatus(c.id, c.status, c.reason);
  });
  opts.onProgress?.(out.checked, photos.length);
  return out;
}
