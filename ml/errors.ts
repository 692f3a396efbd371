// Errors the user can cause, thrown by the engine (ml/). Each carries a stable UPPER_SNAKE_CASE
// `code` (for the CLI, the UI and tests) and a one-line human message.
// Append new codes to the union; never rename one (callers match on them).

export type EngineErrorCode =
  | 'BAD_CONFIG' // an AlexNetConfig that cannot build a network (bad sizes, groups, LRN, dropout)
  | 'BAD_WEIGHTS' // weights missing, or with a shape that does not match the config
  | 'OUT_OF_MEMORY' // the chosen backend cannot hold the model + activations for this batch
  | 'BACKEND_UNAVAILABLE' // a forced backend (ALEXNET_BACKEND / --backend) could not be loaded
  | 'GPU_FAILED' // the GPU reported an error or was lost mid-work: nothing computed after it is kept
  | 'BAD_IMAGE' // an image file that cannot be decoded
  | 'NO_SUCH_FOLDER' // a folder that does not exist or is not a directory
  | 'TOO_FEW_CLASSES' // an image folder with fewer than two class sub-folders
  | 'NO_IMAGES' // an image folder with no readable images
  | 'BAD_MODEL_DIR' // a model directory that is missing, incomplete, corrupt or from a newer version
  | 'TOO_FEW_IMAGES' // a class with too few images to train on or to validate
  | 'NOT_ALEXNET' // an ONNX file that is not an AlexNet (damaged, or another network), or not ImageNet's where that is asked for
  | 'BAD_CHECKSUM' // a downloaded or imported weights file whose SHA-256 is not the expected one
  | 'OFFLINE' // the weights' host cannot be reached (no network, DNS, refused connection)
  | 'DOWNLOAD_FAILED' // the host answered with an error (404, 5xx) or the transfer broke off
  | 'CANCELLED' // an operation stopped by the user (AbortSignal)
  | 'NO_WEIGHTS' // ImageNet weights asked for but not imported/downloaded yet
  | 'DISK_FULL' // a write failed because the disk (or the user's quota) is full
  | 'NOT_WRITABLE'; // an output folder that cannot be created or written (read-only, a file in the way)

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** True for the errors of a full disk: fs's ENOSPC / EDQUOT, SQLite's SQLITE_FULL. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && DISK_FULL_CODES.has(code);
}

/** A full-disk error as the one line the user reads ("the disk is full (<path>)"); others unchanged. */
export function diskFullError(e: unknown, where: string): unknown {
  if (!isDiskFull(e)) return e;
  const p = (e as { path?: unknown }).path;
  return new EngineError('DISK_FULL', `the disk is full (${typeof p === 'string' ? p : where})`);
}
