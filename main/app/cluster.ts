// Training beyond one machine: a library exported as a self-contained PyTorch job folder (WebDataset
// shards, the split, labels, the exact preprocessing, starting weights, alexnet.py, train.py,
// ray_train.py, README.md), and the job's result/ brought back as one more run of the library. The
// CLI (`alexnet cluster export|import`) and the app's cluster:export / cluster:import both call these.
//
// job folder                          result/ (written by train.py)
//   job.json        what to train       model.onnx         the best epoch (standard ops): what we import
//   labels.json     output i's class    model.safetensors  the same, PyTorch names and layouts
//   preprocessing.json  + PCA, augment  metrics.jsonl      one line per epoch
//   shards/{train,val}-NNNNNN.tar       labels.json, job.json, preprocessing.json, predictions.jsonl
//   weights/start.safetensors
//   alexnet.py train.py ray_train.py README.md
//
// The import reads model.onnx with the ONNX importer, converts it to a checkpoint of ours, records the epochs' metrics, and predicts
// every photo of the dataset with our engine (in a worker), so the confusion matrix and most-wrong
// photos of the run are our engine's on the library's own validation split.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Library } from '../../db/index';
import type { BackendName, ClusterPhase } from '../../preload/contract';
import { trainingSet, type TrainingItem } from '../../db/training';
import { readBinary, readModelMeta, resolveCheckpointDir, saveCheckpoint, type EpochMetrics } from '../../ml/checkpoint';
import { toTorchState, writeSafetensors } from '../../ml/cluster/safetensors';
import { TarWriter } from '../../ml/cluster/tar';
import { DEFAULT_CONFIG, PARAM_NAMES, makeConfig, type AlexNetConfig, type ParamName } from '../../ml/config';
import { createRng } from '../../ml/rng';
import { computePca, loadImage, parsePreprocessing, PAPER_PREPROCESSING, type DecodedImage, type Pca, type Preprocessing } from '../../ml/preprocess';
import { imagenetModelDir } from '../../ml/weights/imagenet';
import { importOnnxAlexNet, readFileWithHash } from '../../ml/weights/onnx';
import { AppError } from './errors';
import type { Log } from './log';
import { runWorkerJob } from './worker/run';
import type { Spawner } from './worker/spawn';

export const JOB_FORMAT = 'alexnet-studio-cluster-job';
const JOB_FILES = ['alexnet.py', 'train.py', 'ray_train.py', 'README.md'] as const;
const PCA_SAMPLE = 500; // images for the colour-noise PCA: plenty for a 3x3 covariance

/** The Python files and README shipped with the app: ml/cluster/job here, resources/cluster-job packaged. */
export function jobTemplateDir(): string {
  const candidates = [path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../ml/cluster/job')];
  const res = (process as { resourcesPath?: string }).resourcesPath;
  if (res) candidates.push(path.join(res, 'cluster-job'));
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'train.py')));
  if (!found) throw new AppError('INTERNAL', `the cluster job's Python files are missing (looked in ${candidates.join(', ')})`);
  return found;
}

export type ClusterRecipe = 'transfer' | 'full';
export type ClusterExportOptions = {
  dataset: string | number;
  out: string; // the job folder: created; must not exist or be empty
  recipe?: ClusterRecipe; // 'transfer' (the one click: new head, then fc6-fc8) or 'full' (every layer)
  from?: string; // 'imagenet', 'none' (paper init, recipe full) or a run id of this library
  shardSize?: number; // photos per shard, 1000
  headEpochs?: number; // transfer: 3
  fineTune?: 'none' | 'fc' | 'all'; // transfer: what unfreezes after the head, as the app's drawer ('fc')
  epochs?: number; // transfer: fine-tune epochs, 10; full: 30
  batchSize?: number; // per process, 32
  lr?: number; // transfer: the head's 0.01; full: 0.01 from paper init, 0.001 from weights
  seed?: number; // 0
  valFraction?: number; // for a new split, when the dataset has none yet: 0.2
  signal?: AbortSignal; // abort: CANCELLED, and the job folder is removed
  onProgress?: (phase: ClusterPhase, done: number, total: number) => void; // each phase starts at done 0
};

export type ClusterExportResult = { dir: string; files: string[]; bytes: number; shards: { train: number; val: number }; train: number; val: number; classes: string[] };

type Start = { config: AlexNetConfig; preprocessing: Preprocessing; arrays: Record<ParamName, Float32Array> | null; source: string };

async function startingWeights(lib: Library, dataDir: string, from: string, k: number): Promise<Start> {
  if (from === 'none') return { config: makeConfig({ ...DEFAULT_CONFIG, numClasses: k }), preprocessing: PAPER_PREPROCESSING, arrays: null, source: 'none' };
  let dir: string;
  if (from === 'imagenet') {
    dir = imagenetModelDir(dataDir);
    if (!fs.existsSync(path.join(dir, 'model.json'))) throw new AppError('NO_WEIGHTS', 'the ImageNet weights are not installed yet: `alexnet weights download` (or import), or start from a run');
  } else {
    const id = Number(from.replace(/^run\s*/, ''));
    if (!Number.isInteger(id) || id < 1) throw new AppError('BAD_INPUT', `--from must be imagenet, none or a run id, got '${from}'`);
    const run = lib.runs.get(id);
    const out = typeof run.config.outDir === 'string' ? run.config.outDir : '';
    try {
      dir = resolveCheckpointDir(out, 'best');
    } catch {
      throw new AppError('BAD_MODEL', `run ${id} has no trained model to start from`);
    }
  }
  const meta = await readModelMeta(dir);
  const tensors = await readBinary(dir, meta.weights);
  const arrays = {} as Record<ParamName, Float32Array>;
  for (const n of PARAM_NAMES) {
    const t = tensors.get(n);
    if (!t) throw new AppError('BAD_MODEL', `${dir}: weights ${n} missing`);
    arrays[n] = t.data;
  }
  return { config: meta.config, preprocessing: meta.preprocessing, arrays, source: from === 'imagenet' ? 'imagenet' : `run ${from.replace(/^run\s*/, '')}` };
}

function ensureEmptyDir(dir: string): void {
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new AppError('CONFLICT', `${dir} exists and is not a folder`);
    if (fs.readdirSync(dir).length > 0) throw new AppError('CONFLICT', `${dir} is not empty: pick a new folder for the job`);
  }
  fs.mkdirSync(dir, { recursive: true });
}

const safeExt = (file: string) => {
  const e = path.extname(file).slice(1).toLowerCase();
  return /^[a-z0-9]{1,5}$/.test(e) ? e : 'img';
};

/**
 * Writes the shards of one subset; returns their file names and photo counts. Photos are read
 * asynchronously so that the process stays responsive while a large library is written: its
 * progress reaches the page and a cancel reaches `progress` (which throws) between two photos.
 */
async function writeShards(dir: string, subset: 'train' | 'val', items: TrainingItem[], size: number, progress: () => void): Promise<{ file: string; count: number }[]> {
  const out: { file: string; count: number }[] = [];
  for (let s = 0; s * size < items.length; s++) {
    const file = `${subset}-${String(s).padStart(6, '0')}.tar`;
    const tar = new TarWriter(path.join(dir, 'shards', file));
    const chunk = items.slice(s * size, (s + 1) * size);
    try {
      for (const it of chunk) {
        const key = `p${it.photoId}`;
        let bytes: Buffer;
        try {
          bytes = await fs.promises.readFile(it.path); // the original bytes; the photo itself is only read
        } catch {
          throw new AppError('FOLDER_NOT_FOUND', `photo ${it.photoId} cannot be read: ${it.path}`);
        }
        tar.add(`${key}.${safeExt(it.path)}`, bytes);
        tar.add(`${key}.cls`, Buffer.from(String(it.classIndex)));
        tar.add(`${key}.json`, Buffer.from(JSON.stringify({ photoId: it.photoId, label: it.label, file: path.basename(it.path) })));
        progress();
      }
    } finally {
      tar.close();
    }
    out.push({ file, count: chunk.length });
  }
  return out;
}

export async function exportClusterJob(lib: Library, dataDir: string, o: ClusterExportOptions): Promise<ClusterExportResult> {
  const recipe = o.recipe ?? 'transfer';
  const from = o.from ?? (recipe === 'transfer' ? 'imagenet' : 'none');
  const seed = o.seed ?? 0;
  const shardSize = o.shardSize ?? 1000;
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new AppError('BAD_INPUT', `--shard-size must be a positive integer, got ${shardSize}`);
  if (recipe === 'transfer' && from === 'none') throw new AppError('BAD_INPUT', 'the transfer recipe needs starting weights: --from imagenet or a run (or --recipe full)');
  const ds = lib.datasets.require(o.dataset);
  const latest = lib.splits.latest(ds.id);
  const vf = o.valFraction ?? 0.2;
  const set = trainingSet(lib, ds.id, latest ? { splitId: latest.id } : { split: { train: 1 - vf, val: vf, seed } });
  const k = set.classes.length;
  if (k < 2) throw new AppError('TOO_FEW_IMAGES', `label photos of at least two classes first (dataset '${ds.name}' has ${k})`);
  for (let c = 0; c < k; c++) {
    const nt = set.train.filter((i) => i.classIndex === c).length;
    const nv = set.val.filter((i) => i.classIndex === c).length;
    if (nt < 1 || nv < 1) throw new AppError('TOO_FEW_IMAGES', `class "${set.classes[c]}" has ${nt} training and ${nv} validation photos in split ${set.splitId}; each needs at least one`);
  }
  const start = await startingWeights(lib, dataDir, from, k);
  const config = makeConfig({ ...start.config, numClasses: k });
  const out = path.resolve(o.out);
  ensureEmptyDir(out);
  fs.mkdirSync(path.join(out, 'shards'));
  fs.mkdirSync(path.join(out, 'weights'));
  try {
    // colour-noise PCA of (a seeded sample of) the training photos, as the app's training computes it
    const sample = createRng(seed).fork('pca').shuffle(set.train.slice()).slice(0, PCA_SAMPLE);
    const imgs: DecodedImage[] = [];
    o.onProgress?.('pca', 0, sample.length);
    for (let i = 0; i < sample.length; i++) {
      throwIfCancelled(o.signal, 'export');
      imgs.push(await loadImage(sample[i].path, start.preprocessing));
      o.onProgress?.('pca', i + 1, sample.length);
    }
    const pca: Pca = computePca(imgs);
    // shards: the training photos in a seeded random order, so every shard (and rank) sees every class
    const train = createRng(seed).fork('shards').shuffle(set.train.slice());
    const total = train.length + set.val.length;
    let done = 0;
    o.onProgress?.('shards', 0, total);
    const tick = () => {
      throwIfCancelled(o.signal, 'export');
      o.onProgress?.('shards', ++done, total);
    };
    const shards = { train: await writeShards(out, 'train', train, shardSize, tick), val: await writeShards(out, 'val', set.val, shardSize, tick) };
    const settings = {
      headEpochs: o.headEpochs ?? 3,
      fineTune: o.fineTune ?? 'fc',
      epochs: o.epochs ?? (recipe === 'transfer' ? 10 : 30),
      batchSize: o.batchSize ?? 32,
      lr: o.lr ?? (recipe === 'transfer' || start.arrays === null ? 0.01 : 0.001),
      seed,
    };
    const classCounts = { train: set.classes.map((_, c) => set.train.filter((i) => i.classIndex === c).length), val: set.classes.map((_, c) => set.val.filter((i) => i.classIndex === c).length) };
    const job = {
      format: JOB_FORMAT,
      version: 1,
      createdAt: new Date().toISOString(),
      dataset: { id: ds.id, name: ds.name, splitId: set.splitId },
      classes: set.classes,
      classCounts,
      recipe,
      from: start.source,
      model: config,
      settings,
      shards,
    };
    const write = (name: string, v: unknown) => fs.writeFileSync(path.join(out, name), JSON.stringify(v, null, 1) + '\n');
    write('job.json', job);
    write('labels.json', set.classes);
    write('preprocessing.json', { ...start.preprocessing, layout: 'NCHW', augment: { randomCrop: true, flip: true, pcaStd: 0.1 }, pca });
    if (start.arrays) await writeSafetensors(path.join(out, 'weights', 'start.safetensors'), toTorchState(start.config, start.arrays), { source: start.source });
    const tpl = jobTemplateDir();
    for (const f of JOB_FILES) fs.copyFileSync(path.join(tpl, f), path.join(out, f));
    throwIfCancelled(o.signal, 'export');
    const files = listFiles(out);
    const bytes = files.reduce((s, f) => s + fs.statSync(path.join(out, f)).size, 0);
    return { dir: out, files, bytes, shards: { train: shards.train.length, val: shards.val.length }, train: set.train.length, val: set.val.length, classes: set.classes };
  } catch (e) {
    fs.rmSync(out, { recursive: true, force: true }); // a half-written job is no job
    throw e;
  }
}

function throwIfCancelled(signal: AbortSignal | undefined, what: 'export' | 'import'): void {
  if (signal?.aborted) throw new AppError('CANCELLED', `cluster ${what} cancelled`);
}

function listFiles(dir: string, rel = ''): string[] {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(dir, path.join(rel, e.name)) : [path.join(rel, e.name)])).sort();
}

// -------------------------------------------------------------------------------------------------
// import

export type ClusterImportOptions = {
  result: string; // the job's result/ folder
  dataset: string | number;
  name?: string; // the run's name
  runsDir: string; // where the run's model folder goes (the data folder's runs/)
  spawn: Spawner; // the worker that predicts the dataset's photos with our engine
  backend?: 'auto' | BackendName; // the backend it predicts on (the app setting); default 'auto'
  log?: Log;
  signal?: AbortSignal; // abort: CANCELLED, and the run (row and model folder) is removed
  onProgress?: (phase: ClusterPhase, done: number, total: number) => void; // each phase starts at done 0
};
export type ClusterImportResult = { runId: number; epochs: number; bestEpoch: number; bestValAcc: number | null; predicted: number };

type JobJson = { format: string; dataset: { id: number; name: string; splitId: number }; classes: string[]; recipe: ClusterRecipe; from: string; model: AlexNetConfig; settings: Record<string, number | string> };
type MetricLine = EpochMetrics & { stage?: string; best?: boolean; processes?: number; imagesPerSecPerProcess?: number };

function readJson<T>(file: string, what: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new AppError('FOLDER_NOT_FOUND', `${what} missing: ${file} (is this a finished job's result/ folder?)`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new AppError('BAD_INPUT', `${file} is not valid JSON`);
  }
}

export async function importClusterResult(lib: Library, o: ClusterImportOptions): Promise<ClusterImportResult> {
  const dir = path.resolve(o.result);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new AppError('FOLDER_NOT_FOUND', `result folder not found: ${o.result}`);
  const job = readJson<JobJson>(path.join(dir, 'job.json'), 'job.json');
  if (job.format !== JOB_FORMAT) throw new AppError('BAD_INPUT', `${path.join(dir, 'job.json')} is not an AlexNet Studio cluster job`);
  const labels = readJson<string[]>(path.join(dir, 'labels.json'), 'labels.json');
  const prep = parsePreprocessing(readJson<unknown>(path.join(dir, 'preprocessing.json'), 'preprocessing.json'));
  const metricsFile = path.join(dir, 'metrics.jsonl');
  if (!fs.existsSync(metricsFile)) throw new AppError('FOLDER_NOT_FOUND', `metrics.jsonl missing in ${dir}`);
  const metrics = fs.readFileSync(metricsFile, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
    try {
      return JSON.parse(l) as MetricLine;
    } catch {
      throw new AppError('BAD_INPUT', `${metricsFile} line ${i + 1} is not JSON`);
    }
  });
  const modelFile = path.join(dir, 'model.onnx');
  if (!fs.existsSync(modelFile)) throw new AppError('FOLDER_NOT_FOUND', `model.onnx missing in ${dir}: the job has not finished (resume it with train.py --resume)`);
  let config: AlexNetConfig;
  try {
    config = makeConfig({ ...job.model, numClasses: labels.length });
  } catch (e) {
    throw new AppError('BAD_INPUT', `job.json: ${(e as Error).message}`);
  }
  const ds = lib.datasets.require(o.dataset);
  const known = new Set(lib.classes.list(ds.id).map((c) => c.name));
  const missing = labels.filter((l) => !known.has(l));
  if (missing.length) throw new AppError('BAD_INPUT', `dataset '${ds.name}' has no class ${missing.map((m) => `"${m}"`).join(', ')} of this result`);
  // the model through the ONNX importer (any AlexNet ONNX: PyTorch's export here); its structure
  // must be the job's network (input size and dropout are not in the graph: the job's)
  o.onProgress?.('model', 0, 1);
  const readModel = async () => importOnnxAlexNet((await readFileWithHash(modelFile, o.signal)).buf, o.signal);
  const onnx = await readModel().catch((e: unknown) => {
    throwIfCancelled(o.signal, 'import'); // in the import's words, not the weights importer's
    throw e;
  });
  const got = onnx.config;
  const differs: string[] = (['numClasses', 'fcUnits', 'groups', 'activation', 'overlappingPool'] as const).filter((f) => got[f] !== config[f]);
  if (got.channels.join() !== config.channels.join()) differs.push('channels');
  if (JSON.stringify(got.lrn) !== JSON.stringify(config.lrn)) differs.push('lrn');
  if (differs.length) throw new AppError('BAD_WEIGHTS', `${modelFile} is not the job's network (${differs.join(', ')} differ from job.json)`);
  const arrays: Record<ParamName, Float32Array> = onnx.arrays;
  throwIfCancelled(o.signal, 'import');
  o.onProgress?.('model', 1, 1);
  let splitId: number | null = null;
  try {
    if (lib.splits.get(job.dataset.splitId).datasetId === ds.id) splitId = job.dataset.splitId;
  } catch {
    splitId = lib.splits.latest(ds.id)?.id ?? null; // another library: its own latest split validates
  }
  const best = metrics.reduce<MetricLine | null>((b, m) => (b === null || m.valLoss < b.valLoss ? m : b), null);
  const runDir = path.join(o.runsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-cluster-${randomBytes(3).toString('hex')}`);
  const processes = metrics.at(-1)?.processes ?? null;
  const run = lib.runs.create({
    datasetId: ds.id,
    splitId,
    name: o.name ?? `cluster ${job.recipe} (${processes ?? '?'} processes)`,
    config: { recipe: `cluster-${job.recipe}`, architecture: 'alexnet', ...job.settings, outDir: runDir, importedFrom: dir, processes },
    preprocessing: { ...prep },
    classes: labels,
    weightsSource: job.from,
    backend: `pytorch (cluster${processes ? `, ${processes} processes` : ''})`,
  });
  try {
    const epochMetrics: EpochMetrics[] = metrics.map((m) => ({ epoch: m.epoch, trainLoss: m.trainLoss, trainAcc: m.trainAcc, valLoss: m.valLoss, valAcc: m.valAcc, valTop5: m.valTop5, lr: m.lr, seconds: m.seconds }));
    lib.metrics.write(
      run.id,
      epochMetrics.flatMap((m) =>
        Object.entries({ train_loss: m.trainLoss, train_acc: m.trainAcc, val_loss: m.valLoss, val_acc: m.valAcc, val_top5: m.valTop5, lr: m.lr, seconds: m.seconds }).map(([name, value]) => ({ scope: 'epoch' as const, name, idx: m.epoch, value })),
      ),
    );
    const ckpt = path.join(runDir, 'best.ckpt');
    await saveCheckpoint(ckpt, {
      config,
      classNames: labels,
      preprocessing: prep,
      epoch: best?.epoch ?? 0,
      metrics: epochMetrics,
      trainOptions: { cluster: true, recipe: job.recipe, importedFrom: dir, ...job.settings },
      seed: typeof job.settings.seed === 'number' ? job.settings.seed : 0,
      weightsSource: job.from,
      trainState: null,
      params: arrays,
      optimizer: null,
    });
    lib.models.add(run.id, { kind: 'final', path: ckpt, format: 'alexnet-studio', epoch: best?.epoch ?? null });
    // our engine predicts every photo of the dataset: evaluation, confusion matrix, most wrong
    const photos = lib.photos.all(ds.id).filter((p) => p.status === 'ok');
    let predicted = 0;
    // photos per worker: each worker loads the model once, and progress moves a chunk at a time
    const CHUNK = 500;
    o.onProgress?.('predicting', 0, photos.length);
    for (let i = 0; i < photos.length; i += CHUNK) {
      throwIfCancelled(o.signal, 'import');
      const chunk = photos.slice(i, i + CHUNK);
      const res = await runWorkerJob(o.spawn, { kind: 'classify', modelDir: runDir, files: chunk.map((p) => p.path), topK: Math.min(5, labels.length), tta: 'center', backend: o.backend ?? 'auto' }, { signal: o.signal, log: o.log });
      const rows = res.results.flatMap((r, j) => ('predictions' in r ? [{ photoId: chunk[j].id, topk: r.predictions }] : []));
      lib.predictions.write(run.id, rows);
      predicted += rows.length;
      o.onProgress?.('predicting', Math.min(i + CHUNK, photos.length), photos.length);
    }
    throwIfCancelled(o.signal, 'import');
    lib.runs.end(run.id, 'finished');
    return { runId: run.id, epochs: metrics.length, bestEpoch: best?.epoch ?? 0, bestValAcc: best?.valAcc ?? null, predicted };
  } catch (e) {
    if (o.signal?.aborted || (e instanceof AppError && e.code === 'CANCELLED')) {
      // a cancelled import is no run: its row (metrics, predictions, model) and its folder go
      lib.runs.remove(run.id);
      fs.rmSync(runDir, { recursive: true, force: true });
      throw new AppError('CANCELLED', 'cluster import cancelled');
    } else lib.runs.end(run.id, 'failed', (e as Error).message);
    throw e;
  }
}
