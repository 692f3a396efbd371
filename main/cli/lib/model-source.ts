// What `--weights` names, turned into a loaded model: 'none', 'imagenet' (downloaded or imported
// into the data folder on first need), a zoo .onnx file, or a model folder of ours.
import { statSync } from 'node:fs';
import path from 'node:path';
import { loadModel } from '../../../ml/checkpoint';
import type { BaseModel } from '../../../ml/transfer';
import { paramsFromArrays } from '../../../ml/model';
import { CAFFE_PREPROCESSING } from '../../../ml/preprocess';
import { ensureImagenetWeights } from '../../../ml/weights/imagenet';
import { parseOnnxAlexNet, readFileWithHash } from '../../../ml/weights/onnx';
import { ProgressBar } from '../progress';

export async function loadWeights(spec: string, dataDir: string, quiet: boolean): Promise<BaseModel | null> {
  if (spec === 'none') return null;
  if (spec === 'imagenet') {
    let bar: ProgressBar | null = null;
    const dir = await ensureImagenetWeights(dataDir, {
      onProgress: quiet
        ? undefined
        : (p) => {
            bar ??= new ProgressBar({ label: 'ImageNet weights', total: Math.max(1, Math.round((p.total ?? 0) / 1e6)), unit: 'MB' });
            bar.update(Math.round(p.bytes / 1e6));
          },
    });
    return asBase(await loadModel(dir, 'best'));
  }
  const file = path.resolve(spec);
  const st = statSync(file, { throwIfNoEntry: false });
  if (st?.isFile() && file.toLowerCase().endsWith('.onnx')) {
    const { buf, sha256 } = await readFileWithHash(file);
    const imported = parseOnnxAlexNet(buf);
    const params = paramsFromArrays(imported.config, imported.arrays);
    return { params, config: imported.config, preprocessing: imported.preprocessing ?? { ...CAFFE_PREPROCESSING }, source: `onnx:${sha256}` };
  }
  return asBase(await loadModel(file, 'best')); // EngineError 'BAD_MODEL_DIR' names what is wrong
}

function asBase(m: Awaited<ReturnType<typeof loadModel>>): BaseModel {
  return { params: m.params, config: m.config, preprocessing: m.preprocessing, source: m.meta.weightsSource };
}
