// The one folder scanner, through both of its callers: `alexnet train <folder>`'s scan
// (ml/data.ts scanImageFolder) and the library import (db/import.ts importFolder) over the same
// hostile folder must keep the same photos, with the same classes, and skip the same files for the
// same reasons. The only differences are training's own: it needs a class for every photo.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FOLDER_LINK_REASON, scanFolder } from '../../ml/scan';
import { hasPhotos, importFolder } from '../../db/import';
import { type Library, openLibrary } from '../../db/index';
import { scanImageFolder } from '../../ml/data';
import { someJpegs, tempDir } from '../db/helpers';

let tmp: string;
let root: string;
let lib: Library;

beforeAll(() => {
  tmp = tempDir('alexnet-scan-');
  root = path.join(tmp, 'hostile');
  const [a, b, c, d, e, f, g] = [...someJpegs('train', 'ants', 4), ...someJpegs('train', 'bees', 3)];
  const put = (rel: string, from: string | Buffer): void => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    if (typeof from === 'string') fs.copyFileSync(from, path.join(root, rel));
    else fs.writeFileSync(path.join(root, rel), from);
  };
  put('ants/a.jpg', a);
  put('ants/sub/deeper/b.jpg', b); // nested: still class 'ants'
  put('ants/IMG_0001', c); // a JPEG without an extension
  put('ants/.hidden.jpg', d); // a hidden file, though a good photo
  put('ants/notes.txt', Buffer.from('not a photo'));
  put('bees/nested/e.jpg', e); // nested: still class 'bees'
  put('bees/fake.jpg', Buffer.from('<html>a web page saved as .jpg</html>')); // a non-image with an image name
  put('.git/objects/x.jpg', f); // a hidden folder: not entered
  put('loose.jpg', g); // directly in the root: no class
  fs.mkdirSync(path.join(root, 'empty-class'));
  fs.mkdirSync(path.join(tmp, 'outside'));
  fs.copyFileSync(someJpegs('val', 'bees', 1)[0], path.join(tmp, 'outside', 'elsewhere.jpg'));
  fs.writeFileSync(path.join(tmp, 'outside', 'secret.txt'), 'password=hunter2');
  fs.symlinkSync('.', path.join(root, 'loop')); // `ln -s . loop`
  fs.symlinkSync(path.join(root, 'bees'), path.join(root, 'ants', 'to-bees')); // a link to a folder
  fs.symlinkSync(path.join(tmp, 'outside', 'elsewhere.jpg'), path.join(root, 'bees', 'linked.jpg')); // a link to a photo
  fs.symlinkSync(path.join(tmp, 'outside', 'secret.txt'), path.join(root, 'bees', 'secret.png')); // a link to a non-image
  fs.symlinkSync(path.join(tmp, 'nowhere.jpg'), path.join(root, 'ants', 'gone.jpg')); // a broken link
  execFileSync('mkfifo', [path.join(root, 'bees', 'pipe.jpg')]); // opening it to sniff would wait forever
  lib = openLibrary(path.join(tmp, 'library.sqlite'));
});
afterAll(() => {
  lib.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('one folder scanner for training and the library import', () => {
  it('train and import keep the same photos, with the same classes, and skip the same files for the same reasons', async () => {
    const rel = (p: string): string => path.relative(root, p);
    const train = await scanImageFolder(root);
    const imported = await importFolder(lib, root, { dataset: 'hostile', thumbnails: false });

    // What each keeps, and as which class.
    const trainKept = Object.fromEntries(train.items.map((i) => [rel(i.path), train.classes[i.label]]));
    const importKept = Object.fromEntries(lib.photos.all(imported.datasetId).map((p) => [rel(p.path), p.classId === null ? null : lib.classes.get(p.classId).name]));
    expect(trainKept).toEqual({
      'ants/IMG_0001': 'ants',
      'ants/a.jpg': 'ants',
      'ants/sub/deeper/b.jpg': 'ants',
      'bees/linked.jpg': 'bees',
      'bees/nested/e.jpg': 'bees',
    });
    expect(importKept).toEqual({ ...trainKept, 'loose.jpg': null }); // the library takes unlabeled photos; training cannot
    expect(imported.found).toBe(6);
    expect(imported.unreadable).toEqual([]);
    expect(imported.duplicates).toEqual([]);

    // What each skips, and why: word for word the same.
    const why = (skipped: { path: string; reason: string }[]): Record<string, string> => Object.fromEntries(skipped.map((s) => [rel(s.path), s.reason]));
    const importWhy = why(imported.skipped);
    expect(why(train.skipped)).toEqual({
      ...importWhy,
      'loose.jpg': 'not inside a class sub-folder',
      'empty-class': 'class folder without images (class left out)',
    });
    expect(Object.keys(importWhy).sort()).toEqual(['ants/.hidden.jpg', 'ants/gone.jpg', 'ants/notes.txt', 'ants/to-bees', 'bees/fake.jpg', 'bees/pipe.jpg', 'bees/secret.png', 'loop']);
    expect(importWhy.loop).toBe(FOLDER_LINK_REASON);
    expect(importWhy['ants/to-bees']).toBe(FOLDER_LINK_REASON);
    expect(importWhy['ants/.hidden.jpg']).toBe('hidden file');
    expect(importWhy['ants/gone.jpg']).toBe('broken link');
    expect(importWhy['bees/pipe.jpg']).toBe('not a regular file');
    expect(importWhy['ants/notes.txt']).toMatch(/^not an image \(not JPEG/);
    expect(importWhy['bees/fake.jpg']).toMatch(/^not an image .*\(despite its \.jpg name\)$/);
    expect(importWhy['bees/secret.png']).toMatch(/^not an image .*\(despite its \.png name\)$/); // the link's target is sniffed
  });

  it('the scanner itself: each photo once (the loop is not followed), its class, size and date', async () => {
    const s = await scanFolder(root);
    expect(s.classFolders).toEqual(['ants', 'bees', 'empty-class']);
    expect(s.photos.map((p) => path.relative(root, p.path))).toEqual(['ants/IMG_0001', 'ants/a.jpg', 'ants/sub/deeper/b.jpg', 'bees/linked.jpg', 'bees/nested/e.jpg', 'loose.jpg']);
    const linked = s.photos.find((p) => p.path.endsWith('linked.jpg'))!;
    expect(linked.size).toBe(fs.statSync(path.join(tmp, 'outside', 'elsewhere.jpg')).size); // the target's bytes
    expect(s.photos.every((p) => p.format === 'jpeg' && p.mtimeMs > 0)).toBe(true);
    expect((await scanFolder(root, { limit: 1 })).photos.length).toBeGreaterThanOrEqual(1);
  });

  it('"does it hold photos?" (an import into a new dataset) answers by the same rule', async () => {
    const fakes = path.join(tmp, 'fakes');
    fs.mkdirSync(path.join(fakes, 'x'), { recursive: true });
    fs.writeFileSync(path.join(fakes, 'x', 'fake.jpg'), 'text'); // an image name, not an image
    fs.symlinkSync('.', path.join(fakes, 'loop'));
    expect(await hasPhotos(fakes)).toBe(false);
    await expect(importFolder(lib, fakes, { dataset: 'fakes' })).rejects.toMatchObject({ code: 'NO_PHOTOS' });
    await expect(scanImageFolder(fakes)).rejects.toMatchObject({ code: 'NO_IMAGES' });
    fs.copyFileSync(someJpegs('val', 'ants', 1)[0], path.join(fakes, 'x', 'IMG_0002')); // a photo without an extension
    expect(await hasPhotos(fakes)).toBe(true);
  });

  it('a root of split folders (train/, val/) has its classes one level down, the splits merged, in both', async () => {
    const splits = path.join(tmp, 'splits');
    for (const split of ['train', 'val'] as const)
      for (const cls of ['ants', 'bees'] as const) {
        fs.mkdirSync(path.join(splits, split, cls), { recursive: true });
        for (const f of someJpegs(split, cls, 2)) fs.copyFileSync(f, path.join(splits, split, cls, path.basename(f)));
      }
    const train = await scanImageFolder(splits);
    expect(train.classes).toEqual(['ants', 'bees']);
    expect(train.items).toHaveLength(8);
    expect(train.items.every((i) => path.basename(path.dirname(i.path)) === train.classes[i.label])).toBe(true);
    expect(train.skipped).toEqual([]);
    const imported = await importFolder(lib, splits, { dataset: 'splits', thumbnails: false });
    const names = lib.photos.all(imported.datasetId).map((p) => [path.basename(path.dirname(p.path)), p.classId === null ? null : lib.classes.get(p.classId).name]);
    expect(names).toHaveLength(8);
    for (const [folder, cls] of names) expect(cls).toBe(folder);
    expect(imported.classesCreated.sort()).toEqual(['ants', 'bees']);
  });
});
