// runs:*, models:export, classify:files — training runs (started in the worker through the
// training host), their metrics and evaluation, exporting a run's model, classifying files with it.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { RunSummary } from '../../../db/repos/runs';
import { trainingSet } from '../../../db/training';
import { EXPORT_FORMATS, LIMITS, type ClassifyResultInfo, type Tta, type Evaluation, type PhotoItem, type RunInfo, type RunSettings, type Series } from '../../../preload/contract';
import { absPath, backendChoice, bool, check, id, int, list, num, obj, oneOf, opt, str } from '../validate';
import { dataPaths, setBackend, type AppContext } from '../context';
import { ensureWritableFolder } from '../../../ml/checkpoint';
import { AppError } from '../errors';
import { runWorkerJob } from '../worker/run';
import { haveWeights, imagenetDir } from '../weights';
import type { TrainJob } from '../worker/protocol';
import { photoItem, requireDataset, handler, type HandlerMap } from './common';

// The one-button run: every setting's default.
export const DEFAULT_SETTINGS: Required<Omit<RunSettings, 'lr'>> & Pick<RunSettings, 'lr'> = {
  recipe: 'finetune', // ImageNet weights, the new head first, then fc6-fc8
  architecture: 'alexnet', // the real network
  headEpochs: 3, // cheap on cached features
  fineTuneEpochs: 10, // early stopping usually ends sooner
  fineTune: 'fc', // conv layers stay frozen: fast, and enough for a few hundred photos
  epochs: 30, // from scratch
  batchSize: 32, // fits every backend's memory
  augment: true, // random crops and flips
  valFraction: 0.2, // a fifth of each class validates
  tta: 'center', // one view per photo when predicting the dataset
  seed: 0, // same seed, same run
  activation: 'relu', // the paper's network (3.1-3.4)
  groups: 2,
  lrn: true,
  overlappingPool: true,
  backend: 'auto', // the best backend that loads (ml/backend.ts)
};

export const PAPER_SWITCHES = ['activation', 'groups', 'lrn', 'overlappingPool'] as const;

export const settingsV = obj({
  recipe: opt(oneOf('finetune', 'scratch')),
  architecture: opt(oneOf('alexnet', 'tiny')),
  headEpochs: opt(int(0, LIMITS.epochs)),
  fineTuneEpochs: opt(int(0, LIMITS.epochs)),
  fineTune: opt(oneOf('none', 'fc', 'all')),
  epochs: opt(int(1, LIMITS.epochs)),
  batchSize: opt(int(1, LIMITS.batchSize)),
  lr: opt(num(1e-7, 1)),
  augment: opt(bool),
  valFraction: opt(num(0.05, 0.5)),
  tta: opt(oneOf('center', '10crop')),
  seed: opt(int(0, 2 ** 31 - 1)),
  activation: opt(oneOf('relu', 'tanh')),
  groups: opt((v: unknown, at: string) => int(1, 2)(v, at) as 1 | 2),
  lrn: opt(bool),
  overlappingPool: opt(bool),
  backend: opt(backendChoice),
});

/** A recorded run's settings (its config as runs:start stored it), checked again: the file may be old. */
function settingsOf(config: Record<string, unknown>): typeof DEFAULT_SETTINGS {
  const known = Object.fromEntries(Object.keys(DEFAULT_SETTINGS).concat('lr').filter((k) => Object.hasOwn(config, k) && config[k] !== null).map((k) => [k, config[k]]));
  return { ...DEFAULT_SETTINGS, ...check(settingsV, known) };
}

type Flat = Record<string, string | number | boolean | null>;

function flat(config: Record<string, unknown>): Flat {
  const out: Flat = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === 'outDir') continue;
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  return out;
}

export function runInfo(r: RunSummary): RunInfo {
  const n = (k: string) => (typeof r.config[k] === 'number' ? (r.config[k] as number) : null);
  return {
    id: r.id,
    datasetId: r.datasetId,
    datasetName: r.datasetName,
    name: r.name,
    status: r.status,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    durationMs: r.durationMs,
    error: r.error,
    backend: r.backend,
    weightsSource: r.weightsSource,
    classes: r.classes,
    epochs: r.epochs,
    steps: r.steps,
    bestValAcc: r.bestValAcc,
    trainCount: n('trainCount'),
    valCount: n('valCount'),
    settings: flat(r.config),
  };
}

/** Makes `folder` (checked writable, ml/checkpoint's rule) and then `target` inside it, or says in one line why not. */
function makeExportFolder(folder: string, target: string): void {
  ensureWritableFolder(folder);
  try {
    fs.mkdirSync(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AppError('CONFLICT', `${target} already exists: choose another folder or remove it`);
    throw err;
  }
}

/** The run's model folder (holding best.ckpt / last.ckpt), or BAD_MODEL. */
function modelDir(ctx: AppContext, runId: number): string {
  const run = ctx.lib.runs.get(runId);
  const dir = typeof run.config.outDir === 'string' ? run.config.outDir : null;
  if (!dir || !['best.ckpt', 'last.ckpt'].some((c) => fs.existsSync(path.join(dir, c, 'model.json')))) {
    throw new AppError('BAD_MODEL', `run ${runId} has no trained model${run.status === 'running' ? ' yet' : ''}`);
  }
  return dir;
}

/**
 * Classifies `files` with run `runId`'s best model in a worker; each class named and given its id.
 * thumbs: each readable file's thumbnail comes back with it; signal: a cancel kills the worker.
 */
export async function classifyFiles(ctx: AppContext, runId: number, files: string[], topK: number, tta: Tta, o: { thumbs?: boolean; signal?: AbortSignal } = {}): Promise<ClassifyResultInfo[]> {
  const run = ctx.lib.runs.get(runId);
  const dir = modelDir(ctx, runId);
  const res = await runWorkerJob(ctx.spawn, { kind: 'classify', modelDir: dir, files, topK, tta, thumbs: o.thumbs, backend: ctx.settings.backend }, { log: ctx.log, signal: o.signal, killOnCancel: true, onBackend: (b) => setBackend(ctx, b) });
  const byName = new Map(run.datasetId === null ? [] : ctx.lib.classes.list(run.datasetId).map((c) => [c.name, c.id]));
  return res.results.map((x) =>
    'predictions' in x
      ? { file: x.file, predictions: x.predictions.map((p) => ({ label: p.label, p: p.p, classId: byName.get(p.label) ?? null })), ...(x.thumb ? { thumb: x.thumb } : {}) }
      : { file: x.file, error: { code: x.error.code === 'BAD_IMAGE' ? ('BAD_IMAGE' as const) : ('FOLDER_NOT_FOUND' as const), message: x.error.message } },
  );
}

/** Run `runId`'s confusion matrix, per-class scores and worst mistakes against today's labels. */
export function evaluateRun(ctx: AppContext, runId: number, subset: 'val' | 'all', worst: number): Evaluation {
  const run = ctx.lib.runs.get(runId);
  if (run.datasetId === null) throw new AppError('NOT_FOUND', `the dataset of run ${runId} was deleted`);
  if (subset === 'val' && run.splitId === null) throw new AppError('NOT_FOUND', `run ${runId} has no recorded validation split`);
  const byName = new Map(ctx.lib.classes.list(run.datasetId).map((c) => [c.name, c.id]));
  const classes = run.classes.filter((n) => byName.has(n)).map((n) => ({ id: byName.get(n)!, name: n }));
  const col = new Map(classes.map((c, i) => [c.id, i]));
  const items: PhotoItem[] = [];
  for (let offset = 0; ; offset += LIMITS.pageSize) {
    const page = ctx.lib.photos.list({ datasetId: run.datasetId, runId: runId, minP: 0, subset: subset === 'val' ? { splitId: run.splitId!, subset: 'val' } : undefined, limit: LIMITS.pageSize, offset, withTotal: false });
    items.push(...page.items.map(photoItem));
    if (page.items.length < LIMITS.pageSize) break;
  }
  const k = classes.length;
  const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const scored = items.filter((p) => p.classId !== null && col.has(p.classId) && p.predictedClassId !== null && col.has(p.predictedClassId));
  for (const p of scored) matrix[col.get(p.classId!)!][col.get(p.predictedClassId!)!]++;
  const n = scored.length;
  const correct = matrix.reduce((s, row, i) => s + row[i], 0);
  const perClass = classes.map((c, i) => {
    const support = matrix[i].reduce((a, b) => a + b, 0);
    const predicted = matrix.reduce((a, row) => a + row[i], 0);
    return { classId: c.id, precision: predicted ? matrix[i][i] / predicted : 0, recall: support ? matrix[i][i] / support : 0, support };
  });
  const mostWrong = scored.filter((p) => p.classId !== p.predictedClassId).sort((a, b) => (b.p ?? 0) - (a.p ?? 0)).slice(0, worst);
  const out: Evaluation = { runId, subset, labels: 'today', n, accuracy: n ? correct / n : null, classes, matrix, perClass, mostWrong };
  return out;
}

const FROZEN_FILE = 'evaluation.json'; // in the run's folder: what the run measured at its end

/** Writes the run's evaluations (its validation photos, every labeled photo) as they are at its end. */
export function freezeEvaluation(ctx: AppContext, runId: number): void {
  const dir = ctx.lib.runs.get(runId).config.outDir;
  if (typeof dir !== 'string' || !fs.existsSync(dir)) return;
  const atEnd = (subset: 'val' | 'all'): Evaluation => ({ ...evaluateRun(ctx, runId, subset, 500), labels: 'at-end' });
  const frozen = { val: atEnd('val'), all: atEnd('all') };
  const tmp = path.join(dir, `${FROZEN_FILE}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(frozen));
  fs.renameSync(tmp, path.join(dir, FROZEN_FILE));
}

function readFrozenEvaluation(ctx: AppContext, runId: number, subset: 'val' | 'all'): Evaluation | null {
  const dir = ctx.lib.runs.get(runId).config.outDir;
  if (typeof dir !== 'string') return null;
  try {
    const frozen = JSON.parse(fs.readFileSync(path.join(dir, FROZEN_FILE), 'utf8')) as Record<'val' | 'all', Evaluation>;
    return frozen[subset] ?? null;
  } catch {
    return null; // a run from before frozen results, or still running: today's labels
  }
}

export function runHandlers(
  ctx: AppContext,
): HandlerMap<'runs:start' | 'runs:resume' | 'runs:cancel' | 'runs:list' | 'runs:get' | 'runs:metrics' | 'runs:evaluation' | 'runs:delete' | 'models:export' | 'models:cancel' | 'classify:files' | 'classify:cancel'> {
  const { lib } = ctx;
  // the exports and classify calls at work, each with its cancel: `<runId>:<format>` and runId
  const exports = new Map<string, AbortController>();
  const classifying = new Map<number, Set<AbortController>>();

  /** Checks, creates the split and the run, hands the job to the training host. */
  const start = (datasetId: number, name: string | undefined, s: typeof DEFAULT_SETTINGS): RunInfo => {
    requireDataset(ctx, datasetId);
    const running = ctx.training.runningRunId;
    if (running !== null) throw new AppError('BUSY', `run ${running} is still training; cancel it or wait for it to finish`);
    const finetune = s.recipe === 'finetune' && s.architecture === 'alexnet';
    const changed = PAPER_SWITCHES.filter((k) => s[k] !== DEFAULT_SETTINGS[k]);
    if (finetune && changed.length > 0) throw new AppError('BAD_INPUT', `the ImageNet weights were trained with the paper's network: train from scratch to change ${changed.join(', ')}`);
    if (finetune && !haveWeights(ctx)) throw new AppError('NO_WEIGHTS', 'the ImageNet weights are not installed yet: download or import them, or train from scratch');

    // Every class with labeled photos needs one to train on and one to validate on.
    const classes = lib.classes.list(datasetId);
    const counted = classes.map((c) => ({ c, n: lib.photos.list({ datasetId, classIds: [c.id], status: 'ok', limit: 1 }).total ?? 0 })).filter((x) => x.n > 0);
    if (counted.length < 2) throw new AppError('TOO_FEW_IMAGES', `label photos of at least two classes to train (the dataset has ${counted.length} class${counted.length === 1 ? '' : 'es'} with labeled photos)`);
    for (const { c, n } of counted) {
      const nVal = Math.round(n * s.valFraction);
      if (nVal < 1 || n - nVal < 1) {
        const need = Math.max(2, Math.ceil(0.5 / s.valFraction));
        throw new AppError('TOO_FEW_IMAGES', `class "${c.name}" has ${n} labeled photo${n === 1 ? '' : 's'}: label at least ${need} so that some train and some validate`);
      }
    }

    const set = trainingSet(lib, datasetId, { split: { train: 1 - s.valFraction, val: s.valFraction, seed: s.seed } });
    const classNames = set.classes;
    const train = set.train.map((m) => ({ path: m.path, label: m.classIndex }));
    const val = set.val.map((m) => ({ path: m.path, label: m.classIndex }));

    // the run's folder, named before the run exists (its id is not known yet), recorded with it
    const outDir = path.join(dataPaths(ctx).runs, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`);
    const run = lib.runs.create({
      datasetId,
      splitId: set.splitId,
      name: name ?? null,
      config: { ...s, lr: s.lr ?? null, trainCount: train.length, valCount: val.length, outDir },
      preprocessing: { preset: s.architecture === 'tiny' ? 'tiny' : finetune ? 'caffe' : 'paper' },
      classes: classNames,
      weightsSource: finetune ? 'imagenet' : 'none',
    });
    launch(run.id, datasetId, classNames, { train, val }, s, outDir, false);
    return runInfo(lib.runs.summary(run.id));
  };

  /** The split's members of the run's classes, as the worker's items. */
  const splitItems = (splitId: number, classNames: string[]) => {
    const members = lib.splits.members(splitId);
    const index = new Map(classNames.map((n, i) => [n, i]));
    const items = (subset: 'train' | 'val') => members.filter((m) => m.subset === subset && index.has(m.className)).map((m) => ({ path: m.path, label: index.get(m.className)! }));
    return { train: items('train'), val: items('val') };
  };

  /** Hands a run's job to the training host (a new run, or a resumed one). */
  const launch = (runId: number, datasetId: number, classNames: string[], items: { train: TrainJob['train']; val: TrainJob['val'] }, s: typeof DEFAULT_SETTINGS, outDir: string, resume: boolean) => {
    const finetune = s.recipe === 'finetune' && s.architecture === 'alexnet';
    const predict = lib.photos.all(datasetId).filter((p) => p.status === 'ok').map((p) => ({ photoId: p.id, path: p.path }));
    const job: TrainJob = {
      kind: 'train',
      runId,
      recipe: s.recipe,
      architecture: s.architecture,
      classNames,
      train: items.train,
      val: items.val,
      predict,
      outDir,
      cacheDir: dataPaths(ctx).featureCache,
      baseModelDir: finetune ? imagenetDir(ctx) : null,
      headEpochs: s.headEpochs,
      fineTuneEpochs: s.fineTuneEpochs,
      fineTune: s.fineTune,
      epochs: s.epochs,
      batchSize: s.batchSize,
      lr: s.lr ?? null,
      augment: s.augment,
      tta: s.tta,
      seed: s.seed,
      network: { activation: s.activation, groups: s.groups, lrn: s.lrn, overlappingPool: s.overlappingPool },
      backend: s.backend === 'auto' ? ctx.settings.backend : s.backend, // the run's own choice, else the app setting's
      resume,
    };
    void ctx.training.start(job).then((status) => {
      // what the run measured is kept as it is now: later relabels change "today's" view only
      if (status === 'finished') {
        try {
          freezeEvaluation(ctx, runId);
        } catch (err) {
          ctx.log?.('warn', `run ${runId}: its evaluation could not be kept`, err);
        }
      }
      ctx.bus.emit('library:changed', { datasetId, what: 'runs' });
    });
  };

  /** Continues a run that stopped before its end from its last checkpoint: same settings, same split. */
  const resume = (runId: number): RunInfo => {
    const run = lib.runs.get(runId);
    const running = ctx.training.runningRunId;
    if (running !== null) throw new AppError('BUSY', `run ${running} is still training; cancel it or wait for it to finish`);
    if (!['interrupted', 'cancelled', 'failed'].includes(run.status)) throw new AppError('CONFLICT', `run ${runId} is ${run.status}: only an interrupted, cancelled or failed run can be resumed`);
    const outDir = typeof run.config.outDir === 'string' ? run.config.outDir : null;
    if (!outDir || !fs.existsSync(path.join(outDir, 'last.ckpt', 'model.json'))) throw new AppError('BAD_MODEL', `run ${runId} has no checkpoint to resume from; start a new run instead`);
    if (run.datasetId === null || run.splitId === null) throw new AppError('NOT_FOUND', `the dataset or split of run ${runId} was deleted`);
    const s = settingsOf(run.config);
    if (s.recipe === 'finetune' && s.architecture === 'alexnet' && !haveWeights(ctx)) throw new AppError('NO_WEIGHTS', 'the ImageNet weights are not installed yet: download or import them to resume this run');
    lib.runs.resume(runId);
    launch(runId, run.datasetId, run.classes, splitItems(run.splitId, run.classes), s, outDir, true);
    return runInfo(lib.runs.summary(runId));
  };

  return {
    'runs:start': handler(obj({ datasetId: id, name: opt(str()), settings: opt(settingsV) }), (r) => {
      return start(r.datasetId, r.name, { ...DEFAULT_SETTINGS, ...(r.settings ?? {}) });
    }),
    'runs:resume': handler(obj({ runId: id }), (r) => resume(r.runId)),
    'runs:cancel': handler(obj({ runId: id }), (r) => {
      lib.runs.get(r.runId);
      return { cancelled: ctx.training.cancel(r.runId) };
    }),
    'runs:list': handler(obj({ datasetId: opt(id), limit: opt(int(1, 10_000)) }), (r) => {
      if (r.datasetId !== undefined) requireDataset(ctx, r.datasetId);
      return lib.runs.list({ datasetId: r.datasetId, limit: r.limit ?? 1000 }).map(runInfo);
    }),
    'runs:get': handler(obj({ runId: id }), (r) => {
      const s = lib.runs.summary(r.runId);
      return {
        ...runInfo(s),
        models: lib.models.list(r.runId).map((m) => ({ id: m.id, kind: m.kind, format: m.format, path: m.path, epoch: m.epoch })),
        predictions: lib.predictions.count(r.runId),
      };
    }),
    'runs:metrics': handler(obj({ runId: id }), (r) => {
      lib.runs.get(r.runId);
      const series = (scope: 'step' | 'epoch') => {
        const out: Record<string, Series> = {};
        for (const [name, rows] of Object.entries(lib.metrics.series(r.runId, scope))) out[name] = { idx: rows.map((x) => x.idx), value: rows.map((x) => x.value) };
        return out;
      };
      return { runId: r.runId, step: series('step'), epoch: series('epoch') };
    }),
    'runs:evaluation': handler(obj({ runId: id, subset: opt(oneOf('val', 'all')), worst: opt(int(0, 500)), labels: opt(oneOf('at-end', 'today')) }), (r) => {
      const subset = r.subset ?? 'val';
      const worst = r.worst ?? 24;
      if (r.labels !== 'today') {
        const frozen = readFrozenEvaluation(ctx, r.runId, subset);
        if (frozen) return { ...frozen, mostWrong: frozen.mostWrong.slice(0, worst) };
      }
      return evaluateRun(ctx, r.runId, subset, worst);
    }),
    'runs:delete': handler(obj({ runId: id }), (r) => {
      const run = lib.runs.get(r.runId);
      if (ctx.training.runningRunId === r.runId) throw new AppError('BUSY', `run ${r.runId} is training; cancel it first`);
      lib.runs.remove(r.runId);
      // its files, only when they are where the app put them
      const dir = typeof run.config.outDir === 'string' ? path.resolve(run.config.outDir) : null;
      const runsDir = dataPaths(ctx).runs;
      if (dir && dir.startsWith(runsDir + path.sep)) fs.rmSync(dir, { recursive: true, force: true });
      return { done: true };
    }),
    'models:export': handler(obj({ runId: id, format: oneOf(...EXPORT_FORMATS), folder: absPath }), async (r) => {
      const src = modelDir(ctx, r.runId);
      // the target is made here, before any work: a folder that cannot be made or written fails at
      // once with its real cause, and one that exists is never written into
      const target = path.join(r.folder, `alexnet-run-${r.runId}-${r.format}`);
      const key = `${r.runId}:${r.format}`;
      if (exports.has(key)) throw new AppError('BUSY', `run ${r.runId} is being exported as ${r.format} already`);
      makeExportFolder(r.folder, target);
      const controller = new AbortController();
      exports.set(key, controller);
      try {
        const res = await runWorkerJob(ctx.spawn, { kind: 'export', format: r.format, modelDir: src, outDir: target }, { log: ctx.log, signal: controller.signal, killOnCancel: true });
        return { folder: res.dir, files: res.files, bytes: res.bytes };
      } catch (err) {
        // a half-written or cancelled export is not left behind (the worker has exited by now)
        fs.rmSync(target, { recursive: true, force: true });
        throw err;
      } finally {
        exports.delete(key);
      }
    }),
    'models:cancel': handler(obj({ runId: id, format: oneOf(...EXPORT_FORMATS) }), (r) => {
      const controller = exports.get(`${r.runId}:${r.format}`);
      controller?.abort();
      return { cancelled: controller !== undefined };
    }),
    'classify:files': handler(obj({ runId: id, files: list(absPath, LIMITS.filesPerCall, 1), topK: opt(int(1, 1000)), tta: opt(oneOf('center', '10crop')), thumbs: opt(bool) }), async (r) => {
      const controller = new AbortController();
      const mine = classifying.get(r.runId) ?? new Set<AbortController>();
      classifying.set(r.runId, mine.add(controller));
      try {
        return { results: await classifyFiles(ctx, r.runId, r.files, r.topK ?? 5, r.tta ?? 'center', { thumbs: r.thumbs, signal: controller.signal }) };
      } finally {
        mine.delete(controller);
        if (mine.size === 0) classifying.delete(r.runId);
      }
    }),
    'classify:cancel': handler(obj({ runId: id }), (r) => {
      const mine = classifying.get(r.runId);
      for (const c of mine ?? []) c.abort();
      return { cancelled: (mine?.size ?? 0) > 0 };
    }),

  };
}
