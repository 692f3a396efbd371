// Export as a TensorFlow.js graph model: the format tf.loadGraphModel (@tensorflow/tfjs-converter)
// reads, so a web page or a Node script can run the model with stock TF.js and none of our code.
//
//   <out>/model.json              { format: 'graph-model', modelTopology: a TensorFlow GraphDef in JSON
//                                   (Placeholder, Const, Conv2D, Split, ConcatV2, BiasAdd, Relu/Tanh,
//                                   LRN, MaxPool, Reshape, MatMul, Softmax), weightsManifest,
//                                   signature, userDefinedMetadata: { labels, preprocessing } }
//   <out>/group1-shard1of1.bin    every Const's values, little-endian, in manifest order
//   <out>/labels.json, <out>/preprocessing.json   as beside the ONNX export (layout NHWC)
//
// Input 'input' float32 [N, S, S, 3] NHWC, preprocessed as preprocessing.json says; output 'probs'
// [N, classes] softmax. The graph is our forward pass op for op: grouped convolutions are a Split of
// the input, one Conv2D per group and a ConcatV2; the convolutions' symmetric padding (k-1)/2 at
// stride 1 is TensorFlow's 'SAME', conv1's 0 is 'VALID'; LRN takes alpha/size (TF does not divide).

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CONV_SPECS, layerShapes, paramShapes, poolSpec, type ParamName } from '../config';
import { EngineError } from '../errors';
import { preprocessingForExport, type ExportResult, type ExportableModel } from './onnx';

type AttrValue =
  | { type: string }
  | { s: string }
  | { i: string }
  | { f: number }
  | { b: boolean }
  | { list: { i?: string[]; f?: number[] } }
  | { shape: { dim: { size: string }[] } }
  | { tensor: { dtype: string; tensorShape: { dim?: { size: string }[] } } };
type GraphNode = { name: string; op: string; input?: string[]; attr?: Record<string, AttrValue> };
type WeightSpec = { name: string; shape: number[]; dtype: 'float32' | 'int32' };

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const dims = (shape: number[]): { size: string }[] => shape.map((d) => ({ size: String(d) }));
const FLOAT = { type: 'DT_FLOAT' };

/** The graph model's pieces: topology, weight specs and their packed bytes. */
export function buildTfjsGraph(model: ExportableModel): { nodes: GraphNode[]; specs: WeightSpec[]; data: Buffer } {
  const { config, arrays } = model;
  const shapes = paramShapes(config);
  const pool = poolSpec(config);
  const nodes: GraphNode[] = [];
  const specs: WeightSpec[] = [];
  const chunks: Buffer[] = [];

  const constant = (name: string, shape: number[], values: Float32Array | Int32Array): string => {
    const dtype = values instanceof Float32Array ? 'float32' : 'int32';
    const tfType = dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
    nodes.push({ name, op: 'Const', attr: { value: { tensor: { dtype: tfType, tensorShape: { dim: dims(shape) } } }, dtype: { type: tfType } } });
    specs.push({ name, shape, dtype });
    chunks.push(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    return name;
  };
  const op = (name: string, opName: string, input: string[], attr: Record<string, AttrValue> = {}): string => {
    nodes.push({ name, op: opName, input, attr: { T: FLOAT, ...attr } });
    return name;
  };
  const act = (x: string, name: string): string => op(name, config.activation === 'relu' ? 'Relu' : 'Tanh', [x]);

  const S = config.inputSize;
  nodes.push({ name: 'input', op: 'Placeholder', attr: { dtype: FLOAT, shape: { shape: { dim: dims([-1, S, S, 3]) } } } });
  let x = 'input';
  for (let li = 0; li < 5; li++) {
    const n = `conv${li + 1}`;
    const spec = CONV_SPECS[li];
    const [kh, kw, cin, cout] = shapes[`${n}.w` as ParamName];
    const groups = spec.grouped ? config.groups : 1;
    if (spec.pad !== 0 && (spec.stride !== 1 || spec.pad * 2 !== kh - 1)) throw new Error(`${n}: padding ${spec.pad} is not expressible as SAME`);
    const convAttr: Record<string, AttrValue> = {
      strides: { list: { i: ['1', String(spec.stride), String(spec.stride), '1'] } },
      padding: { s: b64(spec.pad === 0 ? 'VALID' : 'SAME') },
      data_format: { s: b64('NHWC') },
      dilations: { list: { i: ['1', '1', '1', '1'] } },
    };
    const w = arrays[`${n}.w` as ParamName]; // [kh, kw, cin, cout]
    if (groups === 1) {
      x = op(`${n}/Conv2D`, 'Conv2D', [x, constant(`${n}/w`, [kh, kw, cin, cout], w)], convAttr);
    } else {
      // Split the input channels into groups; group g's filters are output channels [g*cout/groups, ...).
      const axis = constant(`${n}/split_axis`, [], new Int32Array([3]));
      const split = op(`${n}/split`, 'Split', [axis, x], { num_split: { i: String(groups) } });
      const per = cout / groups;
      const outs: string[] = [];
      for (let g = 0; g < groups; g++) {
        const wg = new Float32Array(kh * kw * cin * per);
        for (let p = 0; p < kh * kw * cin; p++) wg.set(w.subarray(p * cout + g * per, p * cout + (g + 1) * per), p * per);
        const wName = constant(`${n}/w_g${g}`, [kh, kw, cin, per], wg);
        outs.push(op(`${n}/Conv2D_g${g}`, 'Conv2D', [g === 0 ? split : `${split}:${g}`, wName], convAttr));
      }
      const caxis = constant(`${n}/concat_axis`, [], new Int32Array([3]));
      x = op(`${n}/concat`, 'ConcatV2', [...outs, caxis], { N: { i: String(groups) } });
    }
    x = op(`${n}/BiasAdd`, 'BiasAdd', [x, constant(`${n}/b`, [cout], arrays[`${n}.b` as ParamName])], { data_format: { s: b64('NHWC') } });
    x = act(x, `${n}/act`);
    if (li < 2 && config.lrn) {
      const l = config.lrn;
      x = op(`norm${li + 1}`, 'LRN', [x], {
        depth_radius: { i: String((l.size - 1) / 2) },
        bias: { f: l.k },
        alpha: { f: l.alpha / l.size }, // TF's LRN does not divide alpha by the window size
        beta: { f: l.beta },
      });
    }
    if (li < 2 || li === 4) {
      x = op(`pool${li === 4 ? 5 : li + 1}`, 'MaxPool', [x], {
        ksize: { list: { i: ['1', String(pool.size), String(pool.size), '1'] } },
        strides: { list: { i: ['1', String(pool.stride), String(pool.stride), '1'] } },
        padding: { s: b64('VALID') },
        data_format: { s: b64('NHWC') },
      });
    }
  }
  const [ph, pw, pc] = layerShapes(config).pool5;
  x = op('flatten', 'Reshape', [x, constant('flatten/shape', [2], new Int32Array([-1, ph * pw * pc]))], { Tshape: { type: 'DT_INT32' } }); // NHWC (h, w, c): our fc6 order
  for (const n of ['fc6', 'fc7', 'fc8'] as const) {
    const [fin, fout] = shapes[`${n}.w`];
    x = op(`${n}/MatMul`, 'MatMul', [x, constant(`${n}/w`, [fin, fout], arrays[`${n}.w`])], { transpose_a: { b: false }, transpose_b: { b: false } });
    x = op(`${n}/BiasAdd`, 'BiasAdd', [x, constant(`${n}/b`, [fout], arrays[`${n}.b`])], { data_format: { s: b64('NHWC') } });
    if (n !== 'fc8') x = act(x, `${n}/act`); // dropout: identity at inference, not in the graph
  }
  op('probs', 'Softmax', [x]);
  return { nodes, specs, data: Buffer.concat(chunks) };
}

export const TFJS_WEIGHTS_FILE = 'group1-shard1of1.bin';

/** Writes the TF.js graph model + labels.json + preprocessing.json into `outDir` (created). */
export async function exportTfjs(model: ExportableModel, outDir: string): Promise<ExportResult> {
  if (model.classNames.length !== model.config.numClasses)
    throw new EngineError('BAD_MODEL_DIR', `the model names ${model.classNames.length} classes but has ${model.config.numClasses} outputs`);
  const { nodes, specs, data } = buildTfjsGraph(model);
  const prep = preprocessingForExport(model.preprocessing, 'NHWC');
  const S = model.config.inputSize;
  const modelJson = {
    format: 'graph-model',
    generatedBy: 'alexnet-studio',
    convertedBy: 'alexnet-studio export-tfjs',
    modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [{ paths: [TFJS_WEIGHTS_FILE], weights: specs }],
    signature: {
      inputs: { input: { name: 'input:0', dtype: 'DT_FLOAT', tensorShape: { dim: dims([-1, S, S, 3]) } } },
      outputs: { probs: { name: 'probs:0', dtype: 'DT_FLOAT', tensorShape: { dim: dims([-1, model.config.numClasses]) } } },
    },
    userDefinedMetadata: { labels: model.classNames, preprocessing: prep, config: model.config },
  };
  await mkdir(outDir, { recursive: true });
  const json = JSON.stringify(modelJson);
  await writeFile(path.join(outDir, 'model.json'), json);
  await writeFile(path.join(outDir, TFJS_WEIGHTS_FILE), data);
  await writeFile(path.join(outDir, 'labels.json'), JSON.stringify(model.classNames, null, 1) + '\n');
  await writeFile(path.join(outDir, 'preprocessing.json'), JSON.stringify(prep, null, 1) + '\n');
  return { dir: outDir, files: ['model.json', TFJS_WEIGHTS_FILE, 'labels.json', 'preprocessing.json'], bytes: json.length + data.length };
}
