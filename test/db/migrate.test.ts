import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DbError, backupFile, openLibrary } from '../../db/index';
import { defaultMigrationsDir, loadMigrations, migrate, schemaVersion } from '../../db/migrate';
import { defaultDataDir, defaultDbFile } from '../../db/paths';
import { tempDir } from './helpers';

const dirs: string[] = [];
const tmp = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('migrations', () => {
  it('are numbered files 0001.. without gaps, read from db/migrations', () => {
    const files = fs.readdirSync(defaultMigrationsDir()).filter((f) => f.endsWith('.sql'));
    const list = loadMigrations();
    expect(list.length).toBe(files.length);
    expect(list.map((m) => m.version)).toEqual(list.map((_, i) => i + 1));
    expect(list[0].name).toBe('init');
  });

  it('take an empty file to the latest schema, with WAL, foreign keys and every table and index', () => {
    const file = path.join(tmp(), 'nested', 'folder', 'library.sqlite'); // parent folders are created
    const lib = openLibrary(file);
    expect(lib.schemaVersion).toBe(loadMigrations().length);
    expect(lib.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(lib.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(lib.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(lib.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    const names = (type: string) => lib.db.prepare("SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all(type);
    expect(names('table')).toEqual(['classes', 'datasets', 'label_actions', 'label_changes', 'metrics', 'models', 'photo_counts', 'photos', 'predictions', 'runs', 'split_members', 'splits']);
    expect(names('index')).toEqual(
      expect.arrayContaining(['photos_by_name', 'photos_by_date', 'photos_by_class', 'photos_by_label', 'predictions_by_class', 'predictions_by_p', 'predictions_disagree']),
    );
    expect(names('trigger')).toEqual(expect.arrayContaining(['photos_count_insert', 'photos_count_update', 'photos_label_changed', 'classes_position_changed']));
    const cols = lib.db.prepare("SELECT name FROM pragma_table_info('photos')").pluck().all();
    expect(cols).toEqual(expect.arrayContaining(['path', 'hash', 'size', 'width', 'height', 'taken_at', 'imported_at', 'status', 'status_reason', 'class_id', 'label_rank']));
    const predCols = lib.db.prepare("SELECT name FROM pragma_table_info('predictions')").pluck().all();
    expect(predCols).toEqual(expect.arrayContaining(['topk', 'top1_label', 'top1_class_id', 'top1_p', 'label_class_id']));
    expect(lib.db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(lib.db.pragma('foreign_key_check')).toEqual([]);
    lib.close();
    // Opening again applies nothing and keeps the data.
    const again = openLibrary(file);
    expect(again.schemaVersion).toBe(loadMigrations().length);
    again.close();
  });

  it('migrate one version at a time, keeping data written at the older version', () => {
    const file = path.join(tmp(), 'library.sqlite');
    const db = new Database(file);
    const all = loadMigrations();
    migrate(db, all.slice(0, 1));
    expect(schemaVersion(db)).toBe(1);
    db.prepare('INSERT INTO datasets (name, created_at) VALUES (?, ?)').run('old', 1);
    const ds = db.prepare('SELECT id FROM datasets').pluck().get() as number;
    db.prepare('INSERT INTO classes (dataset_id, name, colour, position, created_at) VALUES (?, ?, ?, 0, 1)').run(ds, 'ants', '#000000');
    db.prepare("INSERT INTO photos (dataset_id, path, name, size, imported_at, class_id) VALUES (?, '/a.jpg', 'a.jpg', 1, 1, 1)").run(ds);
    db.close();
    const lib = openLibrary(file);
    expect(lib.schemaVersion).toBe(all.length);
    // 0002 back-filled the counts and the label rank of the existing photo
    expect(lib.photos.counts(ds).byClass[0]).toMatchObject({ name: 'ants', count: 1 });
    expect(lib.db.prepare('SELECT label_rank FROM photos').pluck().get()).toBe(0);
    lib.close();
  });

  it('roll back a failing migration as a whole and keep the previous version', () => {
    const dir = tmp();
    const file = path.join(dir, 'library.sqlite');
    const broken = [...loadMigrations(), { version: loadMigrations().length + 1, name: 'broken', sql: 'CREATE TABLE half_done (x); INSERT INTO no_such_table VALUES (1);' }];
    let err: unknown;
    try {
      openLibrary(file, { migrations: broken });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DbError);
    expect((err as DbError).code).toBe('MIGRATION_FAILED');
    const db = new Database(file);
    expect(schemaVersion(db)).toBe(loadMigrations().length);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").pluck().get()).toBe(0);
    db.close();
  });

  it('refuse a database written by a newer app, naming both versions, and leave it untouched', () => {
    const file = path.join(tmp(), 'library.sqlite');
    openLibrary(file).close();
    const latest = loadMigrations().length;
    const db = new Database(file);
    db.pragma(`user_version = ${latest + 3}`);
    db.close();
    const before = fs.readFileSync(file);
    let err: unknown;
    try {
      openLibrary(file);
    } catch (e) {
      err = e;
    }
    expect((err as DbError).code).toBe('SCHEMA_TOO_NEW');
    expect((err as Error).message).toContain(String(latest + 3));
    expect((err as Error).message).toContain(String(latest));
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(() => openLibrary(file, { readonly: true })).toThrow(/schema version/);
  });

  it('refuse a newer database written in rollback-journal mode without changing a byte of it (no switch to WAL)', () => {
    const file = path.join(tmp(), 'library.sqlite');
    const db = new Database(file);
    db.exec('CREATE TABLE future (x); INSERT INTO future VALUES (1)');
    db.pragma(`user_version = ${loadMigrations().length + 1}`);
    db.close();
    const before = fs.readFileSync(file);
    expect(() => openLibrary(file)).toThrow(expect.objectContaining({ code: 'SCHEMA_TOO_NEW' }));
    expect(fs.readFileSync(file).equals(before)).toBe(true); // header bytes 18-19 still say rollback journal
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
  });

  it('refuse a damaged library with its path and what to do, in every mode, and keep a backup before each migration', () => {
    const dir = tmp();
    const file = path.join(dir, 'library.sqlite');
    // a library at version 1 with enough rows for many pages, then upgraded: the upgrade keeps a copy
    const db = new Database(file);
    const all = loadMigrations();
    migrate(db, all.slice(0, 1));
    db.prepare('INSERT INTO datasets (name, created_at) VALUES (?, ?)').run('old', 1);
    const insert = db.prepare("INSERT INTO photos (dataset_id, path, name, size, imported_at) VALUES (1, ?, 'p.jpg', 1, 1)");
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) insert.run(`/photos/${i}/${'x'.repeat(40)}.jpg`);
    })();
    db.close();
    openLibrary(file).close();
    const bak = backupFile(file);
    const copy = new Database(bak, { readonly: true });
    expect(schemaVersion(copy)).toBe(1);
    expect(copy.prepare('SELECT count(*) FROM photos').pluck().get()).toBe(3000);
    copy.close();
    // opening at the latest version makes no new copy
    const stamp = fs.statSync(bak).mtimeMs;
    openLibrary(file).close();
    expect(fs.statSync(bak).mtimeMs).toBe(stamp);

    // garbage over a page in the middle
    const bytes = fs.readFileSync(file);
    const pages = bytes.length / 4096;
    expect(pages).toBeGreaterThan(10);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, Math.floor(pages / 2) * 4096);
    fs.closeSync(fd);
    for (const readonly of [false, true]) {
      let err: unknown;
      try {
        openLibrary(file, { readonly });
      } catch (e) {
        err = e;
      }
      expect((err as DbError).code).toBe('DAMAGED');
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toContain(bak);
    }
  });

  it('refuse a file that is not a database with NOT_A_DATABASE', () => {
    const file = path.join(tmp(), 'notes.sqlite');
    fs.writeFileSync(file, 'these are not the pages you are looking for '.repeat(200));
    expect(() => openLibrary(file)).toThrow(expect.objectContaining({ code: 'NOT_A_DATABASE' }));
  });

  it('pass a nativeBinding through to better-sqlite3 (a wrong one fails to open)', () => {
    expect(() => openLibrary(path.join(tmp(), 'x.sqlite'), { nativeBinding: '/nonexistent/better_sqlite3.node' })).toThrow(expect.objectContaining({ code: 'DB_OPEN_FAILED' }));
  });
});

describe('default locations', () => {
  it('follow ALEXNET_HOME, then the OS convention; ALEXNET_DB names the file', () => {
    expect(defaultDataDir({ ALEXNET_HOME: '/x/y' }, 'linux')).toBe('/x/y');
    expect(defaultDataDir({ XDG_DATA_HOME: '/data' }, 'linux')).toBe('/data/alexnet-studio');
    expect(defaultDataDir({}, 'linux')).toMatch(/\.local\/share\/alexnet-studio$/);
    expect(defaultDataDir({}, 'darwin')).toMatch(/Library\/Application Support\/AlexNet Studio$/);
    expect(defaultDataDir({ APPDATA: '/appdata' }, 'win32')).toBe(path.join('/appdata', 'AlexNet Studio'));
    expect(defaultDbFile(undefined, { ALEXNET_DB: '/tmp/a.sqlite' })).toBe('/tmp/a.sqlite');
    expect(defaultDbFile('/tmp/b.sqlite', { ALEXNET_DB: '/tmp/a.sqlite' })).toBe('/tmp/b.sqlite');
    expect(defaultDbFile(undefined, { ALEXNET_HOME: '/h' })).toBe('/h/library.sqlite');
  });
});
