// Our side of the one-click fine-tune benchmark: the default transfer recipe (ml/recipe.ts runRecipe,
// freeze 'features') on ../shared/datasets/hymenoptera train/val, starting from the BVLC fixture
// (random weights in the zoo's layout, imported as `--weights file.onnx` does), run twice:
//   first   empty feature cache: every photo decoded and pushed through conv1-pool5 (6 views per
//           training photo, the centre view per validation photo), then the epochs on cached features
//   re-run  the same photos and weights: the cache on disk answers, no convolution runs at all
// Wall time is runRecipe's whole call (LR search, head stage, fc6-fc8 stage, validation, checkpoints);
// loading the weights is not counted (nor is it on PyTorch's side).
//
// Run as a child of bench/index.ts:
//   node --import tsx bench/finetune.ts [--head-epochs 3] [--epochs 10]
// Prints one JSON line per run: {"name":"ours_finetune","run":"first"|"rerun","value":seconds,...}.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { initBackend } from '../ml/backend';
import { scanImageFolder } from '../ml/data';
import { disposeParams, paramsFromArrays } from '../ml/model';
import { CAFFE_PREPROCESSING } from '../ml/preprocess';
import { runRecipe, type RecipeEvent } from '../ml/recipe';
import type { BaseModel } from '../ml/transfer';
import { parseOnnxAlexNet } from '../ml/weights/onnx';
import { bvlcFixture } from '../test/helpers/bvlc-fixture';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// (ALEXNET_BENCH_HYMENOPTERA: another copy, as on the GPU machine, where ../shared does not travel)
export const HYMENOPTERA = process.env.ALEXNET_BENCH_HYMENOPTERA || path.resolve(repoRoot, '../shared/datasets/hymenoptera');

export type FineTuneFigure = {
  name: 'ours_finetune';
  run: 'first' | 'rerun';
  value: number; // wall seconds of runRecipe
  unit: 's';
  epochs: number; // head + fc6-fc8 epochs trained (the LR search's one-epoch trials not counted)
  lrFindEpochs: number; // one cached-feature epoch per head-rate candidate
  bestValAcc: number; // validation accuracy of the best epoch (what best.ckpt keeps)
  lastValAcc: number;
  decodes: number; // photos decoded (feature cache misses)
  forwardRows: number; // image views pushed through conv1-pool5
  backend: string; // the TF.js backend it ran on
};

export async function benchFineTune(opts: { headEpochs?: number; epochs?: number; log?: (l: string) => void } = {}): Promise<FineTuneFigure[]> {
  const { name: backend } = await initBackend('auto', { pooledAllocator: true }); // as the product's transfer recipe (ml/backend.ts)
  const imported = parseOnnxAlexNet(readFileSync(bvlcFixture()));
  const base: BaseModel = {
    params: paramsFromArrays(imported.config, imported.arrays),
    config: imported.config,
    preprocessing: { ...CAFFE_PREPROCESSING }, // what the BVLC weights expect: BGR, 0-255, Caffe's mean
    source: 'bvlc-fixture',
  };
  const trainDir = await scanImageFolder(path.join(HYMENOPTERA, 'train'));
  const valDir = await scanImageFolder(path.join(HYMENOPTERA, 'val'));
  const classNames = trainDir.classes;
  const val = valDir.items.map((it) => ({ path: it.path, label: classNames.indexOf(valDir.classes[it.label]) }));
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'alexnet-bench-ft-'));
  const cacheDir = path.join(tmp, 'cache'); // shared by both runs: the re-run finds every feature
  const out: FineTuneFigure[] = [];
  try {
    for (const run of ['first', 'rerun'] as const) {
      let lrFindEpochs = 0;
      let decodes = 0;
      let forwardRows = 0;
      const onEvent = (e: RecipeEvent): void => {
        if (process.env.ALEXNET_BENCH_TRACE === '1' && e.type !== 'step' && e.type !== 'caching')
          opts.log?.(`  [${((performance.now() - t0) / 1000).toFixed(1)} s] ${e.type}${'stage' in e ? ` (${e.stage})` : ''}${'kind' in e ? ` ${e.kind}` : ''}${'epoch' in e ? ` epoch ${e.epoch}` : ''}`);
        if (e.type === 'lr-find') lrFindEpochs = e.trials.length;
        if (e.type === 'epoch') opts.log?.(`  ours ${run}: epoch ${e.epoch} val acc ${e.valAcc.toFixed(3)} (${e.seconds.toFixed(1)} s)`);
      };
      const t0 = performance.now();
      const r = await runRecipe({
        classNames,
        train: trainDir.items,
        val,
        base,
        freeze: 'features', // the default: new head, then fc6-fc8, on cached pool5 features
        headEpochs: opts.headEpochs, // undefined: the recipe's default (3)
        epochs: opts.epochs, // undefined: the recipe's default (10, early stopping may end it sooner)
        outDir: path.join(tmp, `model-${run}`),
        cacheDir,
        seed: 0,
        onEvent,
      });
      const seconds = (performance.now() - t0) / 1000;
      const stats = (r as { cache?: { decodes: number; forwardRows: number } }).cache;
      decodes = stats?.decodes ?? 0;
      forwardRows = stats?.forwardRows ?? 0;
      const best = r.metrics.find((m) => m.epoch === r.bestEpoch) ?? r.metrics[r.metrics.length - 1];
      out.push({
        name: 'ours_finetune',
        run,
        value: Math.round(seconds * 100) / 100,
        unit: 's',
        epochs: r.epochs,
        lrFindEpochs,
        bestValAcc: best?.valAcc ?? NaN,
        lastValAcc: r.metrics[r.metrics.length - 1]?.valAcc ?? NaN,
        decodes,
        forwardRows,
        backend,
      });
      disposeParams(r.params);
    }
  } finally {
    disposeParams(base.params);
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const figs = await benchFineTune({ headEpochs: arg('head-epochs'), epochs: arg('epochs'), log: (l) => console.error(l) });
  for (const f of figs) console.log(JSON.stringify(f));
}
