// The model directory: everything needed to use a trained model, or to resume its training.
//
//   <ckpt>/model.json     format + version, config, class names, preprocessing, epoch, metrics so far,
//                         train options, seed, weights source, training state (lr, best metric,
//                         plateau and early-stop counters), and a manifest of the two binary files
//   <ckpt>/weights.bin    every parameter, raw little-endian float32, in PARAM_NAMES order
//   <ckpt>/optimizer.bin  the optimiser's velocities, same encoding (absent for an exported model)
//
// A training run's output folder holds two such checkpoints, `best.ckpt/` (best validation metric so
// far) and `last.ckpt/` (the last finished epoch). loadModel accepts either a checkpoint or such a
// folder (then best.ckpt, else last.ckpt).
//
// Crash safety: a checkpoint is written whole into `<ckpt>.tmp`, then `<ckpt>` is renamed to
// `<ckpt>.old`, `<ckpt>.tmp` to `<ckpt>`, and `<ckpt>.old` removed. A process killed at any moment
// leaves either the new or the old checkpoint complete; readers fall back to `<ckpt>.old` when
// `<ckpt>` is missing. Each binary file's SHA-256 is in model.json, so a truncated or altered file
// is refused instead of silently loaded.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writev } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PARAM_NAMES, makeConfig, paramShapes, type AlexNetConfig, type ParamName, type Params } from './config';
import { EngineError, diskFullError } from './errors';
import { ownVariable, paramsFromArrays } from './model';
import type { SgdState } from './optimizer';
import { parsePreprocessing, type Preprocessing } from './preprocess';
import { readTensor } from './backend';

export const MODEL_FORMAT = 'alexnet-studio-model';
export const FORMAT_VERSION = 1; // bump when a reader of the old version could not read the new one

/** One epoch's measurements, as kept in model.json and sent in the 'epoch' training event. */
export type EpochMetrics = {
  epoch: number; // 1-based
  trainLoss: number;
  trainAcc: number;
  valLoss: number;
  valAcc: number; // top-1
  valTop5: number;
  lr: number; // base learning rate used in this epoch
  seconds: number; // wall time of the epoch (training + validation)
  trainErr?: number; // with train({ trainError }): top-1 error on the training images with the epoch's final weights
};

/** Where a run stands between two epochs: what resume needs beyond weights and velocities. */
export type TrainState = {
  lr: number; // base rate for the next epoch (after any plateau drops)
  bestValue: number | null; // best value so far of the monitored metric (lower is better)
  bestEpoch: number; // epoch that reached it (0 = none yet)
  plateauCount: number; // epochs without improvement since the last LR drop or improvement
  earlyStopCount: number; // epochs without improvement since the best
  lrDrops: number; // number of divisions so far
  stage: string; // for multi-stage recipes (transfer: 'head' | 'finetune'); 'main' otherwise
};

/** The state of a run that has not finished an epoch yet. */
export function initialState(lr: number, stage = 'main'): TrainState {
  return { lr, bestValue: null, bestEpoch: 0, plateauCount: 0, earlyStopCount: 0, lrDrops: 0, stage };
}

export type TensorEntry = { name: string; shape: number[]; offset: number; length: number }; // offset/length in floats
export type BinaryManifest = { file: string; bytes: number; sha256: string; tensors: TensorEntry[] };

export type ModelMeta = {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  createdAt: string; // ISO time of writing
  config: AlexNetConfig;
  classNames: string[];
  preprocessing: Preprocessing;
  epoch: number; // finished epochs
  metrics: EpochMetrics[];
  trainOptions: Record<string, unknown>; // JSON-able options the run was started with
  seed: number;
  weightsSource: string; // 'none' (paper init), 'imagenet', a file path...
  trainState: TrainState | null;
  weights: BinaryManifest;
  optimizer: (BinaryManifest & { step: number }) | null;
};

export type CheckpointInput = Omit<ModelMeta, 'format' | 'formatVersion' | 'createdAt' | 'weights' | 'optimizer'> & {
  params: Params | Record<ParamName, Float32Array>; // live variables, or a snapshotParams result
  optimizer?: SgdState | null;
};

export type LoadedModel = {
  dir: string; // the checkpoint folder actually read
  meta: ModelMeta;
  config: AlexNetConfig;
  classNames: string[];
  preprocessing: Preprocessing;
  params: Params;
};

// ---------------------------------------------------------------------------------------------
// writing

type Entry = { name: string; shape: number[]; data: Float32Array };

function manifestOf(entries: Entry[], file: string): Omit<BinaryManifest, 'sha256'> {
  let total = 0;
  const tensors: TensorEntry[] = [];
  for (const e of entries) {
    tensors.push({ name: e.name, shape: e.shape, offset: total, length: e.data.length });
    total += e.data.length;
  }
  return { file, bytes: total * 4, tensors };
}

/**
 * Writes the tensors one after the other into an open file (raw float32; every platform we ship on
 * is little-endian), hashing as it goes. No concatenated copy: for the full model that would be
 * another 244 MB. The hash runs here; the write itself runs on libuv's threads (one writev), not on
 * the event loop's, which copying 244 MB into the page cache would otherwise block.
 */
async function writeArrays(fd: number, entries: Entry[], name: string): Promise<BinaryManifest> {
  const m = manifestOf(entries, name);
  const hash = createHash('sha256');
  const buffers = entries.map((e) => Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
  for (const b of buffers) hash.update(b);
  const digest = hash.digest('hex');
  let pending = buffers.filter((b) => b.length > 0);
  while (pending.length > 0) {
    // a writev may write less than asked (very large files): go on from where it stopped
    let done = await writevAsync(fd, pending);
    const rest: Buffer[] = [];
    for (const b of pending) {
      if (done >= b.length) done -= b.length;
      else {
        rest.push(b.subarray(done));
        done = 0;
      }
    }
    pending = rest;
  }
  return { ...m, sha256: digest };
}

const writevAsync = (fd: number, buffers: Buffer[]): Promise<number> =>
  new Promise((resolve, reject) => writev(fd, buffers, (e, n) => (e ? reject(e) : resolve(n))));
const fsyncAsync = (fd: number): Promise<void> => new Promise((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));

/** The parameters' values (for a checkpoint written later: see train.ts, or an export). */
export async function snapshotParams(params: Params): Promise<Record<ParamName, Float32Array>> {
  const out = {} as Record<ParamName, Float32Array>;
  // data() gives a copy (tfjs-node's binding memcpys out of TensorFlow's buffer; webgpu maps a
  // staging buffer), or the array a tensor was made from, which no update touches (an assign gives
  // the variable new data)
  for (const name of PARAM_NAMES) out[name] = await readTensor(params[name]);
  return out;
}

export type SaveOptions = {
  // fsync the files before the swap (default true). train.ts writes its per-epoch checkpoints
  // without (a process killed at any moment still leaves a complete checkpoint: the page cache
  // outlives the process) and makes the run's final ones durable with syncCheckpoint.
  durable?: boolean;
  // A checkpoint folder written from the very same weights: its weights.bin is hard-linked instead
  // of written again (train.ts writes last.ckpt, then best.ckpt of the same epoch). Falls back to
  // writing where links are not possible (some USB file systems) or the manifest differs.
  weightsFrom?: string;
};

/**
 * Makes sure a model can be written to `dir` before any work is spent on it: creates it and writes
 * (then removes) a probe file. Fails with one line naming the path and the real cause.
 */
export function ensureWritableFolder(dir: string): void {
  const abs = path.resolve(dir);
  const probe = path.join(abs, `.alexnet-write-test-${process.pid}`);
  try {
    // one level at a time from the deepest existing folder: Node's recursive mkdir spins forever
    // where a folder cannot be made under an existing one (/proc/nope)
    const base = nearestExisting(abs);
    let cur = base;
    for (const part of path.relative(base, abs).split(path.sep).filter(Boolean)) {
      cur = path.join(cur, part);
      mkdirSync(cur);
    }
    writeFileSync(probe, 'x');
    rmSync(probe, { force: true });
  } catch (err) {
    try {
      rmSync(probe, { force: true });
    } catch {
      // no folder, no probe
    }
    const e = err as NodeJS.ErrnoException;
    const where = e.path ?? abs;
    const cause =
      e.code === 'ENOSPC' || e.code === 'EDQUOT'
        ? null
        : e.code === 'EACCES' || e.code === 'EPERM'
          ? `permission denied on ${where}`
          : e.code === 'EROFS'
            ? `${where} is on a read-only file system`
            : e.code === 'ENOTDIR' || e.code === 'EEXIST'
              ? `${nearestExisting(abs)} is a file, not a folder`
              : e.code === 'ENOENT'
                ? `folders cannot be created in ${nearestExisting(abs)}`
                : e.message;
    if (cause === null) throw new EngineError('DISK_FULL', `the disk is full (${abs})`);
    throw new EngineError('NOT_WRITABLE', `cannot write to ${abs}: ${cause}`);
  }
}

/** The longest leading part of `p` that exists. */
function nearestExisting(p: string): string {
  let cur = p;
  while (!existsSync(cur) && path.dirname(cur) !== cur) cur = path.dirname(cur);
  return cur;
}

/**
 * Writes a checkpoint folder atomically (see the header). `params` may be a snapshotParams result.
 * Few waits on the event loop (one writev per binary file, the fsyncs together, the removal of the
 * previous folder), so that a save running beside a training loop that yields once per step
 * (train.ts) finishes within a few steps; the heavy work runs on libuv's threads.
 */
export async function saveCheckpoint(dir: string, input: CheckpointInput, opts: SaveOptions = {}): Promise<ModelMeta> {
  const { params, optimizer, ...rest } = input;
  const target = path.resolve(dir);
  const tmp = `${target}.tmp`;
  const old = `${target}.old`;
  rmSync(tmp, { recursive: true, force: true });

  const shapes = paramShapes(rest.config);
  const weightEntries: Entry[] = [];
  for (const name of PARAM_NAMES) {
    const p = params[name];
    const data = p instanceof Float32Array ? p : await readTensor(p);
    weightEntries.push({ name, shape: shapes[name].slice(), data });
  }
  const fds: number[] = [];
  const openNew = (file: string): number => {
    const fd = openSync(path.join(tmp, file), 'w');
    fds.push(fd);
    return fd;
  };
  try {
    mkdirSync(tmp, { recursive: true });
    let weights: BinaryManifest | null = null;
    if (opts.weightsFrom) weights = linkWeights(opts.weightsFrom, path.join(tmp, 'weights.bin'), manifestOf(weightEntries, 'weights.bin'));
    weights ??= await writeArrays(openNew('weights.bin'), weightEntries, 'weights.bin');

    let optManifest: ModelMeta['optimizer'] = null;
    if (optimizer) {
      const entries: Entry[] = [];
      for (const name of PARAM_NAMES) {
        const v = optimizer.velocity[name];
        if (v) entries.push({ name, shape: shapes[name].slice(), data: v });
      }
      optManifest = { ...(await writeArrays(openNew('optimizer.bin'), entries, 'optimizer.bin')), step: optimizer.step };
    }

    const meta: ModelMeta = {
      format: MODEL_FORMAT,
      formatVersion: FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      ...rest,
      weights,
      optimizer: optManifest,
    };
    writeFileSync(openNew('model.json'), JSON.stringify(meta, null, 1));
    if (opts.durable !== false) await Promise.all(fds.map(fsyncAsync));
    for (const fd of fds.splice(0)) closeSync(fd);

    // swap: target -> old, tmp -> target, drop old (unlinking 244 MB files takes a while: off
    // the event loop's thread)
    await rm(old, { recursive: true, force: true });
    if (existsSync(target)) renameSync(target, old);
    renameSync(tmp, target);
    await rm(old, { recursive: true, force: true });
    return meta;
  } catch (err) {
    // a failed save (a full disk most often) leaves nothing of ours behind: the previous
    // checkpoint is untouched and the half-written copy is freed at once
    for (const fd of fds.splice(0)) closeSync(fd);
    rmSync(tmp, { recursive: true, force: true });
    throw diskFullError(err, tmp);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/**
 * fsyncs a checkpoint folder written with durable: false (its files, then the folder itself, so
 * that the rename is on disk too). Missing folders are skipped.
 */
export async function syncCheckpoint(dir: string): Promise<void> {
  if (!existsSync(path.join(dir, 'model.json'))) return;
  for (const f of ['weights.bin', 'optimizer.bin', 'model.json', '.']) {
    const file = path.join(dir, f);
    if (!existsSync(file)) continue;
    const fd = openSync(file, 'r');
    try {
      await fsyncAsync(fd);
    } catch (e) {
      // some file systems (and Windows, for folders) cannot fsync a folder opened read-only
      if (f !== '.') throw e;
    } finally {
      closeSync(fd);
    }
  }
}

/** Hard-links `from`'s weights.bin to `to` when its manifest lays out the same tensors; else null. */
function linkWeights(from: string, to: string, want: Omit<BinaryManifest, 'sha256'>): BinaryManifest | null {
  try {
    const have = JSON.parse(readFileSync(path.join(from, 'model.json'), 'utf8')) as Partial<ModelMeta>;
    const w = have.weights;
    if (!w || w.file !== want.file || w.bytes !== want.bytes || JSON.stringify(w.tensors) !== JSON.stringify(want.tensors)) return null;
    linkSync(path.join(from, w.file), to);
    return w;
  } catch {
    rmSync(to, { force: true });
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// reading

const bad = (msg: string): EngineError => new EngineError('BAD_MODEL_DIR', msg);

/**
 * The checkpoint folder to read for `dir`: `dir` itself when it holds model.json, else its
 * best.ckpt or last.ckpt (or their `.old` copies left by an interrupted write).
 */
export function resolveCheckpointDir(dir: string, prefer: 'best' | 'last' = 'best'): string {
  const d = path.resolve(dir);
  if (!existsSync(d)) throw bad(`model folder not found: ${dir}`);
  const candidates = [d, `${d}.old`];
  const order = prefer === 'best' ? ['best.ckpt', 'last.ckpt'] : ['last.ckpt', 'best.ckpt'];
  for (const sub of order) candidates.push(path.join(d, sub), path.join(d, `${sub}.old`));
  for (const c of candidates) if (existsSync(path.join(c, 'model.json'))) return c;
  throw bad(`not a model folder (no model.json, best.ckpt or last.ckpt): ${dir}`);
}

/** Reads and validates model.json (no binary files). */
export async function readModelMeta(ckptDir: string): Promise<ModelMeta> {
  const file = path.join(ckptDir, 'model.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw bad(`cannot read ${file}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad(`${file} is not valid JSON (damaged file?)`);
  }
  if (typeof raw !== 'object' || raw === null) throw bad(`${file} is not a model description`);
  const m = raw as Partial<ModelMeta>;
  if (m.format !== MODEL_FORMAT) throw bad(`${file} is not an AlexNet Studio model (format ${JSON.stringify(m.format)})`);
  if (typeof m.formatVersion !== 'number') throw bad(`${file} has no format version`);
  if (m.formatVersion > FORMAT_VERSION) {
    throw bad(`${ckptDir} was written by a newer version (model format ${m.formatVersion}, this one reads up to ${FORMAT_VERSION}); update the app`);
  }
  if (!m.config || !Array.isArray(m.classNames) || !m.preprocessing || !m.weights) {
    throw bad(`${file} is incomplete (config, class names, preprocessing or weights missing)`);
  }
  try {
    m.config = makeConfig(m.config);
    m.preprocessing = parsePreprocessing(m.preprocessing);
  } catch (e) {
    throw bad(`${file} has an invalid config: ${(e as Error).message}`);
  }
  const limit = configOutOfBounds(m.config, m.preprocessing);
  if (limit) throw bad(`${file} asks for ${limit}: not a model this app makes or loads`);
  if (m.classNames.length !== m.config.numClasses || !m.classNames.every((c) => typeof c === 'string')) {
    throw bad(`${file} names ${m.classNames.length} classes but the network has ${m.config.numClasses} outputs`);
  }
  checkManifest(file, m.weights, m.config);
  if (m.optimizer) checkManifest(file, m.optimizer, m.config);
  return m as ModelMeta;
}

// What a model file may ask for. Far above every network this app makes (the paper's is 227 px,
// 4096 units, 1000 classes, 61 M parameters); a file past them is damaged or hostile, and would
// otherwise ask for tens of GiB before anything could check it.
const MODEL_BOUNDS = { inputSize: 1024, channels: 4096, fcUnits: 16_384, numClasses: 100_000, parameters: 2 ** 28 } as const;

/** The first bound `config` (and its preprocessing) exceeds, in words; null when within all. */
function configOutOfBounds(config: AlexNetConfig, prep: Preprocessing): string | null {
  if (config.inputSize > MODEL_BOUNDS.inputSize) return `inputSize ${config.inputSize} (at most ${MODEL_BOUNDS.inputSize})`;
  if (prep.resize > 4 * MODEL_BOUNDS.inputSize) return `a resize to ${prep.resize} px (at most ${4 * MODEL_BOUNDS.inputSize})`;
  if (config.channels.some((c) => c > MODEL_BOUNDS.channels)) return `conv channels ${config.channels.join(', ')} (at most ${MODEL_BOUNDS.channels} each)`;
  if (config.fcUnits > MODEL_BOUNDS.fcUnits) return `fcUnits ${config.fcUnits} (at most ${MODEL_BOUNDS.fcUnits})`;
  if (config.numClasses > MODEL_BOUNDS.numClasses) return `${config.numClasses} classes (at most ${MODEL_BOUNDS.numClasses})`;
  const n = Object.values(paramShapes(config)).reduce((sum, shape) => sum + shape.reduce((a, b) => a * b, 1), 0);
  if (n > MODEL_BOUNDS.parameters) return `${n} parameters (at most ${MODEL_BOUNDS.parameters})`;
  return null;
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * A binary file's manifest: a bare file name inside the checkpoint folder (no path, no '..'),
 * whole non-negative byte and element counts, every tensor inside the file.
 */
function checkManifest(file: string, m: Partial<BinaryManifest>, config: AlexNetConfig): void {
  const name = m.file;
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name !== path.basename(name) || /[\\/:\0]/.test(name)) {
    throw bad(`${file} names the weights file ${JSON.stringify(name)}: only a file name inside the model folder is allowed`);
  }
  if (!isCount(m.bytes) || m.bytes % 4 !== 0) throw bad(`${file}: ${name} has a bad byte count ${JSON.stringify(m.bytes)}`);
  if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) throw bad(`${file}: ${name} has no valid SHA-256`);
  if (!Array.isArray(m.tensors)) throw bad(`${file}: ${name} lists no tensors`);
  const shapes = paramShapes(config) as Record<string, number[]>;
  for (const t of m.tensors as Partial<TensorEntry>[]) {
    if (typeof t !== 'object' || t === null || typeof t.name !== 'string' || !Object.hasOwn(shapes, t.name)) throw bad(`${file}: ${name} holds an unknown tensor ${JSON.stringify(t?.name)}`);
    if (!isCount(t.offset) || !isCount(t.length) || !Array.isArray(t.shape) || !t.shape.every(isCount)) throw bad(`${file}: tensor ${t.name} has a bad offset, length or shape`);
    if ((t.offset + t.length) * 4 > m.bytes) throw bad(`${file}: tensor ${t.name} lies outside ${name}`);
  }
}

/** The tensors of a binary file of a checkpoint (size and SHA-256 checked), without TensorFlow. */
export async function readBinary(ckptDir: string, manifest: BinaryManifest): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const file = path.join(ckptDir, manifest.file);
  let buf: Buffer;
  try {
    const st = await stat(file);
    if (st.size !== manifest.bytes) throw bad(`${file} has ${st.size} bytes, model.json says ${manifest.bytes} (truncated or damaged)`);
    buf = await readFile(file);
  } catch (e) {
    if (e instanceof EngineError) throw e;
    throw bad(`missing ${manifest.file} in ${ckptDir}`);
  }
  const sha = createHash('sha256').update(buf).digest('hex');
  if (sha !== manifest.sha256) throw bad(`${file} is damaged (SHA-256 differs from model.json)`);
  // copy into an aligned buffer (Buffer's byteOffset may not be a multiple of 4)
  const all = new Float32Array(buf.byteLength / 4);
  new Uint8Array(all.buffer).set(buf);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of manifest.tensors) {
    if (t.offset + t.length > all.length) throw bad(`${file}: tensor ${t.name} lies outside the file`);
    out.set(t.name, { shape: t.shape, data: all.subarray(t.offset, t.offset + t.length) });
  }
  return out;
}

/** Loads a checkpoint's weights (and metadata). EngineError 'BAD_MODEL_DIR' on any defect. */
export async function loadModel(dir: string, prefer: 'best' | 'last' = 'best'): Promise<LoadedModel> {
  const ckptDir = resolveCheckpointDir(dir, prefer);
  const meta = await readModelMeta(ckptDir);
  const arrays = await readBinary(ckptDir, meta.weights);
  const shapes = paramShapes(meta.config);
  for (const name of PARAM_NAMES) {
    const a = arrays.get(name);
    if (!a) throw bad(`${ckptDir}: weights.bin has no ${name}`);
    const want = shapes[name];
    if (a.shape.length !== want.length || a.shape.some((d, i) => d !== want[i]) || a.data.length !== want.reduce((x, y) => x * y, 1)) {
      throw bad(`${ckptDir}: ${name} has shape [${a.shape}], the config needs [${want}]`);
    }
  }
  // shapes checked above; paramsFromArrays hands the values to the backend, so weights.bin's buffer
  // can be collected now
  const params = paramsFromArrays(meta.config, Object.fromEntries(PARAM_NAMES.map((n) => [n, arrays.get(n)!.data])) as Record<ParamName, Float32Array>);
  return { dir: ckptDir, meta, config: meta.config, classNames: meta.classNames, preprocessing: meta.preprocessing, params };
}

/** Loads a checkpoint plus its optimiser state, for resuming. */
export async function loadCheckpoint(dir: string, prefer: 'best' | 'last' = 'last'): Promise<{ model: LoadedModel; optimizer: SgdState | null }> {
  const model = await loadModel(dir, prefer);
  const om = model.meta.optimizer;
  if (!om) return { model, optimizer: null };
  const arrays = await readBinary(model.dir, om);
  const velocity: SgdState['velocity'] = {};
  for (const [name, a] of arrays) {
    if (!(PARAM_NAMES as readonly string[]).includes(name)) throw bad(`${model.dir}: optimizer.bin names an unknown tensor ${name}`);
    if (a.data.length !== model.params[name as ParamName].size) throw bad(`${model.dir}: optimizer state of ${name} has the wrong size`);
    velocity[name as ParamName] = a.data.slice();
  }
  return { model, optimizer: { step: om.step, velocity } };
}

/** Copies (new variables) of a parameter set. */
export function cloneParams(params: Params): Params {
  const out = {} as Params;
  for (const name of PARAM_NAMES) out[name] = ownVariable(params[name].clone());
  return out;
}

