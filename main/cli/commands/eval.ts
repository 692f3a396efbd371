// `alexnet eval <model-dir> <dir>`: top-1/top-5 accuracy, per-class precision and recall, the
// confusion matrix and the most confidently wrong images, on <class>/<image> folders whose class
// names are the model's.
import { initBackend } from '../../../ml/backend';
import { loadModel } from '../../../ml/checkpoint';
import { scanImageFolder } from '../../../ml/data';
import { EngineError } from '../../../ml/errors';
import { evaluate } from '../../../ml/evaluate';
import type { Tta } from '../../../ml/predict';
import { disposeParams } from '../../../ml/model';
import { intOption, parse } from '../args';
import { CliError } from '../errors';

const HELP = `usage: alexnet eval <model-dir> <dir> [--tta center|10crop] [--batch N] [--worst N] [--json]

<dir> holds one sub-folder of images per class, named as the model's classes.
  --tta center    centre crop (default); 10crop: the paper's 4 corners + centre and their flips
  --worst N       list the N most confidently wrong images (10)
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { tta: { type: 'string' }, batch: { type: 'string' }, worst: { type: 'string' }, json: { type: 'boolean' } }, HELP);
  if (positionals.length !== 2) throw new CliError("eval takes a model folder and an image folder; see 'alexnet eval --help'");
  const tta = (values.tta ?? 'center') as Tta;
  if (tta !== 'center' && tta !== '10crop') throw new CliError(`--tta must be center or 10crop, got '${values.tta}'`);
  await initBackend('auto');
  const model = await loadModel(positionals[0]);
  try {
    const folder = await scanImageFolder(positionals[1]);
    const unknown = folder.classes.filter((c) => !model.classNames.includes(c));
    if (unknown.length)
      throw new EngineError('TOO_FEW_CLASSES', `${folder.root} has classes the model does not know: ${unknown.join(', ')} (the model's: ${model.classNames.slice(0, 20).join(', ')}${model.classNames.length > 20 ? ', ...' : ''})`);
    const items = folder.items.map((it) => ({ path: it.path, label: model.classNames.indexOf(folder.classes[it.label]) }));
    const report = await evaluate(model, items, {
      tta,
      batchSize: values.batch === undefined ? undefined : intOption(values.batch, 'batch', 16, 1, 1024),
      worst: intOption(values.worst, 'worst', 10, 0, 10_000),
    });
    if (values.json) {
      process.stdout.write(JSON.stringify({ ...report, tta }) + '\n');
      return 0;
    }
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    const out: string[] = [`${report.n} images, ${tta}: top-1 ${pct(report.top1)}  top-5 ${pct(report.top5)}  loss ${report.loss.toFixed(4)}`];
    const width = Math.max(5, ...report.classNames.map((c) => c.length));
    out.push(`${'class'.padEnd(width)}  precision  recall  n`);
    for (const [name, s] of Object.entries(report.perClass)) {
      if (s.support === 0 && s.predicted === 0) continue;
      out.push(`${name.padEnd(width)}  ${pct(s.precision).padStart(9)}  ${pct(s.recall).padStart(6)}  ${s.support}`);
    }
    if (report.classNames.length <= 20) {
      out.push('confusion (rows: true, columns: predicted)');
      report.confusion.forEach((row, i) => out.push(`${report.classNames[i].padEnd(width)}  ${row.map((v) => String(v).padStart(5)).join('')}`));
    }
    if (report.mostConfidentlyWrong.length) {
      out.push('most confidently wrong:');
      for (const m of report.mostConfidentlyWrong) out.push(`  ${pct(m.p).padStart(6)} ${m.predicted} (is ${m.true})  ${m.path}`);
    }
    for (const s of report.skipped) out.push(`skipped ${s.path}: ${s.reason}`);
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  } finally {
    disposeParams(model.params);
  }
}
