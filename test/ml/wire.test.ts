// ml/wire.ts, the one protobuf wire codec under the ONNX and SavedModel files: the bytes it writes
// are protobuf's (the encoding guide's own examples), what it writes it reads back, payloads are
// never copied, and bad bytes end in ProtoError naming where, never in a wrong value.
import { describe, expect, it } from 'vitest';
import { Msg, ProtoError, Reader, WIRE_BYTES, WIRE_FIXED32, WIRE_FIXED64, WIRE_VARINT } from '../../ml/wire';

const bytesOf = (m: Msg): Uint8Array => {
  const chunks = m.chunks();
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('Msg writes protobuf', () => {
  it("matches the encoding guide's examples", () => {
    expect(hex(bytesOf(new Msg().int(1, 150)))).toBe('089601');
    expect(hex(bytesOf(new Msg().str(2, 'testing')))).toBe('120774657374696e67');
    expect(hex(bytesOf(new Msg().msg(3, new Msg().int(1, 150))))).toBe('1a03089601');
    expect(hex(bytesOf(new Msg().packedInts(4, [3, 270, 86942])))).toBe('2206038e029ea705');
    // a negative int64 is ten bytes of two's complement
    expect(hex(bytesOf(new Msg().int(1, -1)))).toBe('08ffffffffffffffffff01');
    expect(hex(bytesOf(new Msg().float(5, 1)))).toBe('2d0000803f');
    expect(new Msg().packedInts(4, []).size).toBe(0); // an empty repeated field is absent
  });

  it('frames children and payloads without copying them; size is the written length', () => {
    const payload = new Uint8Array(1000).fill(7);
    const child = new Msg().bytes(1, payload);
    const m = new Msg().int(1, 5).msg(2, child);
    const chunks = m.chunks();
    expect(chunks).toContain(payload); // the same object, not a copy
    expect(m.size).toBe(bytesOf(m).byteLength);
  });
});

describe('Reader reads what Msg writes', () => {
  it('round-trips every field kind, packed and unpacked', () => {
    const big = 2 ** 53 - 1;
    const m = new Msg()
      .int(1, 0)
      .int(2, big)
      .int(3, -42)
      .str(4, 'héllo ✓')
      .float(5, 0.15625)
      .packedInts(6, [1, -2, 300])
      .int(6, 7) // the same repeated field, one unpacked value
      .msg(7, new Msg().str(1, 'inner').int(2, 9))
      .bytes(8, Uint8Array.from([0.5, 1.5].flatMap((f) => [...new Uint8Array(new Float32Array([f]).buffer)])))
      .float(8, 2.5);
    const buf = bytesOf(m);
    const r = new Reader(buf);
    const ints: number[] = [];
    const floats: number[] = [];
    const seen: Record<number, unknown> = {};
    while (!r.done) {
      const { field, wire } = r.tag();
      if (field === 1 || field === 2) seen[field] = r.uvarint();
      else if (field === 3) seen[field] = r.svarint();
      else if (field === 4) seen[field] = r.string();
      else if (field === 5) seen[field] = r.float32();
      else if (field === 6) r.ints(wire, ints);
      else if (field === 7) {
        const s = r.sub();
        expect(s.tag()).toEqual({ field: 1, wire: WIRE_BYTES });
        expect(s.string()).toBe('inner');
        expect(s.tag()).toEqual({ field: 2, wire: WIRE_VARINT });
        expect(s.uvarint()).toBe(9);
        expect(s.done).toBe(true);
      } else if (field === 8) r.floats(wire, floats);
    }
    expect(seen).toEqual({ 1: 0, 2: big, 3: -42, 4: 'héllo ✓', 5: 0.15625 });
    expect(ints).toEqual([1, -2, 300, 7]);
    expect(floats).toEqual([0.5, 1.5, 2.5]);
  });

  it('hands out bytes fields as views into the buffer it reads', () => {
    const buf = bytesOf(new Msg().bytes(1, Uint8Array.from([1, 2, 3])));
    const r = new Reader(buf);
    r.tag();
    const b = r.bytes();
    expect(Array.from(b)).toEqual([1, 2, 3]);
    expect(b.buffer).toBe(buf.buffer);
    buf[buf.length - 1] = 9;
    expect(b[2]).toBe(9);
  });

  it('skips fields of every wire type it knows', () => {
    const fixed64 = Uint8Array.from([0x09, 1, 2, 3, 4, 5, 6, 7, 8]); // field 1, wire type 1, 8 bytes
    const rest = bytesOf(new Msg().int(2, 300).str(3, 'x').float(4, 1).int(5, 11));
    const buf = new Uint8Array([...fixed64, ...rest]);
    const r = new Reader(buf);
    const wires: number[] = [];
    for (let i = 0; i < 4; i++) {
      const { wire } = r.tag();
      wires.push(wire);
      r.skip(wire);
    }
    expect(wires).toEqual([WIRE_FIXED64, WIRE_VARINT, WIRE_BYTES, WIRE_FIXED32]);
    expect(r.tag()).toEqual({ field: 5, wire: WIRE_VARINT });
    expect(r.uvarint()).toBe(11);
    expect(r.done).toBe(true);
  });
});

describe('Reader refuses bad bytes', () => {
  const fails = (buf: number[], read: (r: Reader) => unknown, message: RegExp, offset: number): void => {
    let err: unknown = null;
    try {
      read(new Reader(Uint8Array.from(buf)));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtoError);
    expect((err as ProtoError).message).toMatch(message);
    expect((err as ProtoError).offset).toBe(offset);
  };

  it('names what broke and where', () => {
    fails([0x96], (r) => r.uvarint(), /varint past the end/, 1);
    fails(new Array(11).fill(0xff), (r) => r.uvarint(), /varint longer than 10 bytes/, 10);
    fails(new Array(11).fill(0xff), (r) => r.svarint(), /varint longer than 10 bytes/, 0);
    fails([0x00], (r) => r.tag(), /field number 0/, 1);
    fails([0x0a, 0x05, 1, 2], (r) => (r.tag(), r.bytes()), /field of 5 bytes runs past the end \(2 left\)/, 2);
    fails([0x0d, 0, 0], (r) => (r.tag(), r.float32()), /float past the end/, 1);
    fails([0x09, 1, 2, 3], (r) => r.skip(r.tag().wire), /fixed64 past the end/, 1);
    fails([0x0b], (r) => r.skip(r.tag().wire), /unsupported wire type 3/, 1);
  });

  it('keeps a sub-reader inside its message', () => {
    // field 1 holds 2 bytes, a tag and a varint that claims to go on; the bytes after it (field 2 = 1)
    // belong to the parent
    const buf = Uint8Array.from([0x0a, 0x02, 0x08, 0x96, 0x10, 0x01]);
    const r = new Reader(buf);
    r.tag();
    const s = r.sub();
    s.tag();
    expect(() => s.uvarint()).toThrow(ProtoError);
    expect(r.tag()).toEqual({ field: 2, wire: WIRE_VARINT }); // the parent reads on after field 1
    expect(r.uvarint()).toBe(1);
    expect(r.done).toBe(true);
  });
});
