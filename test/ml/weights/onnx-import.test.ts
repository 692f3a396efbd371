// The ONNX importer reads any AlexNet, matched by op sequence and tensor shapes, not by name: our own
// export with 7 classes (round trip, bit-exact, labels and preprocessing back), a graph laid out as
// PyTorch's torch.onnx.export lays out the same network (conv1.weight..., Flatten or a Reshape whose
// target is computed from the batch size, no Dropout, no Softmax, LRN as the LRN op), checked against
// ONNX Runtime on real photos; and clear one-line refusals for graphs that are not AlexNet.
// The zoo layout itself is covered by import.test.ts and onnx-crosscheck.test.ts.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../ml/backend';
import { PARAM_NAMES, TINY_CONFIG, makeConfig, type AlexNetConfig } from '../../../ml/config';
import { disposeParams, forward, paramsFromArrays } from '../../../ml/model';
import { PAPER_PREPROCESSING, centerView, loadImage, toInput, type Preprocessing } from '../../../ml/preprocess';
import { buildOnnxModel, parseOnnxAlexNet, type ExportableModel } from '../../../ml/weights/onnx';
import { AT_TENSOR, attr, DT_FLOAT, decodeModel, encodeModel, int64Tensor, type OnnxModel, type OnnxNode } from '../../../ml/weights/onnx-proto';
import { datasetsDir } from '../../helpers/bvlc-fixture';
import { thrownEngineError } from '../../helpers/engine-error';
import { randomArrays } from '../../helpers/random-model';

const photos = ['val/ants/10308379_1b6c72e180.jpg', 'val/bees/10870992_eebeeb3a12.jpg', 'train/ants/0013035.jpg'].map((p) => path.join(datasetsDir, 'hymenoptera', p));

const bytesOf = (m: OnnxModel): Buffer => Buffer.concat(encodeModel(m));
const bitEqual = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function exportable(config: AlexNetConfig, seed: number): ExportableModel {
  const preprocessing: Preprocessing = { ...PAPER_PREPROCESSING, resize: config.inputSize + 13, crop: config.inputSize };
  return { config, arrays: randomArrays(config, seed), classNames: Array.from({ length: config.numClasses }, (_, i) => `kind ${i}`), preprocessing };
}

/**
 * Our export re-laid as torch.onnx.export writes an nn.Module with attributes conv1..conv5, fc6..fc8
 * in eval mode: parameters named '<module>.weight'/'.bias', values named '/conv1/Conv_output_0',
 * input 'input' with a symbolic batch, Dropout removed, no Softmax, every attribute spelled out,
 * opset 17, producer 'pytorch'. `flatten`: torch.flatten (a Flatten op) or x.view(x.size(0), -1)
 * (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, with Constant nodes).
 */
function torchLayout(src: OnnxModel, flatten: 'Flatten' | 'view'): OnnxModel {
  const m = decodeModel(bytesOf(src)); // a deep copy
  const g = m.graph;
  const rename = new Map<string, string>([['data', 'input']]);
  for (const t of g.initializers) {
    const r = /^(conv\d|fc\d)_(w|b)_0$/.exec(t.name);
    if (r) rename.set(t.name, `${r[1]}.${r[2] === 'w' ? 'weight' : 'bias'}`);
  }
  const nodes: OnnxNode[] = [];
  let value = 'input';
  const counts = new Map<string, number>();
  for (const n of g.nodes) {
    if (n.opType === 'Dropout') {
      rename.set(n.outputs[0], value); // eval mode: gone
      continue;
    }
    if (n.opType === 'Softmax') continue;
    const c = (counts.get(n.opType) ?? 0) + 1;
    counts.set(n.opType, c);
    const module = n.opType === 'Conv' || n.opType === 'Gemm' ? rename.get(n.inputs[1])!.split('.')[0] : `${n.opType.toLowerCase()}_${c}`;
    const out = `/${module}/${n.opType}_output_0`;
    const inputs = n.inputs.map((x) => rename.get(x) ?? x);
    if (n.opType === 'Reshape') {
      if (flatten === 'Flatten') nodes.push({ name: '/Flatten', opType: 'Flatten', domain: '', inputs: [inputs[0]], outputs: [out], attributes: [attr.int('axis', 1)] });
      else {
        const konst = (name: string, values: number[], dims: number[]): OnnxNode => ({
          name, opType: 'Constant', domain: '', inputs: [], outputs: [`${name}_output_0`],
          attributes: [{ ...attr.int('value', 0), type: AT_TENSOR, t: { ...int64Tensor('', values), dims } }],
        });
        nodes.push(
          { name: '/Shape', opType: 'Shape', domain: '', inputs: [inputs[0]], outputs: ['/Shape_output_0'], attributes: [] },
          konst('/Constant', [0], []),
          { name: '/Gather', opType: 'Gather', domain: '', inputs: ['/Shape_output_0', '/Constant_output_0'], outputs: ['/Gather_output_0'], attributes: [attr.int('axis', 0)] },
          konst('/Constant_1', [0], [1]),
          { name: '/Unsqueeze', opType: 'Unsqueeze', domain: '', inputs: ['/Gather_output_0', '/Constant_1_output_0'], outputs: ['/Unsqueeze_output_0'], attributes: [] },
          konst('/Constant_2', [-1], [1]),
          { name: '/Concat', opType: 'Concat', domain: '', inputs: ['/Unsqueeze_output_0', '/Constant_2_output_0'], outputs: ['/Concat_output_0'], attributes: [attr.int('axis', 0)] },
          { name: '/Reshape', opType: 'Reshape', domain: '', inputs: [inputs[0], '/Concat_output_0'], outputs: [out], attributes: [] },
        );
      }
    } else {
      const attributes = [...n.attributes];
      const has = (a: string): boolean => attributes.some((x) => x.name === a);
      if (n.opType === 'Conv' && !has('group')) attributes.push(attr.int('group', 1));
      if (n.opType === 'MaxPool') attributes.push(attr.int('ceil_mode', 0), attr.ints('dilations', [1, 1]));
      if (n.opType === 'Gemm') attributes.unshift(attr.float('alpha', 1), attr.float('beta', 1));
      attributes.sort((a, b) => a.name.localeCompare(b.name));
      nodes.push({ name: `/${module}/${n.opType}`, opType: n.opType, domain: '', inputs, outputs: [out], attributes });
    }
    rename.set(n.outputs[0], out);
    value = out;
  }
  nodes.push({ name: '/Identity', opType: 'Identity', domain: '', inputs: [value], outputs: ['logits'], attributes: [] });
  g.nodes = nodes;
  g.initializers = g.initializers.filter((t) => t.name !== 'flatten_shape');
  for (const t of g.initializers) t.name = rename.get(t.name) ?? t.name;
  g.inputs = [{ name: 'input', elemType: DT_FLOAT, shape: ['batch_size', 3, src.graph.inputs[0].shape![2], src.graph.inputs[0].shape![3]] }];
  g.outputs = [{ name: 'logits', elemType: DT_FLOAT, shape: ['batch_size', src.graph.outputs[0].shape![1]] }];
  g.name = 'main_graph';
  m.producerName = 'pytorch';
  m.producerVersion = '2.5.1';
  m.irVersion = 8;
  m.opsetImports = [{ domain: '', version: 17 }];
  m.metadata = [];
  m.docString = '';
  return m;
}

/** Why parseOnnxAlexNet refuses `bytes` (NOT_ALEXNET, one line). */
const refusal = (bytes: Uint8Array): string => thrownEngineError(() => parseOnnxAlexNet(bytes), 'NOT_ALEXNET').message;

/** Our forward's logits, and the same photos as NCHW input for ONNX Runtime. */
async function logits(m: ExportableModel): Promise<{ ours: Float32Array; nchw: Float32Array }> {
  const S = m.config.inputSize;
  const n = photos.length;
  const x = new Float32Array(n * S * S * 3);
  for (let i = 0; i < n; i++) x.set(toInput(await loadImage(photos[i], m.preprocessing), m.preprocessing, centerView(m.preprocessing)), i * S * S * 3);
  const nchw = new Float32Array(x.length);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < S; y++) for (let xx = 0; xx < S; xx++) for (let c = 0; c < 3; c++) nchw[((i * 3 + c) * S + y) * S + xx] = x[((i * S + y) * S + xx) * 3 + c];
  const params = paramsFromArrays(m.config, m.arrays);
  const ours = tf.tidy(() => forward(params, m.config, tf.tensor4d(x, [n, S, S, 3]), { training: false }).dataSync() as Float32Array);
  disposeParams(params);
  return { ours, nchw };
}

beforeAll(async () => {
  await initBackend('auto');
});

describe('our own export', () => {
  it('comes back exactly: 7 classes, the config, every weight bit for bit, labels and preprocessing', () => {
    const config = makeConfig({ ...TINY_CONFIG, numClasses: 7, lrn: { size: 3, k: 1.5, alpha: 2e-4, beta: 0.7 }, dropout: 0.3 });
    const m = exportable(config, 3);
    const back = parseOnnxAlexNet(bytesOf(buildOnnxModel(m)));
    // Dropout's rate is not in an exported graph (Dropout is identity at inference): the paper's 0.5 comes back.
    expect(back.config).toEqual({ ...config, dropout: 0.5 });
    expect(back.classNames).toEqual(m.classNames);
    expect(back.preprocessing).toEqual(m.preprocessing);
    expect(back.producer).toBe('alexnet-studio');
    for (const name of PARAM_NAMES) expect(bitEqual(back.arrays[name], m.arrays[name]), name).toBe(true);
  });

  it('every switch of the config comes back: one group, no LRN, 2x2 pools, tanh', () => {
    const config = makeConfig({ ...TINY_CONFIG, numClasses: 4, groups: 1, lrn: null, overlappingPool: false, activation: 'tanh', inputSize: 83 });
    const m = exportable(config, 5);
    const back = parseOnnxAlexNet(bytesOf(buildOnnxModel(m)));
    expect(back.config).toEqual(config);
    for (const name of PARAM_NAMES) expect(bitEqual(back.arrays[name], m.arrays[name]), name).toBe(true);
  });
});

describe('a graph laid out as torch.onnx.export writes it', () => {
  const config = makeConfig({ ...TINY_CONFIG, numClasses: 5, lrn: { size: 5, k: 2, alpha: 1e-4, beta: 0.75 } });
  for (const flatten of ['Flatten', 'view'] as const) {
    it(`imports with any names (${flatten === 'Flatten' ? 'torch.flatten' : 'x.view(x.size(0), -1)'}) and gives ONNX Runtime's logits`, async () => {
      const m = exportable(config, 11);
      const torch = torchLayout(buildOnnxModel(m), flatten);
      expect(torch.graph.initializers.map((t) => t.name)).toContain('conv1.weight');
      const bytes = bytesOf(torch);
      const back = parseOnnxAlexNet(bytes);
      expect(back.config).toEqual(config);
      expect(back.declaredInputSize).toBe(config.inputSize);
      expect(back.classNames).toBeNull();
      expect(back.notes.join('\n')).toMatch(/no Dropout nodes/);
      for (const name of PARAM_NAMES) expect(bitEqual(back.arrays[name], m.arrays[name]), name).toBe(true);

      // ONNX Runtime runs the torch-layout file; our forward runs the imported weights.
      const { ours, nchw } = await logits({ ...m, arrays: back.arrays });
      const S = config.inputSize;
      const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2, interOpNumThreads: 1 });
      const res = await s.run({ input: new ort.Tensor('float32', nchw, [photos.length, 3, S, S]) });
      const theirs = res.logits.data as Float32Array;
      expect(res.logits.dims).toEqual([photos.length, 5]);
      let diff = 0;
      let spread = 0;
      for (let i = 0; i < ours.length; i++) {
        diff = Math.max(diff, Math.abs(ours[i] - theirs[i]));
        spread = Math.max(spread, Math.abs(ours[i] - ours[i % 5]));
      }
      expect(diff).toBeLessThan(1e-4 * Math.max(1, spread));
      expect(spread).toBeGreaterThan(1e-2); // the photos' logits differ: the comparison means something
      await s.release();
    });
  }

  it('weights as Gemm B [in, out] (transB=0) are read too', () => {
    const m = exportable(config, 13);
    const torch = torchLayout(buildOnnxModel(m), 'Flatten');
    for (const n of torch.graph.nodes.filter((x) => x.opType === 'Gemm')) {
      n.attributes = n.attributes.filter((a) => a.name !== 'transB');
      const w = torch.graph.initializers.find((t) => t.name === n.inputs[1])!;
      const [out, inn] = w.dims;
      const src = new Float32Array(new Uint8Array(w.raw!).buffer); // a copy: raw is a view into the file
      const t = new Float32Array(src.length);
      for (let o = 0; o < out; o++) for (let i = 0; i < inn; i++) t[i * out + o] = src[o * inn + i];
      w.raw = new Uint8Array(t.buffer);
      w.dims = [inn, out];
    }
    const back = parseOnnxAlexNet(bytesOf(torch));
    for (const name of PARAM_NAMES) expect(bitEqual(back.arrays[name], m.arrays[name]), name).toBe(true);
  });
});

describe('graphs that are not AlexNet, refused in one line', () => {
  const m = exportable(TINY_CONFIG, 17);
  const base = (): OnnxModel => torchLayout(buildOnnxModel(m), 'Flatten');

  it('a branch (a residual Add beside the chain)', () => {
    const g = base();
    const conv3 = g.graph.nodes.find((n) => n.name === '/conv3/Conv')!;
    const relu = g.graph.nodes[g.graph.nodes.indexOf(conv3) + 1];
    const conv4 = g.graph.nodes.find((n) => n.name === '/conv4/Conv')!;
    conv4.inputs[0] = '/add/Add_output_0';
    g.graph.nodes.splice(g.graph.nodes.indexOf(conv4), 0, { name: '/add/Add', opType: 'Add', domain: '', inputs: [relu.outputs[0], conv3.inputs[0]], outputs: ['/add/Add_output_0'], attributes: [] });
    expect(refusal(bytesOf(g))).toMatch(/feeds 2 nodes .*AlexNet is one chain/);
  });

  it('a layer too many (a sixth convolution)', () => {
    const g = base();
    const i = g.graph.nodes.findIndex((n) => n.name === '/conv5/Conv');
    const extra = { ...g.graph.nodes[i], name: '/conv6/Conv', outputs: ['/conv6/Conv_output_0'] };
    g.graph.nodes[i + 1].inputs[0] = '/conv6/Conv_output_0';
    extra.inputs = [g.graph.nodes[i].outputs[0], ...extra.inputs.slice(1)];
    g.graph.nodes.splice(i + 1, 0, extra);
    expect(refusal(bytesOf(g))).toMatch(/node \d+ is Conv, expected Relu or Tanh \(conv5.act\)/);
  });

  it('a stray node off the chain', () => {
    const g = base();
    g.graph.nodes.push({ name: '/stray', opType: 'Relu', domain: '', inputs: ['conv1.weight'], outputs: ['stray'], attributes: [] });
    expect(refusal(bytesOf(g))).toMatch(/node \d+ \(Relu\) is not on the chain from 'input' to the output/);
  });

  it('fc7 fed the wrong width', () => {
    const g = base();
    const w = g.graph.initializers.find((t) => t.name === 'fc7.weight')!;
    w.dims = [w.dims[0] / 2, w.dims[1] * 2];
    expect(refusal(bytesOf(g))).toContain('tensor fc7.weight has shape');
  });

  it('a weight that is not in the file', () => {
    const g = base();
    g.graph.initializers = g.graph.initializers.filter((t) => t.name !== 'conv3.bias');
    expect(refusal(bytesOf(g))).toContain("conv3 reads bias 'conv3.bias', which is not a tensor in the file");
  });

  it('one class', () => {
    const one = exportable(makeConfig({ ...TINY_CONFIG, numClasses: 2 }), 1);
    const g = torchLayout(buildOnnxModel(one), 'Flatten');
    for (const t of g.graph.initializers.filter((x) => x.name.startsWith('fc8.'))) {
      t.dims = t.dims.length === 2 ? [1, t.dims[1]] : [1];
      t.raw = new Uint8Array(t.raw!).subarray(0, t.dims.reduce((a, b) => a * b, 1) * 4);
    }
    expect(refusal(bytesOf(g))).toMatch(/numClasses must be an integer >= 2, got 1/);
  });
});
