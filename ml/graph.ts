// Inference as one TensorFlow graph, on the native backend.
//
// Eager TF.js runs the network op by op, and each op pays tfjs-node's dispatch. Here the forward
// pass (input -> pool5 / fc7 / logits, no dropout) is written once per configuration as a tiny
// TensorFlow SavedModel whose weights are inputs (Placeholders), and TensorFlow runs the whole pass
// in one call, with the model's current weights fed in: nothing is copied, nothing can go stale.
// Weights that will run again unchanged (classify, evaluate: `fixedWeights`) get a graph of their
// own with the conv layers as constants and fc6-fc8 as [out, in] copies (see graphForward).
// Outputs are the same as eager forward()'s; bench/README.md ("The graph") has the timings.
//
// The SavedModel is written with ml/wire.ts (field numbers from TensorFlow's saved_model.proto,
// meta_graph.proto, graph.proto, node_def.proto, attr_value.proto, tensor.proto) to a temporary
// folder that is removed once TensorFlow has read it. ALEXNET_GRAPH=0 turns it off.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PARAM_NAMES, isSamePadding, networkLayers, paramShapes, type AlexNetConfig, type Layer, type ParamName, type Params } from './config';
import { currentBackend } from './backend';
import { Msg } from './wire';
import { hasNativeGroupedConv } from './kernels/tensorflow';

// -------------------------------------------------------------------------------------------------
// The SavedModel's messages (field numbers from TensorFlow's protos), on ml/wire.ts's builder

const DT_FLOAT = 1;
const DT_INT32 = 3;

const shapeProto = (dims: readonly number[]): Msg => {
  const m = new Msg();
  for (const d of dims) m.msg(2, new Msg().int(1, d)); // TensorShapeProto.dim { size }
  return m;
};
// AttrValue: list 1, s 2, i 3, f 4, b 5, type 6, shape 7, tensor 8
const attr = {
  type: (t: number): Msg => new Msg().int(6, t),
  s: (s: string): Msg => new Msg().str(2, s),
  i: (i: number): Msg => new Msg().int(3, i),
  f: (f: number): Msg => new Msg().float(4, f),
  b: (b: boolean): Msg => new Msg().int(5, b ? 1 : 0),
  shape: (dims: readonly number[]): Msg => new Msg().msg(7, shapeProto(dims)),
  ints: (vs: readonly number[]): Msg => new Msg().msg(1, new Msg().packedInts(3, vs)),
  tensor: (dtype: number, dims: readonly number[], content: Uint8Array): Msg =>
    new Msg().msg(8, new Msg().int(1, dtype).msg(2, shapeProto(dims)).bytes(4, content)), // TensorProto
};

/** NodeDef: name 1, op 2, input 3, attr 5 (map entries: key 1, value 2). */
function node(name: string, op: string, inputs: string[], attrs: Record<string, Msg>): Msg {
  const m = new Msg().str(1, name).str(2, op);
  for (const i of inputs) m.str(3, i);
  for (const [k, v] of Object.entries(attrs)) m.msg(5, new Msg().str(1, k).msg(2, v));
  return m;
}

const bytesOf = (a: Float32Array | Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// -------------------------------------------------------------------------------------------------
// The graph

export const GRAPH_INPUT = 'x';
// How the graph takes fc6-fc8's weights: forward's [in, out], or [out, in] (MatMul transpose_b),
// which TensorFlow multiplies faster (oneDNN reads each output's weights as one contiguous row).
// The [out, in] copies hold as much memory as fc6-fc8 themselves while a model is kept for
// inference, so they are made only for weights the caller says are fixed (see graphForward).
export type FcLayout = 'in-out' | 'out-in';
const FC_WEIGHTS: readonly ParamName[] = ['fc6.w', 'fc7.w', 'fc8.w'];
// conv1-conv5's weights and biases, written into the graph as constants: oneDNN then lays the
// filters out for its kernels once, not at every call. A graph per model, so only for fixed
// weights too (see graphForward).
export type ConvConsts = Partial<Record<ParamName, Float32Array>>;
const CONV_PARAMS: readonly ParamName[] = PARAM_NAMES.filter((n) => n.startsWith('conv'));
// forward()'s stop points and the graph's tensors that hold them
export type GraphStage = 'pool5' | 'fc7' | 'logits';
const OUTPUT: Record<GraphStage, string> = { pool5: 'flat', fc7: 'fc7/act', logits: 'logits' };

/** Why the graph cannot run this network here, or null when it can. */
export function graphUnsupported(config: AlexNetConfig): string | null {
  if (process.env.ALEXNET_GRAPH === '0') return 'ALEXNET_GRAPH=0';
  if (tf.getBackend() !== 'tensorflow') return `backend ${tf.getBackend()} is not TensorFlow`;
  // tfjs-node's binding hands a session its inputs as host tensors: with the GPU build every call
  // would copy the weights out of the GPU and back
  if (currentBackend()?.name === 'tensorflow-gpu') return 'the GPU build feeds sessions from host memory';
  if (config.groups === 2 && !hasNativeGroupedConv()) return 'TensorFlow here runs no grouped Conv2D (oneDNN off)';
  return null;
}

/**
 * saved_model.pb of the forward pass for `config`: input x [N, S, S, 3] float32 (normalised, as
 * forward's) and one Placeholder per parameter (named as PARAM_NAMES, forward's layouts); outputs
 * 'flat' [N, 9216] (pool5), 'fc7/act' [N, fcUnits], 'logits' [N, numClasses].
 */
export function inferenceSavedModel(
  config: AlexNetConfig,
  fcLayout: FcLayout = 'in-out',
  convConsts: ConvConsts | null = null,
  layers: readonly Layer[] = networkLayers(config),
): Uint8Array[] {
  const T = { T: attr.type(DT_FLOAT) };
  const outIn = fcLayout === 'out-in';
  const nhwc = attr.s('NHWC');
  const graph = new Msg();
  const add = (n: Msg): void => void graph.msg(1, n);
  const shapes = paramShapes(config);
  const fed = (name: ParamName): readonly number[] => (outIn && FC_WEIGHTS.includes(name) ? [...shapes[name]].reverse() : shapes[name]);
  for (const name of PARAM_NAMES) {
    const value = convConsts?.[name];
    if (value) add(node(name, 'Const', [], { dtype: attr.type(DT_FLOAT), value: attr.tensor(DT_FLOAT, shapes[name], bytesOf(value)) }));
    else add(node(name, 'Placeholder', [], { dtype: attr.type(DT_FLOAT), shape: attr.shape(fed(name)) }));
  }
  const S = config.inputSize;
  add(node(GRAPH_INPUT, 'Placeholder', [], { dtype: attr.type(DT_FLOAT), shape: attr.shape([-1, S, S, 3]) }));
  // One node (or two: an op and its bias) per layer of networkLayers; dropout is identity here.
  let h = GRAPH_INPUT;
  for (const l of layers) {
    switch (l.kind) {
      case 'conv': {
        // AlexNet's paddings are 0 (conv1) or exactly 'SAME' (stride 1, pad (k - 1) / 2: conv2-5)
        const same = isSamePadding(l.kernel, l.stride, l.pad);
        if (l.pad > 0 && !same) throw new Error(`inference graph: ${l.name}'s padding ${l.pad} is neither 0 nor SAME`);
        // a grouped layer is one Conv2D whose filter has Cin/groups input channels (oneDNN runs it)
        add(node(l.name, 'Conv2D', [h, l.weight], {
          ...T,
          strides: attr.ints([1, l.stride, l.stride, 1]),
          padding: attr.s(same ? 'SAME' : 'VALID'),
          data_format: nhwc,
          dilations: attr.ints([1, 1, 1, 1]),
          use_cudnn_on_gpu: attr.b(true),
          explicit_paddings: attr.ints([]),
        }));
        add(node(`${l.name}/bias`, 'BiasAdd', [l.name, l.bias], { ...T, data_format: nhwc }));
        h = `${l.name}/bias`;
        break;
      }
      case 'act': {
        const name = l.name.replace(/\.act$/, '/act'); // 'conv1/act', 'fc7/act'
        add(node(name, l.fn === 'relu' ? 'Relu' : 'Tanh', [h], T));
        h = name;
        break;
      }
      case 'lrn': // the paper's alpha is divided by the window, as ml/layers.ts's lrn
        add(node(l.name, 'LRN', [h], { ...T, depth_radius: attr.i((l.lrn.size - 1) / 2), bias: attr.f(l.lrn.k), alpha: attr.f(l.lrn.alpha / l.lrn.size), beta: attr.f(l.lrn.beta) }));
        h = l.name;
        break;
      case 'pool':
        add(node(l.name, 'MaxPool', [h], { ...T, ksize: attr.ints([1, l.size, l.size, 1]), strides: attr.ints([1, l.stride, l.stride, 1]), padding: attr.s('VALID'), data_format: nhwc }));
        h = l.name;
        break;
      case 'flatten': // [N, 9216], NHWC order as forward's
        add(node('flat/shape', 'Const', [], { dtype: attr.type(DT_INT32), value: attr.tensor(DT_INT32, [2], bytesOf(Int32Array.from([-1, l.out[0]]))) }));
        add(node(OUTPUT.pool5, 'Reshape', [h, 'flat/shape'], { ...T, Tshape: attr.type(DT_INT32) }));
        h = OUTPUT.pool5;
        break;
      case 'fc':
        add(node(l.name, 'MatMul', [h, l.weight], { ...T, transpose_a: attr.b(false), transpose_b: attr.b(outIn) }));
        add(node(`${l.name}/bias`, 'BiasAdd', [l.name, l.bias], { ...T, data_format: nhwc }));
        h = `${l.name}/bias`;
        break;
      case 'dropout':
        break;
    }
  }
  add(node(OUTPUT.logits, 'Identity', [h], T)); // [N, numClasses]
  graph.msg(4, new Msg().int(1, 1205)); // VersionDef.producer: TensorFlow 2.9's, which tfjs-node downloads

  const tensorInfo = (name: string, dims: readonly number[]): Msg => new Msg().str(1, `${name}:0`).int(2, DT_FLOAT).msg(3, shapeProto(dims));
  const signature = new Msg();
  for (const [name, dims] of [[GRAPH_INPUT, [-1, S, S, 3]] as const, ...PARAM_NAMES.filter((n) => !convConsts?.[n]).map((n) => [n, shapes[n]] as const)])
    signature.msg(1, new Msg().str(1, name).msg(2, tensorInfo(name, name === GRAPH_INPUT ? dims : fed(name as ParamName))));
  signature.msg(2, new Msg().str(1, OUTPUT.logits).msg(2, tensorInfo(OUTPUT.logits, [-1, config.numClasses]))).str(3, 'tensorflow/serving/predict');
  const meta = new Msg()
    .msg(1, new Msg().str(4, 'serve')) // MetaInfoDef.tags
    .msg(2, graph)
    .msg(5, new Msg().str(1, 'serving_default').msg(2, signature));
  return new Msg().int(1, 1).msg(2, meta).chunks(); // SavedModel
}

// -------------------------------------------------------------------------------------------------
// Sessions: one per configuration, for the life of the process

// The parts of tfjs-node's backend used here (it exports no type for them).
type SavedModelBackend = {
  loadSavedModelMetaGraph(dir: string, tags: string): number;
  deleteSavedModel(id: number): void;
  runSavedModel(id: number, inputs: tf.Tensor[], infos: { name: string; tfDtype: string }[], outputs: string[]): tf.Tensor[];
};

const sessions = new Map<string, number | Error>(); // config and layers -> session id, or why it failed to open
const sessionKey = (config: AlexNetConfig, layers: readonly Layer[] = networkLayers(config)): string => JSON.stringify([config, layers]);
const FEEDS = [GRAPH_INPUT, ...PARAM_NAMES].map((n) => ({ name: `${n}:0`, tfDtype: 'DT_FLOAT' }));

function openSession(be: SavedModelBackend, config: AlexNetConfig, fcLayout: FcLayout, convConsts: ConvConsts | null = null, layers: readonly Layer[] = networkLayers(config)): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `alexnet-graph-${process.pid}-`)); // with the pid: a process can tell its own folders
  try {
    const fd = fs.openSync(path.join(dir, 'saved_model.pb'), 'w');
    try {
      for (const chunk of inferenceSavedModel(config, fcLayout, convConsts, layers)) fs.writeSync(fd, chunk);
    } finally {
      fs.closeSync(fd);
    }
    return be.loadSavedModelMetaGraph(dir, 'serve');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// The graph of a model whose weights are fixed: its conv layers as constants (ConvConsts) and its
// fc weights as [out, in] copies (FcLayout), per Params object. `dataIds` are the buffers it was made
// from (an assign gives a variable a new one: it is then stale, freed and made again); `uses` counts
// calls with those buffers: it is made on the second (a transpose of fc6-fc8 and a graph holding
// conv1-conv5), so that classifying one photo does not pay for it.
type Fixed = { dataIds: object[]; uses: number; fc: tf.Tensor[] | null; session: number | null };
const fixed = new WeakMap<Params, Fixed>();

function dropFixed(e: Fixed): void {
  for (const t of e.fc ?? []) t.dispose();
  // the backend that opened it, even if another one is current now
  const be = tf.findBackend('tensorflow') as unknown as SavedModelBackend | null;
  if (e.session !== null) be?.deleteSavedModel(e.session);
  e.fc = null;
  e.session = null;
}

/** The fixed-weights graph of `params` and its fc copies, or null while not worth making (or unavailable). */
function fixedGraph(be: SavedModelBackend, params: Params, config: AlexNetConfig): Fixed | null {
  const ids = PARAM_NAMES.map((n) => params[n].dataId as object);
  let e = fixed.get(params);
  if (e === undefined || e.dataIds.some((d, i) => d !== ids[i])) {
    if (e) dropFixed(e);
    e = { dataIds: ids, uses: 0, fc: null, session: null };
    fixed.set(params, e);
  }
  e.uses++;
  if (e.session === null && e.uses === 2) {
    try {
      const consts: ConvConsts = {};
      for (const n of CONV_PARAMS) consts[n] = params[n].dataSync() as Float32Array;
      e.session = openSession(be, config, 'out-in', consts);
      e.fc = FC_WEIGHTS.map((n) => tf.keep(tf.transpose(params[n]))); // kept past the caller's tidy
    } catch {
      dropFixed(e); // the shared graph serves these weights as they are
    }
  }
  return e.session === null ? null : e;
}

/** Frees the fixed-weights graph and copies made for `params` (disposeParams calls it). */
export function releaseGraphWeights(params: Params): void {
  const e = fixed.get(params);
  if (e) dropFixed(e);
  fixed.delete(params);
}

// what the fixed-weights graph is fed: x and the fc parameters (its conv layers are constants)
const FIXED_FED: readonly ParamName[] = PARAM_NAMES.filter((n) => !CONV_PARAMS.includes(n));
const FIXED_FEEDS = [GRAPH_INPUT, ...FIXED_FED].map((n) => ({ name: `${n}:0`, tfDtype: 'DT_FLOAT' }));

/**
 * forward(params, config, x, { training: false, to }) from the input, as one TensorFlow call; null
 * where the graph cannot run here (graphUnsupported, or it failed to open: then never tried again
 * for this configuration), and the caller runs the network eagerly. x must be [N, S, S, 3].
 * `fixedWeights`: the caller will run these same weights again (a model kept for classification):
 * from the second call on, they run from a graph of their own, conv layers as constants
 * (ConvConsts) and fc6-fc8 from [out, in] copies (FcLayout), until they change or are disposed.
 */
export function graphForward(
  params: Params,
  config: AlexNetConfig,
  x: tf.Tensor,
  to: GraphStage,
  fixedWeights = false,
  layers: readonly Layer[] = networkLayers(config),
): tf.Tensor | null {
  if (graphUnsupported(config) !== null) return null;
  const be = tf.backend() as unknown as SavedModelBackend;
  const out = [`${OUTPUT[to]}:0`];
  const key = sessionKey(config, layers);
  const f = fixedWeights && key === sessionKey(config) ? fixedGraph(be, params, config) : null; // fixed graphs: the config's own layers
  if (f !== null && f.session !== null && f.fc !== null) {
    const fc = f.fc;
    const feed = (n: ParamName): tf.Tensor => (FC_WEIGHTS.includes(n) ? fc[FC_WEIGHTS.indexOf(n)] : params[n]);
    return be.runSavedModel(f.session, [x, ...FIXED_FED.map(feed)], FIXED_FEEDS, out)[0];
  }
  let id = sessions.get(key);
  if (id === undefined) {
    try {
      id = openSession(be, config, 'in-out', null, layers);
    } catch (e) {
      id = e instanceof Error ? e : new Error(String(e));
    }
    sessions.set(key, id);
  }
  if (id instanceof Error) return null;
  return be.runSavedModel(id, [x, ...PARAM_NAMES.map((n) => params[n])], FEEDS, out)[0];
}

/** Why the graph of `config` failed to open in this process, if it did. */
export function graphOpenError(config: AlexNetConfig): Error | null {
  const s = sessions.get(sessionKey(config));
  return s instanceof Error ? s : null;
}

/** Whether `params` run from their own fixed-weights graph now (for tests). */
export function hasFixedGraph(params: Params): boolean {
  return fixed.get(params)?.session != null;
}
