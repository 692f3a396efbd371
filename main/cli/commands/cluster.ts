// `alexnet cluster export|import`: a library's dataset as a PyTorch DDP job folder (torchrun, SLURM,
// Ray Train), and the job's result/ back into the library as a run (main/app/cluster.ts).
import fs from 'node:fs';
import path from 'node:path';
import { openLibrary } from '../../../db/index';
import { defaultDataDir, defaultDbFile } from '../../../db/paths';
import { exportClusterJob, importClusterResult } from '../../app/cluster';
import { nodeSpawner } from '../../app/worker/spawn';
import { intOption, numberOption, parse, runSubcommand } from '../args';
import { CliError } from '../errors';
import { ProgressBar } from '../progress';

const HELP = `usage: alexnet cluster <command> [options]

commands:
  export --dataset <name> --out <job-dir>   write a self-contained PyTorch DDP job folder
      --recipe transfer|full                transfer (default): new head on frozen features, then
                                            fc6-fc8; full: every layer trains
      --from imagenet|none|<run-id>         starting weights (default imagenet; none = paper init, full only)
      --fine-tune none|fc|all               transfer: what unfreezes after the head (default fc)
      --shard-size N                        photos per WebDataset shard (default 1000)
      --epochs N  --head-epochs N  --batch N  --lr X  --seed N
  import <result-dir> --dataset <name>      the job's result/ as a run of the library
      --name <text>                         the run's name

options for every command:
  --db <file>                               the library file (default: $ALEXNET_DB, else the app's data folder)
  --json                                    print the result as JSON on stdout

Then run the job: cd <job-dir> && torchrun --nproc-per-node 2 train.py (its README.md: SLURM, Ray).`;

const COMMON = { db: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

function openExisting(db: string | undefined) {
  const file = defaultDbFile(db);
  if (!fs.existsSync(file)) throw new CliError(`no library at ${file}; import photos first with 'alexnet library import <dir> --dataset <name>' (or pass --db)`, 1);
  return openLibrary(file);
}

function bar(json: boolean | undefined) {
  let current: { phase: string; bar: ProgressBar } | null = null;
  return (phase: string, done: number, total: number) => {
    if (json) return;
    if (!current || current.phase !== phase) current = { phase, bar: new ProgressBar({ label: phase, total, unit: phase === 'shards' ? 'photo' : 'image' }) };
    current.bar.update(done);
  };
}

async function exportCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...COMMON, dataset: { type: 'string' }, out: { type: 'string' }, recipe: { type: 'string' }, from: { type: 'string' }, 'fine-tune': { type: 'string' }, 'shard-size': { type: 'string' }, epochs: { type: 'string' }, 'head-epochs': { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' } },
    HELP,
  );
  if (positionals.length) throw new CliError(`cluster export takes no positional arguments (got '${positionals[0]}')\n${HELP}`);
  if (!values.dataset) throw new CliError('cluster export needs --dataset <name>');
  if (!values.out) throw new CliError('cluster export needs --out <job-dir>');
  const recipe = values.recipe ?? 'transfer';
  if (recipe !== 'transfer' && recipe !== 'full') throw new CliError(`--recipe must be transfer or full, got '${recipe}'`);
  const fineTune = values['fine-tune'] ?? 'fc';
  if (fineTune !== 'none' && fineTune !== 'fc' && fineTune !== 'all') throw new CliError(`--fine-tune must be none, fc or all, got '${fineTune}'`);
  const lib = openExisting(values.db);
  const ac = new AbortController(); // Ctrl-C: CANCELLED, and no half job folder is left
  const onSigint = () => ac.abort();
  process.on('SIGINT', onSigint);
  try {
    const r = await exportClusterJob(lib, defaultDataDir(), {
      signal: ac.signal,
      dataset: values.dataset,
      out: values.out,
      recipe,
      from: values.from,
      fineTune,
      shardSize: intOption(values['shard-size'], 'shard-size', 1000),
      epochs: values.epochs === undefined ? undefined : intOption(values.epochs, 'epochs', 1, 0, 10_000),
      headEpochs: values['head-epochs'] === undefined ? undefined : intOption(values['head-epochs'], 'head-epochs', 1, 0, 10_000),
      batchSize: values.batch === undefined ? undefined : intOption(values.batch, 'batch', 32, 1, 4096),
      lr: values.lr === undefined ? undefined : numberOption(values.lr, 'lr', 0.01, 1e-7, 1),
      seed: values.seed === undefined ? undefined : intOption(values.seed, 'seed', 0, 0, 2 ** 31 - 1),
      onProgress: bar(values.json),
    });
    if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
    else {
      process.stdout.write(`wrote ${r.dir}: ${r.train} training and ${r.val} validation photos of ${r.classes.length} classes in ${r.shards.train} + ${r.shards.val} shards, ${(r.bytes / 1e6).toFixed(1)} MB\n`);
      process.stdout.write(`run it: cd ${path.relative(process.cwd(), r.dir) || '.'} && torchrun --nproc-per-node 2 train.py   (README.md there: SLURM, Ray)\n`);
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    lib.close();
  }
}

async function importCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON, dataset: { type: 'string' }, name: { type: 'string' } }, HELP);
  if (positionals.length !== 1) throw new CliError(`cluster import takes one result folder\n${HELP}`);
  if (!values.dataset) throw new CliError('cluster import needs --dataset <name>');
  const lib = openExisting(values.db);
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.on('SIGINT', onSigint);
  try {
    const r = await importClusterResult(lib, { result: positionals[0], dataset: values.dataset, name: values.name, runsDir: path.join(defaultDataDir(), 'runs'), spawn: nodeSpawner(), signal: ac.signal, onProgress: bar(values.json) });
    if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
    else process.stdout.write(`run ${r.runId}: ${r.epochs} epochs, best epoch ${r.bestEpoch} (val acc ${r.bestValAcc === null ? 'n/a' : (r.bestValAcc * 100).toFixed(1) + '%'}), ${r.predicted} photos predicted by our engine\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    lib.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  return runSubcommand('cluster', argv, { export: exportCmd, import: importCmd }, HELP);
}
