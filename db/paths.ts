// Where the library lives by default: one folder per user for the database and the thumbnail
// cache, following each OS's convention. $ALEXNET_HOME moves the whole folder; $ALEXNET_DB (or the
// CLI's --db) points at one database file.
import os from 'node:os';
import path from 'node:path';

export const APP_DIR_NAME = 'AlexNet Studio'; // macOS and Windows folder name
export const XDG_DIR_NAME = 'alexnet-studio'; // Linux folder name (lower-case, no spaces)
export const DB_FILE_NAME = 'library.sqlite'; // the database file in the data folder
export const THUMBNAIL_DIR_NAME = 'thumbnails'; // the thumbnail cache next to the database

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.ALEXNET_HOME) return path.resolve(env.ALEXNET_HOME);
  const home = os.homedir();
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', APP_DIR_NAME);
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), APP_DIR_NAME);
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(home, '.local', 'share');
  return path.join(xdg, XDG_DIR_NAME);
}

/** The database file to open: an explicit path (--db), else $ALEXNET_DB, else the data folder's. */
export function defaultDbFile(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return path.resolve(explicit);
  if (env.ALEXNET_DB) return path.resolve(env.ALEXNET_DB);
  return path.join(defaultDataDir(env), DB_FILE_NAME);
}
