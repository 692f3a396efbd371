// ONNX in and out.
//
// Import: the ONNX Model Zoo's BVLC AlexNet (bvlcalexnet-12.onnx, Caffe's bvlc_alexnet converted by
// onnx-caffe2), the network of the 2012 paper with its two-GPU groups and LRN. The importer walks the
// graph node by node, checks every op and attribute against the paper's network, and maps the
// weights from ONNX's layouts (NCHW activations, OIHW filters, Gemm B [out, in]) to ours (NHWC, HWIO
// filters, fc w [in, out], fc6 rows in NHWC (h, w, c) order). Anything else is refused with
// EngineError 'NOT_ALEXNET' and a message that says what differs.
//
// Export: any of our models as an NCHW graph like the zoo's (our LRN, groups, pooling, activation and
// class count; softmax output), with labels.json and preprocessing.json beside it.
//
//   zoo graph: data_0 [N,3,224,224] -> Conv(11/4) Relu LRN MaxPool(3/2) -> Conv(5/1 pad 2, group 2)
//   Relu LRN MaxPool -> Conv(3/1) Relu -> Conv(group 2) Relu -> Conv(group 2) Relu -> MaxPool(pads
//   [0,0,1,1]) -> Reshape [N, 9216] -> Gemm(transB) Relu Dropout -> Gemm Relu Dropout -> Gemm -> Softmax

import { createHash } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  CONV_SPECS,
  PARAM_NAMES,
  layerShapes,
  makeConfig,
  paramShapes,
  pool5Shape,
  poolSpec,
  type AlexNetConfig,
  type ParamName,
} from '../config';
import { EngineError } from '../errors';
import type { Preprocessing } from '../preprocess';
import {
  AT_FLOAT,
  AT_INT,
  AT_INTS,
  DT_FLOAT,
  ProtoError,
  attr,
  decodeModel,
  encodeModel,
  floatTensor,
  int64Tensor,
  tensorFloats,
  tensorInts,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from './onnx-proto';

export type ParamArrays = Record<ParamName, Float32Array>;

// -------------------------------------------------------------------------------------------------
// Layout conversions (pure functions on flat arrays)

/** Conv filter OIHW [O, I, kh, kw] -> HWIO [kh, kw, I, O] (tf.conv2d). Output channel order kept. */
export function oihwToHwio(src: Float32Array, o: number, i: number, kh: number, kw: number): Float32Array {
  const dst = new Float32Array(src.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++) {
        const s = ((a * i + b) * kh + y) * kw;
        for (let x = 0; x < kw; x++) dst[((y * kw + x) * i + b) * o + a] = src[s + x];
      }
  return dst;
}

/** HWIO [kh, kw, I, O] -> OIHW [O, I, kh, kw] (the inverse of oihwToHwio). */
export function hwioToOihw(src: Float32Array, kh: number, kw: number, i: number, o: number): Float32Array {
  const dst = new Float32Array(src.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let b = 0; b < i; b++) {
        const s = ((y * kw + x) * i + b) * o;
        for (let a = 0; a < o; a++) dst[((a * i + b) * kh + y) * kw + x] = src[s + a];
      }
  return dst;
}

/** A row-major [rows, cols] matrix transposed to [cols, rows] (Gemm B [out, in] <-> our [in, out]). */
export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const dst = new Float32Array(src.length);
  const B = 64; // cache blocking: fc6 is 37.7M values
  for (let r0 = 0; r0 < rows; r0 += B)
    for (let c0 = 0; c0 < cols; c0 += B) {
      const r1 = Math.min(rows, r0 + B);
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) dst[c * rows + r] = src[r * cols + c];
    }
  return dst;
}

/**
 * fc6 from ONNX (Gemm B [out, C*H*W], rows of the NCHW-flattened pool5 (c, h, w)) to ours
 * ([H*W*C, out], rows in NHWC order (h, w, c)): ours[(h*W + w)*C + c][o] = onnx[o][c*H*W + h*W + w].
 */
export function fc6FromNchw(src: Float32Array, out: number, c: number, h: number, w: number): Float32Array {
  const feats = c * h * w;
  const t = transpose2d(src, out, feats); // [C*H*W, out], rows still in (c, h, w) order
  const dst = new Float32Array(src.length);
  for (let ci = 0; ci < c; ci++)
    for (let p = 0; p < h * w; p++) {
      const from = (ci * h * w + p) * out;
      dst.set(t.subarray(from, from + out), (p * c + ci) * out);
    }
  return dst;
}

/** The inverse of fc6FromNchw: ours [H*W*C, out] (NHWC rows) -> Gemm B [out, C*H*W] (NCHW columns). */
export function fc6ToNchw(src: Float32Array, out: number, c: number, h: number, w: number): Float32Array {
  const rows = new Float32Array(src.length); // [C*H*W, out], rows in (c, h, w) order
  for (let ci = 0; ci < c; ci++)
    for (let p = 0; p < h * w; p++) {
      const from = (p * c + ci) * out;
      rows.set(src.subarray(from, from + out), (ci * h * w + p) * out);
    }
  return transpose2d(rows, c * h * w, out);
}

// -------------------------------------------------------------------------------------------------
// Import: the zoo's BVLC AlexNet

// Tensor names and ONNX shapes of the zoo file, in graph order (OIHW filters, Gemm B [out, in]).
const ZOO_CONVS = [
  { name: 'conv1', param: 1, shape: [96, 3, 11, 11], group: 1 },
  { name: 'conv2', param: 2, shape: [256, 48, 5, 5], group: 2 },
  { name: 'conv3', param: 3, shape: [384, 256, 3, 3], group: 1 },
  { name: 'conv4', param: 4, shape: [384, 192, 3, 3], group: 2 },
  { name: 'conv5', param: 5, shape: [256, 192, 3, 3], group: 2 },
] as const;
const ZOO_FCS = [
  { name: 'fc6', shape: [4096, 9216] },
  { name: 'fc7', shape: [4096, 4096] },
  { name: 'fc8', shape: [1000, 4096] },
] as const;
const EXPECTED_TENSORS = new Set([...ZOO_CONVS, ...ZOO_FCS].flatMap((l) => [`${l.name}_w_0`, `${l.name}_b_0`]));
// The sizes the zoo graph may declare for its input: 224 (as published) or 227 (Caffe's crop).
const ZOO_INPUT_SIZES = [224, 227];

export type ImportedAlexNet = {
  config: AlexNetConfig; // the paper's network with the file's LRN (BVLC: k=1) and dropout ratio
  arrays: ParamArrays; // our layouts, ready for paramsFromArrays
  declaredInputSize: number; // what the graph's input says (224 in the zoo file)
  pool5Pads: number[]; // MaxPool pool5's [top, left, bottom, right] (zoo: [0, 0, 1, 1])
  producer: string; // e.g. 'onnx-caffe2'
  opset: number;
  notes: string[]; // what the importer decided, for the user (one line each)
};

const notAlexNet = (what: string): EngineError =>
  new EngineError('NOT_ALEXNET', `not the BVLC AlexNet ONNX file: ${what}`);

/** The shortest decimal that is the same float32 (1e-4, not 9.99999974e-05). */
function cleanFloat32(f: number): number {
  for (let p = 1; p <= 9; p++) {
    const v = Number(f.toPrecision(p));
    if (Math.fround(v) === Math.fround(f)) return v;
  }
  return f;
}

function getAttr(node: OnnxNode, name: string): OnnxAttribute | undefined {
  return node.attributes.find((a) => a.name === name);
}

function intsAttr(node: OnnxNode, name: string, fallback: number[] | null, where: string): number[] {
  const a = getAttr(node, name);
  if (!a) {
    if (fallback) return fallback;
    throw notAlexNet(`${where} has no '${name}' attribute`);
  }
  if (a.type !== AT_INTS) throw notAlexNet(`${where} attribute '${name}' is not a list of ints`);
  return a.ints;
}

function intAttr(node: OnnxNode, name: string, fallback: number, where: string): number {
  const a = getAttr(node, name);
  if (!a) return fallback;
  if (a.type !== AT_INT) throw notAlexNet(`${where} attribute '${name}' is not an int`);
  return a.i;
}

function floatAttr(node: OnnxNode, name: string, fallback: number, where: string): number {
  const a = getAttr(node, name);
  if (!a) return fallback;
  if (a.type !== AT_FLOAT) throw notAlexNet(`${where} attribute '${name}' is not a float`);
  return cleanFloat32(a.f);
}

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
const fmt = (a: readonly number[]): string => `[${a.join(',')}]`;

/**
 * Reads a bvlcalexnet ONNX file's bytes into our config + weights. Checks the whole graph (ops in
 * order, each fed by the one before, attributes, tensor names, shapes and types) and throws
 * EngineError 'NOT_ALEXNET' naming the first difference. One pass; the big tensors are copied once
 * into their converted layouts.
 */
export function parseBvlcAlexNet(buf: Uint8Array): ImportedAlexNet {
  let model: OnnxModel;
  try {
    model = decodeModel(buf);
  } catch (e) {
    if (e instanceof ProtoError)
      throw new EngineError('NOT_ALEXNET', `not a readable ONNX file (damaged or truncated? ${buf.length} bytes): ${e.message}`);
    throw e;
  }
  const g = model.graph;
  const notes: string[] = [];
  const opset = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;

  // Initializers by name.
  const inits = new Map<string, OnnxTensor>();
  for (const t of g.initializers) inits.set(t.name, t);
  const tensor = (name: string, shape: readonly number[]): OnnxTensor => {
    const t = inits.get(name);
    if (!t) {
      const near = [...inits.keys()].filter((k) => k.split('_')[0] === name.split('_')[0] && !EXPECTED_TENSORS.has(k));
      throw notAlexNet(`missing tensor ${name}${near.length ? ` (found ${near.join(', ')})` : ''}`);
    }
    if (!same(t.dims, shape)) throw notAlexNet(`tensor ${name} has shape ${fmt(t.dims)}, expected ${fmt(shape)}`);
    if (t.dataType !== DT_FLOAT) throw notAlexNet(`tensor ${name} has data type ${t.dataType}, expected FLOAT (1)`);
    return t;
  };
  const floats = (t: OnnxTensor): Float32Array => {
    try {
      return tensorFloats(t);
    } catch (e) {
      throw notAlexNet((e as Error).message);
    }
  };
  // Check every weight's presence and shape before converting any (a cheap, complete refusal).
  for (const c of ZOO_CONVS) {
    tensor(`${c.name}_w_0`, c.shape);
    tensor(`${c.name}_b_0`, [c.shape[0]]);
  }
  for (const f of ZOO_FCS) {
    tensor(`${f.name}_w_0`, f.shape);
    tensor(`${f.name}_b_0`, [f.shape[0]]);
  }

  // The input: float [N, 3, S, S].
  const inputs = g.inputs.filter((v) => !inits.has(v.name));
  if (inputs.length !== 1) throw notAlexNet(`the graph has ${inputs.length} inputs, expected 1 image input`);
  const input = inputs[0];
  const ishape = input.shape ?? [];
  if (input.elemType !== DT_FLOAT || ishape.length !== 4 || ishape[1] !== 3 || ishape[2] !== ishape[3] || !ZOO_INPUT_SIZES.includes(ishape[2] as number))
    throw notAlexNet(`input ${input.name} is [${ishape.join(',')}] of type ${input.elemType}, expected float [N,3,224,224]`);
  const declaredInputSize = ishape[2] as number;

  // Walk the nodes in order: each takes the previous node's output.
  const nodes = g.nodes;
  let k = 0;
  let current = input.name;
  const next = (op: string, where: string): OnnxNode => {
    const n = nodes[k];
    if (!n) throw notAlexNet(`the graph ends before ${where} (${op}) after ${k} nodes`);
    if (n.opType !== op) throw notAlexNet(`node ${k + 1} is ${n.opType}, expected ${op} (${where})`);
    if (n.domain && n.domain !== 'ai.onnx') throw notAlexNet(`node ${k + 1} (${op}) is in domain ${n.domain}`);
    if (n.inputs[0] !== current) throw notAlexNet(`${where} (${op}) reads '${n.inputs[0]}', expected the previous output '${current}'`);
    current = n.outputs[0];
    k++;
    return n;
  };
  const lrns: { size: number; k: number; alpha: number; beta: number }[] = [];
  let pool5Pads: number[] = [];
  let dropout = 0.5;
  const act = (where: string): void => void next('Relu', where);
  const lrnNode = (where: string): void => {
    const n = next('LRN', where);
    const sizeAttr = getAttr(n, 'size');
    if (!sizeAttr) throw notAlexNet(`${where} LRN has no 'size'`);
    lrns.push({
      size: intAttr(n, 'size', 0, where),
      k: floatAttr(n, 'bias', 1, where), // ONNX default 1
      alpha: floatAttr(n, 'alpha', 1e-4, where),
      beta: floatAttr(n, 'beta', 0.75, where),
    });
  };
  const maxPool = (where: string, okPads: number[][]): number[] => {
    const n = next('MaxPool', where);
    const kernel = intsAttr(n, 'kernel_shape', null, where);
    const strides = intsAttr(n, 'strides', [1, 1], where);
    const pads = intsAttr(n, 'pads', [0, 0, 0, 0], where);
    if (!same(kernel, [3, 3]) || !same(strides, [2, 2])) throw notAlexNet(`${where} pools ${fmt(kernel)} stride ${fmt(strides)}, expected [3,3] stride [2,2]`);
    if (!okPads.some((p) => same(p, pads))) throw notAlexNet(`${where} has pads ${fmt(pads)}, expected ${okPads.map(fmt).join(' or ')}`);
    if (intAttr(n, 'ceil_mode', 0, where) !== 0) throw notAlexNet(`${where} uses ceil_mode`);
    if (getAttr(n, 'auto_pad') && new TextDecoder().decode(getAttr(n, 'auto_pad')!.s) !== 'NOTSET') throw notAlexNet(`${where} uses auto_pad`);
    return pads;
  };
  const conv = (c: (typeof ZOO_CONVS)[number]): void => {
    const where = c.name;
    const n = next('Conv', where);
    if (n.inputs[1] !== `${c.name}_w_0` || n.inputs[2] !== `${c.name}_b_0`)
      throw notAlexNet(`${where} uses tensors ${n.inputs.slice(1).join(', ')}, expected ${c.name}_w_0, ${c.name}_b_0`);
    const spec = CONV_SPECS[c.param - 1];
    const kernel = intsAttr(n, 'kernel_shape', [c.shape[2], c.shape[3]], where);
    const strides = intsAttr(n, 'strides', [1, 1], where);
    const pads = intsAttr(n, 'pads', [0, 0, 0, 0], where);
    const dil = intsAttr(n, 'dilations', [1, 1], where);
    const group = intAttr(n, 'group', 1, where);
    if (!same(kernel, [spec.kernel, spec.kernel])) throw notAlexNet(`${where} kernel ${fmt(kernel)}, expected [${spec.kernel},${spec.kernel}]`);
    if (!same(strides, [spec.stride, spec.stride])) throw notAlexNet(`${where} strides ${fmt(strides)}, expected [${spec.stride},${spec.stride}]`);
    if (!same(pads, [spec.pad, spec.pad, spec.pad, spec.pad])) throw notAlexNet(`${where} pads ${fmt(pads)}, expected [${spec.pad},${spec.pad},${spec.pad},${spec.pad}]`);
    if (!same(dil, [1, 1])) throw notAlexNet(`${where} dilations ${fmt(dil)}, expected [1,1]`);
    if (group !== c.group) throw notAlexNet(`${where} has group=${group}, expected group=${c.group}`);
    act(`${where} ReLU`);
  };
  const gemm = (name: 'fc6' | 'fc7' | 'fc8'): void => {
    const n = next('Gemm', name);
    if (n.inputs[1] !== `${name}_w_0` || n.inputs[2] !== `${name}_b_0`)
      throw notAlexNet(`${name} uses tensors ${n.inputs.slice(1).join(', ')}, expected ${name}_w_0, ${name}_b_0`);
    if (intAttr(n, 'transB', 0, name) !== 1) throw notAlexNet(`${name} Gemm has transB=${intAttr(n, 'transB', 0, name)}, expected 1`);
    if (intAttr(n, 'transA', 0, name) !== 0) throw notAlexNet(`${name} Gemm has transA=1`);
    if (floatAttr(n, 'alpha', 1, name) !== 1 || floatAttr(n, 'beta', 1, name) !== 1) throw notAlexNet(`${name} Gemm has alpha/beta other than 1`);
  };
  const drop = (where: string): void => {
    const n = next('Dropout', where);
    const ratioAttr = getAttr(n, 'ratio'); // opset < 12: an attribute; 12+: an optional input
    const ratioInput = n.inputs[1] ? inits.get(n.inputs[1]) : undefined;
    if (ratioAttr) dropout = cleanFloat32(ratioAttr.f);
    else if (ratioInput) dropout = cleanFloat32(tensorFloats(ratioInput)[0]);
  };

  conv(ZOO_CONVS[0]);
  lrnNode('norm1');
  maxPool('pool1', [[0, 0, 0, 0]]);
  conv(ZOO_CONVS[1]);
  lrnNode('norm2');
  maxPool('pool2', [[0, 0, 0, 0]]);
  conv(ZOO_CONVS[2]);
  conv(ZOO_CONVS[3]);
  conv(ZOO_CONVS[4]);
  pool5Pads = maxPool('pool5', [[0, 0, 1, 1], [0, 0, 0, 0]]);
  // Flatten: Reshape to [N, 9216] (or Flatten axis 1).
  const flat = nodes[k];
  if (flat?.opType === 'Reshape') {
    const n = next('Reshape', 'flatten before fc6');
    const target = inits.get(n.inputs[1] ?? '');
    if (!target) throw notAlexNet(`the Reshape before fc6 takes its shape from '${n.inputs[1]}', which is not a constant`);
    const dims = tensorInts(target);
    if (dims.length !== 2 || !(dims[1] === 9216 || (dims[1] === -1 && dims[0] !== -1)))
      throw notAlexNet(`the Reshape before fc6 targets ${fmt(dims)}, expected [N, 9216]`);
  } else if (flat?.opType === 'Flatten') {
    const n = next('Flatten', 'flatten before fc6');
    if (intAttr(n, 'axis', 1, 'Flatten') !== 1) throw notAlexNet(`the Flatten before fc6 has axis ${intAttr(n, 'axis', 1, 'Flatten')}, expected 1`);
  } else throw notAlexNet(`node ${k + 1} is ${flat?.opType ?? 'missing'}, expected Reshape (flatten before fc6)`);
  gemm('fc6');
  act('fc6 ReLU');
  drop('drop6');
  gemm('fc7');
  act('fc7 ReLU');
  drop('drop7');
  gemm('fc8');
  if (nodes[k]?.opType === 'Softmax') {
    const n = next('Softmax', 'prob');
    const axis = intAttr(n, 'axis', opset >= 13 ? -1 : 1, 'Softmax');
    if (axis !== 1 && axis !== -1) throw notAlexNet(`the Softmax has axis ${axis}, expected 1`);
  }
  if (k !== nodes.length) throw notAlexNet(`extra node ${k + 1} (${nodes[k].opType}) after fc8`);
  if (!g.outputs.some((o) => o.name === current)) throw notAlexNet(`the graph's output is not the last node's ('${current}')`);

  // LRN: both layers must agree (our config has one LRN setting).
  const [l1, l2] = lrns;
  if (l1.size !== l2.size || l1.k !== l2.k || l1.alpha !== l2.alpha || l1.beta !== l2.beta)
    throw notAlexNet(`norm1 and norm2 differ (${JSON.stringify(l1)} vs ${JSON.stringify(l2)})`);
  if (l1.size % 2 !== 1) throw notAlexNet(`LRN size ${l1.size} is even`);

  // Our config: the paper's network at Caffe's 227 crop, with the file's LRN and dropout.
  const config = makeConfig({
    numClasses: 1000,
    inputSize: 227,
    channels: [96, 256, 384, 384, 256],
    fcUnits: 4096,
    groups: 2,
    lrn: { size: l1.size, k: l1.k, alpha: l1.alpha, beta: l1.beta },
    overlappingPool: true,
    activation: 'relu',
    dropout,
  });
  const [ph, pw, pc] = pool5Shape(config); // 6, 6, 256
  notes.push(`LRN from the file: size ${l1.size}, k (bias) ${l1.k}, alpha ${l1.alpha}, beta ${l1.beta}`);
  if (declaredInputSize !== 227)
    notes.push(
      `the graph declares ${declaredInputSize}x${declaredInputSize} input; imported for Caffe's 227x227 crops ` +
        `(both give ${ph}x${pw}x${pc} after pool5; at 227 pool5's padding ${fmt(pool5Pads)} never enters a window)`,
    );

  // Convert the weights.
  const arrays = {} as ParamArrays;
  for (const c of ZOO_CONVS) {
    const [o, i, kh, kw] = c.shape;
    arrays[`conv${c.param}.w` as ParamName] = oihwToHwio(floats(inits.get(`${c.name}_w_0`)!), o, i, kh, kw);
    arrays[`conv${c.param}.b` as ParamName] = floats(inits.get(`${c.name}_b_0`)!);
  }
  arrays['fc6.w'] = fc6FromNchw(floats(inits.get('fc6_w_0')!), 4096, pc, ph, pw);
  arrays['fc6.b'] = floats(inits.get('fc6_b_0')!);
  arrays['fc7.w'] = transpose2d(floats(inits.get('fc7_w_0')!), 4096, 4096);
  arrays['fc7.b'] = floats(inits.get('fc7_b_0')!);
  arrays['fc8.w'] = transpose2d(floats(inits.get('fc8_w_0')!), 1000, 4096);
  arrays['fc8.b'] = floats(inits.get('fc8_b_0')!);
  const shapes = paramShapes(config);
  for (const name of PARAM_NAMES) {
    const want = shapes[name].reduce((a, b) => a * b, 1);
    if (arrays[name].length !== want) throw notAlexNet(`${name} converts to ${arrays[name].length} values, the config needs ${want}`);
  }
  return { config, arrays, declaredInputSize, pool5Pads, producer: model.producerName, opset, notes };
}

/** Reads a file once into a Buffer; returns it with its SHA-256. */
export async function readFileWithHash(file: string): Promise<{ buf: Buffer; sha256: string }> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    throw new EngineError('NOT_ALEXNET', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return { buf, sha256: createHash('sha256').update(buf).digest('hex') };
}

// -------------------------------------------------------------------------------------------------
// Export: our model as an NCHW ONNX graph like the zoo's

export type ExportableModel = {
  config: AlexNetConfig;
  arrays: ParamArrays; // our layouts
  classNames: string[];
  preprocessing: Preprocessing;
};

/** The ONNX graph (opset 12) of `model`: input 'data' [N,3,S,S] float, output 'prob' [N, classes]. */
export function buildOnnxModel(model: ExportableModel, producerVersion = '0.1.0'): OnnxModel {
  const { config, arrays } = model;
  const shapes = paramShapes(config);
  const pool = poolSpec(config);
  const sizes = layerShapes(config);
  const nodes: OnnxNode[] = [];
  const inits: OnnxTensor[] = [];
  const node = (opType: string, inputs: string[], outputs: string[], attributes: OnnxAttribute[] = []): string => {
    nodes.push({ name: outputs[0], opType, domain: '', inputs, outputs, attributes });
    return outputs[0];
  };
  const act = (x: string, name: string): string => node(config.activation === 'relu' ? 'Relu' : 'Tanh', [x], [name]);
  let x = 'data';
  for (let li = 0; li < 5; li++) {
    const n = `conv${li + 1}`;
    const spec = CONV_SPECS[li];
    const [kh, kw, cin, cout] = shapes[`${n}.w` as ParamName];
    const group = spec.grouped ? config.groups : 1;
    inits.push(floatTensor(`${n}_w_0`, [cout, cin, kh, kw], hwioToOihw(arrays[`${n}.w` as ParamName], kh, kw, cin, cout)));
    inits.push(floatTensor(`${n}_b_0`, [cout], arrays[`${n}.b` as ParamName]));
    const attrs = [
      attr.ints('kernel_shape', [kh, kw]),
      attr.ints('strides', [spec.stride, spec.stride]),
      attr.ints('pads', [spec.pad, spec.pad, spec.pad, spec.pad]),
      attr.ints('dilations', [1, 1]),
    ];
    if (group !== 1) attrs.push(attr.int('group', group));
    x = node('Conv', [x, `${n}_w_0`, `${n}_b_0`], [`${n}_1`], attrs);
    x = act(x, `${n}_2`);
    if (li < 2 && config.lrn) {
      const l = config.lrn;
      x = node('LRN', [x], [`norm${li + 1}_1`], [attr.float('alpha', l.alpha), attr.float('beta', l.beta), attr.float('bias', l.k), attr.int('size', l.size)]);
    }
    if (li < 2 || li === 4) {
      const p = li === 4 ? 5 : li + 1;
      x = node('MaxPool', [x], [`pool${p}_1`], [
        attr.ints('kernel_shape', [pool.size, pool.size]),
        attr.ints('pads', [0, 0, 0, 0]), // 'valid', as our forward
        attr.ints('strides', [pool.stride, pool.stride]),
      ]);
    }
  }
  // Flatten NCHW (c, h, w); fc6's rows are permuted from our NHWC (h, w, c) order to match.
  const [ph, pw, pc] = sizes.pool5;
  const feats = ph * pw * pc;
  inits.push(int64Tensor('flatten_shape', [-1, feats]));
  x = node('Reshape', [x, 'flatten_shape'], ['flatten_1']);
  const fcs = ['fc6', 'fc7', 'fc8'] as const;
  for (const n of fcs) {
    const [fin, fout] = shapes[`${n}.w`];
    const w = n === 'fc6' ? fc6ToNchw(arrays['fc6.w'], fout, pc, ph, pw) : transpose2d(arrays[`${n}.w`], fin, fout);
    inits.push(floatTensor(`${n}_w_0`, [fout, fin], w));
    inits.push(floatTensor(`${n}_b_0`, [fout], arrays[`${n}.b`]));
    x = node('Gemm', [x, `${n}_w_0`, `${n}_b_0`], [`${n}_1`], [attr.int('transB', 1)]);
    if (n !== 'fc8') {
      x = act(x, `${n}_2`);
      x = node('Dropout', [x], [`${n}_3`]); // identity at inference
    }
  }
  x = node('Softmax', [x], ['prob'], [attr.int('axis', 1)]);
  const S = config.inputSize;
  return {
    irVersion: 7,
    opsetImports: [{ domain: '', version: 12 }],
    producerName: 'alexnet-studio',
    producerVersion,
    domain: '',
    modelVersion: 1,
    docString: 'AlexNet (Krizhevsky et al. 2012) exported by AlexNet Studio. Input: NCHW float, preprocessed as preprocessing.json says; output: softmax probabilities in labels.json order.',
    graph: {
      name: 'alexnet',
      nodes,
      initializers: inits,
      inputs: [{ name: 'data', elemType: DT_FLOAT, shape: ['N', 3, S, S] }],
      outputs: [{ name: x, elemType: DT_FLOAT, shape: ['N', config.numClasses] }],
      docString: '',
    },
    metadata: [
      { key: 'labels', value: JSON.stringify(model.classNames) },
      { key: 'preprocessing', value: JSON.stringify(model.preprocessing) },
    ],
  };
}

/** What exportOnnx wrote. */
export type ExportResult = { dir: string; files: string[]; bytes: number };

/** The preprocessing as written beside an export: ours, plus the input layout it feeds. */
export function preprocessingForExport(prep: Preprocessing, layout: 'NCHW' | 'NHWC'): Record<string, unknown> {
  return {
    ...prep,
    layout, // how the input tensor is laid out
    note:
      `shorter side to ${prep.resize} px, centre ${prep.crop}x${prep.crop} crop, channels in ${prep.channelOrder} order, ` +
      `value = (pixel_0_255 * scale - mean[c]) / std[c]`,
  };
}

/** Writes model.onnx + labels.json + preprocessing.json into `outDir` (created). */
export async function exportOnnx(model: ExportableModel, outDir: string): Promise<ExportResult> {
  if (model.classNames.length !== model.config.numClasses)
    throw new EngineError('BAD_MODEL_DIR', `the model names ${model.classNames.length} classes but has ${model.config.numClasses} outputs`);
  await mkdir(outDir, { recursive: true });
  const chunks = encodeModel(buildOnnxModel(model));
  const onnxFile = path.join(outDir, 'model.onnx');
  const fh = await open(onnxFile, 'w');
  let bytes = 0;
  try {
    for (const c of chunks) {
      await fh.write(c);
      bytes += c.length;
    }
  } finally {
    await fh.close();
  }
  await writeFile(path.join(outDir, 'labels.json'), JSON.stringify(model.classNames, null, 1) + '\n');
  await writeFile(path.join(outDir, 'preprocessing.json'), JSON.stringify(preprocessingForExport(model.preprocessing, 'NCHW'), null, 1) + '\n');
  return { dir: outDir, files: ['model.onnx', 'labels.json', 'preprocessing.json'], bytes };
}
