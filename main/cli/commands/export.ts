// `alexnet export <model-dir> --format onnx|tfjs <out>`: a trained model (a checkpoint folder or a
// run folder with best.ckpt/last.ckpt) as ONNX or as a TF.js graph model, with labels.json and
// preprocessing.json beside it.
import { initBackend } from '../../../ml/backend';
import { loadModel, snapshotParams } from '../../../ml/checkpoint';
import { disposeParams } from '../../../ml/model';
import { exportTfjs } from '../../../ml/weights/export-tfjs';
import { exportOnnx } from '../../../ml/weights/onnx';
import { parse } from '../args';
import { CliError } from '../errors';

const HELP = `usage: alexnet export <model-dir> --format onnx|tfjs <out-dir> [--json]

Writes the model into <out-dir>:
  onnx   model.onnx (NCHW input 'data' [N,3,S,S], output 'prob' softmax), labels.json, preprocessing.json
  tfjs   model.json + group1-shard1of1.bin (a TF.js graph model: tf.loadGraphModel; NHWC input
         'input' [N,S,S,3], output 'probs'), labels.json, preprocessing.json
preprocessing.json says how to turn a photo into the input (resize, crop, channel order, mean, std).`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { format: { type: 'string' }, json: { type: 'boolean' } }, HELP);
  if (positionals.length !== 2) throw new CliError("export takes a model folder and an output folder; see 'alexnet export --help'");
  const format = values.format;
  if (format !== 'onnx' && format !== 'tfjs') throw new CliError("--format must be onnx or tfjs");
  const [modelDir, outDir] = positionals;
  await initBackend('auto'); // (ALEXNET_BACKEND overrides) the weights only pass through it
  const loaded = await loadModel(modelDir);
  const model = { config: loaded.config, arrays: await snapshotParams(loaded.params), classNames: loaded.classNames, preprocessing: loaded.preprocessing };
  disposeParams(loaded.params);
  const r = format === 'onnx' ? await exportOnnx(model, outDir) : await exportTfjs(model, outDir);
  if (values.json) process.stdout.write(JSON.stringify({ format, model: loaded.dir, ...r }) + '\n');
  else process.stdout.write(`exported ${loaded.dir} as ${format} to ${r.dir}: ${r.files.join(', ')} (${(r.bytes / 1e6).toFixed(1)} MB)\n`);
  return 0;
}
