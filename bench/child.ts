// How bench/index.ts starts one of its TypeScript children (engine.ts, gpu.ts, finetune.ts): Node's
// arguments, ending with the script. In a checkout with node_modules, the script itself through tsx's
// loader. Where ALEXNET_BENCH_BUNDLES names a folder, the prebuilt bundle of that script there
// (<folder>/bench/<name>.mjs, as scripts/gpu-kit.mjs writes them), run by plain Node: for a machine
// with no node_modules and no tsx (the GPU machine). A missing bundle is a one-line error.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function benchChildArgs(script: string, nodeFlags: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const bundles = env.ALEXNET_BENCH_BUNDLES?.trim();
  if (!bundles) return [...nodeFlags, '--import', 'tsx', path.join(repoRoot, 'bench', script)];
  const file = path.resolve(bundles, 'bench', script.replace(/\.ts$/, '.mjs'));
  if (!existsSync(file)) throw new Error(`no bundle of bench/${script} at ${file} (ALEXNET_BENCH_BUNDLES; scripts/gpu-kit.mjs writes them)`);
  return [...nodeFlags, file];
}
