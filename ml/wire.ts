// Protobuf's wire format, once, for the two kinds of file we read or write: ONNX models
// (ml/weights/onnx-proto.ts) and TensorFlow SavedModels (ml/graph.ts). Each of those maps its own
// messages, with only the fields it uses, onto this module's reader and builder.
//
// No copies of big payloads either way: the Reader hands out length-delimited fields as views into
// the buffer it reads (a 244 MB ONNX file's tensors stay where they are), and a Msg is a list of
// chunks (headers and payloads) whose length is known, so a parent frames a child without
// concatenating it and the whole message is written chunk by chunk. (protobufjs was measured for
// this job: see bench/README.md, "Protobuf codec".)

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;

/** Bytes that are not valid protobuf (truncated, or garbage). `offset` is where reading failed. */
export class ProtoError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ProtoError';
  }
}

/** Reads fields from buf[start, end). Every read checks bounds and throws ProtoError past `end`. */
export class Reader {
  pos: number;
  private view: DataView | null = null;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private fail(what: string): never {
    throw new ProtoError(`truncated or corrupt protobuf: ${what} at byte ${this.pos}`, this.pos);
  }

  /** An unsigned varint as a JS number (exact up to 2^53; sizes and dims fit). */
  uvarint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('varint past the end');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** A signed int64/int32 varint (two's complement, negative values take 10 bytes), as a number. */
  svarint(): number {
    const start = this.pos;
    let value = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('varint past the end');
      const b = this.buf[this.pos++];
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return Number(BigInt.asIntN(64, value));
      shift += 7n;
    }
    this.pos = start;
    return this.fail('varint longer than 10 bytes');
  }

  /** A field's tag: field number and wire type. */
  tag(): { field: number; wire: number } {
    const t = this.uvarint();
    const field = Math.floor(t / 8);
    if (field === 0) this.fail('field number 0');
    return { field, wire: t & 7 };
  }

  /** A length-delimited field's extent [start, end) in buf, without copying. */
  span(): [number, number] {
    const len = this.uvarint();
    const start = this.pos;
    if (start + len > this.end) this.fail(`field of ${len} bytes runs past the end (${this.end - start} left)`);
    this.pos = start + len;
    return [start, start + len];
  }

  /** A length-delimited field as a view into buf (no copy). */
  bytes(): Uint8Array {
    const [s, e] = this.span();
    return this.buf.subarray(s, e);
  }

  string(): string {
    return new TextDecoder('utf-8').decode(this.bytes());
  }

  /** A reader over an embedded message. */
  sub(): Reader {
    const [s, e] = this.span();
    return new Reader(this.buf, s, e);
  }

  float32(): number {
    if (this.pos + 4 > this.end) this.fail('float past the end');
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.uvarint();
        return;
      case WIRE_FIXED64:
        if (this.pos + 8 > this.end) this.fail('fixed64 past the end');
        this.pos += 8;
        return;
      case WIRE_BYTES:
        this.span();
        return;
      case WIRE_FIXED32:
        if (this.pos + 4 > this.end) this.fail('fixed32 past the end');
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wire}`);
    }
  }

  /** A repeated signed integer field, packed (one length-delimited run) or not (one value). */
  ints(wire: number, out: number[]): void {
    if (wire === WIRE_BYTES) {
      const r = this.sub();
      while (!r.done) out.push(r.svarint());
    } else out.push(this.svarint());
  }

  /** A repeated float field, packed or not. */
  floats(wire: number, out: number[]): void {
    if (wire === WIRE_BYTES) {
      const r = this.sub();
      while (!r.done) out.push(r.float32());
    } else out.push(this.float32());
  }
}

/** Base-128 varint; negative numbers as 64-bit two's complement (10 bytes), as protobuf's int64. */
function varint(out: number[], v: number): void {
  if (v >= 0 && v < 0x80) {
    out.push(v);
    return;
  }
  let n = BigInt.asUintN(64, BigInt(v));
  do {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    out.push(n > 0n ? b | 0x80 : b);
  } while (n > 0n);
}

/**
 * A message being built: a list of chunks (headers and payloads). Nested messages are built first,
 * so every length is known when the parent adds them, and payloads are never copied.
 */
export class Msg {
  readonly parts: (Uint8Array | Msg)[] = [];
  size = 0;

  private push(p: Uint8Array | Msg): this {
    this.parts.push(p);
    this.size += p instanceof Msg ? p.size : p.byteLength;
    return this;
  }
  private header(field: number, wire: number, len?: number): this {
    const bytes: number[] = [];
    varint(bytes, field * 8 + wire);
    if (len !== undefined) varint(bytes, len);
    return this.push(Uint8Array.from(bytes));
  }
  /** A varint field (int32, int64, enum, bool); negative int64 as 10 bytes. */
  int(field: number, v: number): this {
    const bytes: number[] = [];
    varint(bytes, field * 8 + WIRE_VARINT);
    varint(bytes, v);
    return this.push(Uint8Array.from(bytes));
  }
  bytes(field: number, data: Uint8Array): this {
    return this.header(field, WIRE_BYTES, data.byteLength).push(data);
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Msg): this {
    return this.header(field, WIRE_BYTES, m.size).push(m);
  }
  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.header(field, WIRE_FIXED32).push(b);
  }
  /** A repeated varint field written packed (one length-delimited run). Nothing when empty. */
  packedInts(field: number, vs: readonly number[]): this {
    if (!vs.length) return this;
    const bytes: number[] = [];
    for (const v of vs) varint(bytes, v);
    return this.bytes(field, Uint8Array.from(bytes));
  }
  /** Every chunk, in order (write them one after another, or Buffer.concat them). */
  chunks(out: Uint8Array[] = []): Uint8Array[] {
    for (const p of this.parts) {
      if (p instanceof Msg) p.chunks(out);
      else out.push(p);
    }
    return out;
  }
}
