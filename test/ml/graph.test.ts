// ml/graph.ts: the forward pass as one frozen TensorFlow graph gives forward()'s logits, for the
// paper's layer switches (groups, LRN, pooling, activation), and fails clearly where it cannot run.
//
// Skipped with a message where @tensorflow/tfjs-node has no native build, unless
// ALEXNET_REQUIRE_NATIVE=1 (CI), where that is a failure.
import fs from 'node:fs';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNativeBinding, initBackend } from '../../ml/backend';
import { graphUnsupported, InferenceGraph } from '../../ml/graph';
import { TINY_CONFIG, disposeParams, forward, initParams, makeConfig, type AlexNetConfig } from '../../ml/model';
import { maxRelDiff } from '../helpers/numeric';

const REQUIRE = process.env.ALEXNET_REQUIRE_NATIVE === '1';
const native = findNativeBinding('@tensorflow/tfjs-node') !== null;
if (!native && !REQUIRE) console.warn('[graph.test] skipping: @tensorflow/tfjs-node has no native build here');

const tmpGraphs = (): string[] => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('alexnet-graph-'));

/** Logits of the graph and of eager forward() on the same random input. */
function both(config: AlexNetConfig, n: number, seed: number): { graph: Float32Array; eager: Float32Array } {
  const params = initParams(config, seed, 'he');
  const g = InferenceGraph.open(params, config);
  try {
    return tf.tidy(() => {
      const x = tf.randomNormal([n, config.inputSize, config.inputSize, 3], 0, 1, 'float32', seed);
      const y = g.run(x);
      expect(y.shape).toEqual([n, config.numClasses]);
      return { graph: y.dataSync() as Float32Array, eager: forward(params, config, x, { training: false }).dataSync() as Float32Array };
    });
  } finally {
    g.dispose();
    disposeParams(params);
  }
}

describe.runIf(native || REQUIRE)('the inference graph', () => {
  beforeAll(async () => {
    await initBackend('tensorflow');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each([
    { name: 'the paper layers (tiny sizes)', config: TINY_CONFIG, n: 3 },
    { name: 'one image', config: TINY_CONFIG, n: 1 },
    { name: 'groups 1, no LRN, 2x2 pooling, tanh', config: makeConfig({ ...TINY_CONFIG, groups: 1, lrn: null, overlappingPool: false, activation: 'tanh', inputSize: 67 }), n: 2 },
    { name: "BVLC's LRN constant, 5 classes", config: makeConfig({ ...TINY_CONFIG, lrn: { size: 5, k: 1, alpha: 1e-4, beta: 0.75 }, numClasses: 5 }), n: 2 },
  ])('gives forward()s logits: $name', ({ config, n }) => {
    const before = tmpGraphs().length;
    const { graph, eager } = both(config, n, 7);
    expect(Array.from(eager).some((v) => v !== 0)).toBe(true);
    expect(maxRelDiff(graph, eager)).toBeLessThan(1e-4);
    expect(tmpGraphs().length).toBe(before); // the SavedModel folder is gone once loaded
  });

  it('holds the values the parameters had when it was opened', () => {
    const params = initParams(TINY_CONFIG, 3, 'he');
    const g = InferenceGraph.open(params, TINY_CONFIG);
    const x = tf.randomNormal([2, 99, 99, 3], 0, 1, 'float32', 4);
    try {
      const first = g.run(x).dataSync();
      params['fc8.b'].assign(tf.add(params['fc8.b'], 1));
      const after = g.run(x).dataSync();
      expect(maxRelDiff(after, first)).toBe(0);
      const eager = tf.tidy(() => forward(params, TINY_CONFIG, x, { training: false }).dataSync());
      expect(maxRelDiff(eager, first)).toBeGreaterThan(1e-3); // the live model moved on
    } finally {
      g.dispose();
      x.dispose();
      disposeParams(params);
    }
  });

  it('fails clearly: wrong input, use after dispose, disposed parameters, a non-native backend', async () => {
    const params = initParams(TINY_CONFIG, 5, 'he');
    const g = InferenceGraph.open(params, TINY_CONFIG);
    const wrong = tf.zeros([1, 98, 98, 3]);
    expect(() => g.run(wrong)).toThrow(/input must be \[N, 99, 99, 3\], got \[1, 98, 98, 3\]/);
    g.dispose();
    g.dispose(); // twice is fine
    expect(() => g.run(tf.zeros([1, 99, 99, 3]))).toThrow(/after dispose/);
    wrong.dispose();
    disposeParams(params);
    expect(() => InferenceGraph.open(params, TINY_CONFIG)).toThrow(/conv1.w is disposed/);
    await tf.setBackend('cpu');
    try {
      expect(graphUnsupported(TINY_CONFIG)).toMatch(/backend cpu is not TensorFlow/);
    } finally {
      await tf.setBackend('tensorflow');
    }
    expect(graphUnsupported(TINY_CONFIG)).toBeNull();
  });
});
