// A WebDataset shard writer: a plain POSIX (ustar) tar whose members are grouped by key
// (`<key>.jpg`, `<key>.cls`, ...), written member by member to a file, so a shard of any size needs
// no more memory than its largest member. Keys hold no dot (WebDataset splits at the first one).
import { closeSync, openSync, writeSync } from 'node:fs';

const BLOCK = 512;

function header(name: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  if (Buffer.byteLength(name) > 100) throw new RangeError(`tar member name longer than 100 bytes: ${name}`);
  const octal = (v: number, width: number) => v.toString(8).padStart(width - 1, '0') + '\0';
  h.write(name, 0, 100, 'utf8');
  h.write(octal(0o644, 8), 100, 'ascii'); // mode
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii'); // size (up to 8 GiB in 11 octal digits)
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum: spaces while summing
  h.write('0', 156, 'ascii'); // a regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

export class TarWriter {
  private fd: number;
  bytes = 0;
  constructor(readonly file: string) {
    this.fd = openSync(file, 'w');
  }

  add(name: string, data: Uint8Array, mtime = 0): void {
    this.write(header(name, data.length, mtime));
    this.write(data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) this.write(Buffer.alloc(pad, 0));
  }

  close(): number {
    this.write(Buffer.alloc(2 * BLOCK, 0)); // end of archive
    closeSync(this.fd);
    return this.bytes;
  }

  private write(b: Uint8Array): void {
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    this.bytes += b.length;
  }
}
