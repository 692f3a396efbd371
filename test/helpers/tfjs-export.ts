// An exported TF.js graph model loaded by stock @tensorflow/tfjs-converter, from the folder's
// model.json and weights file as written (every model.json field the loader takes, nothing added).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { TFJS_WEIGHTS_FILE } from '../../ml/weights/export-tfjs';

export async function loadExportedGraph(folder: string): Promise<GraphModel> {
  const json = JSON.parse(readFileSync(path.join(folder, 'model.json'), 'utf8'));
  const bin = readFileSync(path.join(folder, TFJS_WEIGHTS_FILE));
  return loadGraphModel({
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((w: { weights: unknown[] }) => w.weights),
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      format: json.format,
      signature: json.signature,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  });
}
