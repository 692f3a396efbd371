// alexnet library: import folders of photos into the library, show what it holds, verify that the
// photos are still there, and export labels as <class>/ folders or CSV.
import fs from 'node:fs';
import { exportLabels, type ExportFormat } from '../../../db/export';
import { importFolder, type ImportSummary, verifyPhotos } from '../../../db/import';
import { DbError, type Library, openLibrary } from '../../../db/index';
import { defaultDbFile } from '../../../db/paths';
import { parse, runSubcommand } from '../args';
import { CliError } from '../errors';
import { ProgressBar } from '../progress';

const HELP = `usage: alexnet library <command> [options]

commands:
  import <dir> --dataset <name>   import the photos under <dir> (recursive); <class>/ folders become classes
      --no-classes                do not make classes from folder names
      --no-thumbnails             do not make thumbnails now (the app makes them when shown)
  stats [--dataset <name>]        datasets, photos, labels and classes
  verify --dataset <name>         mark photos whose file is gone as missing (and found ones as ok)
  export <dataset> --format folders|csv <out> [--copy]
                                  labels out as <out>/<class>/ links (copies with --copy) or a CSV of path,label

options for every command:
  --db <file>                     the library file (default: $ALEXNET_DB, else the app's data folder)
  --json                          print the result as JSON on stdout`;

const COMMON = { db: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

function out(s: string): void {
  process.stdout.write(s + '\n');
}

/** Opens the library; for commands that only read, a missing file is an error, not a new library. */
function open(db: string | undefined, mustExist: boolean): Library {
  const file = defaultDbFile(db);
  if (mustExist && !fs.existsSync(file)) throw new DbError('DB_OPEN_FAILED', `no library at ${file}; import photos first with 'alexnet library import <dir> --dataset <name>' (or pass --db)`);
  return openLibrary(file);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function printImport(s: ImportSummary, lib: Library): void {
  out(`Imported ${plural(s.added, 'new photo')} into '${s.dataset}' from ${s.root} in ${(s.durationMs / 1000).toFixed(1)} s${s.cancelled ? ' (cancelled: run it again to finish)' : ''}`);
  out(`  found ${s.found} images: ${s.added} new, ${s.unchanged} already in the library, ${s.updated} changed, ${s.reappeared} back from missing, ${s.duplicates.length} duplicates, ${s.unreadable.length} unreadable`);
  if (s.classesCreated.length) out(`  new classes: ${s.classesCreated.join(', ')}`);
  if (s.relocated.length) out(`  ${plural(s.relocated.length, 'photo')} moved since the last import, followed (labels kept)`);
  if (s.missing) out(`  ${plural(s.missing, 'photo')} no longer in the folder, marked missing`);
  const show = <T,>(title: string, list: T[], line: (x: T) => string) => {
    if (!list.length) return;
    out(`  ${title}:`);
    for (const x of list.slice(0, 10)) out(`    ${line(x)}`);
    if (list.length > 10) out(`    ... and ${list.length - 10} more (--json lists all)`);
  };
  show('duplicates (not added)', s.duplicates, (d) => `${d.path} = ${d.duplicateOf}`);
  show('unreadable (added, status unreadable)', s.unreadable, (u) => `${u.path}: ${u.reason}`);
  show('skipped', s.skipped, (u) => `${u.path}: ${u.reason}`);
  const c = lib.photos.counts(s.datasetId);
  out(`  dataset now: ${c.total} photos, ${c.labeled} labeled${c.byClass.length ? ` (${c.byClass.map((x) => `${x.name} ${x.count}`).join(', ')})` : ''}`);
}

async function cmdImport(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON, dataset: { type: 'string' }, 'no-classes': { type: 'boolean' }, 'no-thumbnails': { type: 'boolean' } }, HELP);
  if (positionals.length !== 1) throw new CliError(`library import needs exactly one folder, got ${positionals.length}; see 'alexnet library --help'`);
  if (!values.dataset) throw new CliError('library import needs --dataset <name> (created if it does not exist)');
  const lib = open(values.db, false);
  const ac = new AbortController();
  const onSigint = () => {
    process.stderr.write('\ncancelling after the current batch...\n');
    ac.abort();
  };
  process.once('SIGINT', onSigint);
  let bar: ProgressBar | null = null;
  let shown = -1;
  try {
    const s = await importFolder(lib, positionals[0], {
      dataset: values.dataset,
      classesFromFolders: !values['no-classes'],
      thumbnails: !values['no-thumbnails'],
      signal: ac.signal,
      onProgress: (p) => {
        if (p.phase !== 'import' || p.total === 0 || p.done === shown) return;
        shown = p.done;
        bar ??= new ProgressBar({ label: 'import', total: p.total, unit: 'img' });
        bar.update(p.done);
      },
    });
    (bar as ProgressBar | null)?.finish();
    if (values.json) out(JSON.stringify(s, null, 2));
    else printImport(s, lib);
    return s.cancelled ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    lib.close();
  }
}

function cmdStats(argv: string[]): number {
  const { values, positionals } = parse(argv, { ...COMMON, dataset: { type: 'string' } }, HELP);
  if (positionals.length) throw new CliError(`library stats takes no arguments, got '${positionals.join(' ')}'`);
  const lib = open(values.db, true);
  try {
    const datasets = values.dataset ? [lib.datasets.require(values.dataset)] : lib.datasets.list();
    const report = datasets.map((d) => {
      const c = lib.photos.counts(d.id);
      const split = lib.splits.latest(d.id);
      return {
        id: d.id,
        name: d.name,
        root: d.root,
        photos: c.total,
        labeled: c.labeled,
        unlabeled: c.unlabeled,
        status: c.byStatus,
        classes: c.byClass.map((x) => ({ name: x.name, count: x.count, colour: x.colour })),
        split: split ? { id: split.id, seed: split.seed, ...lib.splits.counts(split.id), byClass: undefined } : null,
        runs: lib.runs.list({ datasetId: d.id }).length,
      };
    });
    if (values.json) {
      out(JSON.stringify({ db: lib.file, schemaVersion: lib.schemaVersion, datasets: report }, null, 2));
      return 0;
    }
    out(`library ${lib.file} (schema ${lib.schemaVersion})`);
    if (!report.length) out('  no datasets yet: alexnet library import <dir> --dataset <name>');
    for (const d of report) {
      out(`${d.name}: ${plural(d.photos, 'photo')}, ${d.labeled} labeled, ${d.unlabeled} unlabeled${d.status.missing ? `, ${d.status.missing} missing` : ''}${d.status.unreadable ? `, ${d.status.unreadable} unreadable` : ''}, ${plural(d.runs, 'run')}`);
      const w = Math.max(0, ...d.classes.map((c) => c.name.length));
      for (const c of d.classes) out(`  ${c.name.padEnd(w)}  ${String(c.count).padStart(7)}`);
      if (d.split) out(`  split #${d.split.id} (seed ${d.split.seed}): train ${d.split.train}, val ${d.split.val}, test ${d.split.test}`);
    }
    return 0;
  } finally {
    lib.close();
  }
}

async function cmdVerify(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON, dataset: { type: 'string' } }, HELP);
  if (positionals.length || !values.dataset) throw new CliError('usage: alexnet library verify --dataset <name>');
  const lib = open(values.db, true);
  try {
    const d = lib.datasets.require(values.dataset);
    const s = await verifyPhotos(lib, d.id);
    if (values.json) out(JSON.stringify(s, null, 2));
    else out(`${d.name}: checked ${s.checked} photos: ${s.missing} newly missing, ${s.reappeared} back, ${s.stillMissing} still missing`);
    return 0;
  } finally {
    lib.close();
  }
}

function cmdExport(argv: string[]): number {
  const { values, positionals } = parse(argv, { ...COMMON, format: { type: 'string' }, copy: { type: 'boolean' } }, HELP);
  if (positionals.length !== 2) throw new CliError(`usage: alexnet library export <dataset> --format folders|csv <out> [--copy]`);
  const format = values.format ?? 'folders';
  if (format !== 'folders' && format !== 'csv') throw new CliError(`--format must be folders or csv, got '${format}'`);
  if (values.copy && format === 'csv') throw new CliError('--copy only applies to --format folders');
  const lib = open(values.db, true);
  try {
    const s = exportLabels(lib, positionals[0], { format: format as ExportFormat, out: positionals[1], copy: values.copy });
    if (values.json) out(JSON.stringify(s, null, 2));
    else {
      const how = s.mode === 'csv' ? 'as CSV to' : s.mode === 'copy' ? 'as copies in' : 'as links in';
      out(`Exported ${plural(s.exported, 'labeled photo')} of '${s.dataset}' ${how} ${s.out}: ${Object.entries(s.byClass).map(([k, v]) => `${k} ${v}`).join(', ')}${s.skipped ? ` (${s.skipped} unlabeled, missing or unreadable left out)` : ''}`);
    }
    return 0;
  } finally {
    lib.close();
  }
}

export function run(argv: string[]): Promise<number> {
  return runSubcommand('library', argv, { import: cmdImport, stats: cmdStats, verify: cmdVerify, export: cmdExport }, HELP);
}
