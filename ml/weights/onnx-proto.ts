// A minimal protobuf codec for the ONNX messages AlexNet needs (ModelProto, GraphProto, NodeProto,
// AttributeProto, TensorProto, ValueInfoProto), so that the app reads and writes .onnx files with no
// extra dependency.
//
// Field numbers follow onnx/onnx.proto (proto2 syntax); the wire format is ml/wire.ts. Read top to
// bottom: the message types, the decoder, the encoder, tensor helpers.
//
// Big files: a 244 MB zoo model is one Buffer; tensors' raw_data stay subarrays of it (no copy) until
// tensorFloats() turns one tensor into a Float32Array. Nothing allocates a JS object per float.

import { Msg, ProtoError, Reader, WIRE_BYTES, WIRE_FIXED32, WIRE_VARINT } from '../wire';

export { ProtoError };

// -------------------------------------------------------------------------------------------------
// Messages (only the fields AlexNet needs; others are skipped on read and absent on write)

// TensorProto.DataType values used here.
export const DT_FLOAT = 1;
export const DT_INT32 = 6;
export const DT_INT64 = 7;

// AttributeProto.AttributeType values.
export const AT_FLOAT = 1;
export const AT_INT = 2;
export const AT_STRING = 3;
export const AT_TENSOR = 4;
export const AT_FLOATS = 6;
export const AT_INTS = 7;
export const AT_STRINGS = 8;

export type OnnxTensor = {
  name: string;
  dims: number[];
  dataType: number; // DT_*
  raw: Uint8Array | null; // raw_data, little-endian, a view into the file (no copy)
  floatData: Uint8Array | null; // packed float_data bytes, a view (kept as bytes: no per-float objects)
  int64Data: number[]; // int64_data (small tensors only: Reshape targets)
  int32Data: number[];
  external: boolean; // data_location = EXTERNAL: the values live in another file
};

export type OnnxAttribute = {
  name: string;
  type: number; // AT_*
  f: number;
  i: number;
  s: Uint8Array;
  t: OnnxTensor | null;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
};

export type OnnxNode = {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
};

export type OnnxDim = number | string; // dim_value, or dim_param (a symbolic name such as 'N')

export type OnnxValueInfo = {
  name: string;
  elemType: number; // DT_* of a tensor type; 0 if not a tensor
  shape: OnnxDim[] | null; // null: rank unknown
};

export type OnnxGraph = {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  docString: string;
};

export type OnnxModel = {
  irVersion: number;
  opsetImports: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  graph: OnnxGraph;
  metadata: { key: string; value: string }[];
};

// -------------------------------------------------------------------------------------------------
// Decoder

function decodeTensor(r: Reader): OnnxTensor {
  const t: OnnxTensor = { name: '', dims: [], dataType: 0, raw: null, floatData: null, int64Data: [], int32Data: [], external: false };
  // float_data arrives packed (one run, kept as a view) or unpacked (one field per value, legal and
  // unusual: gathered into a buffer that doubles when full, so n values cost O(n)); the runs concatenate.
  const runs: Uint8Array[] = [];
  let loose = new Float32Array(0);
  let nLoose = 0;
  const flushLoose = (): void => {
    if (nLoose) runs.push(new Uint8Array(loose.buffer, 0, nLoose * 4));
    loose = new Float32Array(0);
    nLoose = 0;
  };
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1) r.ints(wire, t.dims);
    else if (field === 2 && wire === WIRE_VARINT) t.dataType = r.uvarint();
    else if (field === 4 && wire === WIRE_BYTES) {
      flushLoose();
      runs.push(r.bytes());
    } else if (field === 4 && wire === WIRE_FIXED32) {
      if (nLoose === loose.length) {
        const grown = new Float32Array(Math.max(256, loose.length * 2));
        grown.set(loose);
        loose = grown;
      }
      loose[nLoose++] = r.float32();
    } else if (field === 5) r.ints(wire, t.int32Data);
    else if (field === 7) r.ints(wire, t.int64Data);
    else if (field === 8 && wire === WIRE_BYTES) t.name = r.string();
    else if (field === 9 && wire === WIRE_BYTES) t.raw = r.bytes();
    else if (field === 14 && wire === WIRE_VARINT) t.external = r.uvarint() === 1;
    else r.skip(wire);
  }
  flushLoose();
  if (runs.length === 1) t.floatData = runs[0];
  else if (runs.length > 1) {
    const all = new Uint8Array(runs.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of runs) all.set(b, (at += b.length) - b.length);
    t.floatData = all;
  }
  return t;
}

function decodeAttribute(r: Reader): OnnxAttribute {
  const a: OnnxAttribute = { name: '', type: 0, f: 0, i: 0, s: new Uint8Array(0), t: null, floats: [], ints: [], strings: [] };
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_BYTES) a.name = r.string();
    else if (field === 20 && wire === WIRE_VARINT) a.type = r.uvarint();
    else if (field === 2 && wire === WIRE_FIXED32) a.f = r.float32();
    else if (field === 3 && wire === WIRE_VARINT) a.i = r.svarint();
    else if (field === 4 && wire === WIRE_BYTES) a.s = r.bytes();
    else if (field === 5 && wire === WIRE_BYTES) a.t = decodeTensor(r.sub());
    else if (field === 7) r.floats(wire, a.floats);
    else if (field === 8) r.ints(wire, a.ints);
    else if (field === 9 && wire === WIRE_BYTES) a.strings.push(r.bytes());
    else r.skip(wire);
  }
  return a;
}

function decodeNode(r: Reader): OnnxNode {
  const n: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] };
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_BYTES) n.inputs.push(r.string());
    else if (field === 2 && wire === WIRE_BYTES) n.outputs.push(r.string());
    else if (field === 3 && wire === WIRE_BYTES) n.name = r.string();
    else if (field === 4 && wire === WIRE_BYTES) n.opType = r.string();
    else if (field === 7 && wire === WIRE_BYTES) n.domain = r.string();
    else if (field === 5 && wire === WIRE_BYTES) n.attributes.push(decodeAttribute(r.sub()));
    else r.skip(wire);
  }
  return n;
}

function decodeShape(r: Reader): OnnxDim[] {
  const dims: OnnxDim[] = [];
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_BYTES) {
      const d = r.sub();
      let dim: OnnxDim = '';
      while (!d.done) {
        const t = d.tag();
        if (t.field === 1 && t.wire === WIRE_VARINT) dim = d.svarint();
        else if (t.field === 2 && t.wire === WIRE_BYTES) dim = d.string();
        else d.skip(t.wire);
      }
      dims.push(dim);
    } else r.skip(wire);
  }
  return dims;
}

function decodeValueInfo(r: Reader): OnnxValueInfo {
  const v: OnnxValueInfo = { name: '', elemType: 0, shape: null };
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_BYTES) v.name = r.string();
    else if (field === 2 && wire === WIRE_BYTES) {
      const tp = r.sub(); // TypeProto
      while (!tp.done) {
        const t = tp.tag();
        if (t.field === 1 && t.wire === WIRE_BYTES) {
          const tt = tp.sub(); // TypeProto.Tensor
          while (!tt.done) {
            const u = tt.tag();
            if (u.field === 1 && u.wire === WIRE_VARINT) v.elemType = tt.uvarint();
            else if (u.field === 2 && u.wire === WIRE_BYTES) v.shape = decodeShape(tt.sub());
            else tt.skip(u.wire);
          }
        } else tp.skip(t.wire);
      }
    } else r.skip(wire);
  }
  return v;
}

function decodeGraph(r: Reader): OnnxGraph {
  const g: OnnxGraph = { name: '', nodes: [], initializers: [], inputs: [], outputs: [], docString: '' };
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_BYTES) g.nodes.push(decodeNode(r.sub()));
    else if (field === 2 && wire === WIRE_BYTES) g.name = r.string();
    else if (field === 5 && wire === WIRE_BYTES) g.initializers.push(decodeTensor(r.sub()));
    else if (field === 10 && wire === WIRE_BYTES) g.docString = r.string();
    else if (field === 11 && wire === WIRE_BYTES) g.inputs.push(decodeValueInfo(r.sub()));
    else if (field === 12 && wire === WIRE_BYTES) g.outputs.push(decodeValueInfo(r.sub()));
    else r.skip(wire);
  }
  return g;
}

/** Decodes an ONNX ModelProto. Throws ProtoError on truncated or corrupt input. */
export function decodeModel(buf: Uint8Array): OnnxModel {
  const r = new Reader(buf, 0, buf.length);
  const m: OnnxModel = {
    irVersion: 0,
    opsetImports: [],
    producerName: '',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    graph: { name: '', nodes: [], initializers: [], inputs: [], outputs: [], docString: '' },
    metadata: [],
  };
  let sawGraph = false;
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_VARINT) m.irVersion = r.svarint();
    else if (field === 8 && wire === WIRE_BYTES) {
      const o = r.sub();
      const op = { domain: '', version: 0 };
      while (!o.done) {
        const t = o.tag();
        if (t.field === 1 && t.wire === WIRE_BYTES) op.domain = o.string();
        else if (t.field === 2 && t.wire === WIRE_VARINT) op.version = o.svarint();
        else o.skip(t.wire);
      }
      m.opsetImports.push(op);
    } else if (field === 2 && wire === WIRE_BYTES) m.producerName = r.string();
    else if (field === 3 && wire === WIRE_BYTES) m.producerVersion = r.string();
    else if (field === 4 && wire === WIRE_BYTES) m.domain = r.string();
    else if (field === 5 && wire === WIRE_VARINT) m.modelVersion = r.svarint();
    else if (field === 6 && wire === WIRE_BYTES) m.docString = r.string();
    else if (field === 7 && wire === WIRE_BYTES) {
      m.graph = decodeGraph(r.sub());
      sawGraph = true;
    } else if (field === 14 && wire === WIRE_BYTES) {
      const e = r.sub();
      const kv = { key: '', value: '' };
      while (!e.done) {
        const t = e.tag();
        if (t.field === 1 && t.wire === WIRE_BYTES) kv.key = e.string();
        else if (t.field === 2 && t.wire === WIRE_BYTES) kv.value = e.string();
        else e.skip(t.wire);
      }
      m.metadata.push(kv);
    } else r.skip(wire);
  }
  if (!sawGraph) throw new ProtoError('no graph in the file (not an ONNX model)', buf.length);
  return m;
}

// -------------------------------------------------------------------------------------------------
// Encoder: a list of chunks (big tensors are not copied until the final concat or write).

function encodeTensor(t: OnnxTensor): Msg {
  const w = new Msg();
  for (const d of t.dims) w.int(1, d); // proto2 repeated int64: unpacked
  w.int(2, t.dataType);
  if (t.floatData) w.bytes(4, t.floatData); // [packed = true]
  w.packedInts(5, t.int32Data);
  w.packedInts(7, t.int64Data);
  if (t.name) w.str(8, t.name);
  if (t.raw) w.bytes(9, t.raw);
  return w;
}

function encodeAttribute(a: OnnxAttribute): Msg {
  const w = new Msg();
  w.str(1, a.name);
  if (a.type === AT_FLOAT) w.float(2, a.f);
  else if (a.type === AT_INT) w.int(3, a.i);
  else if (a.type === AT_STRING) w.bytes(4, a.s);
  else if (a.type === AT_TENSOR && a.t) w.msg(5, encodeTensor(a.t));
  else if (a.type === AT_FLOATS) for (const f of a.floats) w.float(7, f);
  else if (a.type === AT_INTS) for (const i of a.ints) w.int(8, i);
  else if (a.type === AT_STRINGS) for (const s of a.strings) w.bytes(9, s);
  else throw new Error(`encodeAttribute: unsupported attribute type ${a.type} (${a.name})`);
  w.int(20, a.type);
  return w;
}

function encodeNode(n: OnnxNode): Msg {
  const w = new Msg();
  for (const i of n.inputs) w.str(1, i);
  for (const o of n.outputs) w.str(2, o);
  if (n.name) w.str(3, n.name);
  w.str(4, n.opType);
  for (const a of n.attributes) w.msg(5, encodeAttribute(a));
  if (n.domain) w.str(7, n.domain);
  return w;
}

function encodeValueInfo(v: OnnxValueInfo): Msg {
  const tt = new Msg(); // TypeProto.Tensor
  tt.int(1, v.elemType);
  if (v.shape) {
    const sh = new Msg();
    for (const d of v.shape) sh.msg(1, typeof d === 'number' ? new Msg().int(1, d) : new Msg().str(2, d));
    tt.msg(2, sh);
  }
  return new Msg().str(1, v.name).msg(2, new Msg().msg(1, tt));
}

function encodeGraph(g: OnnxGraph): Msg {
  const w = new Msg();
  for (const n of g.nodes) w.msg(1, encodeNode(n));
  w.str(2, g.name);
  for (const t of g.initializers) w.msg(5, encodeTensor(t));
  if (g.docString) w.str(10, g.docString);
  for (const v of g.inputs) w.msg(11, encodeValueInfo(v));
  for (const v of g.outputs) w.msg(12, encodeValueInfo(v));
  return w;
}

/** Encodes a ModelProto as a list of chunks (write them in order; Buffer.concat for one buffer). */
export function encodeModel(m: OnnxModel): Uint8Array[] {
  const w = new Msg();
  w.int(1, m.irVersion);
  if (m.producerName) w.str(2, m.producerName);
  if (m.producerVersion) w.str(3, m.producerVersion);
  if (m.domain) w.str(4, m.domain);
  if (m.modelVersion) w.int(5, m.modelVersion);
  if (m.docString) w.str(6, m.docString);
  w.msg(7, encodeGraph(m.graph));
  for (const op of m.opsetImports) w.msg(8, new Msg().str(1, op.domain).int(2, op.version)); // '' = the default ai.onnx domain, written as the onnx library does
  for (const kv of m.metadata) w.msg(14, new Msg().str(1, kv.key).str(2, kv.value));
  return w.chunks();
}

// -------------------------------------------------------------------------------------------------
// Tensor helpers

/** Number of elements a tensor's dims describe. */
export function tensorSize(t: Pick<OnnxTensor, 'dims'>): number {
  return t.dims.reduce((a, b) => a * b, 1);
}

/** A little-endian byte view as a fresh Float32Array (copies; works at any byte alignment). */
function bytesToFloats(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.length >> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  return out;
}

/**
 * A float tensor's values, from raw_data or float_data (a copy: the caller may keep it while the
 * file's Buffer is dropped). Throws Error with the reason when the tensor holds something else.
 */
export function tensorFloats(t: OnnxTensor): Float32Array {
  if (t.external) throw new Error(`tensor ${t.name} keeps its values in an external file`);
  if (t.dataType !== DT_FLOAT) throw new Error(`tensor ${t.name} has data type ${t.dataType}, expected FLOAT (1)`);
  const n = tensorSize(t);
  const bytes = t.raw ?? t.floatData;
  if (!bytes) throw new Error(`tensor ${t.name} has no values`);
  if (bytes.length !== n * 4)
    throw new Error(`tensor ${t.name} holds ${bytes.length} bytes, its shape [${t.dims.join(', ')}] needs ${n * 4}`);
  return bytesToFloats(bytes);
}

/** An int64 tensor's values (Reshape targets), from int64_data or raw_data. */
export function tensorInts(t: OnnxTensor): number[] {
  if (t.dataType !== DT_INT64 && t.dataType !== DT_INT32)
    throw new Error(`tensor ${t.name} has data type ${t.dataType}, expected INT64 (7)`);
  if (t.raw) {
    const dv = new DataView(t.raw.buffer, t.raw.byteOffset, t.raw.byteLength);
    const out: number[] = [];
    if (t.dataType === DT_INT64) for (let i = 0; i + 8 <= t.raw.length; i += 8) out.push(Number(dv.getBigInt64(i, true)));
    else for (let i = 0; i + 4 <= t.raw.length; i += 4) out.push(dv.getInt32(i, true));
    return out;
  }
  return t.dataType === DT_INT64 ? [...t.int64Data] : [...t.int32Data];
}

/** A FLOAT initializer whose values are `data` (stored as raw_data, no copy). */
export function floatTensor(name: string, dims: number[], data: Float32Array): OnnxTensor {
  return {
    name,
    dims,
    dataType: DT_FLOAT,
    raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    floatData: null,
    int64Data: [],
    int32Data: [],
    external: false,
  };
}

/** An INT64 initializer (stored as int64_data). */
export function int64Tensor(name: string, values: number[]): OnnxTensor {
  return { name, dims: [values.length], dataType: DT_INT64, raw: null, floatData: null, int64Data: values, int32Data: [], external: false };
}

/** Attribute constructors. */
export const attr = {
  int: (name: string, i: number): OnnxAttribute => ({ ...blankAttr(name, AT_INT), i }),
  float: (name: string, f: number): OnnxAttribute => ({ ...blankAttr(name, AT_FLOAT), f }),
  ints: (name: string, ints: number[]): OnnxAttribute => ({ ...blankAttr(name, AT_INTS), ints }),
};

function blankAttr(name: string, type: number): OnnxAttribute {
  return { name, type, f: 0, i: 0, s: new Uint8Array(0), t: null, floats: [], ints: [], strings: [] };
}
