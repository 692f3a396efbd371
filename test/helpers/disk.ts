// A full disk, for real: a small tmpfs mounted on a temp folder (needs root; where it cannot be
// mounted, mountTmpfs answers null and the caller skips), then filled to its last page.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A temp folder (named `prefix`...) with a tmpfs of `sizeMiB` mounted on it, or null where mounting is not allowed. */
export function mountTmpfs(sizeMiB: number, prefix = 'alexnet-full-'): string | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
    return null;
  }
}

/** Unmounts a mountTmpfs folder and removes it. */
export function unmountTmpfs(dir: string): void {
  execFileSync('umount', [dir]);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes a filler file into `dir` until the file system refuses: the disk is full from here on. Answers its path. */
export function fillDisk(dir: string): string {
  const file = path.join(dir, 'filler.bin');
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (let size = chunk.length; size >= 1; ) {
      try {
        fs.writeSync(fd, chunk, 0, size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        size >>= 1; // fill the last pages too
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return file;
}
