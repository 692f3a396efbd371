// The library: one SQLite file with everything the user makes (datasets, photos, labels, runs,
// metrics, predictions). openLibrary() opens or creates it, checks it, migrates it, and recovers runs that a
// killed process left 'running'. Nothing outside db/ writes SQL.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DbError } from './errors';
import { type Migration, loadMigrations, migrate, schemaVersion } from './migrate';
import { THUMBNAIL_DIR_NAME } from './paths';
import { ClassesRepo } from './repos/classes';
import { DatasetsRepo } from './repos/datasets';
import { LabelsRepo } from './repos/labels';
import { MetricsRepo } from './repos/metrics';
import { ModelsRepo } from './repos/models';
import { PhotosRepo } from './repos/photos';
import { PredictionsRepo } from './repos/predictions';
import { RunsRepo } from './repos/runs';
import { SplitsRepo } from './repos/splits';

export { DbError, type DbErrorCode } from './errors';
export { defaultDataDir, defaultDbFile } from './paths';

export type OpenOptions = {
  readonly?: boolean; // open without writing (no migration, no recovery); fails if the file is absent
  nativeBinding?: string; // path to a better_sqlite3.node built for Electron; Node's by default
  busyTimeoutMs?: number; // how long a write waits for another process's lock (default 5000 ms)
  thumbnailDir?: string; // the thumbnail cache (default: 'thumbnails' next to the database file)
  migrations?: Migration[]; // the migration list, for bundled builds (default: read db/migrations/)
  recover?: boolean; // mark dead 'running' runs as 'interrupted' on open (default true)
  cacheMiB?: number; // SQLite page cache: 64 MiB holds the grid's indexes at 100,000 photos
};

export class Library {
  readonly datasets: DatasetsRepo;
  readonly classes: ClassesRepo;
  readonly photos: PhotosRepo;
  readonly labels: LabelsRepo;
  readonly splits: SplitsRepo;
  readonly runs: RunsRepo;
  readonly metrics: MetricsRepo;
  readonly models: ModelsRepo;
  readonly predictions: PredictionsRepo;
  /** Runs that openLibrary found 'running' with their process gone, now 'interrupted'. */
  recoveredRuns: number[] = [];

  constructor(
    readonly db: Database.Database,
    readonly file: string,
    readonly thumbnailDir: string,
  ) {
    this.datasets = new DatasetsRepo(db);
    this.classes = new ClassesRepo(db);
    this.photos = new PhotosRepo(db);
    this.labels = new LabelsRepo(db);
    this.splits = new SplitsRepo(db);
    this.runs = new RunsRepo(db);
    this.metrics = new MetricsRepo(db);
    this.models = new ModelsRepo(db);
    this.predictions = new PredictionsRepo(db);
  }

  get schemaVersion(): number {
    return schemaVersion(this.db);
  }

  /**
   * Frees the reserve file kept beside the library (RESERVE_BYTES), so that on a full disk the
   * library can still record how a run ended: call it when a write failed for lack of space, then
   * write again. False when there was none to free. The next open makes a new one.
   */
  releaseReserve(): boolean {
    try {
      fs.rmSync(`${this.file}.reserve`);
      return true;
    } catch {
      return false;
    }
  }

  /** Runs `fn` in one write transaction (BEGIN IMMEDIATE); nested calls become savepoints. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  close(): void {
    if (!this.db.open) return;
    try {
      this.db.pragma('optimize'); // cheap; keeps the planner's statistics fresh
    } catch {
      // a read-only or busy database cannot optimize; closing matters more
    }
    this.db.close();
  }
}

/**
 * A file of this size beside the library, made at open where the disk has room: ballast that
 * Library.releaseReserve gives back when the disk is full, so a run's end can still be committed.
 */
export const RESERVE_BYTES = 2 * 1024 * 1024;

function ensureReserve(file: string): void {
  const reserve = `${file}.reserve`;
  try {
    if (fs.statSync(reserve).size === RESERVE_BYTES) return;
  } catch {
    // none yet
  }
  try {
    fs.writeFileSync(reserve, Buffer.alloc(RESERVE_BYTES), { mode: 0o600 });
  } catch {
    fs.rmSync(reserve, { force: true }); // no room for it now: the next open tries again
  }
}

/** Folders the app creates for its data: the user's alone (photos' names, labels, models). */
export const DATA_DIR_MODE = 0o700;

/** Where openLibrary keeps its one backup of `file`, made before each migration (and replaced by the next). */
export function backupFile(file: string): string {
  return `${path.resolve(file)}.backup`;
}

/**
 * Opens (creating if needed) the library at `file`, migrated to the latest schema. An existing file
 * is first looked at read-only (is it SQLite, not from a newer app, not damaged?) so that a file
 * we refuse is left byte for byte as it was; before a migration, a copy of it is kept
 * (backupFile) to restore from.
 */
export function openLibrary(file: string, opts: OpenOptions = {}): Library {
  const abs = path.resolve(file);
  const migrations = opts.migrations ?? loadMigrations();
  let version = 0;
  if (opts.readonly || fs.existsSync(abs)) version = inspect(abs, migrations.length, opts.nativeBinding);
  if (!opts.readonly) fs.mkdirSync(path.dirname(abs), { recursive: true, mode: DATA_DIR_MODE });
  let db: Database.Database;
  try {
    db = new Database(abs, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, nativeBinding: opts.nativeBinding });
  } catch (err) {
    throw new DbError('DB_OPEN_FAILED', `cannot open the library ${abs}: ${(err as Error).message}`);
  }
  try {
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`); // wait for another writer instead of failing
    db.pragma('foreign_keys = ON');
    db.pragma(`cache_size = ${-(opts.cacheMiB ?? 64) * 1024}`); // page cache in KiB (negative = KiB)
    db.pragma('temp_store = MEMORY'); // sorts of a filtered page never touch the disk
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL'); // readers never block the writer; a kill -9 loses no commit
      db.pragma('synchronous = NORMAL'); // in WAL: every commit survives a killed process; a power cut may lose the last few
      if (version > 0 && version < migrations.length) backup(db, abs);
      migrate(db, migrations, abs);
      ensureReserve(abs);
    }
    const thumbs = opts.thumbnailDir ?? path.join(path.dirname(abs), THUMBNAIL_DIR_NAME);
    const lib = new Library(db, abs, thumbs);
    // runs whose process died are marked 'interrupted' here, once per open (see RunsRepo.recoverInterrupted)
    if (!opts.readonly && opts.recover !== false) lib.recoveredRuns = lib.runs.recoverInterrupted();
    return lib;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Looks at an existing library without writing a byte: SQLite at all, a schema this app knows,
 * no damage (SQLite's quick_check). Returns its schema version.
 */
function inspect(abs: string, latest: number, nativeBinding: string | undefined): number {
  let db: Database.Database;
  try {
    db = new Database(abs, { readonly: true, fileMustExist: true, nativeBinding });
  } catch (err) {
    throw new DbError('DB_OPEN_FAILED', `cannot open the library ${abs}: ${(err as Error).message}`);
  }
  try {
    let v: number;
    try {
      v = schemaVersion(db); // reads the header: fails here on a file that is not SQLite
      db.prepare('SELECT count(*) FROM sqlite_master').get();
    } catch (err) {
      if ((err as { code?: unknown }).code === 'SQLITE_CORRUPT') throw damaged(abs, (err as Error).message);
      throw new DbError('NOT_A_DATABASE', `${abs} is not an AlexNet Studio library (${(err as Error).message})`);
    }
    if (v > latest) throw new DbError('SCHEMA_TOO_NEW', `${abs} has schema version ${v} but this app knows only up to ${latest}; update AlexNet Studio to open it`);
    let problem: string;
    try {
      problem = String(db.pragma('quick_check(1)', { simple: true }));
    } catch (err) {
      problem = (err as Error).message;
    }
    if (problem !== 'ok') throw damaged(abs, problem);
    return v;
  } finally {
    db.close();
  }
}

function damaged(abs: string, problem: string): DbError {
  const bak = backupFile(abs);
  const advice = fs.existsSync(bak) ? `restore the copy kept before the last upgrade (${bak}) or move the file aside to start a new library` : 'restore it from a backup or move it aside to start a new library';
  return new DbError('DAMAGED', `the library ${abs} is damaged (${problem.split('\n')[0]}): ${advice}`);
}

/** One copy of the library before a migration changes it, replacing the previous one. */
function backup(db: Database.Database, abs: string): void {
  const bak = backupFile(abs);
  const tmp = `${bak}.tmp`;
  fs.rmSync(tmp, { force: true });
  try {
    db.prepare('VACUUM INTO ?').run(tmp); // a consistent copy, WAL content included
    fs.renameSync(tmp, bak);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new DbError('MIGRATION_FAILED', `cannot keep a copy of ${abs} before upgrading it (${(err as Error).message}); nothing was changed`);
  }
}
