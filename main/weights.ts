// The ImageNet weights in the data folder: <data>/weights/bvlcalexnet-12.onnx plus a small JSON
// of where it came from and its SHA-256. Importing a file checks it in a worker (the whole graph
// is parsed: hundreds of MB) before it is copied in; nothing half-copied is ever used (temp file +
// rename).
import fs from 'node:fs';
import path from 'node:path';
import type { WeightsStatus } from '../preload/contract';
import { dataPaths, type AppContext } from './context';
import { AppError } from './errors';
import { runWorkerJob } from './training-host';

export const WEIGHTS_FILE_NAME = 'bvlcalexnet-12.onnx'; // the ONNX Model Zoo's file name
const META_FILE_NAME = 'bvlcalexnet-12.json';

type Meta = { sha256: string; bytes: number; source: string };

export function weightsFile(ctx: Pick<AppContext, 'dataDir'>): string {
  return path.join(dataPaths(ctx).weights, WEIGHTS_FILE_NAME);
}

let downloading = false;

export function weightsStatus(ctx: Pick<AppContext, 'dataDir'>): WeightsStatus {
  const file = weightsFile(ctx);
  const metaFile = path.join(path.dirname(file), META_FILE_NAME);
  if (!fs.existsSync(file)) return { state: downloading ? 'downloading' : 'missing', file, bytes: null, sha256: null, source: null };
  let meta: Meta | null = null;
  try {
    meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as Meta;
  } catch {
    meta = null;
  }
  return { state: 'ready', file, bytes: fs.statSync(file).size, sha256: meta?.sha256 ?? null, source: meta?.source ?? null };
}

/** Checks `source` in a worker (BVLC AlexNet or BAD_WEIGHTS), then copies it into the data folder. */
export async function importWeights(ctx: AppContext, source: string): Promise<WeightsStatus> {
  const st = fs.statSync(source, { throwIfNoEntry: false });
  if (!st || !st.isFile()) throw new AppError('FOLDER_NOT_FOUND', `no such file: ${source}`);
  const checked = await runWorkerJob(ctx.spawn, { kind: 'check-weights', file: source }, { log: ctx.log });
  const target = weightsFile(ctx);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  if (path.resolve(source) !== target) {
    const tmp = `${target}.${process.pid}.tmp`;
    await fs.promises.copyFile(source, tmp);
    await fs.promises.rename(tmp, target);
  }
  const meta: Meta = { sha256: checked.sha256, bytes: checked.bytes, source: path.resolve(source) };
  fs.writeFileSync(path.join(path.dirname(target), META_FILE_NAME), JSON.stringify(meta, null, 1) + '\n');
  return weightsStatus(ctx);
}
