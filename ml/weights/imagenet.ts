// The ImageNet-pretrained AlexNet in the app's data folder: import from an .onnx file, download,
// and where it lives.
//
//   <dataDir>/weights/imagenet-alexnet/        a model directory (ml/checkpoint.ts format: model.json
//                                              + weights.bin): config with the file's LRN, the 1000
//                                              ImageNet class names, CAFFE_PREPROCESSING, float32 weights
//   <dataDir>/weights/imagenet-alexnet.json    where it came from: the .onnx file's SHA-256 and size,
//                                              whether that is the zoo file ('imagenet') or only a file
//                                              with its structure ('structure'), the importer's notes
//   <dataDir>/weights/bvlcalexnet-12.onnx.part a download in progress (resumable)
//
// Converting once means later uses read 244 MB of float32 instead of parsing ONNX again.
// The data folder is always passed in (ml/ does not know the app's paths).

import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import '@tensorflow/tfjs-backend-cpu'; // a backend to hold the weights while they are written, if none is set
import { saveCheckpoint } from '../checkpoint';
import type { AlexNetConfig } from '../config';
import { EngineError } from '../errors';
import { disposeParams, paramsFromArrays } from '../model';
import { CAFFE_PREPROCESSING } from '../preprocess';
import { downloadFile, weightsUrl, type DownloadProgress } from './download';
import classes from './imagenet-classes.json' with { type: 'json' };
import { importOnnxAlexNet, readFileWithHash } from './onnx';

/** The 1000 ILSVRC-2012 class names, in the order of the network's outputs (see the JSON's source). */
export const IMAGENET_CLASSES: readonly string[] = Object.freeze(classes.labels);

/** The ONNX Model Zoo's bvlcalexnet-12.onnx: the file this app trusts as "the ImageNet weights". */
export const IMAGENET_ONNX = Object.freeze({
  file: 'bvlcalexnet-12.onnx',
  bytes: 243_863_787,
  sha256: '6b0da9510f27f234ee96a85dc3809dd210150fdefad87f6850f9788513216945',
});

const MODEL_SUBDIR = path.join('weights', 'imagenet-alexnet');
const INFO_FILE = path.join('weights', 'imagenet-alexnet.json');
const IMPORT_HINT = `without internet, download ${IMAGENET_ONNX.file} on another machine and run 'alexnet weights import <file.onnx>'`;

/** The converted model directory inside `dataDir` (exists once imported). */
export function imagenetModelDir(dataDir: string): string {
  return path.join(dataDir, MODEL_SUBDIR);
}

export type WeightsInfo = {
  modelDir: string; // the converted model directory
  verified: 'imagenet' | 'structure'; // 'imagenet': the zoo file's SHA-256; 'structure': same network, other weights
  sha256: string; // of the imported .onnx file
  bytes: number;
  importedFrom: string; // the file's path (or the URL it was downloaded from)
  importedAt: string; // ISO time
  producer: string; // the ONNX producer (onnx-caffe2 for the zoo file)
  config: AlexNetConfig;
  notes: string[]; // one line each, for the user
};

/**
 * Imports a bvlcalexnet .onnx file into `dataDir`: checks its structure and 1000 classes (EngineError
 * 'NOT_ALEXNET' otherwise), computes its SHA-256 (the zoo file's marks it 'imagenet'; any other is accepted by
 * structure, with a note), converts the weights and writes the model directory + info file.
 */
export async function importWeights(
  file: string,
  dataDir: string,
  opts: { onStage?: (stage: 'read' | 'convert' | 'write') => void; source?: string; signal?: AbortSignal } = {},
): Promise<WeightsInfo> {
  const { signal } = opts;
  if (signal?.aborted) throw new EngineError('CANCELLED', 'the weights import was cancelled');
  opts.onStage?.('read');
  const { buf, sha256 } = await readFileWithHash(file, signal);
  opts.onStage?.('convert');
  const imported = await importOnnxAlexNet(buf, signal);
  if (imported.config.numClasses !== IMAGENET_CLASSES.length)
    throw new EngineError(
      'NOT_ALEXNET',
      `not the ImageNet AlexNet: ${path.basename(file)} has ${imported.config.numClasses} classes, ImageNet's has ${IMAGENET_CLASSES.length} (use it with 'train --weights <file.onnx>' instead)`,
    );
  const verified = sha256 === IMAGENET_ONNX.sha256 ? 'imagenet' : 'structure';
  const notes = [...imported.notes];
  if (verified === 'structure')
    notes.unshift(
      `SHA-256 ${sha256.slice(0, 12)}... is not the zoo file's (${IMAGENET_ONNX.sha256.slice(0, 12)}...): accepted because it has the BVLC AlexNet structure, but these are not known to be the ImageNet weights`,
    );
  if (signal?.aborted) throw new EngineError('CANCELLED', 'the weights import was cancelled'); // the last moment before anything is written
  opts.onStage?.('write');
  const modelDir = imagenetModelDir(dataDir);
  const params = paramsFromArrays(imported.config, imported.arrays);
  try {
    await saveCheckpoint(modelDir, {
      config: imported.config,
      classNames: [...IMAGENET_CLASSES],
      preprocessing: { ...CAFFE_PREPROCESSING, mean: [...CAFFE_PREPROCESSING.mean], std: [...CAFFE_PREPROCESSING.std] },
      epoch: 0,
      metrics: [],
      trainOptions: {},
      seed: 0,
      weightsSource: verified === 'imagenet' ? 'imagenet' : `onnx:${sha256}`,
      trainState: null,
      params,
    });
  } finally {
    disposeParams(params);
  }
  const info: WeightsInfo = {
    modelDir,
    verified,
    sha256,
    bytes: buf.length,
    importedFrom: opts.source ?? path.resolve(file),
    importedAt: new Date().toISOString(),
    producer: imported.producer,
    config: imported.config,
    notes,
  };
  await writeFile(path.join(dataDir, INFO_FILE), JSON.stringify(info, null, 1) + '\n');
  return info;
}

/** What is imported in `dataDir`, or null when nothing is (or the model directory is gone). */
export async function weightsInfo(dataDir: string): Promise<WeightsInfo | null> {
  const infoFile = path.join(dataDir, INFO_FILE);
  if (!existsSync(infoFile) || !existsSync(path.join(imagenetModelDir(dataDir), 'model.json'))) return null;
  try {
    return JSON.parse(await readFile(infoFile, 'utf8')) as WeightsInfo;
  } catch {
    return null;
  }
}

export type DownloadWeightsOptions = {
  url?: string; // default: weightsUrl() (env ALEXNET_WEIGHTS_URL, else Hugging Face)
  sha256?: string | null; // expected digest; default the zoo file's; null = accept any (a mirror of a fixture)
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  keepOnnx?: boolean; // keep the .onnx after converting (default false: the model directory is enough)
};

/** Downloads the zoo file into `dataDir` (resumable, SHA-256 checked), then imports it. */
export async function downloadWeights(dataDir: string, opts: DownloadWeightsOptions = {}): Promise<WeightsInfo> {
  const url = opts.url ?? weightsUrl();
  const dest = path.join(dataDir, 'weights', IMAGENET_ONNX.file);
  const sha256 = opts.sha256 === undefined ? IMAGENET_ONNX.sha256 : opts.sha256;
  if (!existsSync(dest))
    await downloadFile({
      url,
      dest,
      sha256: sha256 ?? undefined,
      expectedBytes: sha256 === IMAGENET_ONNX.sha256 ? IMAGENET_ONNX.bytes : undefined,
      onProgress: opts.onProgress,
      signal: opts.signal,
      hint: IMPORT_HINT,
    });
  const info = await importWeights(dest, dataDir, { source: url, signal: opts.signal });
  if (!opts.keepOnnx) await rm(dest, { force: true });
  return info;
}

/**
 * The ImageNet model directory, downloading and importing it on first need. For `train --weights
 * imagenet`. EngineError 'OFFLINE' (with the import hint), 'BAD_CHECKSUM', 'DOWNLOAD_FAILED'...
 */
export async function ensureImagenetWeights(dataDir: string, opts: DownloadWeightsOptions & { download?: boolean } = {}): Promise<string> {
  const info = await weightsInfo(dataDir);
  if (info) return info.modelDir;
  if (opts.download === false)
    throw new EngineError('NO_WEIGHTS', `no ImageNet weights in ${dataDir}: run 'alexnet weights download' or 'alexnet weights import <file.onnx>'`);
  return (await downloadWeights(dataDir, opts)).modelDir;
}
