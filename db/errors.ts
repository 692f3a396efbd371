// Errors from the library that the user can cause or fix: a bad folder, a database from a newer
// app, a dataset that does not exist. Each carries an UPPER_SNAKE_CASE `code` and a one-line message;
// the CLI prints them as one line and the app maps the code to words.
export type DbErrorCode =
  | 'SCHEMA_TOO_NEW' // the file was written by a newer app (user_version above ours)
  | 'NOT_A_DATABASE' // the file exists but is not SQLite (or is encrypted/corrupt)
  | 'DAMAGED' // SQLite's quick_check found damage: restore the backup
  | 'DB_OPEN_FAILED' // any other failure to open: permissions, a read-only folder
  | 'MIGRATION_FAILED' // a migration threw; the database stays at its previous version
  | 'FOLDER_NOT_FOUND' // an import/export/verify path that does not exist
  | 'NOT_A_FOLDER' // a path that exists but is a file
  | 'NO_PHOTOS' // an import of a folder without a single photo (no empty dataset is made)
  | 'DATASET_NOT_FOUND'
  | 'DATASET_EXISTS'
  | 'CLASS_NOT_FOUND'
  | 'CLASS_EXISTS'
  | 'BAD_CLASS' // an empty name, a bad colour or hotkey
  | 'PHOTO_NOT_FOUND'
  | 'RUN_NOT_FOUND'
  | 'BAD_RUN_STATUS' // e.g. finishing a run that is not running
  | 'BAD_SPLIT' // fractions that do not add up, no labeled photos
  | 'BAD_QUERY' // a listing query with an unknown sort or a bad page size
  | 'IMAGE_UNREADABLE' // sharp could not decode a photo (thumbnail of a corrupt file)
  | 'EXPORT_TARGET_NOT_EMPTY' // library export into a folder that already has files
  | 'EXPORT_FAILED'; // e.g. symlinks not allowed on this file system

export class DbError extends Error {
  constructor(
    readonly code: DbErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DbError';
  }
}
