/// <reference types="svelte" />
// The app's preferences (settings:get / settings:set), today the compute backend every engine job
// loads. A change is probed by main before it answers, so the backend shown can follow at once.
import type { AppSettings, BackendName } from '../../../../preload/contract';
import type { Api } from '../api';
import { Latest } from '../latest';

export class Settings {
  settings = $state<AppSettings | null>(null);
  private pending = $state(0);

  // the settings shown are the answer of the call made last
  private answers = new Latest();

  constructor(private readonly api: Api) {}

  /** A change on its way (main is loading the new backend to check it). */
  get saving(): boolean {
    return this.pending > 0;
  }

  async load(): Promise<void> {
    await this.ask(() => this.api.call('settings:get', {}));
  }

  /** Saves the backend every engine job loads ('auto': the best available). */
  async setBackend(backend: 'auto' | BackendName): Promise<void> {
    this.pending++;
    try {
      await this.ask(() => this.api.call('settings:set', { backend }));
    } finally {
      this.pending--;
    }
  }

  private async ask(call: () => Promise<AppSettings>): Promise<void> {
    const current = this.answers.ask();
    const s = await call();
    if (current()) this.settings = s;
  }
}
