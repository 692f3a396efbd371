// `alexnet classify <model-dir> <image-or-dir>...`: the top-K labels of each image. With --json,
// one line per image: {"file":..,"predictions":[{"label":..,"p":..}]} (or {"file":..,"error":..}).
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { initBackend } from '../../../ml/backend';
import { loadModel } from '../../../ml/checkpoint';
import { EngineError } from '../../../ml/errors';
import { classify, type ClassifyResult } from '../../../ml/infer';
import { disposeParams } from '../../../ml/model';
import { intOption, parse } from '../args';
import { CliError } from '../errors';
import { ProgressBar } from '../progress';

const HELP = `usage: alexnet classify <model-dir> <image-or-dir>... [--top K] [--tta center|10crop] [--json]

Folders are searched recursively for images (files that are not images are reported, not fatal).
  --top K     labels per image, most probable first (5)
  --tta       center (default) or 10crop (the paper's 10-view average)
`;

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp']);

async function collect(inputs: string[]): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && IMAGE_EXT.has(path.extname(e.name).toLowerCase())) files.push(p);
    }
  };
  for (const input of inputs) {
    const p = path.resolve(input);
    const st = await stat(p).catch(() => null);
    if (!st) throw new EngineError('NO_SUCH_FOLDER', `no such file or folder: ${p}`);
    if (st.isDirectory()) await walk(p);
    else files.push(p); // named explicitly: classified (or reported) whatever its extension
  }
  return [...new Set(files)]; // `classify a.jpg .` classifies a.jpg once
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { top: { type: 'string' }, tta: { type: 'string' }, json: { type: 'boolean' } }, HELP);
  if (positionals.length < 2) throw new CliError("classify takes a model folder and at least one image or folder; see 'alexnet classify --help'");
  const tta = values.tta ?? 'center';
  if (tta !== 'center' && tta !== '10crop') throw new CliError(`--tta must be center or 10crop, got '${tta}'`);
  const topK = intOption(values.top, 'top', 5, 1, 1000);
  await initBackend('auto');
  const model = await loadModel(positionals[0]);
  try {
    const files = await collect(positionals.slice(1));
    if (files.length === 0) throw new EngineError('NO_IMAGES', `no images found in ${positionals.slice(1).join(', ')}`);
    const bar = values.json || files.length < 50 ? null : new ProgressBar({ label: 'classify', total: files.length, unit: 'img' });
    let failed = 0;
    const CHUNK = 64;
    for (let i = 0; i < files.length; i += CHUNK) {
      const results: ClassifyResult[] = await classify(model, files.slice(i, i + CHUNK), { topK, tta });
      for (const r of results) {
        if ('error' in r) failed++;
        if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
        else if ('error' in r) process.stderr.write(`warning: ${r.error.message.startsWith(r.file) ? r.error.message : `${r.file}: ${r.error.message}`}\n`); // the engine's messages name the file already
        else process.stdout.write(`${r.file}\t${r.predictions.map((p) => `${p.label} ${(p.p * 100).toFixed(1)}%`).join(', ')}\n`);
      }
      bar?.update(Math.min(files.length, i + CHUNK));
    }
    return failed === files.length ? 1 : 0;
  } finally {
    disposeParams(model.params);
  }
}
