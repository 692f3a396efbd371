import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exifDateTimeOriginal } from '../../db/exif';
import { importFolder, verifyPhotos } from '../../db/import';
import { ensureThumbnail, makeThumbnails, thumbnailPath } from '../../db/thumbnails';
import { hymenoptera, someJpegs, tempDir, useTempLibrary } from './helpers';

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

const { lib } = useTempLibrary();

describe('importing a whole split of real photos', () => {
  const val = path.join(hymenoptera, 'val');
  const expected = { ants: fs.readdirSync(path.join(val, 'ants')).length, bees: fs.readdirSync(path.join(val, 'bees')).length };

  it('adds every photo, makes classes from folders, labels them, reads sizes and makes thumbnails', async () => {
    const events: number[] = [];
    const s = await importFolder(lib, val, { dataset: 'hymenoptera', onProgress: (p) => p.phase === 'import' && events.push(p.done) });
    expect(s.found).toBe(expected.ants + expected.bees);
    expect(s.added).toBe(s.found);
    expect(s.unreadable).toEqual([]);
    expect(s.classesCreated.sort()).toEqual(['ants', 'bees']);
    expect(s.labeled).toBe(s.found);
    expect(events.at(-1)).toBe(s.found); // progress reached the end
    expect(events.length).toBeGreaterThan(10); // and was reported along the way
    const counts = lib.photos.counts(s.datasetId);
    expect(counts.byClass.map((c) => [c.name, c.count])).toEqual([
      ['ants', expected.ants],
      ['bees', expected.bees],
    ]);
    expect(counts.unlabeled).toBe(0);
    const photos = lib.photos.all(s.datasetId);
    for (const p of photos.slice(0, 20)) {
      const meta = await sharp(p.path).metadata();
      expect([p.width, p.height]).toEqual([meta.width, meta.height]);
      expect(p.hash).toBe(sha(p.path));
      expect(p.labelSource).toBe('folder');
      const thumb = thumbnailPath(lib.thumbnailDir, p.hash!);
      const tm = await sharp(thumb).metadata();
      expect(tm.format).toBe('webp');
      expect(Math.max(tm.width!, tm.height!)).toBe(Math.min(256, Math.max(meta.width!, meta.height!)));
    }
    // folder labels are history but not something Undo takes back
    expect(lib.labels.peek(s.datasetId).undo).toBeNull();
  });

  it('a second import of the same folder adds nothing and reads no photo again', async () => {
    const s = await importFolder(lib, val, { dataset: 'hymenoptera' });
    expect(s.added).toBe(0);
    expect(s.unchanged).toBe(expected.ants + expected.bees);
    expect(s.duplicates).toEqual([]);
    expect(lib.photos.counts(s.datasetId).total).toBe(expected.ants + expected.bees);
  });

  it('makes thumbnails in bulk idempotently and on demand after the cache was cleared', async () => {
    const ds = lib.datasets.require('hymenoptera').id;
    const again = await makeThumbnails(lib, ds);
    expect(again.made).toBe(0);
    expect(again.existing).toBe(expected.ants + expected.bees);
    const p = lib.photos.all(ds)[0];
    const thumb = thumbnailPath(lib.thumbnailDir, p.hash!);
    fs.rmSync(thumb);
    expect(await ensureThumbnail(lib, p.id)).toBe(thumb);
    expect(fs.existsSync(thumb)).toBe(true);
    const other = tempDir('alexnet-thumbs-');
    const bulk = await makeThumbnails(lib, ds, { dir: other, size: 64 });
    expect(bulk.made).toBe(expected.ants + expected.bees);
    expect((await sharp(thumbnailPath(other, p.hash!, 64)).metadata()).width).toBeLessThanOrEqual(64);
    fs.rmSync(other, { recursive: true, force: true });
  });
});

describe('importing a messy folder', () => {
  let src: string;
  let ds: number;
  const ants = someJpegs('train', 'ants', 4).filter((f) => !f.endsWith('0013035.jpg')).slice(0, 3); // 0013035.jpg comes in as with-exif.jpg
  const bees = someJpegs('train', 'bees', 2);
  const exifPhoto = path.join(hymenoptera, 'train', 'ants', '0013035.jpg'); // has EXIF DateTimeOriginal

  beforeAll(() => {
    src = tempDir('alexnet-import-src-');
    fs.mkdirSync(path.join(src, 'ants'));
    fs.mkdirSync(path.join(src, 'bees', 'nested'), { recursive: true });
    for (const f of ants) fs.copyFileSync(f, path.join(src, 'ants', path.basename(f)));
    for (const f of bees) fs.copyFileSync(f, path.join(src, 'bees', 'nested', path.basename(f)));
    fs.copyFileSync(exifPhoto, path.join(src, 'ants', 'with-exif.jpg'));
    fs.copyFileSync(bees[0], path.join(src, 'bees', 'same-bytes-other-name.jpg')); // a duplicate
    const bytes = fs.readFileSync(bees[1]);
    fs.writeFileSync(path.join(src, 'bees', 'truncated.jpg'), bytes.subarray(0, Math.floor(bytes.length * 0.4))); // corrupt
    fs.writeFileSync(path.join(src, 'bees', 'not-a-jpeg.jpg'), 'hello, I am text');
    fs.writeFileSync(path.join(src, 'notes.txt'), 'not a photo');
    fs.writeFileSync(path.join(src, '.DS_Store'), 'finder');
    fs.writeFileSync(path.join(src, 'empty.png'), '');
  });
  afterAll(() => fs.rmSync(src, { recursive: true, force: true }));

  it('records corrupt files as unreadable with a reason, skips non-images and duplicates, changes no file', async () => {
    const before = new Map(fs.readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(src, f)).isFile()).map((f) => [f, sha(path.join(src, f))]));
    const s = await importFolder(lib, src, { dataset: 'messy' });
    ds = s.datasetId;
    expect(s.added).toBe(ants.length + 1 + bees.length + 1); // + with-exif + truncated
    expect(s.duplicates).toHaveLength(1);
    expect(path.basename(s.duplicates[0].path)).toBe('same-bytes-other-name.jpg');
    expect(s.duplicates[0].duplicateOf).toBe(path.join(src, 'bees', 'nested', path.basename(bees[0])));
    expect(s.unreadable.map((u) => path.basename(u.path)).sort()).toEqual(['truncated.jpg']); // a JPEG that does not decode
    for (const u of s.unreadable) expect(u.reason).toMatch(/not a readable image/);
    const skipped = Object.fromEntries(s.skipped.map((x) => [path.basename(x.path), x.reason]));
    expect(skipped['notes.txt']).toMatch(/not an image/);
    expect(skipped['not-a-jpeg.jpg']).toMatch(/not an image.*despite its \.jpg name/); // its first bytes are text
    expect(skipped['.DS_Store']).toMatch(/hidden/);
    expect(skipped['empty.png']).toMatch(/empty/);
    const truncated = lib.photos.byPath(ds, path.join(src, 'bees', 'truncated.jpg'))!;
    expect(truncated.status).toBe('unreadable');
    expect(truncated.statusReason).toBeTruthy();
    expect(truncated.classId).toBeNull(); // an unreadable photo is not labeled for training
    await expect(ensureThumbnail(lib, truncated.id)).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE' });
    // nested/ is under bees/: the folder directly under the root names the class, as in training
    const nested = lib.photos.byPath(ds, path.join(src, 'bees', 'nested', path.basename(bees[1])))!;
    expect(lib.classes.get(nested.classId!).name).toBe('bees');
    const after = new Map([...before.keys()].map((f) => [f, sha(path.join(src, f))]));
    expect(after).toEqual(before);
  });

  it('reads EXIF DateTimeOriginal, else the file date', () => {
    const withExif = lib.photos.byPath(ds, path.join(src, 'ants', 'with-exif.jpg'))!;
    expect(withExif.dateSource).toBe('exif');
    expect(withExif.takenAt).toBe(exifDateTimeOriginal(fs.readFileSync(exifPhoto).subarray(0)) ?? '2003-02-25 15:13:50');
    expect(withExif.takenAt).toBe('2003-02-25 15:13:50');
    const plain = lib.photos.byPath(ds, path.join(src, 'ants', path.basename(ants[1])))!;
    expect(plain.dateSource).toBe('mtime');
    expect(plain.takenAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });

  it('marks a deleted file missing on verify (kept with its label), and ok again when it is back', async () => {
    const gone = path.join(src, 'ants', path.basename(ants[0]));
    const photo = lib.photos.byPath(ds, gone)!;
    const saved = fs.readFileSync(gone);
    fs.rmSync(gone);
    const v = await verifyPhotos(lib, ds);
    expect(v.missing).toBe(1);
    const p = lib.photos.get(photo.id);
    expect(p.status).toBe('missing');
    expect(p.classId).toBe(photo.classId);
    expect(lib.photos.list({ datasetId: ds, status: 'missing' }).items.map((i) => i.id)).toEqual([photo.id]);
    expect(lib.photos.counts(ds).byStatus.missing).toBe(1);
    fs.writeFileSync(gone, saved);
    fs.utimesSync(gone, new Date(photo.mtime!), new Date(photo.mtime!));
    const back = await verifyPhotos(lib, ds);
    expect(back.reappeared).toBe(1);
    expect(lib.photos.get(photo.id).status).toBe('ok');
  });

  it('a re-import adds only the new file and marks files gone from the folder missing', async () => {
    fs.copyFileSync(someJpegs('val', 'ants', 1)[0], path.join(src, 'ants', 'new-one.jpg'));
    const gone = path.join(src, 'ants', path.basename(ants[2]));
    fs.rmSync(gone);
    const s = await importFolder(lib, src, { dataset: 'messy' });
    expect(s.added).toBe(1);
    expect(s.missing).toBe(1);
    expect(s.duplicates).toHaveLength(1); // still the same duplicate, still not added
    expect(lib.photos.byPath(ds, gone)!.status).toBe('missing');
    expect(lib.photos.byPath(ds, path.join(src, 'ants', 'new-one.jpg'))!.status).toBe('ok');
  });

  it('follows a photo the user moved to another folder: same photo, same label, no duplicate', async () => {
    const from = path.join(src, 'ants', path.basename(ants[1]));
    const before = lib.photos.byPath(ds, from)!;
    fs.mkdirSync(path.join(src, 'moved'));
    const to = path.join(src, 'moved', 'renamed.jpg');
    fs.renameSync(from, to);
    const s = await importFolder(lib, src, { dataset: 'messy' });
    expect(s.added).toBe(0);
    expect(s.relocated).toEqual([{ from, to }]);
    const after = lib.photos.get(before.id);
    expect(after.path).toBe(to);
    expect(after.status).toBe('ok');
    expect(after.classId).toBe(before.classId); // keeps 'ants' although it now sits in moved/
  });

  it('refuses a folder that does not exist or is a file', async () => {
    await expect(importFolder(lib, path.join(src, 'nope'), { dataset: 'x' })).rejects.toMatchObject({ code: 'FOLDER_NOT_FOUND' });
    await expect(importFolder(lib, path.join(src, 'notes.txt'), { dataset: 'x' })).rejects.toMatchObject({ code: 'NOT_A_FOLDER' });
  });
});

describe('cancelling an import', () => {
  it('stops after the batch in progress, keeps what was imported, and a rerun finishes the job', async () => {
    const train = path.join(hymenoptera, 'train', 'bees');
    const total = fs.readdirSync(train).length;
    const ac = new AbortController();
    const s = await importFolder(lib, train, {
      dataset: 'cancel-me',
      batchSize: 10,
      thumbnails: false,
      onProgress: (p) => {
        if (p.phase === 'import' && p.done >= 25) ac.abort();
      },
      signal: ac.signal,
    });
    expect(s.cancelled).toBe(true);
    expect(s.added).toBeGreaterThan(0);
    expect(s.added).toBeLessThan(total);
    expect(s.added % 10).toBe(0); // whole batches only
    expect(lib.photos.counts(s.datasetId).total).toBe(s.added);
    expect(lib.db.pragma('integrity_check', { simple: true })).toBe('ok');
    const rest = await importFolder(lib, train, { dataset: 'cancel-me', thumbnails: false });
    expect(rest.added).toBe(total - s.added);
    expect(rest.unchanged).toBe(s.added);
  });
});

describe('the EXIF reader', () => {
  // Builds a TIFF with IFD0 -> Exif sub-IFD -> DateTimeOriginal, in either byte order.
  function tiff(le: boolean, date: string): Buffer {
    const b = Buffer.alloc(128);
    const u16 = (o: number, v: number) => (le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
    const u32 = (o: number, v: number) => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
    b.write(le ? 'II' : 'MM', 0, 'latin1');
    u16(2, 42);
    u32(4, 8); // IFD0 at 8
    u16(8, 1); // one entry
    u16(10, 0x8769); // Exif IFD pointer
    u16(12, 4); // LONG
    u32(14, 1);
    u32(18, 26); // sub-IFD at 26
    u32(22, 0); // no next IFD
    u16(26, 1);
    u16(28, 0x9003); // DateTimeOriginal
    u16(30, 2); // ASCII
    u32(32, 20);
    u32(36, 60); // value at 60
    b.write(date + '\0', 60, 'latin1');
    return Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), b]);
  }
  it('reads both byte orders and rejects nonsense', () => {
    expect(exifDateTimeOriginal(tiff(true, '2019:07:04 18:30:05'))).toBe('2019-07-04 18:30:05');
    expect(exifDateTimeOriginal(tiff(false, '2001:12:31 23:59:59'))).toBe('2001-12-31 23:59:59');
    expect(exifDateTimeOriginal(tiff(true, '0000:00:00 00:00:00'))).toBeNull();
    expect(exifDateTimeOriginal(Buffer.from('Exif\0\0garbage-garbage-garbage'))).toBeNull();
    const cut = tiff(true, '2019:07:04 18:30:05').subarray(0, 40);
    expect(exifDateTimeOriginal(cut)).toBeNull();
  });
});
