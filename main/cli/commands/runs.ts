// alexnet runs: the training runs recorded in the library, newest first, and one run in detail.
import fs from 'node:fs';
import { DbError, type Library, openLibrary } from '../../../db/index';
import { defaultDbFile } from '../../../db/paths';
import type { RunSummary } from '../../../db/repos/runs';
import { intOption, parse, runSubcommand } from '../args';
import { CliError } from '../errors';
import { formatDuration } from '../progress';

const HELP = `usage: alexnet runs <command> [options]

commands:
  list [--dataset <name>] [--limit <n>]   training runs, newest first
  show <id>                               one run: config, preprocessing, metrics per epoch, checkpoints

options:
  --db <file>   the library file (default: $ALEXNET_DB, else the app's data folder)
  --json        print JSON on stdout`;

const COMMON = { db: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

function out(s: string): void {
  process.stdout.write(s + '\n');
}

function open(db: string | undefined): Library {
  const file = defaultDbFile(db);
  if (!fs.existsSync(file)) throw new DbError('DB_OPEN_FAILED', `no library at ${file} (pass --db or set ALEXNET_DB)`);
  return openLibrary(file);
}

const when = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
const duration = (r: RunSummary) => (r.durationMs === null ? (r.status === 'running' ? 'running' : '-') : formatDuration(r.durationMs / 1000));

function list(argv: string[]): number {
  const { values, positionals } = parse(argv, { ...COMMON, dataset: { type: 'string' }, limit: { type: 'string' } }, HELP);
  if (positionals.length) throw new CliError(`runs list takes no arguments, got '${positionals.join(' ')}'`);
  const limit = intOption(values.limit, 'limit', 50, 1, 100_000);
  const lib = open(values.db);
  try {
    const datasetId = values.dataset ? lib.datasets.require(values.dataset).id : undefined;
    const runs = lib.runs.list({ datasetId, limit });
    if (values.json) {
      out(JSON.stringify(runs, null, 2));
      return 0;
    }
    if (!runs.length) {
      out('no runs yet');
      return 0;
    }
    const rows = runs.map((r) => [String(r.id), r.status, r.datasetName ?? '-', r.name ?? '-', when(r.startedAt), duration(r), String(r.epochs), pct(r.bestValAcc), r.backend ?? '-']);
    const head = ['id', 'status', 'dataset', 'name', 'started (UTC)', 'duration', 'epochs', 'best val acc', 'backend'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const r of [head, ...rows]) out(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
    return 0;
  } finally {
    lib.close();
  }
}

function show(argv: string[]): number {
  const { values, positionals } = parse(argv, COMMON, HELP);
  if (positionals.length !== 1) throw new CliError('usage: alexnet runs show <id>');
  const id = intOption(positionals[0], 'id', 0, 1);
  const lib = open(values.db);
  try {
    const r = lib.runs.summary(id);
    const epochs = lib.metrics.series(id, 'epoch');
    const models = lib.models.list(id);
    if (values.json) {
      out(JSON.stringify({ ...r, metrics: { names: lib.metrics.names(id), epoch: epochs }, models }, null, 2));
      return 0;
    }
    out(`run ${r.id}${r.name ? ` '${r.name}'` : ''}: ${r.status}${r.error ? ` (${r.error})` : ''}`);
    out(`  dataset      ${r.datasetName ?? '-'}${r.splitId ? ` (split #${r.splitId})` : ''}`);
    out(`  started      ${when(r.startedAt)} UTC, duration ${duration(r)}`);
    out(`  backend      ${r.backend ?? '-'}; weights from ${r.weightsSource ?? '-'}`);
    out(`  classes      ${r.classes.join(', ') || '-'}`);
    out(`  config       ${JSON.stringify(r.config)}`);
    out(`  preprocess   ${JSON.stringify(r.preprocessing)}`);
    out(`  steps        ${r.steps}, epochs ${r.epochs}, best val acc ${pct(r.bestValAcc)}`);
    const names = Object.keys(epochs);
    if (names.length) {
      const idx = [...new Set(names.flatMap((n) => epochs[n].map((p) => p.idx)))].sort((a, b) => a - b);
      const w = Math.max(8, ...names.map((n) => n.length));
      out(`  ${'epoch'.padEnd(6)}${names.map((n) => n.padStart(w + 2)).join('')}`);
      for (const e of idx) {
        const cells = names.map((n) => {
          const v = epochs[n].find((p) => p.idx === e)?.value;
          return (v === undefined || v === null ? '-' : v.toFixed(4)).padStart(w + 2);
        });
        out(`  ${String(e).padEnd(6)}${cells.join('')}`);
      }
    }
    for (const m of models) out(`  ${m.kind.padEnd(10)} ${m.path}${m.epoch !== null ? ` (epoch ${m.epoch})` : ''} ${JSON.stringify(m.metrics)}`);
    return 0;
  } finally {
    lib.close();
  }
}

export function run(argv: string[]): Promise<number> {
  return runSubcommand('runs', argv, { list, show }, HELP);
}
