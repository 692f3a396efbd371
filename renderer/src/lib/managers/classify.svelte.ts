/// <reference types="svelte" />
// Classify: files (dropped, chosen or typed as paths) through a finished run's model, top-5 each,
// adding a photo to the dataset with the predicted or a corrected label, and a CSV of the batch.
import type { ClassifyResultInfo } from '../../../../preload/contract';
import { AppError, type Api } from '../api';

/** One CSV cell: quoted when it holds a comma, quote or line break. */
function cell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** file,top1,p1,...,top5,p5 (errors: file,,,..., error) — one line per file. */
export function toCsv(results: ClassifyResultInfo[], k = 5): string {
  const head = ['file', ...Array.from({ length: k }, (_, i) => [`label${i + 1}`, `p${i + 1}`]).flat(), 'error'];
  const lines = [head.join(',')];
  for (const r of results) {
    const row: (string | number)[] = [r.file];
    for (let i = 0; i < k; i++) {
      const p = 'predictions' in r ? r.predictions[i] : undefined;
      row.push(p ? p.label : '', p ? p.p.toFixed(4) : '');
    }
    row.push('error' in r ? `${r.error.code}: ${r.error.message}` : '');
    lines.push(row.map(cell).join(','));
  }
  return lines.join('\n') + '\n';
}

export class Classify {
  runId = $state<number | null>(null);
  results = $state<ClassifyResultInfo[]>([]);
  busy = $state(false);
  private working: number | null = null; // the run of the classify call at work
  /** file -> photo id once added to the dataset. */
  added = $state<Record<string, number>>({});

  constructor(private readonly api: Api) {}

  /** Classifies `files`; thumbs: the job sends each file's thumbnail (typed paths). A cancel keeps the results so far. */
  async classify(files: string[], o: { thumbs?: boolean } = {}): Promise<void> {
    if (this.runId === null || files.length === 0) return;
    this.busy = true;
    this.working = this.runId;
    try {
      const res = await this.api.call('classify:files', { runId: this.runId, files, topK: 5, thumbs: o.thumbs });
      this.results = [...res.results, ...this.results.filter((r) => !files.includes(r.file))];
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'CANCELLED')) throw err;
    } finally {
      this.busy = false;
      this.working = null;
    }
  }

  /** Stops the classify call at work (it ends without results). */
  async cancel(): Promise<void> {
    if (this.working !== null) await this.api.call('classify:cancel', { runId: this.working });
  }

  /** Adds `file` to `datasetId` labeled `classId` (the prediction or the user's correction). */
  async add(datasetId: number, file: string, classId: number | null): Promise<void> {
    const r = await this.api.call('photos:add', { datasetId, files: [file], classId });
    if (r.skipped.length) throw new Error(r.skipped[0].reason);
    if (r.photoIds[0] !== undefined) this.added = { ...this.added, [file]: r.photoIds[0] };
  }

  clear(): void {
    this.results = [];
    this.added = {};
  }
}
