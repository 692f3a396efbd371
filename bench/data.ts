// Benchmark of the image data pipeline on hymenoptera's training photos (real JPEGs, ~500x375 up
// to 2592x1944): images per second through BatchLoader with the paper's training augmentation
// (random 227 crop, flip, PCA colour noise) into Float32 batches.
//   cold: decoded from the files (sharp: read + decode + EXIF + resize to 256 + centre crop)
//   warm: the second epoch, from the loader's in-memory cache (augmentation and batching only)
// plus the single-image decode rate (one at a time, no overlap) and the 10-crop test-time views.
// Run alone: node --import tsx bench/data.ts
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BatchLoader, datasetPca, PAPER_AUGMENT, scanImageFolder } from '../ml/data';
import { loadImage, PAPER_PREPROCESSING } from '../ml/preprocess';

export type BenchResult = { name: string; ours: number; unit: string };

export type BenchDataOptions = {
  dir?: string; // an ImageFolder to read (default: ../shared/datasets/hymenoptera/train)
  maxImages?: number; // use at most this many of its images (default: all 244)
  batchSize?: number; // rows per batch (default 32, the trainer's default)
  log?: (line: string) => void; // progress lines (default: none)
};

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function benchData(opts: BenchDataOptions = {}): Promise<BenchResult[]> {
  const dir = opts.dir ?? path.resolve(repoRoot, '../shared/datasets/hymenoptera/train');
  const prep = PAPER_PREPROCESSING;
  const batchSize = opts.batchSize ?? 32;
  const log = opts.log ?? (() => undefined);
  const folder = await scanImageFolder(dir);
  const items = folder.items.slice(0, opts.maxImages ?? folder.items.length);
  const n = items.length;
  await loadImage(items[0]!.path, prep); // load sharp/libvips before timing anything

  // Decode one at a time: the cost of one photo, nothing overlapped.
  const single = items.slice(0, Math.min(n, 40));
  let t = performance.now();
  for (const it of single) await loadImage(it.path, prep);
  const singleRate = single.length / ((performance.now() - t) / 1000);
  log(`decode one at a time: ${singleRate.toFixed(1)} images/s (${single.length} images)`);

  // PCA from a separate pass (its own loader, no shared cache): training needs it first anyway.
  const pca = await datasetPca(items, prep, { maxImages: 100, seed: 0 });

  const loader = new BatchLoader({ items, prep, batchSize, augment: PAPER_AUGMENT, pca, seed: 0 });
  const epoch = async (e: number, views?: '10crop'): Promise<{ rate: number; rows: number }> => {
    const t0 = performance.now();
    let rows = 0;
    let images = 0;
    for await (const b of views ? loader.evalBatches(views) : loader.batches(e)) {
      rows += b.n;
      images += b.n / b.viewsPerImage;
    }
    return { rate: images / ((performance.now() - t0) / 1000), rows };
  };
  t = performance.now();
  const cold = await epoch(0);
  log(`cold epoch: ${cold.rate.toFixed(1)} images/s (${n} images, ${loader.stats.decoded} decoded)`);
  const warm = await epoch(1);
  log(`warm epoch: ${warm.rate.toFixed(1)} images/s (cache ${(loader.cache.bytes / 2 ** 20).toFixed(0)} MiB, ${loader.stats.cacheHits} hits)`);
  const ten = await epoch(2, '10crop');
  log(`10-crop views, warm: ${ten.rate.toFixed(1)} images/s (${ten.rows} views)`);

  const cores = os.availableParallelism();
  return [
    { name: `data: decode+resize one at a time (${cores} cores)`, ours: round(singleRate), unit: 'images/s' },
    { name: `data: decode+resize+augment, cold, batch ${batchSize} (${cores} cores)`, ours: round(cold.rate), unit: 'images/s' },
    { name: `data: augment from cache, warm, batch ${batchSize}`, ours: round(warm.rate), unit: 'images/s' },
    { name: 'data: 10-crop test views from cache, warm', ours: round(ten.rate), unit: 'images/s' },
  ];
}

const round = (x: number): number => Math.round(x * 10) / 10;

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const results = await benchData({ log: (l) => console.error(l) });
  for (const r of results) console.log(`${r.name}: ${r.ours} ${r.unit}`);
}
