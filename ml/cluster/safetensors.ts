// The weights a cluster job starts from and ends with, in safetensors (the format PyTorch users load
// with one call): an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}}, then raw little-endian data. Only F32 is written and read.
//
// Names and layouts are PyTorch's for the same layers (ml/cluster/job/alexnet.py): our `conv1.w`
// [kh, kw, in, out] is `conv1.weight` [out, in, kh, kw]; `fc7.w` [in, out] is `fc7.weight`
// [out, in]; fc6's inputs are pool5 flattened in NCHW order (c, h, w) there, NHWC (h, w, c) here.
import { open, readFile } from 'node:fs/promises';
import { PARAM_NAMES, layerShapes, paramShapes, type AlexNetConfig, type ParamName } from '../config';
import { EngineError } from '../errors';
import { fc6FromNchw, fc6ToNchw, hwioToOihw, oihwToHwio, transpose2d } from '../weights/onnx';

export type NamedTensor = { shape: number[]; data: Float32Array };

/** `conv1.w` -> `conv1.weight`, `fc8.b` -> `fc8.bias`. */
export const torchName = (n: ParamName): string => n.replace(/\.w$/, '.weight').replace(/\.b$/, '.bias');

/** Our parameters in PyTorch's names and layouts. */
export function toTorchState(config: AlexNetConfig, arrays: Record<ParamName, Float32Array>): Map<string, NamedTensor> {
  const shapes = paramShapes(config);
  const [ph, pw, pc] = layerShapes(config).pool5;
  const out = new Map<string, NamedTensor>();
  for (const n of PARAM_NAMES) {
    const s = shapes[n];
    const a = arrays[n];
    if (n.endsWith('.b')) out.set(torchName(n), { shape: s, data: a });
    else if (s.length === 4) out.set(torchName(n), { shape: [s[3], s[2], s[0], s[1]], data: hwioToOihw(a, s[0], s[1], s[2], s[3]) });
    else if (n === 'fc6.w') out.set(torchName(n), { shape: [s[1], s[0]], data: fc6ToNchw(a, s[1], pc, ph, pw) });
    else out.set(torchName(n), { shape: [s[1], s[0]], data: transpose2d(a, s[0], s[1]) });
  }
  return out;
}

/** PyTorch's names and layouts back to ours; EngineError 'BAD_WEIGHTS' names a missing or misshapen tensor. */
export function fromTorchState(config: AlexNetConfig, state: Map<string, NamedTensor>): Record<ParamName, Float32Array> {
  const shapes = paramShapes(config);
  const [ph, pw, pc] = layerShapes(config).pool5;
  const out = {} as Record<ParamName, Float32Array>;
  for (const n of PARAM_NAMES) {
    const s = shapes[n];
    const want = n.endsWith('.b') ? s : s.length === 4 ? [s[3], s[2], s[0], s[1]] : [s[1], s[0]];
    const t = state.get(torchName(n));
    if (!t) throw new EngineError('BAD_WEIGHTS', `weights ${torchName(n)}: missing (expected shape [${want.join(', ')}])`);
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
      throw new EngineError('BAD_WEIGHTS', `weights ${torchName(n)}: shape [${t.shape.join(', ')}] does not match the model's [${want.join(', ')}]`);
    if (n.endsWith('.b')) out[n] = t.data;
    else if (s.length === 4) out[n] = oihwToHwio(t.data, s[3], s[2], s[0], s[1]);
    else if (n === 'fc6.w') out[n] = fc6FromNchw(t.data, s[1], pc, ph, pw);
    else out[n] = transpose2d(t.data, s[1], s[0]);
  }
  return out;
}

/** Writes `tensors` (F32) to `file`, with string `metadata` in the header. */
export async function writeSafetensors(file: string, tensors: Map<string, NamedTensor>, metadata: Record<string, string> = {}): Promise<number> {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // the data starts 8-byte aligned
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8);
  const fh = await open(file, 'w');
  try {
    await fh.write(head);
    for (const t of tensors.values()) await fh.write(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  } finally {
    await fh.close();
  }
  return head.length + offset;
}

/** Reads every F32 tensor of a safetensors file; EngineError 'BAD_WEIGHTS' on a malformed file. */
export async function readSafetensors(file: string): Promise<{ tensors: Map<string, NamedTensor>; metadata: Record<string, string> }> {
  const bad = (why: string): never => {
    throw new EngineError('BAD_WEIGHTS', `${file}: ${why}`);
  };
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch {
    return bad('cannot read the file');
  }
  if (buf.length < 8) bad('not a safetensors file (too short)');
  const n = Number(buf.readBigUInt64LE(0));
  if (n > buf.length - 8) bad('not a safetensors file (header longer than the file)');
  let header: Record<string, { dtype?: string; shape?: number[]; data_offsets?: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch {
    return bad('not a safetensors file (unreadable header)');
  }
  const base = 8 + n;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = t as Record<string, string>;
      continue;
    }
    const e = t as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (e.dtype !== 'F32') bad(`tensor ${name} is ${String(e.dtype)}; only F32 is read`);
    const [a, b] = e.data_offsets ?? [-1, -1];
    const count = (e.shape ?? []).reduce((x, y) => x * y, 1);
    if (!(a >= 0 && b >= a && base + b <= buf.length && b - a === count * 4)) bad(`tensor ${name} has bad offsets`);
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(buf.subarray(base + a, base + b));
    tensors.set(name, { shape: e.shape ?? [], data });
  }
  return { tensors, metadata };
}
