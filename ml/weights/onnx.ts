// ONNX in and out.
//
// Import: any AlexNet of the 2012 paper's shape (two-GPU groups or one, LRN or none, any class count):
// the ONNX Model Zoo's bvlcalexnet-12.onnx (Caffe's bvlc_alexnet converted by onnx-caffe2), our own
// export, or PyTorch's torch.onnx.export of the same network. The importer follows the graph from
// input to output, matches its ops and its tensors' shapes against the network (never the tensors'
// names), reads the config from them, and maps the weights from ONNX's layouts (NCHW activations,
// OIHW filters, Gemm B [out, in] or [in, out]) to ours (NHWC, HWIO filters, fc w [in, out], fc6 rows
// in NHWC (h, w, c) order). Anything else is refused with EngineError 'NOT_ALEXNET' and a message
// that says what differs.
//
// Export: any of our models as an NCHW graph like the zoo's (our LRN, groups, pooling, activation and
// class count; softmax output), with labels.json and preprocessing.json beside it.
//
//   zoo graph: data_0 [N,3,224,224] -> Conv(11/4) Relu LRN MaxPool(3/2) -> Conv(5/1 pad 2, group 2)
//   Relu LRN MaxPool -> Conv(3/1) Relu -> Conv(group 2) Relu -> Conv(group 2) Relu -> MaxPool(pads
//   [0,0,1,1]) -> Reshape [N, 9216] -> Gemm(transB) Relu Dropout -> Gemm Relu Dropout -> Gemm -> Softmax

import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  DEFAULT_CONFIG,
  PARAM_NAMES,
  makeConfig,
  networkLayers,
  paramShapes,
  pool5Features,
  pool5Shape,
  type AlexNetConfig,
  type Layer,
  type LayerKind,
  type LrnConfig,
  type ParamName,
} from '../config';
import { EngineError } from '../errors';
import { parsePreprocessing, type Preprocessing } from '../preprocess';
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
  type OnnxValueInfo,
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
// Import: any AlexNet in ONNX
//
// The zoo's bvlcalexnet-12 (tensors conv1_w_0..., Reshape, Dropout, Softmax), our own export, or
// PyTorch's torch.onnx.export of the same network (conv1.weight..., Flatten, no Dropout in eval mode):
// nothing is matched by name. Two steps:
//   walkOnnx    follows the data from the graph's one input to its output and returns the chain of
//               nodes it passed (Identity skipped; Constant nodes and the few ops that compute a
//               Reshape's target shape are allowed beside it; anything else is refused);
//   readAlexNet matches that chain against the network (conv act [LRN] pool, twice; conv act, three
//               times; pool; flatten; Gemm act [Dropout], twice; Gemm [Softmax]), derives the config
//               from the weights' shapes and the attributes (channels, groups, fc width, class count,
//               LRN constants, pooling, activation, dropout, input size), checks every shape against
//               that config, then converts the weights to our layouts.

export type ImportedAlexNet = {
  config: AlexNetConfig; // the network the file holds (its class count, LRN, groups, pooling, activation)
  arrays: ParamArrays; // our layouts, ready for paramsFromArrays
  declaredInputSize: number | null; // what the graph's input says (224 in the zoo file); null if symbolic
  pool5Pads: number[]; // MaxPool pool5's [top, left, bottom, right] (zoo: [0, 0, 1, 1])
  producer: string; // e.g. 'onnx-caffe2', 'pytorch', 'alexnet-studio'
  opset: number;
  classNames: string[] | null; // from the file's 'labels' metadata (our export writes it), else null
  preprocessing: Preprocessing | null; // from its 'preprocessing' metadata (our export), else null
  metadata: Record<string, string>; // the file's metadata_props (our export: labels, preprocessing)
  notes: string[]; // what the importer decided, for the user (one line each)
};

const notAlexNet = (what: string): EngineError => new EngineError('NOT_ALEXNET', `not an AlexNet ONNX file: ${what}`);

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
const fmt = (a: readonly (number | string)[]): string => `[${a.join(',')}]`;

/** The graph's main chain: its nodes from the input to the output, in data order. */
export type OnnxWalk = {
  model: OnnxModel;
  input: OnnxValueInfo; // the one graph input that is not a constant
  steps: { index: number; node: OnnxNode }[]; // index: the node's 1-based position in the file
  consts: Map<string, OnnxTensor>; // initializers and Constant nodes' values, by name
};

// Ops that may compute a Reshape's target shape beside the chain (torch's x.view(x.size(0), -1)).
const SHAPE_OPS = new Set(['Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Slice', 'Cast', 'Constant']);

/** Follows the data from the input to the output. Throws NOT_ALEXNET on branches, stray nodes, odd domains. */
export function walkOnnx(model: OnnxModel): OnnxWalk {
  const g = model.graph;
  const consts = new Map<string, OnnxTensor>();
  for (const t of g.initializers) consts.set(t.name, t);
  const producer = new Map<string, number>();
  g.nodes.forEach((n, i) => {
    for (const o of n.outputs) producer.set(o, i);
    const value = n.opType === 'Constant' ? getAttr(n, 'value') : undefined;
    if (value?.t && n.outputs[0]) consts.set(n.outputs[0], value.t);
  });
  const inputs = g.inputs.filter((v) => !consts.has(v.name));
  if (inputs.length !== 1)
    throw notAlexNet(`the graph has ${inputs.length} inputs (${inputs.map((v) => v.name).join(', ') || 'none'}), expected one image batch`);
  const input = inputs[0];

  const readers = new Map<string, number[]>();
  g.nodes.forEach((n, i) => {
    if (n.opType === 'Constant' || n.opType === 'Shape') return; // Shape reads only the size
    for (const name of new Set(n.inputs)) if (name) readers.set(name, [...(readers.get(name) ?? []), i]);
  });
  const onChain = new Set<number>();
  const steps: OnnxWalk['steps'] = [];
  let current = input.name;
  for (;;) {
    const next = readers.get(current) ?? [];
    if (next.length === 0) break;
    if (next.length > 1)
      throw notAlexNet(`'${current}' feeds ${next.length} nodes (${next.map((i) => `${i + 1} ${g.nodes[i].opType}`).join(', ')}); AlexNet is one chain`);
    const i = next[0];
    const n = g.nodes[i];
    if (onChain.has(i)) throw notAlexNet(`node ${i + 1} (${n.opType}) closes a cycle`);
    onChain.add(i);
    if (n.inputs[0] !== current) throw notAlexNet(`node ${i + 1} (${n.opType}) reads '${current}' other than as its first input`);
    if (n.domain && n.domain !== 'ai.onnx') throw notAlexNet(`node ${i + 1} (${n.opType}) is in domain ${n.domain}`);
    if (n.opType !== 'Identity') steps.push({ index: i + 1, node: n });
    current = n.outputs[0];
  }
  if (!g.outputs.some((o) => o.name === current)) throw notAlexNet(`the graph's output is not the end of its chain ('${current}')`);

  // Nodes off the chain: Constants, and what computes a Reshape's target from the chain's shape.
  const allowed = new Set<number>();
  const mark = (name: string): void => {
    const i = producer.get(name);
    if (i === undefined || onChain.has(i) || allowed.has(i) || !SHAPE_OPS.has(g.nodes[i].opType)) return;
    allowed.add(i);
    for (const x of g.nodes[i].inputs) mark(x);
  };
  for (const s of steps) if (s.node.opType === 'Reshape' && s.node.inputs[1]) mark(s.node.inputs[1]);
  g.nodes.forEach((n, i) => {
    if (!onChain.has(i) && !allowed.has(i) && n.opType !== 'Constant')
      throw notAlexNet(`node ${i + 1} (${n.opType}) is not on the chain from '${input.name}' to the output`);
  });
  return { model, input, steps, consts };
}

/** What matchAlexNet found: everything but the weights, and one conversion per parameter to run. */
export type MatchedAlexNet = Omit<ImportedAlexNet, 'arrays'> & { conversions: { name: ParamName; run: () => Float32Array }[] };

/** One node of the chain, read as the layer kind it can be ('other' for ops AlexNet does not have). */
type FileLayer = { kind: LayerKind | 'softmax' | 'other'; index: number; node: OnnxNode };
const KIND_OF_OP: Record<string, FileLayer['kind']> = {
  Conv: 'conv', Relu: 'act', Tanh: 'act', LRN: 'lrn', MaxPool: 'pool', Reshape: 'flatten', Flatten: 'flatten', Gemm: 'fc', Dropout: 'dropout', Softmax: 'softmax',
};
const OPS_OF_KIND: Record<LayerKind, string> = { conv: 'Conv', act: 'Relu or Tanh', lrn: 'LRN', pool: 'MaxPool', flatten: 'Reshape or Flatten', fc: 'Gemm', dropout: 'Dropout' };

/**
 * Matches a walked chain against AlexNet: reads the config from the chain (weights' shapes and
 * attributes), then walks networkLayers(config) beside the chain, checking every layer's op,
 * attributes and tensor shapes. Throws EngineError 'NOT_ALEXNET' naming the first difference, else
 * returns the config and the conversions of the weights to our layouts (each copies its tensor once,
 * into the new layout; run them in order).
 */
export function matchAlexNet(walk: OnnxWalk, layersOf: (config: AlexNetConfig) => readonly Layer[] = networkLayers): MatchedAlexNet {
  const { model, input, steps, consts } = walk;
  const opset = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
  const notes: string[] = [];
  const chain: FileLayer[] = steps.map((s) => ({ kind: KIND_OF_OP[s.node.opType] ?? 'other', index: s.index, node: s.node }));
  const tensor = (n: OnnxNode, slot: number, where: string): OnnxTensor => {
    const name = n.inputs[slot];
    if (!name) throw notAlexNet(`${where} has no ${slot === 1 ? 'weights' : 'bias'}`);
    const t = consts.get(name);
    if (!t) {
      const stem = name.split(/[._]/)[0];
      const read = new Set(model.graph.nodes.flatMap((x) => x.inputs));
      const near = [...consts.keys()].filter((c) => !read.has(c) && c.split(/[._]/)[0] === stem); // unread tensors of that layer
      throw notAlexNet(`${where} reads ${slot === 1 ? 'weights' : 'bias'} '${name}', which is not a tensor in the file${near.length ? ` (found ${near.join(', ')})` : ''}`);
    }
    if (t.dataType !== DT_FLOAT) throw notAlexNet(`tensor ${name} has data type ${t.dataType}, expected FLOAT (1)`);
    return t;
  };
  const of = (kind: FileLayer['kind']): FileLayer[] => chain.filter((l) => l.kind === kind);
  const lrnOf = (n: OnnxNode, where: string): LrnConfig => {
    if (!getAttr(n, 'size')) throw notAlexNet(`${where} LRN has no 'size'`);
    return { size: intAttr(n, 'size', 0, where), k: floatAttr(n, 'bias', 1, where), alpha: floatAttr(n, 'alpha', 1e-4, where), beta: floatAttr(n, 'beta', 0.75, where) }; // ONNX's default bias is 1
  };
  const ratioOf = (n: OnnxNode): number => {
    const ratioAttr = getAttr(n, 'ratio'); // opset < 12: an attribute; 12+: an optional input
    const ratioInput = n.inputs[1] ? consts.get(n.inputs[1]) : undefined;
    return ratioAttr ? cleanFloat32(ratioAttr.f) : ratioInput ? cleanFloat32(tensorFloats(ratioInput)[0]) : 0.5; // ONNX's default ratio
  };

  // 1. The config the chain shows: channels and widths from the weights, switches from the attributes.
  const convNodes = of('conv');
  const fcNodes = of('fc');
  if (convNodes.length < 5 || fcNodes.length < 3) throw notAlexNet(`the graph has ${convNodes.length} Conv and ${fcNodes.length} Gemm layers, AlexNet has 5 and 3`);
  const convW = convNodes.slice(0, 5).map((c, i) => tensor(c.node, 1, `conv${i + 1}`));
  for (const [i, w] of convW.entries()) if (w.dims.length !== 4) throw notAlexNet(`conv${i + 1} weights ${w.name} have shape ${fmt(w.dims)}, expected [out, in, kh, kw]`);
  const fcW = fcNodes.slice(0, 3).map((f, i) => tensor(f.node, 1, `fc${i + 6}`));
  for (const [i, w] of fcW.entries()) if (w.dims.length !== 2) throw notAlexNet(`fc${i + 6} weights ${w.name} have shape ${fmt(w.dims)}, expected a matrix`);
  const transB = fcNodes.slice(0, 3).map((f) => intAttr(f.node, 'transB', 0, 'Gemm') === 1);
  const fcOut = (i: number): number => fcW[i].dims[transB[i] ? 0 : 1];
  const fcIn = (i: number): number => fcW[i].dims[transB[i] ? 1 : 0];
  const channels = convW.map((w) => w.dims[0]) as AlexNetConfig['channels'];
  const inPerGroup2 = convW[1].dims[1];
  const groups = channels[0] % inPerGroup2 === 0 ? channels[0] / inPerGroup2 : 0;
  if (groups !== 1 && groups !== 2)
    throw notAlexNet(`conv2's weights take ${inPerGroup2} of conv1's ${channels[0]} channels per group; AlexNet has 1 or 2 groups`);
  const firstPool = of('pool')[0]?.node;
  const poolKernel = firstPool ? intsAttr(firstPool, 'kernel_shape', null, 'pool1') : [3, 3];
  const lrnNode = of('lrn')[0]?.node;
  const lrn = lrnNode ? lrnOf(lrnNode, 'norm1') : null;
  const dropNodes = of('dropout');
  const partial: Partial<AlexNetConfig> = {
    numClasses: fcOut(2),
    channels,
    fcUnits: fcOut(0),
    groups,
    lrn,
    overlappingPool: poolKernel[0] !== 2,
    activation: of('act')[0]?.node.opType === 'Tanh' ? 'tanh' : 'relu',
    dropout: dropNodes.length ? ratioOf(dropNodes[0].node) : DEFAULT_CONFIG.dropout,
  };
  const features = fcIn(0);

  // The input: float [N, 3, S, S]. Our input size is the one whose (unpadded) pools give fc6's
  // features: the declared S when it does, else the next that does (the zoo declares 224 and pads
  // pool5 bottom and right; Caffe's 227 crop gives the same 6x6 without padding).
  const ishape = input.shape ?? [];
  if (input.elemType !== DT_FLOAT || ishape.length !== 4 || (typeof ishape[1] === 'number' && ishape[1] !== 3))
    throw notAlexNet(`input ${input.name} is ${fmt(ishape)} of type ${input.elemType}, expected float [N,3,S,S]`);
  const declaredInputSize = typeof ishape[2] === 'number' && ishape[2] === ishape[3] ? ishape[2] : null;
  const configAt = (inputSize: number): AlexNetConfig => {
    try {
      return makeConfig({ ...partial, inputSize });
    } catch (e) {
      throw e instanceof EngineError ? notAlexNet(e.message) : e;
    }
  };
  configAt(DEFAULT_CONFIG.inputSize); // refuses what no input size mends (a class count of 1, odd grouped channels)
  const fits = (s: number): boolean => {
    try {
      return pool5Features(configAt(s)) === features;
    } catch {
      return false; // too small for the network
    }
  };
  const start = declaredInputSize ?? 67;
  let inputSize = 0;
  for (let s = start; s < start + 2048 && !inputSize; s++) if (fits(s)) inputSize = s;
  if (!inputSize) throw notAlexNet(`fc6 takes ${features} features, which no input size gives with conv5's ${channels[4]} channels`);
  const config = configAt(inputSize);

  // 2. The chain, layer by layer, against the network that config describes. Dropout nodes may be
  // missing (an inference export drops them); a Softmax may close the chain.
  const layers = layersOf(config);
  const tensors = new Map<ParamName, OnnxTensor>();
  const fcRead = new Map<ParamName, { transB: boolean; rows: number[] | null }>(); // rows: the [h, w, c] a flatten hands it
  let pool5Pads: number[] = [0, 0, 0, 0];
  let flattened: number[] | null = null;
  let k = 0;
  const check = (t: OnnxTensor, want: number[], what: string): void => {
    if (!same(t.dims, want)) throw notAlexNet(`tensor ${t.name} has shape ${fmt(t.dims)}, expected ${fmt(want)} (${what})`);
  };
  for (const l of layers) {
    const f = chain[k];
    if (l.kind === 'dropout' && f?.kind !== 'dropout') continue;
    if (!f) throw notAlexNet(`the graph ends before ${l.name} (${OPS_OF_KIND[l.kind]}) after ${k} layers`);
    if (f.kind !== l.kind) throw notAlexNet(`node ${f.index} is ${f.node.opType}, expected ${OPS_OF_KIND[l.kind]} (${l.name})`);
    k++;
    const n = f.node;
    const where = l.name;
    switch (l.kind) {
      case 'conv': {
        const w = tensor(n, 1, where);
        const b = tensor(n, 2, where);
        const group = intAttr(n, 'group', 1, where);
        if (group !== l.groups) throw notAlexNet(`${where} has group=${group}, expected group=${l.groups}`);
        const kernel = intsAttr(n, 'kernel_shape', w.dims.slice(2), where);
        const strides = intsAttr(n, 'strides', [1, 1], where);
        const pads = intsAttr(n, 'pads', [0, 0, 0, 0], where);
        const dil = intsAttr(n, 'dilations', [1, 1], where);
        if (!same(kernel, [l.kernel, l.kernel])) throw notAlexNet(`${where} kernel ${fmt(kernel)}, expected [${l.kernel},${l.kernel}]`);
        if (!same(strides, [l.stride, l.stride])) throw notAlexNet(`${where} strides ${fmt(strides)}, expected [${l.stride},${l.stride}]`);
        if (!same(pads, [l.pad, l.pad, l.pad, l.pad])) throw notAlexNet(`${where} pads ${fmt(pads)}, expected [${l.pad},${l.pad},${l.pad},${l.pad}]`);
        if (!same(dil, [1, 1])) throw notAlexNet(`${where} dilations ${fmt(dil)}, expected [1,1]`);
        check(w, [l.out[2], l.in[2] / l.groups, l.kernel, l.kernel], `${where} weights`);
        check(b, [l.out[2]], `${where} bias`);
        tensors.set(l.weight, w);
        tensors.set(l.bias, b);
        break;
      }
      case 'act': {
        const fn = n.opType === 'Relu' ? 'relu' : 'tanh';
        if (fn !== l.fn) throw notAlexNet(`node ${f.index} is ${n.opType}, but the network's activations are ${l.fn} (the activations are mixed)`);
        break;
      }
      case 'lrn': {
        const got = lrnOf(n, where);
        if (got.size !== l.lrn.size || got.k !== l.lrn.k || got.alpha !== l.lrn.alpha || got.beta !== l.lrn.beta)
          throw notAlexNet(`norm1 and ${where} differ (${JSON.stringify(l.lrn)} vs ${JSON.stringify(got)})`);
        if (got.size % 2 !== 1) throw notAlexNet(`LRN size ${got.size} is even`);
        break;
      }
      case 'pool': {
        const kernel = intsAttr(n, 'kernel_shape', null, where);
        const strides = intsAttr(n, 'strides', [1, 1], where);
        const pads = intsAttr(n, 'pads', [0, 0, 0, 0], where);
        if (!same(kernel, [l.size, l.size]) || !same(strides, [l.stride, l.stride]))
          throw notAlexNet(`${where} pools ${fmt(kernel)} stride ${fmt(strides)}, expected [${l.size},${l.size}] stride [${l.stride},${l.stride}] as pool1 (3x3/2 or 2x2/2 in every pool)`);
        // The zoo's pool5 pads bottom and right by one; at our input size that padding never enters a window.
        const okPads = where === 'pool5' ? [[0, 0, 0, 0], [0, 0, 1, 1]] : [[0, 0, 0, 0]];
        if (!okPads.some((o) => same(o, pads))) throw notAlexNet(`${where} has pads ${fmt(pads)}, expected ${okPads.map(fmt).join(' or ')}`);
        if (intAttr(n, 'ceil_mode', 0, where) !== 0) throw notAlexNet(`${where} uses ceil_mode`);
        if (!same(intsAttr(n, 'dilations', [1, 1], where), [1, 1])) throw notAlexNet(`${where} has dilations`);
        const autoPad = getAttr(n, 'auto_pad');
        if (autoPad && new TextDecoder().decode(autoPad.s) !== 'NOTSET') throw notAlexNet(`${where} uses auto_pad`);
        if (where === 'pool5') pool5Pads = pads;
        break;
      }
      case 'flatten': {
        if (n.opType === 'Flatten') {
          if (intAttr(n, 'axis', 1, 'Flatten') !== 1) throw notAlexNet(`the Flatten before fc6 has axis ${intAttr(n, 'axis', 1, 'Flatten')}, expected 1`);
        } else {
          const target = consts.get(n.inputs[1] ?? '');
          const dims = target ? tensorInts(target) : null; // null: computed from the batch size (checked by fc6's shape)
          if (dims && (dims.length !== 2 || !(dims[1] === l.out[0] || (dims[1] === -1 && dims[0] !== -1))))
            throw notAlexNet(`the Reshape before fc6 targets ${fmt(dims)}, expected [N, ${l.out[0]}]`);
        }
        flattened = l.in;
        break;
      }
      case 'fc': {
        if (intAttr(n, 'transA', 0, where) !== 0) throw notAlexNet(`${where} Gemm has transA=1`);
        if (floatAttr(n, 'alpha', 1, where) !== 1 || floatAttr(n, 'beta', 1, where) !== 1) throw notAlexNet(`${where} Gemm has alpha/beta other than 1`);
        const w = tensor(n, 1, where);
        const b = tensor(n, 2, where);
        const tB = intAttr(n, 'transB', 0, where) === 1;
        check(w, tB ? [l.out[0], l.in[0]] : [l.in[0], l.out[0]], `${where} weights, Gemm transB=${tB ? 1 : 0}`);
        check(b, [l.out[0]], `${where} bias`);
        tensors.set(l.weight, w);
        tensors.set(l.bias, b);
        fcRead.set(l.weight, { transB: tB, rows: flattened });
        flattened = null;
        break;
      }
      case 'dropout': {
        const ratio = ratioOf(n);
        if (ratio !== config.dropout) throw notAlexNet(`${where} has ratio ${ratio}, the first dropout ${config.dropout}`);
        break;
      }
    }
  }
  if (chain[k]?.kind === 'softmax') {
    const n = chain[k].node;
    const axis = intAttr(n, 'axis', opset >= 13 ? -1 : 1, 'Softmax');
    if (axis !== 1 && axis !== -1) throw notAlexNet(`the Softmax has axis ${axis}, expected 1`);
    k++;
  }
  if (k !== chain.length) throw notAlexNet(`extra node ${chain[k].index} (${chain[k].node.opType}) after fc8`);

  // Notes for the user.
  const [ph, pw, pc] = pool5Shape(config);
  notes.push(`${config.numClasses} classes, ${config.channels.join('/')} channels, fc ${config.fcUnits}, ${groups === 2 ? 'two groups' : 'one group'}`);
  notes.push(lrn ? `LRN from the file: size ${lrn.size}, k (bias) ${lrn.k}, alpha ${lrn.alpha}, beta ${lrn.beta}` : 'no LRN in the file');
  if (!dropNodes.length) notes.push(`no Dropout nodes (an inference export): dropout ${config.dropout} for training`);
  if (declaredInputSize !== config.inputSize)
    notes.push(
      `the graph declares ${declaredInputSize === null ? 'a symbolic' : `${declaredInputSize}x${declaredInputSize}`} input; imported for ${config.inputSize}x${config.inputSize} crops ` +
        `(${ph}x${pw}x${pc} after pool5${same(pool5Pads, [0, 0, 0, 0]) ? '' : `; pool5's padding ${fmt(pool5Pads)} never enters a window there`})`,
    );

  // The conversions of the weights to our layouts, in network order.
  const floats = (t: OnnxTensor): Float32Array => {
    try {
      return tensorFloats(t);
    } catch (e) {
      throw notAlexNet((e as Error).message);
    }
  };
  const conversions: MatchedAlexNet['conversions'] = [];
  for (const l of layers) {
    if (l.kind === 'conv') {
      const w = tensors.get(l.weight)!;
      const [o, ci, kh, kw] = w.dims;
      conversions.push({ name: l.weight, run: () => oihwToHwio(floats(w), o, ci, kh, kw) });
    } else if (l.kind === 'fc') {
      const w = tensors.get(l.weight)!;
      const { transB: tB, rows } = fcRead.get(l.weight)!;
      const [fin, fout] = [l.in[0], l.out[0]];
      const outIn = (): Float32Array => (tB ? floats(w) : transpose2d(floats(w), fin, fout)); // Gemm B as [out, in]
      conversions.push({
        name: l.weight,
        run: rows ? () => fc6FromNchw(outIn(), fout, rows[2], rows[0], rows[1]) : () => (tB ? transpose2d(floats(w), fout, fin) : floats(w)),
      });
    } else continue;
    const b = tensors.get(l.bias)!;
    conversions.push({ name: l.bias, run: () => floats(b) });
  }

  const metadata: Record<string, string> = {};
  for (const { key, value } of model.metadata) metadata[key] = value;
  // Our export's labels and preprocessing; unreadable or unfitting ones are left to the caller.
  let classNames: string[] | null = null;
  let preprocessing: Preprocessing | null = null;
  try {
    const labels: unknown = metadata.labels === undefined ? null : JSON.parse(metadata.labels);
    if (Array.isArray(labels) && labels.length === config.numClasses && labels.every((l) => typeof l === 'string')) classNames = labels;
  } catch {
    notes.push('the labels in the file\'s metadata are not readable JSON: ignored');
  }
  try {
    const prep = metadata.preprocessing === undefined ? null : parsePreprocessing(JSON.parse(metadata.preprocessing));
    if (prep && prep.crop === config.inputSize) preprocessing = prep;
  } catch {
    notes.push('the preprocessing in the file\'s metadata is not readable: ignored');
  }
  return { config, declaredInputSize, pool5Pads, producer: model.producerName, opset, classNames, preprocessing, metadata, notes, conversions };
}

/** The largest ONNX file we read: the paper's AlexNet is 244 MB; protobuf itself stops at 2 GiB. */
export const MAX_ONNX_BYTES = 2 ** 30;

function checkSize(bytes: number, what: string): void {
  if (bytes > MAX_ONNX_BYTES)
    throw new EngineError('NOT_ALEXNET', `${what} is ${(bytes / 2 ** 20).toFixed(0)} MiB, larger than any AlexNet ONNX file we read (at most ${MAX_ONNX_BYTES / 2 ** 20} MiB)`);
}

const cancelled = (): EngineError => new EngineError('CANCELLED', 'the weights import was cancelled');

function imported(m: MatchedAlexNet, arrays: ParamArrays): ImportedAlexNet {
  const { conversions: _, ...rest } = m;
  const shapes = paramShapes(m.config);
  for (const name of PARAM_NAMES) {
    const want = shapes[name].reduce((a, b) => a * b, 1);
    if (arrays[name].length !== want) throw notAlexNet(`${name} converts to ${arrays[name].length} values, the config needs ${want}`);
  }
  return { ...rest, arrays };
}

/** Decodes an ONNX file's bytes (NOT_ALEXNET when it is not readable protobuf). */
export function decodeOnnx(buf: Uint8Array): OnnxModel {
  try {
    return decodeModel(buf);
  } catch (e) {
    if (e instanceof ProtoError)
      throw new EngineError('NOT_ALEXNET', `not a readable ONNX file (damaged or truncated? ${buf.length} bytes): ${e.message}`);
    throw e;
  }
}

/**
 * Reads an AlexNet ONNX file's bytes (the zoo's, ours, PyTorch's) into our config + weights; throws
 * EngineError 'NOT_ALEXNET' naming the first difference from the network.
 */
export function parseOnnxAlexNet(buf: Uint8Array, layersOf?: (config: AlexNetConfig) => readonly Layer[]): ImportedAlexNet {
  checkSize(buf.length, 'the file');
  const m = matchAlexNet(walkOnnx(decodeOnnx(buf)), layersOf);
  const arrays = {} as ParamArrays;
  for (const c of m.conversions) arrays[c.name] = c.run();
  return imported(m, arrays);
}

/**
 * parseOnnxAlexNet that can be cancelled: between the steps and between the tensors it gives the
 * event loop a turn (a worker hears its 'cancel' message there) and stops with EngineError
 * 'CANCELLED' once `signal` is aborted.
 */
export async function importOnnxAlexNet(buf: Uint8Array, signal?: AbortSignal): Promise<ImportedAlexNet> {
  const turn = async (): Promise<void> => {
    await new Promise((resolve) => setImmediate(resolve));
    if (signal?.aborted) throw cancelled();
  };
  checkSize(buf.length, 'the file');
  await turn();
  const m = matchAlexNet(walkOnnx(decodeOnnx(buf)));
  const arrays = {} as ParamArrays;
  for (const c of m.conversions) {
    await turn();
    arrays[c.name] = c.run();
  }
  return imported(m, arrays);
}

/** Reads a file once into a Buffer (at most MAX_ONNX_BYTES; abortable); returns it with its SHA-256. */
export async function readFileWithHash(file: string, signal?: AbortSignal): Promise<{ buf: Buffer; sha256: string }> {
  let buf: Buffer;
  try {
    checkSize((await stat(file)).size, file);
    buf = await readFile(file, { signal });
  } catch (e) {
    if (e instanceof EngineError) throw e;
    if (signal?.aborted) throw cancelled();
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
export function buildOnnxModel(model: ExportableModel, layers: readonly Layer[] = networkLayers(model.config), producerVersion = '0.1.0'): OnnxModel {
  const { config, arrays } = model;
  const nodes: OnnxNode[] = [];
  const inits: OnnxTensor[] = [];
  const node = (opType: string, inputs: string[], outputs: string[], attributes: OnnxAttribute[] = []): string => {
    nodes.push({ name: outputs[0], opType, domain: '', inputs, outputs, attributes });
    return outputs[0];
  };
  // A value's name: '<layer>_1' for a layer's own output, '<layer>_2' for its activation, '_3' for its dropout.
  const out = (name: string): string => name.replace(/\.act$/, '_2').replace(/\.drop$/, '_3').replace(/^([^_]*)$/, '$1_1');
  let x = 'data';
  let flattened: number[] | null = null; // the [h, w, c] an fc right after the flatten reads in NHWC order
  for (const l of layers) {
    switch (l.kind) {
      case 'conv': {
        const cin = l.in[2] / l.groups;
        const cout = l.out[2];
        const k = l.kernel;
        inits.push(floatTensor(`${l.name}_w_0`, [cout, cin, k, k], hwioToOihw(arrays[l.weight], k, k, cin, cout)));
        inits.push(floatTensor(`${l.name}_b_0`, [cout], arrays[l.bias]));
        const attrs = [attr.ints('kernel_shape', [k, k]), attr.ints('strides', [l.stride, l.stride]), attr.ints('pads', [l.pad, l.pad, l.pad, l.pad]), attr.ints('dilations', [1, 1])];
        if (l.groups !== 1) attrs.push(attr.int('group', l.groups));
        x = node('Conv', [x, `${l.name}_w_0`, `${l.name}_b_0`], [out(l.name)], attrs);
        break;
      }
      case 'act':
        x = node(l.fn === 'relu' ? 'Relu' : 'Tanh', [x], [out(l.name)]);
        break;
      case 'lrn':
        x = node('LRN', [x], [out(l.name)], [attr.float('alpha', l.lrn.alpha), attr.float('beta', l.lrn.beta), attr.float('bias', l.lrn.k), attr.int('size', l.lrn.size)]);
        break;
      case 'pool':
        x = node('MaxPool', [x], [out(l.name)], [
          attr.ints('kernel_shape', [l.size, l.size]),
          attr.ints('pads', [0, 0, 0, 0]), // 'valid', as our forward
          attr.ints('strides', [l.stride, l.stride]),
        ]);
        break;
      case 'flatten': // NCHW (c, h, w) here; the next fc's rows are permuted from our NHWC (h, w, c) order to match
        inits.push(int64Tensor(`${l.name}_shape`, [-1, l.out[0]]));
        x = node('Reshape', [x, `${l.name}_shape`], [out(l.name)]);
        flattened = l.in;
        break;
      case 'fc': {
        const [fin, fout] = [l.in[0], l.out[0]];
        const w = flattened ? fc6ToNchw(arrays[l.weight], fout, flattened[2], flattened[0], flattened[1]) : transpose2d(arrays[l.weight], fin, fout);
        flattened = null;
        inits.push(floatTensor(`${l.name}_w_0`, [fout, fin], w));
        inits.push(floatTensor(`${l.name}_b_0`, [fout], arrays[l.bias]));
        x = node('Gemm', [x, `${l.name}_w_0`, `${l.name}_b_0`], [out(l.name)], [attr.int('transB', 1)]);
        break;
      }
      case 'dropout':
        x = node('Dropout', [x], [out(l.name)]); // identity at inference
        break;
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
export async function exportOnnx(model: ExportableModel, outDir: string, layers: readonly Layer[] = networkLayers(model.config)): Promise<ExportResult> {
  if (model.classNames.length !== model.config.numClasses)
    throw new EngineError('BAD_MODEL_DIR', `the model names ${model.classNames.length} classes but has ${model.config.numClasses} outputs`);
  await mkdir(outDir, { recursive: true });
  const chunks = encodeModel(buildOnnxModel(model, layers));
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
