// `alexnet info [--json] [--backend NAME]`: which backend runs, the parameter count of the default
// 1000-class model, and the versions of everything that matters.
import { createRequire } from 'node:module';
import { parse } from '../args';
import { CliError } from '../errors';
import { BACKEND_ORDER, initBackend, type BackendName } from '../../../ml/backend';
import { DEFAULT_CONFIG } from '../../../ml/config';
import { adapterLabel } from '../../../ml/kernels/webgpu/device';
import { paramCount } from '../../../ml/model';

const HELP = `usage: alexnet info [--json] [--backend auto|tensorflow-gpu|webgpu|tensorflow|wasm|cpu]

Prints the backend in use (best first: tensorflow-gpu, webgpu on a hardware GPU, tensorflow, wasm,
cpu), the GPU it runs on, why better backends were not used, the parameter count of the default
1000-class AlexNet and the versions of the engine's parts.`;

const BACKENDS = ['auto', ...BACKEND_ORDER] as const;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: 'boolean' }, backend: { type: 'string' } }, HELP);
  const prefer = values.backend ?? 'auto';
  if (!(BACKENDS as readonly string[]).includes(prefer)) throw new CliError(`--backend must be one of ${BACKENDS.join(', ')}`);
  const backend = await initBackend(prefer as BackendName | 'auto');
  const require = createRequire(import.meta.url);
  const pkg = require('../../../package.json') as { version: string };
  const info = {
    backend: backend.name,
    threads: backend.threads,
    params: paramCount(DEFAULT_CONFIG),
    versions: { app: pkg.version, ...backend.versions, node: process.versions.node },
    tried: backend.tried,
    ...(backend.adapter ? { adapter: backend.adapter } : {}),
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(info) + '\n');
  } else {
    process.stdout.write(`backend   ${info.backend} (${info.threads} thread${info.threads === 1 ? '' : 's'})\n`);
    if (backend.adapter) process.stdout.write(`device    ${adapterLabel(backend.adapter)}${backend.adapter.software ? ', software (no GPU)' : ''}\n`);
    for (const t of info.tried) process.stdout.write(`          not ${t.name}: ${t.error}\n`);
    process.stdout.write(`params    ${info.params.toLocaleString('en-US')} (AlexNet, 1000 classes)\n`);
    for (const [k, v] of Object.entries(info.versions)) process.stdout.write(`${k.padEnd(9)} ${v}\n`);
  }
  return 0;
}
