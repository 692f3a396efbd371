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
import { networkLayers, paramShapes, type Layer } from '../config';
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
export function buildTfjsGraph(model: ExportableModel, layers: readonly Layer[] = networkLayers(model.config)): { nodes: GraphNode[]; specs: WeightSpec[]; data: Buffer } {
  const { config, arrays } = model;
  const shapes = paramShapes(config);
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
  const S = config.inputSize;
  nodes.push({ name: 'input', op: 'Placeholder', attr: { dtype: FLOAT, shape: { shape: { dim: dims([-1, S, S, 3]) } } } });
  let x = 'input';
  for (const l of layers) {
    switch (l.kind) {
      case 'conv': {
        const n = l.name;
        const [kh, kw, cin, cout] = shapes[l.weight];
        if (l.pad !== 0 && (l.stride !== 1 || l.pad * 2 !== kh - 1)) throw new Error(`${n}: padding ${l.pad} is not expressible as SAME`);
        const convAttr: Record<string, AttrValue> = {
          strides: { list: { i: ['1', String(l.stride), String(l.stride), '1'] } },
          padding: { s: b64(l.pad === 0 ? 'VALID' : 'SAME') },
          data_format: { s: b64('NHWC') },
          dilations: { list: { i: ['1', '1', '1', '1'] } },
        };
        const w = arrays[l.weight]; // [kh, kw, cin, cout]
        if (l.groups === 1) {
          x = op(`${n}/Conv2D`, 'Conv2D', [x, constant(`${n}/w`, [kh, kw, cin, cout], w)], convAttr);
        } else {
          // Split the input channels into groups; group g's filters are output channels [g*cout/groups, ...).
          const axis = constant(`${n}/split_axis`, [], new Int32Array([3]));
          const split = op(`${n}/split`, 'Split', [axis, x], { num_split: { i: String(l.groups) } });
          const per = cout / l.groups;
          const outs: string[] = [];
          for (let g = 0; g < l.groups; g++) {
            const wg = new Float32Array(kh * kw * cin * per);
            for (let p = 0; p < kh * kw * cin; p++) wg.set(w.subarray(p * cout + g * per, p * cout + (g + 1) * per), p * per);
            const wName = constant(`${n}/w_g${g}`, [kh, kw, cin, per], wg);
            outs.push(op(`${n}/Conv2D_g${g}`, 'Conv2D', [g === 0 ? split : `${split}:${g}`, wName], convAttr));
          }
          const caxis = constant(`${n}/concat_axis`, [], new Int32Array([3]));
          x = op(`${n}/concat`, 'ConcatV2', [...outs, caxis], { N: { i: String(l.groups) } });
        }
        x = op(`${n}/BiasAdd`, 'BiasAdd', [x, constant(`${n}/b`, [cout], arrays[l.bias])], { data_format: { s: b64('NHWC') } });
        break;
      }
      case 'act':
        x = op(l.name.replace(/\.act$/, '/act'), l.fn === 'relu' ? 'Relu' : 'Tanh', [x]);
        break;
      case 'lrn':
        x = op(l.name, 'LRN', [x], {
          depth_radius: { i: String((l.lrn.size - 1) / 2) },
          bias: { f: l.lrn.k },
          alpha: { f: l.lrn.alpha / l.lrn.size }, // TF's LRN does not divide alpha by the window size
          beta: { f: l.lrn.beta },
        });
        break;
      case 'pool':
        x = op(l.name, 'MaxPool', [x], {
          ksize: { list: { i: ['1', String(l.size), String(l.size), '1'] } },
          strides: { list: { i: ['1', String(l.stride), String(l.stride), '1'] } },
          padding: { s: b64('VALID') },
          data_format: { s: b64('NHWC') },
        });
        break;
      case 'flatten': // NHWC (h, w, c): our fc6 order
        x = op(l.name, 'Reshape', [x, constant(`${l.name}/shape`, [2], new Int32Array([-1, l.out[0]]))], { Tshape: { type: 'DT_INT32' } });
        break;
      case 'fc': {
        const [fin, fout] = shapes[l.weight];
        x = op(`${l.name}/MatMul`, 'MatMul', [x, constant(`${l.name}/w`, [fin, fout], arrays[l.weight])], { transpose_a: { b: false }, transpose_b: { b: false } });
        x = op(`${l.name}/BiasAdd`, 'BiasAdd', [x, constant(`${l.name}/b`, [fout], arrays[l.bias])], { data_format: { s: b64('NHWC') } });
        break;
      }
      case 'dropout': // identity at inference, not in the graph
        break;
    }
  }
  op('probs', 'Softmax', [x]);
  return { nodes, specs, data: Buffer.concat(chunks) };
}

export const TFJS_WEIGHTS_FILE = 'group1-shard1of1.bin';

/** Writes the TF.js graph model + labels.json + preprocessing.json into `outDir` (created). */
export async function exportTfjs(model: ExportableModel, outDir: string, layers: readonly Layer[] = networkLayers(model.config)): Promise<ExportResult> {
  if (model.classNames.length !== model.config.numClasses)
    throw new EngineError('BAD_MODEL_DIR', `the model names ${model.classNames.length} classes but has ${model.config.numClasses} outputs`);
  const { nodes, specs, data } = buildTfjsGraph(model, layers);
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
