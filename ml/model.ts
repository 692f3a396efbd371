// AlexNet, as the 2012 paper built it (Krizhevsky, Sutskever & Hinton, NIPS 2012, Figure 2).
//
// Read top to bottom: parameters (shapes, paper init, import/export), then the forward pass, which
// runs the layers that ml/config.ts's networkLayers lists (with their shapes) for a config.
// Tensors are NHWC. Shapes in comments are for the paper's network (DEFAULT_CONFIG): 227x227x3 in.

import * as tf from '@tensorflow/tfjs-core';
import {
  PARAM_NAMES,
  STAGE_ENDS,
  networkLayers,
  paramShapes,
  pool5Features,
  validateConfig,
  type AlexNetConfig,
  type Layer,
  type ParamName,
  type Params,
} from './config';
import { EngineError } from './errors';
import { graphForward, releaseGraphWeights, type GraphStage } from './graph';
import { moveToNative } from './kernels/tensorflow';
import { dense, groupedConv2d, lrn } from './layers';
import { createRng } from './rng';

// Re-exported so that callers can take the whole model API from one module.
export {
  DEFAULT_CONFIG,
  TINY_CONFIG,
  PAPER_LRN,
  BVLC_LRN,
  PARAM_NAMES,
  makeConfig,
  validateConfig,
  paramShapes,
  paramCount,
  pool5Shape,
  pool5Features,
  layerShapes,
  networkLayers,
} from './config';
export type { AlexNetConfig, ParamName, Params, LrnConfig, Layer } from './config';

// -------------------------------------------------------------------------------------------------
// Parameters

// Biases initialised to 1 "accelerates the early stages of learning by providing the ReLUs with
// positive inputs" (section 5); every other bias is 0.
const ONE_BIASES: ReadonlySet<ParamName> = new Set(['conv2.b', 'conv4.b', 'conv5.b', 'fc6.b', 'fc7.b']);
const INIT_STD = 0.01; // weights ~ N(0, 0.01) (section 5)

/** tf.dropout's seed for layer `index` under the step's seed, so each dropout layer gets its own mask. */
function dropoutSeed(seed: number, index: number): number {
  return ((Math.floor(seed) >>> 0) * 1009 + index * 7919 + 17) >>> 0;
}

/** Paper initialisation, reproducible under `seed` (same seed -> same weights on every backend). */
export function initParams(config: AlexNetConfig, seed: number, scheme: 'paper' | 'he' = 'paper'): Params {
  validateConfig(config);
  const shapes = paramShapes(config);
  const params = {} as Params;
  // Each tensor draws from its own stream, keyed by the run's seed and the tensor's name, so a
  // tensor's values do not depend on which tensors come before it. Computed in JS, so the same seed
  // gives the same weights on every backend.
  const rng = createRng(seed);
  PARAM_NAMES.forEach((name) => {
    const shape = shapes[name];
    const size = shape.reduce((x, y) => x * y, 1);
    // 'he' (std sqrt(2 / fan-in), biases 0) is for narrow networks such as TINY_CONFIG, where the
    // paper's fixed 0.01 shrinks the signal to nothing through eight layers and nothing trains.
    const fanIn = size / shape[shape.length - 1];
    const std = scheme === 'he' ? Math.sqrt(2 / fanIn) : INIT_STD;
    const init = name.endsWith('.b')
      ? tf.fill(shape, scheme === 'paper' && ONE_BIASES.has(name) ? 1 : 0, 'float32')
      : tf.tensor(rng.fork(name).normals(size, std), shape, 'float32');
    params[name] = ownVariable(init); // unnamed: several models may live at once
  });
  return settle(params);
}

/**
 * Hands new parameters' values to the backend now (tfjs-node otherwise keeps the source arrays until
 * an op first reads each tensor: a second copy of the model's 244 MB through the first step).
 */
function settle(params: Params): Params {
  moveToNative(PARAM_NAMES.map((n) => params[n]));
  return params;
}

/**
 * A variable that owns `t`'s data. tf.variable(t) shares t's buffer and leaves t holding a second
 * reference, so until t is disposed the buffer outlives the variable (after dispose or assign).
 */
export function ownVariable(t: tf.Tensor, trainable = true): tf.Variable {
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}

/** Frees every parameter tensor. */
export function disposeParams(params: Params): void {
  releaseGraphWeights(params);
  for (const name of PARAM_NAMES) params[name]?.dispose();
}

/**
 * Params from flat Float32Arrays in the documented layouts (checkpoints, ONNX import).
 * `shapes`, when the source knows them, are checked too. EngineError 'BAD_WEIGHTS' names the
 * tensor and both shapes on any mismatch.
 */
export function paramsFromArrays(
  config: AlexNetConfig,
  arrays: Record<ParamName, Float32Array>,
  shapes?: Partial<Record<ParamName, readonly number[]>>,
): Params {
  validateConfig(config);
  const expected = paramShapes(config);
  for (const name of PARAM_NAMES) {
    const want = expected[name];
    const size = want.reduce((a, b) => a * b, 1);
    const got = arrays[name];
    if (!(got instanceof Float32Array))
      throw new EngineError('BAD_WEIGHTS', `weights ${name}: missing (expected shape [${want.join(', ')}])`);
    const gotShape = shapes?.[name];
    if (gotShape !== undefined && (gotShape.length !== want.length || gotShape.some((d, i) => d !== want[i])))
      throw new EngineError(
        'BAD_WEIGHTS',
        `weights ${name}: shape [${gotShape.join(', ')}] does not match the model's [${want.join(', ')}]`,
      );
    if (got.length !== size)
      throw new EngineError(
        'BAD_WEIGHTS',
        `weights ${name}: ${got.length} values do not fit the model's shape [${want.join(', ')}] (${size} values)`,
      );
  }
  const params = {} as Params;
  for (const name of PARAM_NAMES) {
    params[name] = ownVariable(tf.tensor(arrays[name], expected[name], 'float32'));
  }
  return settle(params);
}

/** Copies every parameter out as a flat Float32Array (same layouts). */
export function paramsToArrays(params: Params): Record<ParamName, Float32Array> {
  const out = {} as Record<ParamName, Float32Array>;
  for (const name of PARAM_NAMES) out[name] = params[name].dataSync() as Float32Array;
  return out;
}

// -------------------------------------------------------------------------------------------------
// Forward pass

// Points where forward can start or stop: 'pool5' and 'fc7' are flattened feature vectors, which lets
// transfer learning compute the frozen part once and cache it.
export const STAGES = ['input', 'pool5', 'fc7', 'logits'] as const;
export type Stage = (typeof STAGES)[number];

export type ForwardOptions = {
  training: boolean; // dropout on (true) or off (false)
  seed?: number; // dropout masks' seed (training only); omitted = random
  from?: Stage; // what x is: 'input' [N, S, S, 3] (default), 'pool5' [N, 9216], 'fc7' [N, 4096]
  to?: Stage; // where to stop: 'pool5' [N, 9216], 'fc7' [N, 4096], 'logits' [N, numClasses] (default)
  onLayer?: (layer: string, shape: number[]) => void; // optional trace of each layer's output shape
  fixedWeights?: boolean; // inference only: these weights will run again unchanged (a model kept for classification), see ml/graph.ts
  layers?: readonly Layer[]; // the network to run: networkLayers(config) unless given (a variant of it, for experiments)
};

/**
 * Runs the network from stage `from` to stage `to`: the layers of networkLayers(config) (ml/config.ts,
 * where they are listed with their shapes), one after the other. x for 'input' is float32
 * [N, S, S, 3], already normalised. Returns logits (no softmax) for to='logits'. Call inside tf.tidy
 * or dispose the result.
 */
export function forward(params: Params, config: AlexNetConfig, x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
  const from = opts.from ?? 'input';
  const to = opts.to ?? 'logits';
  const iFrom = STAGES.indexOf(from);
  const iTo = STAGES.indexOf(to);
  if (iFrom < 0 || iTo < 0 || iTo <= iFrom)
    throw new EngineError('BAD_CONFIG', `forward: cannot go from '${from}' to '${to}'`);
  if (iFrom < 1 && (x.rank !== 4 || x.shape[1] !== config.inputSize || x.shape[2] !== config.inputSize || x.shape[3] !== 3))
    throw new EngineError(
      'BAD_CONFIG',
      `forward: input must be [N, ${config.inputSize}, ${config.inputSize}, 3], got [${x.shape.join(', ')}]`,
    );
  const layers = opts.layers ?? networkLayers(config);
  // Inference from images on the native backend: the same layers as one TensorFlow call (ml/graph.ts)
  if (!opts.training && iFrom === 0 && opts.onLayer === undefined) {
    const y = graphForward(params, config, x, to as GraphStage, opts.fixedWeights === true, layers);
    if (y !== null) return y;
  }
  const after = (stage: Stage): number => (stage === 'input' ? 0 : layers.findIndex((l) => l.name === STAGE_ENDS[stage]) + 1);

  const apply = (layer: Layer, h: tf.Tensor): tf.Tensor => {
    switch (layer.kind) {
      case 'conv': // grouped: the paper's two-GPU split (ml/layers.ts)
        return groupedConv2d(h as tf.Tensor4D, params[layer.weight] as tf.Tensor4D, params[layer.bias] as tf.Tensor1D, layer.stride, layer.pad, layer.groups);
      case 'act': // ReLU (3.1), or the saturating tanh it replaced
        return layer.fn === 'relu' ? tf.relu(h) : tf.tanh(h);
      case 'lrn': // local response normalisation (3.3)
        return lrn(h as tf.Tensor4D, layer.lrn);
      case 'pool': // overlapping max-pooling (3.4), 'valid'
        return tf.maxPool(h as tf.Tensor4D, layer.size, layer.stride, 'valid');
      case 'flatten': // NHWC order (h, w, c), as fc6's rows
        return tf.reshape(h, [h.shape[0], -1]);
      case 'fc':
        return dense(h as tf.Tensor2D, params[layer.weight] as tf.Tensor2D, params[layer.bias] as tf.Tensor1D);
      case 'dropout': {
        // Dropout (4.2): tf.dropout is "inverted" (scales kept units by 1/(1-p) while training),
        // equivalent to the paper's "multiply the outputs by 0.5 at test time". Seeded per layer (fc6, fc7).
        if (!opts.training || layer.rate === 0) return h;
        const k = 100 + Number(/\d+/.exec(layer.name)?.[0] ?? 0);
        return tf.dropout(h, layer.rate, undefined, opts.seed === undefined ? undefined : dropoutSeed(opts.seed, k));
      }
    }
  };

  return tf.tidy(() => {
    let h: tf.Tensor = x;
    if (from === 'pool5') {
      h = tf.reshape(h, [h.shape[0], -1]); //                       pool5 features [N, 9216]
      if (h.shape[1] !== pool5Features(config))
        throw new EngineError('BAD_CONFIG', `forward: pool5 features must be ${pool5Features(config)} wide, got ${h.shape[1]}`);
    }
    if (from === 'fc7' && (h.rank !== 2 || h.shape[1] !== config.fcUnits))
      throw new EngineError('BAD_CONFIG', `forward: fc7 features must be [N, ${config.fcUnits}], got [${h.shape.join(', ')}]`);
    const run = layers.slice(after(from), after(to));
    for (let i = 0; i < run.length; i++) {
      const layer = run[i];
      const next = run[i + 1];
      if (layer.kind === 'conv' && next?.kind === 'act' && next.fn === 'relu') {
        // the conv's ReLU in the same call: one program on webgpu (ml/layers.ts), the same ops elsewhere
        h = groupedConv2d(h as tf.Tensor4D, params[layer.weight] as tf.Tensor4D, params[layer.bias] as tf.Tensor1D, layer.stride, layer.pad, layer.groups, 'relu');
        i++;
      } else {
        h = apply(layer, h);
      }
      if (layer.kind === 'conv' || layer.kind === 'pool' || layer.kind === 'fc') opts.onLayer?.(layer.name, h.shape.slice());
    }
    return h;
  });
}
