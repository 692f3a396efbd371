// `alexnet weights import|download|info`: the ImageNet-pretrained AlexNet in the data folder
// ($ALEXNET_HOME, else the OS's per-user folder; --data overrides).
import { defaultDataDir } from '../../../db/paths';
import { initBackend } from '../../../ml/backend';
import { weightsUrl } from '../../../ml/weights/download';
import { IMAGENET_ONNX, downloadWeights, importWeights, weightsInfo, type WeightsInfo } from '../../../ml/weights/imagenet';
import { parse } from '../args';
import { CliError } from '../errors';
import { ProgressBar } from '../progress';

const HELP = `usage: alexnet weights <import|download|info> [options]

  alexnet weights import <file.onnx> [--json]   import the ONNX Model Zoo's bvlcalexnet-12.onnx
  alexnet weights download [--url U] [--json]   download it (resumable, SHA-256 checked) and import it
  alexnet weights info [--json]                 what is imported

Options:
  --data DIR   the data folder (default: $ALEXNET_HOME, else the per-user app folder)
  --url U      where to download from (default: $ALEXNET_WEIGHTS_URL, else the Hugging Face copy)
  --json       one JSON object on stdout instead of text

The file: ${IMAGENET_ONNX.file}, ${IMAGENET_ONNX.bytes.toLocaleString('en-US')} bytes, SHA-256 ${IMAGENET_ONNX.sha256}.
Without internet, download it on another machine and use 'alexnet weights import'.`;

function describe(info: WeightsInfo): string {
  const lines = [
    `weights   ${info.verified === 'imagenet' ? 'ImageNet (the zoo file, SHA-256 verified)' : 'BVLC AlexNet structure, unverified weights'}`,
    `model     ${info.modelDir}`,
    `from      ${info.importedFrom}`,
    `sha256    ${info.sha256}`,
    `bytes     ${info.bytes.toLocaleString('en-US')}`,
    `imported  ${info.importedAt}`,
    ...info.notes.map((n) => `note      ${n}`),
  ];
  return lines.join('\n') + '\n';
}

const mb = (b: number): number => Math.round(b / 1e5) / 10;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, url: { type: 'string' }, data: { type: 'string' } }, HELP);
  const [sub, ...rest] = positionals;
  const dataDir = values.data ?? defaultDataDir();
  const out = (info: WeightsInfo): void => {
    process.stdout.write(values.json ? JSON.stringify(info) + '\n' : describe(info));
  };
  switch (sub) {
    case 'import': {
      if (rest.length !== 1) throw new CliError("weights import takes one file; see 'alexnet weights --help'");
      if (!values.json) process.stderr.write(`importing ${rest[0]} into ${dataDir} ...\n`);
      await initBackend('auto'); // holds the converted weights while they are written
      out(await importWeights(rest[0], dataDir));
      return 0;
    }
    case 'download': {
      if (rest.length) throw new CliError("weights download takes no file; see 'alexnet weights --help'");
      const url = values.url ?? weightsUrl();
      await initBackend('auto');
      const ac = new AbortController();
      const onSigint = (): void => ac.abort();
      process.once('SIGINT', onSigint);
      let bar: ProgressBar | null = null;
      try {
        if (!values.json) process.stderr.write(`downloading ${url}\n`);
        const info = await downloadWeights(dataDir, {
          url,
          signal: ac.signal,
          onProgress: (p) => {
            if (values.json) return;
            bar ??= new ProgressBar({ label: 'weights', total: mb(p.total ?? IMAGENET_ONNX.bytes), unit: 'MB' });
            bar.update(mb(p.bytes), p.resumedFrom > 0 ? `(resumed at ${mb(p.resumedFrom)} MB)` : '');
          },
        });
        out(info);
      } finally {
        process.off('SIGINT', onSigint);
      }
      return 0;
    }
    case 'info': {
      const info = await weightsInfo(dataDir);
      if (!info) {
        if (values.json) process.stdout.write(JSON.stringify({ dataDir, imported: false }) + '\n');
        else process.stdout.write(`no ImageNet weights in ${dataDir}: run 'alexnet weights download' or 'alexnet weights import <file.onnx>'\n`);
        return 1;
      }
      out(info);
      return 0;
    }
    default:
      throw new CliError(sub ? `unknown weights command '${sub}'; see 'alexnet weights --help'` : HELP);
  }
}
