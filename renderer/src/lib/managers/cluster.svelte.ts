/// <reference types="svelte" />
// Train on a cluster: writing the job folder (cluster:export) and importing its result
// (cluster:import) are long, so the one at work shows its phase, a bar and an ETA from
// cluster:progress, and Cancel stops it (cluster:cancel: the call then ends with CANCELLED, leaving
// no half job folder and no half run).
import type { ClusterJobInfo, ClusterPhase, Events, Res, RunSettings } from '../../../../preload/contract';
import { toAppError, type Api } from '../api';

export const PHASE_WORDS: Record<ClusterPhase, string> = {
  pca: 'Reading photos for the colour noise',
  shards: 'Writing the shards',
  model: 'Reading the model',
  predicting: 'Predicting every photo with our engine',
};

/** A job's outcome: its value, or null when it was cancelled (any other failure throws). */
type Outcome<T> = { value: T } | null;

export class Cluster {
  /** The job at work, and its latest progress (null before the first event). */
  job = $state<'export' | 'import' | null>(null);
  progress = $state<Events['cluster:progress'] | null>(null);
  cancelling = $state(false);

  constructor(private readonly api: Api) {}

  exportJob(req: { datasetId: number; folder: string; settings: RunSettings; fromRunId?: number }): Promise<Outcome<ClusterJobInfo>> {
    return this.work('export', () => this.api.call('cluster:export', req));
  }

  importResult(req: { datasetId: number; folder: string }): Promise<Outcome<Res<'cluster:import'>>> {
    return this.work('import', () => this.api.call('cluster:import', req));
  }

  async cancel(): Promise<void> {
    if (!this.job) return;
    this.cancelling = true;
    await this.api.call('cluster:cancel', {});
  }

  onProgress(p: Events['cluster:progress']): void {
    if (p.job === this.job) this.progress = { ...p };
  }

  private async work<T>(job: 'export' | 'import', call: () => Promise<T>): Promise<Outcome<T>> {
    this.job = job;
    this.progress = null;
    this.cancelling = false;
    try {
      return { value: await call() };
    } catch (err) {
      if (toAppError(err).code === 'CANCELLED') return null;
      throw err;
    } finally {
      this.job = null;
      this.progress = null;
      this.cancelling = false;
    }
  }
}
