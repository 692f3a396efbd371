// ml/graph.ts: inference from images as one TensorFlow graph gives forward()'s op-by-op results at
// every stop point, for the paper's layer switches, always with the model's current weights; forward()
// takes it on the native backend and runs op by op elsewhere or when it is turned off.
//
// Skipped with a message where @tensorflow/tfjs-node has no native build, unless
// ALEXNET_REQUIRE_NATIVE=1 (CI), where that is a failure.
import fs from 'node:fs';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findNativeBinding, initBackend } from '../../ml/backend';
import { graphForward, graphOpenError, graphUnsupported, hasFixedGraph, type GraphStage } from '../../ml/graph';
import { TINY_CONFIG, disposeParams, forward, initParams, makeConfig, type AlexNetConfig } from '../../ml/model';
import { maxRelDiff } from '../helpers/numeric';

const REQUIRE = process.env.ALEXNET_REQUIRE_NATIVE === '1';
const native = findNativeBinding('@tensorflow/tfjs-node') !== null;
if (!native && !REQUIRE) console.warn('[graph.test] skipping: @tensorflow/tfjs-node has no native build here');

// this process's folders alone: other test files write theirs at the same time
const tmpGraphs = (): string[] => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(`alexnet-graph-${process.pid}-`));

/** forward() op by op (the graph turned off). */
function eager(run: () => Float32Array): Float32Array {
  process.env.ALEXNET_GRAPH = '0';
  try {
    return run();
  } finally {
    delete process.env.ALEXNET_GRAPH;
  }
}

describe.runIf(native || REQUIRE)('inference as one TensorFlow graph', () => {
  beforeAll(async () => {
    await initBackend('tensorflow');
  });
  afterEach(() => {
    delete process.env.ALEXNET_GRAPH;
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  const configs: { name: string; config: AlexNetConfig; n: number }[] = [
    { name: 'the paper layers (tiny sizes)', config: TINY_CONFIG, n: 3 },
    { name: 'one image', config: TINY_CONFIG, n: 1 },
    { name: 'groups 1, no LRN, 2x2 pooling, tanh', config: makeConfig({ ...TINY_CONFIG, groups: 1, lrn: null, overlappingPool: false, activation: 'tanh', inputSize: 67 }), n: 2 },
    { name: "BVLC's LRN constant, 5 classes", config: makeConfig({ ...TINY_CONFIG, lrn: { size: 5, k: 1, alpha: 1e-4, beta: 0.75 }, numClasses: 5 }), n: 2 },
  ];
  const stages: GraphStage[] = ['pool5', 'fc7', 'logits'];

  it.each(configs)("gives forward()'s op-by-op results at pool5, fc7 and logits: $name", ({ config, n }) => {
    const before = tmpGraphs().length;
    const params = initParams(config, 7, 'he');
    const x = tf.randomNormal([n, config.inputSize, config.inputSize, 3], 0, 1, 'float32', 7);
    try {
      expect(graphUnsupported(config)).toBeNull();
      for (const to of stages) {
        const viaGraph = tf.tidy(() => graphForward(params, config, x, to)!.dataSync() as Float32Array);
        const viaForward = tf.tidy(() => forward(params, config, x, { training: false, to }).dataSync() as Float32Array);
        const opByOp = eager(() => tf.tidy(() => forward(params, config, x, { training: false, to }).dataSync() as Float32Array));
        expect(opByOp.some((v) => v !== 0)).toBe(true);
        expect(maxRelDiff(viaGraph, opByOp)).toBeLessThan(1e-4);
        expect(maxRelDiff(viaForward, viaGraph)).toBe(0); // forward() took the graph
      }
      expect(graphOpenError(config)).toBeNull();
      expect(tmpGraphs().length).toBe(before); // the SavedModel folder is gone once loaded
    } finally {
      x.dispose();
      disposeParams(params);
    }
  });

  it('always runs the weights as they are now, and leaves no tensor behind', () => {
    const params = initParams(TINY_CONFIG, 3, 'he');
    const x = tf.randomNormal([2, 99, 99, 3], 0, 1, 'float32', 4);
    try {
      const first = tf.tidy(() => forward(params, TINY_CONFIG, x, { training: false }).dataSync());
      params['fc8.b'].assign(tf.tidy(() => tf.add(params['fc8.b'], 1)));
      params['conv1.w'].assign(tf.tidy(() => tf.mul(params['conv1.w'], 2)));
      const tensors = tf.memory().numTensors;
      const after = tf.tidy(() => forward(params, TINY_CONFIG, x, { training: false }).dataSync());
      const opByOp = eager(() => tf.tidy(() => forward(params, TINY_CONFIG, x, { training: false }).dataSync() as Float32Array));
      expect(maxRelDiff(after, first)).toBeGreaterThan(1e-3);
      expect(maxRelDiff(after, opByOp)).toBeLessThan(1e-4);
      expect(tf.memory().numTensors).toBe(tensors);
    } finally {
      x.dispose();
      disposeParams(params);
    }
  });

  it('fixed weights: their own graph (conv constants, [out, in] fc copies) from the second call on, the same results, remade after an assign, freed with the params', () => {
    const config = makeConfig({ ...TINY_CONFIG, numClasses: 4 });
    const params = initParams(config, 8, 'he');
    const x = tf.randomNormal([2, 99, 99, 3], 0, 1, 'float32', 9);
    const base = tf.memory().numTensors;
    try {
      const run = (to: GraphStage = 'logits'): Float32Array => tf.tidy(() => forward(params, config, x, { training: false, fixedWeights: true, to }).dataSync() as Float32Array);
      const plainAt = (to: GraphStage): Float32Array => tf.tidy(() => forward(params, config, x, { training: false, to }).dataSync() as Float32Array);
      const plain = plainAt('logits');
      expect(maxRelDiff(run(), plain)).toBe(0); // first call: the shared graph, nothing made yet
      expect(hasFixedGraph(params)).toBe(false);
      expect(tf.memory().numTensors).toBe(base);
      const second = run();
      expect(hasFixedGraph(params)).toBe(true);
      expect(tf.memory().numTensors).toBe(base + 3); // fc6-fc8 copies, kept for the next calls
      expect(maxRelDiff(second, plain)).toBeLessThan(1e-5);
      for (const to of ['pool5', 'fc7'] as const) expect(maxRelDiff(run(to), plainAt(to))).toBeLessThan(1e-5);
      expect(tf.memory().numTensors).toBe(base + 3);
      // new weights (a conv layer here): the stale graph and copies are dropped, the next call runs
      // the weights as they are, the one after makes them again
      const doubled = tf.mul(params['conv3.w'], 2);
      params['conv3.w'].assign(doubled);
      doubled.dispose(); // the variable holds its buffer now
      const now = plainAt('logits');
      expect(maxRelDiff(now, plain)).toBeGreaterThan(1e-3);
      expect(maxRelDiff(run(), now)).toBe(0);
      expect(hasFixedGraph(params)).toBe(false);
      expect(tf.memory().numTensors).toBe(base);
      expect(maxRelDiff(run(), now)).toBeLessThan(1e-5);
      expect(hasFixedGraph(params)).toBe(true);
      expect(tf.memory().numTensors).toBe(base + 3);
    } finally {
      x.dispose();
      disposeParams(params);
    }
    expect(hasFixedGraph(params)).toBe(false);
    expect(tf.memory().numTensors).toBe(base - 17); // the params (16) and x are gone, and so are the copies
  });

  it('is not used while training (dropout), for a trace, or on another backend; a bad input still fails clearly', async () => {
    const params = initParams(TINY_CONFIG, 5, 'he');
    const x = tf.randomNormal([2, 99, 99, 3], 0, 1, 'float32', 6);
    try {
      const layers: string[] = [];
      tf.tidy(() => forward(params, TINY_CONFIG, x, { training: false, onLayer: (l) => layers.push(l) }));
      expect(layers).toContain('conv1'); // traced op by op
      const p = await tf.profile(() => tf.tidy(() => void forward(params, TINY_CONFIG, x, { training: true, seed: 1 })));
      expect(p.kernelNames).toContain('Conv2D'); // training runs op by op
      expect(() => forward(params, TINY_CONFIG, tf.zeros([1, 98, 98, 3]), { training: false })).toThrow(/input must be \[N, 99, 99, 3\], got \[1, 98, 98, 3\]/);
      process.env.ALEXNET_GRAPH = '0';
      expect(graphUnsupported(TINY_CONFIG)).toBe('ALEXNET_GRAPH=0');
      delete process.env.ALEXNET_GRAPH;
      await tf.setBackend('cpu');
      try {
        expect(graphUnsupported(TINY_CONFIG)).toMatch(/backend cpu is not TensorFlow/);
        expect(graphForward(params, TINY_CONFIG, x, 'logits')).toBeNull();
      } finally {
        await tf.setBackend('tensorflow');
      }
    } finally {
      x.dispose();
      disposeParams(params);
    }
  });
});
