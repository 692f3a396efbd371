// A cluster job's result/ folder made without Python: a finished run of ours exported as ONNX
// (models:export: model.onnx, labels.json, preprocessing.json), plus the job.json and metrics.jsonl
// train.py writes beside them. What cluster:import reads is then real (our ONNX through the ONNX
// importer), only the training that made it ran here instead of under torchrun.
import fs from 'node:fs';
import path from 'node:path';
import type { Channel, Req, Res } from '../../preload/contract';
import { JOB_FORMAT } from '../../main/app/cluster';
import { readModelMeta } from '../../ml/checkpoint';

type Call = <C extends Channel>(channel: C, req: Req<C>) => Promise<Res<C>>;

/** Writes `<into>/result/` from run `runId` (finished) of dataset `datasetId`; returns its path. */
export async function engineResult(call: Call, runId: number, into: string): Promise<string> {
  const run = await call('runs:get', { runId });
  const ckpt = run.models.find((m) => m.kind === 'final');
  if (run.datasetId === null || !ckpt) throw new Error(`run ${runId} has no dataset or no model`);
  const exported = await call('models:export', { runId, format: 'onnx', folder: into });
  const result = path.join(into, 'result');
  fs.renameSync(exported.folder, result);
  const meta = await readModelMeta(ckpt.path);
  const job = {
    format: JOB_FORMAT,
    version: 1,
    dataset: { id: run.datasetId, name: run.datasetName ?? '', splitId: 0 }, // no split of this library: its latest validates
    classes: run.classes,
    recipe: 'full',
    from: 'none',
    model: meta.config,
    settings: { epochs: meta.metrics.length, seed: 0 },
  };
  fs.writeFileSync(path.join(result, 'job.json'), JSON.stringify(job, null, 1) + '\n');
  const lines = meta.metrics.map((m) => JSON.stringify({ ...m, stage: 'main', processes: 1 }));
  fs.writeFileSync(path.join(result, 'metrics.jsonl'), lines.join('\n') + '\n');
  return result;
}
