// AlexNet's configuration: one object, every switch the 2012 paper ablates.
//
// Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural
// Networks", NIPS 2012. Section numbers below refer to that paper.
//
// This file is pure arithmetic (no tensors): the layer list every part of the engine walks
// (networkLayers), shapes, parameter counts, validation.

import type { Variable } from '@tensorflow/tfjs-core';
import { EngineError } from './errors';

export type LrnConfig = {
  size: number; // n: channels in the normalisation window (odd), paper 5
  k: number; // additive constant, paper 2 (BVLC's Caffe files use 1)
  alpha: number; // scale of the sum of squares, paper 1e-4 (divided by n, as Caffe/ONNX/PyTorch do)
  beta: number; // exponent, paper 0.75
};

export type AlexNetConfig = {
  numClasses: number; // outputs of fc8; 1000 for ImageNet
  inputSize: number; // S of the S x S x 3 input; 227 (the paper says 224, its arithmetic needs 227)
  channels: [number, number, number, number, number]; // conv1..conv5 output channels [96,256,384,384,256]
  fcUnits: number; // width of fc6 and fc7, 4096
  groups: 1 | 2; // 2 = the paper's two-GPU split of conv2/4/5 (Caffe `group: 2`), 1 = one full conv (3.2)
  lrn: LrnConfig | null; // local response normalisation after conv1, conv2 (3.3); null = off
  overlappingPool: boolean; // true: 3x3 windows, stride 2 (3.4); false: 2x2, stride 2
  activation: 'relu' | 'tanh'; // ReLU (3.1) or the saturating tanh it replaced
  dropout: number; // drop probability in fc6 and fc7 while training (4.2), 0.5; 0 = off
};

// The paper's local response normalisation: k=2, n=5, alpha=1e-4, beta=0.75 (3.3).
export const PAPER_LRN: LrnConfig = { size: 5, k: 2, alpha: 1e-4, beta: 0.75 };
// BVLC's reference Caffe/ONNX AlexNet uses the same but with k=1.
export const BVLC_LRN: LrnConfig = { size: 5, k: 1, alpha: 1e-4, beta: 0.75 };

export const DEFAULT_CONFIG: AlexNetConfig = Object.freeze({
  numClasses: 1000, // ImageNet ILSVRC-2012 classes
  inputSize: 227, // 227 -> conv1 55 -> pool 27 -> pool 13 -> pool5 6
  channels: [96, 256, 384, 384, 256] as [number, number, number, number, number], // Figure 2 (both GPUs together)
  fcUnits: 4096, // Figure 2
  groups: 2, // the two-GPU split, as trained in the paper and in Caffe's bvlc_alexnet
  lrn: { ...PAPER_LRN }, // on, with the paper's hyper-parameters
  overlappingPool: true, // 3x3/2, which the paper found 0.3-0.4% better than 2x2/2
  activation: 'relu', // ReLU: six times faster to train than tanh on CIFAR-10 (Figure 1)
  dropout: 0.5, // section 4.2
}) as AlexNetConfig;

// A network with the full architecture but toy sizes, for tests: groups 2 and LRN stay on so every
// code path runs. 99 -> conv1 23 -> pool 11 -> pool 5 -> pool5 2 (so flattening order matters).
export const TINY_CONFIG: AlexNetConfig = Object.freeze({
  numClasses: 3, // a few classes
  inputSize: 99, // smallest round size with a 2x2 pool5
  channels: [8, 16, 16, 16, 8] as [number, number, number, number, number], // even, for groups 2
  fcUnits: 32, // small hidden layers
  groups: 2, // grouped conv2/4/5 exercised
  lrn: { ...PAPER_LRN }, // LRN exercised
  overlappingPool: true, // 3x3/2 as the paper
  activation: 'relu', // as the paper
  dropout: 0.5, // as the paper
}) as AlexNetConfig;

// The learnable tensors, in network order. Layouts:
//   conv w [kh, kw, inChannels/groups, outChannels] (tf.conv2d filter; for grouped layers the output
//     channels are group 0's then group 1's, Caffe/ONNX order), conv b [outChannels];
//   fc w [in, out] (fc6's `in` follows NHWC flattening of pool5: h, w, c), fc b [out].
export const PARAM_NAMES = [
  'conv1.w', 'conv1.b',
  'conv2.w', 'conv2.b',
  'conv3.w', 'conv3.b',
  'conv4.w', 'conv4.b',
  'conv5.w', 'conv5.b',
  'fc6.w', 'fc6.b',
  'fc7.w', 'fc7.b',
  'fc8.w', 'fc8.b',
] as const;
export type ParamName = (typeof PARAM_NAMES)[number];
export type Params = Record<ParamName, Variable>;

// The five convolutions: kernel, stride, padding, whether the two-GPU split applies (Figure 2).
export type ConvSpec = { kernel: number; stride: number; pad: number; grouped: boolean };
export const CONV_SPECS: readonly [ConvSpec, ConvSpec, ConvSpec, ConvSpec, ConvSpec] = [
  { kernel: 11, stride: 4, pad: 0, grouped: false }, // conv1: sees the whole image
  { kernel: 5, stride: 1, pad: 2, grouped: true }, // conv2: each GPU sees its own conv1 half
  { kernel: 3, stride: 1, pad: 1, grouped: false }, // conv3: the GPUs communicate here
  { kernel: 3, stride: 1, pad: 1, grouped: true }, // conv4
  { kernel: 3, stride: 1, pad: 1, grouped: true }, // conv5
];

/** Whether symmetric padding `pad` is exactly 'SAME' (stride 1, odd kernel, pad (k - 1) / 2): conv2-5. */
export function isSamePadding(kernel: number, stride: number, pad: number): boolean {
  return pad > 0 && stride === 1 && kernel % 2 === 1 && pad === (kernel - 1) / 2;
}

/** Max-pooling window and stride: 3/2 overlapping (paper) or 2/2 classic. Padding 'valid'. */
export function poolSpec(config: AlexNetConfig): { size: number; stride: number } {
  return config.overlappingPool ? { size: 3, stride: 2 } : { size: 2, stride: 2 };
}

const convOut = (s: number, k: number, stride: number, pad: number): number =>
  Math.floor((s + 2 * pad - k) / stride) + 1;
const poolOut = (s: number, size: number, stride: number): number => Math.floor((s - size) / stride) + 1;

// -------------------------------------------------------------------------------------------------
// The network, once: the ordered layers a config builds, with their names, shapes and parameters.
// forward (ml/model.ts), the TensorFlow graph (ml/graph.ts), the TF.js export, the ONNX export and
// the ONNX import (ml/weights/) all walk this list; layerShapes and paramShapes come from it.
// Shapes are NHWC without the batch: [h, w, c] for images, [n] for vectors.

export type Shape = number[];
export type Layer =
  | { kind: 'conv'; name: string; weight: ParamName; bias: ParamName; kernel: number; stride: number; pad: number; groups: number; in: Shape; out: Shape }
  | { kind: 'act'; name: string; fn: 'relu' | 'tanh'; in: Shape; out: Shape }
  | { kind: 'lrn'; name: string; lrn: LrnConfig; in: Shape; out: Shape }
  | { kind: 'pool'; name: string; size: number; stride: number; in: Shape; out: Shape }
  | { kind: 'flatten'; name: string; in: Shape; out: Shape } // NHWC order (h, w, c): fc6's rows follow it
  | { kind: 'fc'; name: string; weight: ParamName; bias: ParamName; in: Shape; out: Shape }
  | { kind: 'dropout'; name: string; rate: number; in: Shape; out: Shape }; // training only
export type LayerKind = Layer['kind'];

// Where forward can start or stop: after the layer that ends each stage ('input' is before the first).
export const STAGE_ENDS = { pool5: 'flatten', fc7: 'fc7.drop', logits: 'fc8' } as const;

/** The layers of `config`'s network, in order (the paper's Figure 2; shapes for DEFAULT_CONFIG). */
export function networkLayers(config: AlexNetConfig): Layer[] {
  const layers: Layer[] = [];
  const p = poolSpec(config);
  let x: Shape = [config.inputSize, config.inputSize, 3];
  const push = (l: Layer): void => {
    layers.push(l);
    x = l.out;
  };
  const act = (of: string): void => push({ kind: 'act', name: `${of}.act`, fn: config.activation, in: x, out: x });
  const conv = (i: number): void => {
    const c = CONV_SPECS[i];
    const side = convOut(x[0], c.kernel, c.stride, c.pad);
    const name = `conv${i + 1}`;
    push({ kind: 'conv', name, weight: `${name}.w` as ParamName, bias: `${name}.b` as ParamName, kernel: c.kernel, stride: c.stride, pad: c.pad, groups: c.grouped ? config.groups : 1, in: x, out: [side, side, config.channels[i]] });
    act(name);
  };
  const norm = (name: string): void => void (config.lrn && push({ kind: 'lrn', name, lrn: config.lrn, in: x, out: x }));
  const pool = (name: string): void => {
    const side = poolOut(x[0], p.size, p.stride);
    push({ kind: 'pool', name, size: p.size, stride: p.stride, in: x, out: [side, side, x[2]] });
  };
  const fc = (name: 'fc6' | 'fc7' | 'fc8', units: number, hidden: boolean): void => {
    push({ kind: 'fc', name, weight: `${name}.w`, bias: `${name}.b`, in: x, out: [units] });
    if (!hidden) return;
    act(name);
    push({ kind: 'dropout', name: `${name}.drop`, rate: config.dropout, in: x, out: x });
  };
  conv(0); //                                   [227, 227, 3] -> [55, 55, 96], ReLU
  norm('norm1'); //                             LRN, then pool
  pool('pool1'); //                             [27, 27, 96]
  conv(1); //                                   [27, 27, 256] (2 groups of 128), ReLU
  norm('norm2');
  pool('pool2'); //                             [13, 13, 256]
  conv(2); //                                   [13, 13, 384] (sees both halves), ReLU
  conv(3); //                                   [13, 13, 384] (2 groups of 192), ReLU
  conv(4); //                                   [13, 13, 256] (2 groups of 128), ReLU
  pool('pool5'); //                             [6, 6, 256]
  push({ kind: 'flatten', name: 'flatten', in: x, out: [x.reduce((a, b) => a * b, 1)] }); // [9216]
  fc('fc6', config.fcUnits, true); //           [4096], ReLU, dropout
  fc('fc7', config.fcUnits, true); //           [4096], ReLU, dropout
  fc('fc8', config.numClasses, false); //       [numClasses] logits
  return layers;
}

/** Output shape of each conv, pool and fc layer (and 'input'), from networkLayers. */
export function layerShapes(config: AlexNetConfig): Record<string, number[]> {
  const out: Record<string, number[]> = { input: [config.inputSize, config.inputSize, 3] };
  for (const l of networkLayers(config)) if (l.kind === 'conv' || l.kind === 'pool' || l.kind === 'fc') out[l.name] = l.out;
  return out;
}

/** [h, w, c] of pool5's output (6 x 6 x 256 for the paper's network). Throws BAD_CONFIG if < 1. */
export function pool5Shape(config: AlexNetConfig): [number, number, number] {
  const shapes = layerShapes(config);
  for (const [name, shape] of Object.entries(shapes)) {
    if (shape.some((d) => !(d >= 1))) {
      throw new EngineError(
        'BAD_CONFIG',
        `inputSize ${config.inputSize} is too small: ${name} would be ${shape.join('x')}; use at least 67 (227 is the paper's)`,
      );
    }
  }
  const [h, w, c] = shapes.pool5;
  return [h, w, c];
}

/** Number of features pool5 hands to fc6 (9216 for the paper's network). */
export function pool5Features(config: AlexNetConfig): number {
  const [h, w, c] = pool5Shape(config);
  return h * w * c;
}

/** Shape of every parameter tensor, in the layouts documented at PARAM_NAMES, from networkLayers. */
export function paramShapes(config: AlexNetConfig): Record<ParamName, number[]> {
  const out = {} as Record<ParamName, number[]>;
  for (const l of networkLayers(config)) {
    if (l.kind === 'conv') {
      out[l.weight] = [l.kernel, l.kernel, l.in[2] / l.groups, l.out[2]];
      out[l.bias] = [l.out[2]];
    } else if (l.kind === 'fc') {
      out[l.weight] = [l.in[0], l.out[0]];
      out[l.bias] = [l.out[0]];
    }
  }
  return out;
}

/** Total learnable parameters: 60,965,224 for the paper's 1000-class network. */
export function paramCount(config: AlexNetConfig): number {
  const shapes = paramShapes(config);
  let n = 0;
  for (const name of PARAM_NAMES) n += shapes[name].reduce((a, b) => a * b, 1);
  return n;
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
const isFiniteNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Throws EngineError('BAD_CONFIG') with a message naming the bad field; returns the config. */
export function validateConfig(config: AlexNetConfig): AlexNetConfig {
  const bad = (msg: string): never => {
    throw new EngineError('BAD_CONFIG', `bad model config: ${msg}`);
  };
  if (!isPosInt(config.numClasses) || config.numClasses < 2)
    bad(`numClasses must be an integer >= 2, got ${String(config.numClasses)}`);
  if (!isPosInt(config.inputSize)) bad(`inputSize must be a positive integer, got ${String(config.inputSize)}`);
  if (!Array.isArray(config.channels) || config.channels.length !== 5 || !config.channels.every(isPosInt))
    bad(`channels must be 5 positive integers (conv1..conv5), got ${JSON.stringify(config.channels)}`);
  if (!isPosInt(config.fcUnits)) bad(`fcUnits must be a positive integer, got ${String(config.fcUnits)}`);
  if (config.groups !== 1 && config.groups !== 2) bad(`groups must be 1 or 2, got ${String(config.groups)}`);
  if (config.groups === 2) {
    // conv2 splits conv1's outputs and its own; conv4 and conv5 likewise (conv3 sees everything).
    config.channels.forEach((c, i) => {
      if (c % 2 !== 0) bad(`with groups 2, every conv's channels must be even; conv${i + 1} has ${c}`);
    });
  }
  if (config.lrn !== null) {
    const l = config.lrn;
    if (typeof l !== 'object' || l === undefined) bad(`lrn must be {size, k, alpha, beta} or null`);
    if (!isPosInt(l.size) || l.size % 2 !== 1) bad(`lrn.size must be an odd positive integer (paper 5), got ${String(l.size)}`);
    if (!isFiniteNum(l.k) || l.k < 0) bad(`lrn.k must be a number >= 0 (paper 2, BVLC 1), got ${String(l.k)}`);
    if (!isFiniteNum(l.alpha) || l.alpha < 0) bad(`lrn.alpha must be a number >= 0 (paper 1e-4), got ${String(l.alpha)}`);
    if (!isFiniteNum(l.beta)) bad(`lrn.beta must be a number (paper 0.75), got ${String(l.beta)}`);
    if (l.k === 0 && l.beta > 0) bad(`lrn.k must be > 0 (k=0 divides by zero on all-zero inputs)`);
  }
  if (typeof config.overlappingPool !== 'boolean')
    bad(`overlappingPool must be true (3x3/2) or false (2x2/2), got ${String(config.overlappingPool)}`);
  if (config.activation !== 'relu' && config.activation !== 'tanh')
    bad(`activation must be 'relu' or 'tanh', got ${JSON.stringify(config.activation)}`);
  if (!isFiniteNum(config.dropout) || config.dropout < 0 || config.dropout >= 1)
    bad(`dropout must be in [0, 1), got ${String(config.dropout)}`);
  pool5Shape(config); // throws BAD_CONFIG if the input is too small for the network
  return config;
}

/** DEFAULT_CONFIG with `partial` on top, validated (EngineError 'BAD_CONFIG'). A fresh object. */
export function makeConfig(partial: Partial<AlexNetConfig> = {}): AlexNetConfig {
  const config: AlexNetConfig = {
    ...DEFAULT_CONFIG,
    ...partial,
    channels: [...(partial.channels ?? DEFAULT_CONFIG.channels)] as AlexNetConfig['channels'],
    lrn: partial.lrn === null ? null : { ...(partial.lrn ?? DEFAULT_CONFIG.lrn ?? PAPER_LRN) },
  };
  return validateConfig(config);
}
