// Errors as the window sees them: { code, message } with a code from the contract's fixed set.
// Handlers throw AppError for what they refuse themselves (BAD_INPUT, BUSY...); the library's DbError
// and the engine's EngineError (which also cross from the worker as { code, message }) are mapped
// here by their string code, their message kept since it is already one line in words. Anything
// else is a bug: the window gets 'INTERNAL' with a generic message, the log gets the stack.
import type { DbErrorCode } from '../../db/errors';
import { isDiskFull, type EngineErrorCode } from '../../ml/errors';
import { AppError, type AppErrorPayload, type ErrorCode } from '../../preload/contract';

export { AppError }; // declared once in the contract: the renderer throws the same class

// The library's (db/errors.ts) and the engine's (ml/errors.ts) codes -> the contract's: every code
// of both has an entry (the compiler checks), so none reaches the window as INTERNAL by omission.
const CODE_MAP: Record<DbErrorCode | EngineErrorCode, ErrorCode> = {
  // db
  SCHEMA_TOO_NEW: 'LIBRARY_ERROR',
  NOT_A_DATABASE: 'LIBRARY_ERROR',
  DAMAGED: 'LIBRARY_ERROR',
  DB_OPEN_FAILED: 'LIBRARY_ERROR',
  MIGRATION_FAILED: 'LIBRARY_ERROR',
  FOLDER_NOT_FOUND: 'FOLDER_NOT_FOUND',
  NOT_A_FOLDER: 'FOLDER_NOT_FOUND',
  NO_PHOTOS: 'BAD_INPUT',
  DATASET_NOT_FOUND: 'NOT_FOUND',
  CLASS_NOT_FOUND: 'NOT_FOUND',
  PHOTO_NOT_FOUND: 'NOT_FOUND',
  RUN_NOT_FOUND: 'NOT_FOUND',
  DATASET_EXISTS: 'CONFLICT',
  CLASS_EXISTS: 'CONFLICT',
  BAD_RUN_STATUS: 'CONFLICT',
  BAD_CLASS: 'BAD_INPUT',
  BAD_QUERY: 'BAD_INPUT',
  BAD_SPLIT: 'TOO_FEW_IMAGES',
  IMAGE_UNREADABLE: 'BAD_IMAGE',
  EXPORT_TARGET_NOT_EMPTY: 'CONFLICT',
  EXPORT_FAILED: 'UNSUPPORTED',
  // ml
  BAD_CONFIG: 'BAD_INPUT',
  BAD_WEIGHTS: 'BAD_WEIGHTS',
  NOT_ALEXNET: 'BAD_WEIGHTS',
  BAD_CHECKSUM: 'BAD_WEIGHTS',
  OUT_OF_MEMORY: 'OUT_OF_MEMORY',
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  GPU_FAILED: 'GPU_FAILED',
  BAD_IMAGE: 'BAD_IMAGE',
  NO_SUCH_FOLDER: 'FOLDER_NOT_FOUND',
  TOO_FEW_CLASSES: 'TOO_FEW_IMAGES',
  NO_IMAGES: 'TOO_FEW_IMAGES',
  TOO_FEW_IMAGES: 'TOO_FEW_IMAGES',
  BAD_MODEL_DIR: 'BAD_MODEL',
  OFFLINE: 'OFFLINE',
  DOWNLOAD_FAILED: 'DOWNLOAD_FAILED',
  CANCELLED: 'CANCELLED',
  NO_WEIGHTS: 'NO_WEIGHTS',
  DISK_FULL: 'DISK_FULL',
  NOT_WRITABLE: 'BAD_INPUT',
};

export const INTERNAL_MESSAGE = 'Something went wrong inside the app; the details are in the log.';

/** The contract code of a library/engine code, or null for codes we do not know (system errors). */
export function mapCode(code: string): ErrorCode | null {
  return Object.hasOwn(CODE_MAP, code) ? CODE_MAP[code as keyof typeof CODE_MAP] : null;
}

/** Any thrown value -> { code, message }; `log` receives the unknown ones (with their stack). */
export function toErrorPayload(err: unknown, log?: (err: unknown) => void): AppErrorPayload {
  if (err instanceof AppError) return { code: err.code, message: err.message };
  if (isDiskFull(err)) return diskFullPayload(err, 'the data folder');
  if (err instanceof Error || (typeof err === 'object' && err !== null)) {
    const code = (err as { code?: unknown }).code;
    const message = (err as { message?: unknown }).message;
    if (typeof code === 'string' && typeof message === 'string') {
      const mapped = mapCode(code);
      if (mapped) return { code: mapped, message };
    }
  }
  log?.(err);
  return { code: 'INTERNAL', message: INTERNAL_MESSAGE };
}

/** A full disk (fs's ENOSPC, SQLite's SQLITE_FULL) in words: "the disk is full (<path>)". */
export function diskFullPayload(err: unknown, where: string): AppErrorPayload {
  const p = (err as { path?: unknown } | null)?.path;
  return { code: 'DISK_FULL', message: `the disk is full (${typeof p === 'string' ? p : where})` };
}
