// The BVLC AlexNet ONNX fixture: a file with the ONNX Model Zoo's exact layout (the graph that
// ../shared/fixtures/make_bvlc_onnx.py describes: tensor and node names, node order, attributes,
// opset 12, IR version 7, the int64 Reshape target, pool5's asymmetric padding, Dropout nodes, Gemm
// with transB=1) and seeded random weights (~244 MB). Written by our own TypeScript so that a fresh
// machine needs nothing but Node; ONNX Runtime stays the independent judge that reads it, and
// test/helpers/bvlc-fixture.test.ts checks the structure against the Python script where python's
// onnx exists. Generated once per seed into a cache folder outside the repo (os.tmpdir()).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '../../ml/rng';
import { attr, DT_FLOAT, encodeModel, floatTensor, int64Tensor, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor } from '../../ml/weights/onnx-proto';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDir = path.resolve(repoRoot, '../shared');
export const datasetsDir = path.join(sharedDir, 'datasets');
export const fixtureScript = path.join(sharedDir, 'fixtures', 'make_bvlc_onnx.py');
export const cacheDir = path.join(os.tmpdir(), 'alexnet-studio-test-cache');

/** Bump when the writer's output changes, so cached files from an older writer are not reused. */
const WRITER_VERSION = 3;

// (name, [out, in, kh, kw], group) of every conv weight in the zoo file, in graph order.
const CONVS: [string, [number, number, number, number], number][] = [
  ['conv1', [96, 3, 11, 11], 1],
  ['conv2', [256, 48, 5, 5], 2],
  ['conv3', [384, 256, 3, 3], 1],
  ['conv4', [384, 192, 3, 3], 2],
  ['conv5', [256, 192, 3, 3], 2],
];
const FCS: [string, [number, number]][] = [
  ['fc6', [4096, 9216]],
  ['fc7', [4096, 4096]],
  ['fc8', [1000, 4096]],
];

/**
 * The zoo-layout model for `seed` and `batch`. Weights are N(0, 2/fan_in) (He scale, so activations
 * stay alive through eight layers and a comparison is not dominated by zeros), fc8 scaled by 1e-2 to
 * keep the softmax from saturating; biases N(0, 0.1^2). Attributes are listed sorted by name, as
 * python's onnx.helper.make_node writes them; nodes are unnamed, as in the zoo file.
 */
export function bvlcZooModel(seed = 2012, batch = 1): OnnxModel {
  const rng = createRng(seed);
  const normal = (n: number, std: number): Float32Array => rng.normals(n, std);
  const inits: OnnxTensor[] = [];
  const nodes: OnnxNode[] = [];
  const node = (opType: string, inputs: string[], outputs: string[], attributes: OnnxAttribute[] = []): string => {
    nodes.push({ name: '', opType, domain: '', inputs, outputs, attributes });
    return outputs[0];
  };
  for (const [name, dims] of CONVS) {
    inits.push(floatTensor(`${name}_w_0`, dims, normal(dims[0] * dims[1] * dims[2] * dims[3], Math.sqrt(2 / (dims[1] * dims[2] * dims[3])))));
    inits.push(floatTensor(`${name}_b_0`, [dims[0]], normal(dims[0], 0.1)));
  }
  for (const [name, dims] of FCS) {
    inits.push(floatTensor(`${name}_w_0`, dims, normal(dims[0] * dims[1], Math.sqrt(2 / dims[1]) * (name === 'fc8' ? 1e-2 : 1))));
    inits.push(floatTensor(`${name}_b_0`, [dims[0]], normal(dims[0], 0.1)));
  }
  inits.push(int64Tensor('OC2_DUMMY_1', [batch, 9216]));

  const conv = (name: string, x: string, k: number, s: number, p: number, group: number): string => {
    const attrs = [attr.ints('dilations', [1, 1])];
    if (group !== 1) attrs.push(attr.int('group', group));
    attrs.push(attr.ints('kernel_shape', [k, k]), attr.ints('pads', [p, p, p, p]), attr.ints('strides', [s, s]));
    node('Conv', [x, `${name}_w_0`, `${name}_b_0`], [`${name}_1`], attrs);
    return node('Relu', [`${name}_1`], [`${name}_2`]);
  };
  const lrn = (x: string, out: string): string => node('LRN', [x], [out], [attr.float('alpha', 1e-4), attr.float('beta', 0.75), attr.float('bias', 1), attr.int('size', 5)]);
  const pool = (x: string, out: string, pads: number[]): string => node('MaxPool', [x], [out], [attr.ints('kernel_shape', [3, 3]), attr.ints('pads', pads), attr.ints('strides', [2, 2])]);

  let x = conv('conv1', 'data_0', 11, 4, 0, 1);
  x = pool(lrn(x, 'norm1_1'), 'pool1_1', [0, 0, 0, 0]);
  x = conv('conv2', x, 5, 1, 2, 2);
  x = pool(lrn(x, 'norm2_1'), 'pool2_1', [0, 0, 0, 0]);
  x = conv('conv3', x, 3, 1, 1, 1);
  x = conv('conv4', x, 3, 1, 1, 2);
  x = conv('conv5', x, 3, 1, 1, 2);
  x = pool(x, 'pool5_1', [0, 0, 1, 1]); // Caffe2's pool5 pads bottom and right by one ([top, left, bottom, right])
  x = node('Reshape', [x, 'OC2_DUMMY_1'], ['OC2_DUMMY_0']);
  for (const [name] of FCS) {
    x = node('Gemm', [x, `${name}_w_0`, `${name}_b_0`], [`${name}_1`], [attr.int('transB', 1)]);
    if (name !== 'fc8') {
      x = node('Relu', [x], [`${name}_2`]);
      x = node('Dropout', [x], [`${name}_3`, `_${name}_mask_1`]);
    }
  }
  node('Softmax', [x], ['prob_1'], [attr.int('axis', 1)]);
  return {
    irVersion: 7,
    opsetImports: [{ domain: '', version: 12 }],
    producerName: 'onnx-caffe2',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    graph: {
      name: 'bvlcalexnet',
      nodes,
      initializers: inits,
      inputs: [{ name: 'data_0', elemType: DT_FLOAT, shape: [batch, 3, 224, 224] }],
      outputs: [{ name: 'prob_1', elemType: DT_FLOAT, shape: [batch, 1000] }],
      docString: '',
    },
    metadata: [],
  };
}

/** Path of the fixture for `seed` (written on first use, atomically: a parallel test never sees half a file). */
export function bvlcFixture(seed = 2012): string {
  const file = path.join(cacheDir, `bvlcalexnet-zoo-layout-v${WRITER_VERSION}-seed${seed}.onnx`);
  if (existsSync(file) && statSync(file).size > 200_000_000) return file;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    for (const chunk of encodeModel(bvlcZooModel(seed))) writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  return file;
}

/** A python interpreter that can `import onnx, numpy` (to run the shared script for comparison), or null. */
export function findPython(): string | null {
  for (const py of [process.env.PYTHON, path.resolve(repoRoot, '../.venv-bench/bin/python'), '/usr/bin/python3', 'python3'].filter((p): p is string => !!p)) {
    const r = spawnSync(py, ['-c', 'import onnx, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}
