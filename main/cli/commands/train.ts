// `alexnet train <dir>`: train AlexNet on <class>/<image> folders, from scratch or (one click)
// from ImageNet weights. A progress bar with ETA on stderr, one line per epoch; with --json one
// JSON object per line on stdout, the last one the final metrics. Ctrl+C cancels cleanly: the last
// checkpoint (every improving epoch, else at most 30 s old) stays valid and `--resume` continues from it.
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../../../ml/backend';
import { scanImageFolder, type Item } from '../../../ml/data';
import { ensureWritableFolder, readModelMeta, resolveCheckpointDir } from '../../../ml/checkpoint';
import { EngineError } from '../../../ml/errors';
import { disposeParams } from '../../../ml/model';
import { describeRecipe, runRecipe, type RecipeEvent } from '../../../ml/recipe';
import { parseStopAt } from '../../../ml/train';
import { defaultDataDir } from '../../../db/paths';
import { intOption, numberOption, parse } from '../args';
import { CliError } from '../errors';
import { ProgressBar, formatDuration } from '../progress';
import { checkWeightsSpec, loadWeights } from '../lib/model-source';
import { trainDataset } from '../lib/train-dataset';

type Values = Record<string, string | string[] | boolean | undefined>;

function runOnDataset(values: Values, positionals: string[]): Promise<number> {
  if (positionals.length) throw new CliError('give a folder or --dataset <name>, not both');
  for (const flag of ['stop-at', 'train-error'] as const) if (values[flag] !== undefined) throw new CliError(`--${flag} applies to training on a folder, not to --dataset`);
  for (const flag of ['out', 'val', 'force'] as const) if (values[flag] !== undefined) throw new CliError(`--${flag} does not apply to --dataset (the library keeps the run's model and split)`);
  if (values.resume) {
    const given = ['weights', 'freeze', 'epochs', 'head-epochs', 'batch', 'lr', 'no-augment', 'val-split', 'seed', 'tiny'].filter((k) => values[k] !== undefined);
    if (given.length) throw new CliError(`--resume continues a run with its own settings: drop --${given.join(', --')}`);
    return trainDataset({ dataset: values.dataset as string, db: typeof values.db === 'string' ? values.db : undefined, json: Boolean(values.json), settings: {}, resume: true });
  }
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const weights = str('weights') ?? (values.tiny ? 'none' : 'imagenet');
  if (weights !== 'imagenet' && weights !== 'none') throw new CliError("with --dataset, --weights must be 'imagenet' or 'none'");
  const freeze = str('freeze') ?? 'features';
  if (freeze !== 'features' && freeze !== 'none') throw new CliError(`--freeze must be features or none, got '${freeze}'`);
  const scratch = weights === 'none' || Boolean(values.tiny);
  const epochs = str('epochs') === undefined ? undefined : intOption(str('epochs'), 'epochs', 1, 1, 10_000);
  return trainDataset({
    dataset: values.dataset as string,
    db: str('db'),
    json: Boolean(values.json),
    settings: {
      recipe: scratch ? 'scratch' : 'finetune',
      architecture: values.tiny ? 'tiny' : 'alexnet',
      ...(scratch ? { epochs } : { fineTuneEpochs: epochs, fineTune: freeze === 'none' ? ('all' as const) : ('fc' as const) }),
      headEpochs: str('head-epochs') === undefined ? undefined : intOption(str('head-epochs'), 'head-epochs', 3, 0, 1000),
      batchSize: str('batch') === undefined ? undefined : intOption(str('batch'), 'batch', 32, 1, 4096),
      lr: str('lr') === undefined ? undefined : numberOption(str('lr'), 'lr', 0.01, 1e-8, 10),
      augment: !values['no-augment'],
      valFraction: str('val-split') === undefined ? undefined : numberOption(str('val-split'), 'val-split', 0.2, 0.01, 0.9),
      seed: str('seed') === undefined ? undefined : intOption(str('seed'), 'seed', 0, 0),
    },
  });
}

const HELP = `usage: alexnet train <dir> --out <model-dir> [options]

<dir> holds one sub-folder of images per class (<class>/<image>).

  --val <dir>            validation images, in the same <class>/ layout
  --val-split F          else hold out this fraction of <dir>, stratified (default 0.2)
  --weights W            imagenet (default: downloaded on first need), none (paper init),
                         a bvlcalexnet .onnx file, or a model folder of ours
  --freeze F             features (default with weights: conv1-5 frozen, cached) or none
  --epochs N             epochs (from scratch: 30; with weights: fine-tune epochs, 10);
                         early stopping usually ends sooner
  --head-epochs N        with weights: epochs of the new head alone first (3)
  --batch N              batch size (32)
  --lr X                 base learning rate (scratch 0.01; with weights picked automatically)
  --no-augment           no random crops, flips or colour noise (batches are still shuffled)
  --seed N               seed for splits, init, augmentation and dropout (0)
  --stop-at M=V          stop once an epoch reaches it: val_acc=0.9 (at least), val_err, val_loss
                         or train_err=0.25 (at most); repeat for several, the first reached stops
  --train-error          after each epoch, the training error with its final weights (one more
                         pass over the training images, centre crops; train_err turns it on)
  --resume               continue an interrupted run from <model-dir>/last.ckpt
                         (with --dataset: the dataset's latest interrupted, cancelled or failed run)
  --force                replace a model already in <model-dir> (else refused)
  --tiny                 a tiny AlexNet-shaped network (for tests and demos; with --weights none)
  --json                 one JSON object per line on stdout

alexnet train --dataset <name> [--db <file>] [options]
  trains on a dataset of the library (its labels and a stratified split) exactly as the app's
  Train button does, and records the run, its metrics, model and predictions there. The model goes
  to the data folder's runs/ (no --out); --weights must be imagenet or none.
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      out: { type: 'string' },
      val: { type: 'string' },
      'val-split': { type: 'string' },
      weights: { type: 'string' },
      freeze: { type: 'string' },
      epochs: { type: 'string' },
      'head-epochs': { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      'no-augment': { type: 'boolean' },
      seed: { type: 'string' },
      'stop-at': { type: 'string', multiple: true },
      'train-error': { type: 'boolean' },
      resume: { type: 'boolean' },
      force: { type: 'boolean' },
      tiny: { type: 'boolean' },
      json: { type: 'boolean' },
      dataset: { type: 'string' },
      db: { type: 'string' },
    },
    HELP,
  );
  if (values.dataset !== undefined) return runOnDataset(values, positionals);
  if (positionals.length !== 1) throw new CliError("train takes one folder of <class>/<image> sub-folders; see 'alexnet train --help'");
  if (!values.out) throw new CliError('--out <model-dir> is required: the folder the model is written to');
  if (values.val && values['val-split']) throw new CliError('give --val or --val-split, not both');
  const weights = values.weights ?? (values.tiny ? 'none' : 'imagenet');
  const freeze = values.freeze ?? (weights === 'none' ? 'none' : 'features');
  if (freeze !== 'features' && freeze !== 'none') throw new CliError(`--freeze must be features or none, got '${freeze}'`);
  if (values.tiny && weights !== 'none') throw new CliError('--tiny trains the tiny network from scratch: use it with --weights none');
  const json = Boolean(values.json);
  const out = path.resolve(values.out);
  const stopAt = (values['stop-at'] ?? []).map((t) => {
    try {
      return parseStopAt(t);
    } catch (e) {
      throw new CliError(`--${(e as Error).message}`);
    }
  });
  // a model already there is kept unless asked: --resume continues it, --force replaces it
  const existing = ['best.ckpt', 'last.ckpt'].filter((c) => fs.existsSync(path.join(out, c, 'model.json')));
  if (existing.length && !values.resume && !values.force) throw new CliError(`${out} already holds a model (${existing.join(', ')}): --resume continues it, --force replaces it, or choose another --out`);
  ensureWritableFolder(out); // a read-only folder, a file in the way or a full disk is found now, not after training
  if (weights !== 'imagenet' && weights !== 'none') checkWeightsSpec(weights);

  const emit = (obj: Record<string, unknown>) => json && process.stdout.write(JSON.stringify(obj) + '\n');
  const say = (line: string) => !json && process.stderr.write(line + '\n');

  const backend = await initBackend('auto', { pooledAllocator: weights !== 'none' && freeze === 'features' });
  const folder = await scanImageFolder(positionals[0]);
  for (const s of folder.skipped) say(`warning: skipping ${s.path}: ${s.reason}`);
  let val: Item[] | null = null;
  if (values.val) {
    const vf = await scanImageFolder(values.val);
    for (const s of vf.skipped) say(`warning: skipping ${s.path}: ${s.reason}`);
    const unknown = vf.classes.filter((c) => !folder.classes.includes(c));
    if (unknown.length) throw new EngineError('TOO_FEW_CLASSES', `--val has classes that ${folder.root} lacks: ${unknown.join(', ')}`);
    val = vf.items.map((it) => ({ path: it.path, label: folder.classes.indexOf(vf.classes[it.label]) }));
  }
  const base = await loadWeights(weights, defaultDataDir(), json);
  const opts = {
    classNames: folder.classes,
    train: folder.items,
    val,
    valFraction: numberOption(values['val-split'], 'val-split', 0.2, 0.01, 0.9),
    base,
    freeze: freeze as 'features' | 'none',
    architecture: values.tiny ? ('tiny' as const) : ('alexnet' as const),
    epochs: values.epochs === undefined ? undefined : intOption(values.epochs, 'epochs', 1, 1, 10_000),
    headEpochs: values['head-epochs'] === undefined ? undefined : intOption(values['head-epochs'], 'head-epochs', 3, 0, 1000),
    batchSize: intOption(values.batch, 'batch', 32, 1, 4096),
    lr: values.lr === undefined ? undefined : numberOption(values.lr, 'lr', 0.01, 1e-8, 10),
    augment: !values['no-augment'],
    seed: intOption(values.seed, 'seed', 0, 0),
    outDir: out,
    cacheDir: path.join(defaultDataDir(), 'feature-cache'),
    resume: Boolean(values.resume),
    trainError: Boolean(values['train-error']),
    stopAt,
  };

  say(`${folder.classes.length} classes (${folder.classes.join(', ')}), ${folder.items.length} images; ${describeRecipe(opts)}; backend ${backend.name}`);
  emit({ type: 'config', backend: backend.name, classes: folder.classes, images: folder.items.length, weights, freeze, out });

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    say('\ncancelling after this step (Ctrl+C again to quit at once)...');
    controller.abort();
  };
  process.on('SIGINT', onSigint);

  let bar: ProgressBar | null = null;
  let lastStepJson = 0;
  const onEvent = (e: RecipeEvent) => {
    const stage = 'stage' in e ? e.stage : 'train';
    switch (e.type) {
      case 'start':
        if (e.startEpoch > e.epochs) say(`[${stage}] already done (epochs 1-${e.epochs} are in the checkpoint)`);
        else say(`[${stage}] ${e.startEpoch === e.epochs ? `epoch ${e.epochs}` : `epochs ${e.startEpoch}-${e.epochs}`}${e.startEpoch > 1 ? ' (resumed)' : ''} of ${e.stepsPerEpoch} steps, ${e.trainCount} train / ${e.valCount} val images, lr ${e.lr}`);
        emit({ ...e, stage });
        break;
      case 'step': {
        if (!json && (!bar || e.step === 1)) bar = new ProgressBar({ label: `epoch ${e.epoch} [${stage}]`, total: e.stepsPerEpoch, unit: 'step' });
        bar?.update(e.step, `loss ${e.loss.toFixed(3)} acc ${e.acc.toFixed(2)} ${e.imagesPerSec.toFixed(1)} img/s run ETA ${formatDuration(e.etaSeconds)}`);
        const now = Date.now();
        if (now - lastStepJson >= 1000) {
          lastStepJson = now;
          emit({ ...e, stage });
        }
        break;
      }
      case 'epoch':
        bar = null;
        say(
          `epoch ${e.epoch} [${stage}] train loss ${e.trainLoss.toFixed(4)} acc ${(e.trainAcc * 100).toFixed(1)}% | val loss ${e.valLoss.toFixed(4)} acc ${(e.valAcc * 100).toFixed(1)}% top-5 ${(e.valTop5 * 100).toFixed(1)}% | ${e.trainErr === undefined ? '' : `train err ${(e.trainErr * 100).toFixed(1)}% | `}lr ${e.lr.toPrecision(3)} | ${e.seconds.toFixed(1)} s${e.best ? ' *best' : ''}`,
        );
        emit({ ...e, stage });
        break;
      case 'lr-drop':
        say(`validation stopped improving: learning rate ${e.from.toPrecision(3)} -> ${e.to.toPrecision(3)}`);
        emit({ ...e, stage });
        break;
      case 'early-stop':
        say(`early stop at epoch ${e.epoch} (best epoch ${e.bestEpoch})`);
        emit({ ...e, stage });
        break;
      case 'target-reached':
        say(`stop-at reached at epoch ${e.epoch}: ${e.metric} ${e.value.toFixed(4)} (target ${e.target})`);
        emit({ ...e, stage });
        break;
      case 'caching': {
        if (!json && (!bar || e.step === 1)) bar = new ProgressBar({ label: 'caching features', total: e.steps, unit: 'batch' });
        bar?.update(e.step);
        const now = Date.now();
        if (now - lastStepJson >= 1000 || e.step === e.steps) {
          lastStepJson = now;
          emit({ ...e });
        }
        if (e.step === e.steps) bar = null;
        break;
      }
      case 'lr-find':
        say(`head learning rate ${e.lr} (tried ${e.trials.map((t) => `${t.lr}: val loss ${t.valLoss.toFixed(3)}`).join(', ')})`);
        emit({ ...e });
        break;
      case 'skip':
        say(`warning: skipping ${e.path}: ${e.reason}`);
        emit({ ...e, stage });
        break;
      default:
        break;
    }
  };

  try {
    const result = await runRecipe({ ...opts, signal: controller.signal, onEvent });
    disposeParams(result.params);
    const best = result.metrics.find((m) => m.epoch === result.bestEpoch) ?? result.metrics.at(-1) ?? null;
    const final = {
      type: 'result',
      stopped: result.stopped,
      epochs: result.epochs,
      bestEpoch: result.bestEpoch,
      valAcc: best?.valAcc ?? null,
      valTop5: best?.valTop5 ?? null,
      valLoss: best?.valLoss ?? null,
      trainAcc: best?.trainAcc ?? null,
      seconds: result.metrics.reduce((s, m) => s + m.seconds, 0),
      out,
      backend: backend.name,
    };
    emit(final);
    if (result.stopped === 'cancelled') {
      // last.ckpt: every improving epoch, else at most every 30 s (ml/train.ts), so maybe not the last finished one
      const saved = await readModelMeta(resolveCheckpointDir(path.join(out, 'last.ckpt'))).then((m) => m.epoch, () => null);
      say(`cancelled after epoch ${result.epochs}: ${out} holds the checkpoint of epoch ${saved ?? 'none'}; --resume continues from it`);
    }
    else say(`done (${result.stopped}): best epoch ${result.bestEpoch}, val acc ${best ? (best.valAcc * 100).toFixed(1) + '%' : 'n/a'}; model in ${out}`);
    return result.stopped === 'cancelled' ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    if (base) disposeParams(base.params);
  }
}
