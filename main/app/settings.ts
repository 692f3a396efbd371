// The app's preferences: <dataDir>/settings.json, a machine's choice (which compute backend), so not
// in the library. Read once when the context is made: a missing file is the defaults; a damaged or
// hostile one (not JSON, wrong types, too big) is the defaults plus one warning in the log, never a
// crash. Written whole through a temp file and a rename, so a crash or a full disk leaves the old
// file as it was.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isDiskFull } from '../../ml/errors';
import type { AppSettings } from '../../preload/contract';
import { AppError, diskFullPayload } from './errors';
import type { Log } from './log';
import { backendChoice, obj, opt, type Validator } from './validate';

export const SETTINGS_FILE = 'settings.json';
// far more than the few keys it holds: a bigger file is not ours, and is not read into memory
const MAX_BYTES = 64 * 1024;

export const DEFAULT_APP_SETTINGS: AppSettings = { backend: 'auto' };

/** Each key of AppSettings (a key of the file is checked alone: one bad key does not cost the others). */
const KEYS: { [K in keyof AppSettings]: Validator<AppSettings[K]> } = {
  backend: backendChoice,
};
/** settings:set's request: any of the keys. */
export const settingsPatchV = obj({ backend: opt(KEYS.backend) });

export const settingsFile = (dataDir: string): string => path.join(dataDir, SETTINGS_FILE);

/**
 * The settings in `dataDir`: each known key that is valid, the default for the rest; keys it does
 * not know are ignored. A file that cannot be used is one warn line.
 */
export function readSettings(dataDir: string, log: Log): AppSettings {
  const file = settingsFile(dataDir);
  const warn = (why: string) => log('warn', `${file}: ${why}; using the default settings`);
  let text: string;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return (warn('not a file'), { ...DEFAULT_APP_SETTINGS });
    if (st.size > MAX_BYTES) return (warn(`${st.size} bytes, more than settings ever take (${MAX_BYTES})`), { ...DEFAULT_APP_SETTINGS });
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`cannot be read (${(err as Error).message})`);
    return { ...DEFAULT_APP_SETTINGS };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return (warn('not valid JSON'), { ...DEFAULT_APP_SETTINGS });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return (warn('not a JSON object'), { ...DEFAULT_APP_SETTINGS });
  const input = raw as Record<string, unknown>;
  const out: AppSettings = { ...DEFAULT_APP_SETTINGS };
  const bad: string[] = [];
  for (const key of Object.keys(KEYS) as (keyof AppSettings)[]) {
    if (!Object.hasOwn(input, key)) continue;
    try {
      out[key] = KEYS[key](input[key], key);
    } catch (err) {
      bad.push((err as Error).message);
    }
  }
  if (bad.length > 0) warn(bad.join('; '));
  return out;
}

/** Writes `settings` atomically; a full disk is DISK_FULL and leaves the file as it was. */
export function writeSettings(dataDir: string, settings: AppSettings): void {
  const file = settingsFile(dataDir);
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify(settings, null, 2) + '\n', { flush: true });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    if (isDiskFull(err)) {
      const p = diskFullPayload(err, file);
      throw new AppError(p.code, p.message);
    }
    throw err;
  }
}
