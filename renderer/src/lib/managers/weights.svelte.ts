/// <reference types="svelte" />
// The ImageNet weights the one-button run fine-tunes from: their state, a download with progress,
// or importing a file the user already has.
import type { Events, WeightsStatus } from '../../../../preload/contract';
import type { Api } from '../api';
import { Latest } from '../latest';

export class Weights {
  status = $state<WeightsStatus | null>(null);
  /** Bytes received of the download in progress, and its size when known. */
  progress = $state<{ received: number; total: number | null } | null>(null);
  error = $state<string | null>(null);

  // The status shows the answer of the call made last; weights:done is newer than any answer still
  // on its way (a download that fails at once can end before its weights:download is answered).
  private statuses = new Latest();

  constructor(private readonly api: Api) {}

  async load(): Promise<void> {
    await this.ask(() => this.api.call('weights:status', {}));
  }

  /** Starts the download; progress and the end arrive as weights:progress / weights:done. */
  async download(): Promise<void> {
    this.error = null;
    this.progress = { received: 0, total: null };
    await this.ask(() => this.api.call('weights:download', {}));
  }

  async importFile(file: string): Promise<void> {
    this.error = null;
    await this.ask(() => this.api.call('weights:import', { file }));
  }

  onProgress(p: Events['weights:progress']): void {
    this.progress = { ...p };
  }

  onDone(d: Events['weights:done']): void {
    this.statuses.drop();
    this.status = d.status;
    this.progress = null;
    this.error = d.error ? d.error.message : null;
  }

  private async ask(call: () => Promise<WeightsStatus>): Promise<void> {
    const current = this.statuses.ask();
    const status = await call();
    if (current()) this.status = status;
  }
}
