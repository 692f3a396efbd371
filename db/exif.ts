// A minimal EXIF reader: just enough TIFF to find DateTimeOriginal (0x9003) in the Exif sub-IFD,
// falling back to IFD0's DateTime (0x0132). sharp's metadata() hands us the raw APP1 payload
// ("Exif\0\0" + TIFF) and parses none of it. Any malformed offset yields null, never a throw.
const TAG_EXIF_IFD = 0x8769; // pointer from IFD0 to the Exif sub-IFD
const TAG_DATETIME_ORIGINAL = 0x9003; // when the shutter fired
const TAG_DATETIME = 0x0132; // when the file was last changed by the camera/software
const TYPE_ASCII = 2;

type Reader = { u16(off: number): number; u32(off: number): number; len: number };

function reader(buf: Buffer, base: number): Reader | null {
  if (buf.length < base + 8) return null;
  const order = buf.toString('latin1', base, base + 2);
  const le = order === 'II';
  if (!le && order !== 'MM') return null;
  const len = buf.length - base;
  const u16 = (off: number) => (off + 2 > len ? -1 : le ? buf.readUInt16LE(base + off) : buf.readUInt16BE(base + off));
  const u32 = (off: number) => (off + 4 > len ? -1 : le ? buf.readUInt32LE(base + off) : buf.readUInt32BE(base + off));
  if (u16(2) !== 42) return null; // TIFF magic
  return { u16, u32, len };
}

/** Finds `tag` in the IFD at `ifd`: its value offset (relative to the TIFF header) and count. */
function findTag(r: Reader, ifd: number, tag: number): { type: number; count: number; valueOff: number } | null {
  const n = r.u16(ifd);
  if (n < 0 || n > 1000) return null;
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (r.u16(e) !== tag) continue;
    const type = r.u16(e + 2);
    const count = r.u32(e + 4);
    // values of 4 bytes or less sit in the entry itself; longer ones at the offset it holds
    const valueOff = type === TYPE_ASCII && count > 4 ? r.u32(e + 8) : e + 8;
    return { type, count, valueOff };
  }
  return null;
}

function asciiAt(buf: Buffer, base: number, r: Reader, t: { type: number; count: number; valueOff: number } | null): string | null {
  if (!t || t.type !== TYPE_ASCII || t.valueOff < 0 || t.valueOff + t.count > r.len) return null;
  return buf.toString('latin1', base + t.valueOff, base + t.valueOff + t.count).replace(/\0+$/, '');
}

/** 'YYYY:MM:DD HH:MM:SS' -> 'YYYY-MM-DD HH:MM:SS', or null for blanks and nonsense. */
export function normaliseExifDate(s: string | null): string | null {
  const m = s && /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(s.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, se] = m;
  if (y === '0000' || Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(se) > 60) return null;
  return `${y}-${mo}-${d} ${h}:${mi}:${se}`;
}

/** DateTimeOriginal (or DateTime) of an EXIF block as 'YYYY-MM-DD HH:MM:SS' local time, or null. */
export function exifDateTimeOriginal(exif: Buffer | undefined | null): string | null {
  if (!exif || exif.length < 8) return null;
  const base = exif.toString('latin1', 0, 6) === 'Exif\0\0' ? 6 : 0;
  const r = reader(exif, base);
  if (!r) return null;
  const ifd0 = r.u32(4);
  if (ifd0 < 8 || ifd0 >= r.len) return null;
  const exifPtr = findTag(r, ifd0, TAG_EXIF_IFD);
  if (exifPtr) {
    const sub = r.u32(exifPtr.valueOff);
    if (sub >= 8 && sub < r.len) {
      const original = normaliseExifDate(asciiAt(exif, base, r, findTag(r, sub, TAG_DATETIME_ORIGINAL)));
      if (original) return original;
    }
  }
  return normaliseExifDate(asciiAt(exif, base, r, findTag(r, ifd0, TAG_DATETIME)));
}

/** A Date as 'YYYY-MM-DD HH:MM:SS' in local time, the format of photos.taken_at. */
export function localDateTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
