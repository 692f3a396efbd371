// What a training run reads from the library: the dataset's classes in the user's order and the
// train/val/test photos of a split (the latest one, or a new one made from `split`). The app's
// runs:start uses it (and so does `alexnet train --dataset`, a client of the same handler), then
// records its run with lib.runs / lib.metrics.
import { DbError } from './errors';
import type { Library } from './index';
import type { SplitOptions, Subset } from './repos/splits';

export type TrainingItem = { photoId: number; path: string; label: string; classIndex: number };
export type TrainingSet = { datasetId: number; splitId: number; classes: string[] } & Record<Subset, TrainingItem[]>;

export function trainingSet(lib: Library, dataset: string | number, opts: { splitId?: number; split?: SplitOptions; newSplit?: boolean } = {}): TrainingSet {
  const ds = lib.datasets.require(dataset);
  const split = opts.splitId !== undefined ? lib.splits.get(opts.splitId) : (!opts.newSplit && !opts.split && lib.splits.latest(ds.id)) || lib.splits.create(ds.id, opts.split);
  if (split.datasetId !== ds.id) throw new DbError('BAD_SPLIT', `split ${split.id} belongs to another dataset`);
  // classes that have photos in the split, in the user's order: output index i is classes[i]
  const members = lib.splits.members(split.id).filter((m) => lib.photos.get(m.photoId).status === 'ok');
  const used = new Set(members.map((m) => m.classId));
  const classes = lib.classes.list(ds.id).filter((c) => used.has(c.id));
  const index = new Map(classes.map((c, i) => [c.id, i]));
  const out: TrainingSet = { datasetId: ds.id, splitId: split.id, classes: classes.map((c) => c.name), train: [], val: [], test: [] };
  for (const m of members) out[m.subset].push({ photoId: m.photoId, path: m.path, label: m.className, classIndex: index.get(m.classId)! });
  return out;
}
