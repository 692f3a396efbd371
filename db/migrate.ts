// Schema migrations, Joplin style: numbered files db/migrations/NNNN_name.sql, applied in order,
// each in its own transaction together with the bump of PRAGMA user_version, so a crash or an
// error leaves the database at the previous version, never half-migrated. The .sql files are the
// source of truth; a bundled build can pass the same list in (`migrations` option) instead of
// letting us read the folder.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type BetterSqlite3 from 'better-sqlite3';
import { DbError } from './errors';

export type Migration = { version: number; name: string; sql: string };

const FILE_RE = /^(\d{4})_([a-z0-9_]+)\.sql$/; // 0001_init.sql -> version 1, name 'init'

/** The folder that ships next to this file. */
export function defaultMigrationsDir(): string {
  return fileURLToPath(new URL('./migrations/', import.meta.url));
}

/** Reads the numbered .sql files of a folder; versions must run 1, 2, 3, ... without gaps. */
export function loadMigrations(dir: string = defaultMigrationsDir()): Migration[] {
  const files = fs.readdirSync(dir).filter((f) => FILE_RE.test(f)).sort();
  const list = files.map((f) => {
    const m = FILE_RE.exec(f)!;
    return { version: Number(m[1]), name: m[2], sql: fs.readFileSync(path.join(dir, f), 'utf8') };
  });
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations in ${dir} must be numbered 0001, 0002, ... without gaps; found ${m.version} at position ${i + 1}`);
  });
  return list;
}

export function schemaVersion(db: BetterSqlite3.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the database up to the last migration. Throws SCHEMA_TOO_NEW when the file is ahead of
 * this app (an older app must never write a newer schema). Returns the versions applied.
 */
export function migrate(db: BetterSqlite3.Database, migrations: Migration[] = loadMigrations(), file = 'the database'): number[] {
  const latest = migrations.length;
  const current = schemaVersion(db);
  if (current > latest) {
    throw new DbError('SCHEMA_TOO_NEW', `${file} has schema version ${current} but this app knows only up to ${latest}; update AlexNet Studio to open it`);
  }
  const applied: number[] = [];
  for (const m of migrations.slice(current)) {
    const step = db.transaction(() => {
      if (schemaVersion(db) >= m.version) return; // another process migrated while we waited
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    });
    try {
      step.immediate(); // take the write lock up front: two processes never both migrate
    } catch (err) {
      throw new DbError('MIGRATION_FAILED', `migration ${String(m.version).padStart(4, '0')}_${m.name} failed, database left at version ${schemaVersion(db)}: ${(err as Error).message}`);
    }
    applied.push(m.version);
  }
  return applied;
}
