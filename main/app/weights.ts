// The ImageNet weights the one-click fine-tune starts from, in the data folder where the CLI keeps
// them too (ml/weights/imagenet.ts: a converted model directory plus an info file). Importing a
// .onnx file and downloading the zoo's both run in a worker (hundreds of MB to parse and convert);
// a download reports weights:progress and ends with weights:done.
import fs from 'node:fs';
import path from 'node:path';
import { imagenetModelDir, weightsInfo } from '../../ml/weights/imagenet';
import type { WeightsStatus } from '../../preload/contract';
import type { AppContext } from './context';
import { AppError, toErrorPayload } from './errors';
import { runWorkerJob } from './worker/run';

const PROGRESS_MS = 250; // at most four weights:progress a second
let downloading: AbortController | null = null;
let importing: AbortController | null = null;

/** The converted ImageNet model's folder (it exists once imported). */
export function imagenetDir(ctx: Pick<AppContext, 'dataDir'>): string {
  return imagenetModelDir(ctx.dataDir);
}

export function haveWeights(ctx: Pick<AppContext, 'dataDir'>): boolean {
  return fs.existsSync(path.join(imagenetDir(ctx), 'model.json'));
}

export async function weightsStatus(ctx: Pick<AppContext, 'dataDir'>): Promise<WeightsStatus> {
  const info = await weightsInfo(ctx.dataDir);
  if (!info) return { state: downloading ? 'downloading' : 'missing', file: imagenetDir(ctx), bytes: null, sha256: null, source: null, verified: null };
  return { state: 'ready', file: info.modelDir, bytes: info.bytes, sha256: info.sha256, source: info.importedFrom, verified: info.verified };
}

/** Imports a bvlcalexnet .onnx file (checked: BAD_WEIGHTS when it is not the BVLC AlexNet). */
export async function importWeightsFile(ctx: AppContext, file: string): Promise<WeightsStatus> {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st || !st.isFile()) throw new AppError('FOLDER_NOT_FOUND', `no such file: ${file}`);
  if (downloading) throw new AppError('BUSY', 'the weights are being downloaded; wait for the download to finish');
  if (importing) throw new AppError('BUSY', 'a weights file is being imported; wait for it or cancel it');
  const controller = new AbortController();
  importing = controller;
  try {
    await runWorkerJob(ctx.spawn, { kind: 'import-weights', file, dataDir: ctx.dataDir }, { log: ctx.log, signal: controller.signal });
  } finally {
    importing = null;
  }
  return weightsStatus(ctx);
}

/** Stops an import or a download in progress (each then ends with CANCELLED); nothing running: nothing to do. */
export function cancelWeights(): void {
  importing?.abort();
  downloading?.abort();
}

/** Starts the download in a worker (once); progress and the end arrive as events. */
export async function startDownload(ctx: AppContext): Promise<WeightsStatus> {
  if (downloading || haveWeights(ctx)) return weightsStatus(ctx);
  const controller = new AbortController();
  downloading = controller;
  let last = 0;
  void runWorkerJob(ctx.spawn, { kind: 'download-weights', dataDir: ctx.dataDir }, {
    log: ctx.log,
    signal: controller.signal,
    onDownload: (received, total) => {
      const now = Date.now();
      if (now - last < PROGRESS_MS && received !== total) return;
      last = now;
      ctx.bus.emit('weights:progress', { received, total });
    },
  })
    .then(
      async () => ((downloading = null), ctx.bus.emit('weights:done', { status: await weightsStatus(ctx), error: null })),
      async (err: unknown) => ((downloading = null), ctx.bus.emit('weights:done', { status: await weightsStatus(ctx), error: toErrorPayload(err, (e) => ctx.log('error', 'weights download failed', e)) })),
    );
  return weightsStatus(ctx);
}
