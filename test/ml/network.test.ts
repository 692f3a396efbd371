// One description of the network (ml/config.ts networkLayers) that everything walks. The paper's
// shapes come from it; and a made-up layer option (an LRN after conv5 too, which no config field
// offers) given as a variant of the list is followed by the eager forward, the TensorFlow graph,
// the TF.js graph-model export (stock tfjs-converter), the ONNX export (ONNX Runtime) and the ONNX
// import, with the same numbers; the default description refuses the variant's file.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, PARAM_NAMES, TINY_CONFIG, layerShapes, networkLayers, paramShapes, type AlexNetConfig, type Layer } from '../../ml/config';
import { EngineError } from '../../ml/errors';
import { graphUnsupported } from '../../ml/graph';
import { disposeParams, forward, paramsFromArrays } from '../../ml/model';
import { PAPER_PREPROCESSING } from '../../ml/preprocess';
import { exportTfjs } from '../../ml/weights/export-tfjs';
import { exportOnnx, parseOnnxAlexNet } from '../../ml/weights/onnx';
import { useEngine } from '../helpers/engine';
import { randomArrays } from '../helpers/random-model';
import { loadExportedGraph } from '../helpers/tfjs-export';

const dir = useEngine('alexnet-network-', 'auto');

describe('networkLayers', () => {
  it("lists the paper's network in order, and the shapes and parameters come from it", () => {
    const layers = networkLayers(DEFAULT_CONFIG);
    expect(layers.map((l) => l.name)).toEqual([
      'conv1', 'conv1.act', 'norm1', 'pool1', 'conv2', 'conv2.act', 'norm2', 'pool2', 'conv3', 'conv3.act', 'conv4', 'conv4.act', 'conv5', 'conv5.act', 'pool5',
      'flatten', 'fc6', 'fc6.act', 'fc6.drop', 'fc7', 'fc7.act', 'fc7.drop', 'fc8',
    ]);
    const by = (name: string): Layer => layers.find((l) => l.name === name)!;
    expect(by('conv1').out).toEqual([55, 55, 96]);
    expect(by('conv2')).toMatchObject({ kernel: 5, pad: 2, groups: 2, in: [27, 27, 96], out: [27, 27, 256] });
    expect(by('pool5').out).toEqual([6, 6, 256]);
    expect(by('flatten').out).toEqual([9216]);
    expect(layerShapes(DEFAULT_CONFIG).pool5).toEqual([6, 6, 256]);
    expect(paramShapes(DEFAULT_CONFIG)['conv2.w']).toEqual([5, 5, 48, 256]);
    expect(paramShapes(DEFAULT_CONFIG)['fc6.w']).toEqual([9216, 4096]);
    expect(networkLayers({ ...DEFAULT_CONFIG, lrn: null }).some((l) => l.kind === 'lrn')).toBe(false);
  });
});

describe('a made-up layer option: LRN after conv5 too', () => {
  const config: AlexNetConfig = { ...TINY_CONFIG, numClasses: 4 };
  /** networkLayers with one more layer: the paper's LRN after conv5's activation. */
  const withNorm5 = (c: AlexNetConfig): Layer[] => {
    const layers = networkLayers(c);
    const at = layers.findIndex((l) => l.name === 'conv5.act');
    const x = layers[at].out;
    layers.splice(at + 1, 0, { kind: 'lrn', name: 'norm5', lrn: c.lrn!, in: x, out: x });
    return layers;
  };
  const layers = withNorm5(config);
  const arrays = randomArrays(config, 21);
  const model = { config, arrays, classNames: ['a', 'b', 'c', 'd'], preprocessing: { ...PAPER_PREPROCESSING, resize: 112, crop: 99 } };
  const S = config.inputSize;
  const n = 3;
  const x = Float32Array.from({ length: n * S * S * 3 }, (_, i) => 40 * Math.sin(i * 0.37) + 20 * Math.cos(i * 0.011));

  const run = (opts: { layers?: Layer[]; eager?: boolean }): Float32Array => {
    const params = paramsFromArrays(config, arrays);
    try {
      return tf.tidy(() => {
        const logits = forward(params, config, tf.tensor4d(x, [n, S, S, 3]), { training: false, layers: opts.layers, onLayer: opts.eager ? () => {} : undefined });
        return tf.softmax(logits).dataSync() as Float32Array;
      });
    } finally {
      disposeParams(params);
    }
  };
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };
  let eager: Float32Array = new Float32Array(0);

  it('forward follows it (and the layer changes the answers)', () => {
    eager = run({ layers, eager: true });
    expect(maxDiff(eager, run({ eager: true }))).toBeGreaterThan(1e-4);
  });

  it('the TensorFlow graph follows it', async () => {
    if (tf.getBackend() !== 'tensorflow' || graphUnsupported(config) !== null) return void console.warn(`graph not checked: ${graphUnsupported(config)}`); // native backend only
    expect(maxDiff(run({ layers }), eager)).toBeLessThan(1e-5);
    const p = await tf.profile(() => void run({ layers }));
    expect(p.kernelNames).not.toContain('Conv2D'); // one graph call, not op by op
    expect((await tf.profile(() => void run({ layers, eager: true }))).kernelNames).toContain('Conv2D');
  });

  it('the TF.js graph model follows it (stock tfjs-converter)', async () => {
    const out = path.join(dir, 'tfjs');
    await exportTfjs(model, out, layers);
    const json = JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8'));
    expect(json.modelTopology.node.map((nd: { name: string }) => nd.name)).toContain('norm5');
    const g = await loadExportedGraph(out);
    const y = g.predict(tf.tensor4d(x, [n, S, S, 3])) as tf.Tensor;
    expect(maxDiff(y.dataSync(), eager)).toBeLessThan(1e-5);
    y.dispose();
    g.dispose();
  });

  it('the ONNX export follows it (ONNX Runtime), and the import reads it back with the same description', async () => {
    const out = path.join(dir, 'onnx');
    await exportOnnx(model, out, layers);
    const nchw = new Float32Array(x.length);
    for (let i = 0; i < n; i++)
      for (let yy = 0; yy < S; yy++) for (let xx = 0; xx < S; xx++) for (let c = 0; c < 3; c++) nchw[((i * 3 + c) * S + yy) * S + xx] = x[((i * S + yy) * S + xx) * 3 + c];
    const s = await ort.InferenceSession.create(path.join(out, 'model.onnx'), { intraOpNumThreads: 2, interOpNumThreads: 1 });
    const res = await s.run({ data: new ort.Tensor('float32', nchw, [n, 3, S, S]) });
    expect(maxDiff(res.prob.data as Float32Array, eager)).toBeLessThan(1e-5);
    await s.release();

    const bytes = readFileSync(path.join(out, 'model.onnx'));
    const back = parseOnnxAlexNet(bytes, withNorm5);
    expect(back.config).toEqual(config);
    for (const name of PARAM_NAMES) expect(Buffer.from(back.arrays[name].buffer).equals(Buffer.from(arrays[name].buffer)), name).toBe(true);
    // The paper's description has no norm5: the same file is not that network.
    expect(() => parseOnnxAlexNet(bytes)).toThrow(EngineError);
    expect(() => parseOnnxAlexNet(bytes)).toThrow(/node \d+ is LRN, expected MaxPool \(pool5\)/);
  });
});
