/// <reference types="svelte" />
// The app's state, wired once: one API client, one error handler, the managers, and the pushed
// events routed to them. Components receive this object and stay thin.
import type { AppInfo, BackendName, ImportSummaryInfo, MenuCommand } from '../../../preload/contract';
import { plural } from './format';
import { Api, imageUrl } from './api';
import { Notifier } from './notify.svelte';
import { Camera } from './managers/camera.svelte';
import { Classify } from './managers/classify.svelte';
import { Cluster } from './managers/cluster.svelte';
import { Gallery } from './managers/gallery.svelte';
import { Labeling } from './managers/labeling.svelte';
import { Library } from './managers/library.svelte';
import { Runs } from './managers/runs.svelte';
import { Selection } from './managers/selection.svelte';
import { Settings } from './managers/settings.svelte';
import { Weights } from './managers/weights.svelte';
import type { Screen } from './shortcuts';

/** An import's outcome in words: what is new, what was already there, what could not be read and why. */
export function importWords(s: ImportSummaryInfo): [string, string] {
  const known = s.unchanged + s.duplicates;
  const title = `${plural(s.added, 'new photo')} in ${s.dataset}${known ? `, ${known} already in the library` : ''}`;
  const more: string[] = [];
  if (s.reappeared) more.push(`${s.reappeared} found again`);
  if (s.updated) more.push(`${s.updated} changed on disk`);
  if (s.unreadable.length) more.push(`${s.unreadable.length} could not be read (${s.unreadable[0].path.split(/[\\/]/).pop()}: ${s.unreadable[0].reason})`);
  return [title, more.join('; ')];
}

const SCREENS: readonly Screen[] = ['library', 'labeling', 'train', 'runs', 'classify'];

function screenFromHash(): Screen {
  const h = typeof location === 'undefined' ? '' : location.hash.slice(1);
  return SCREENS.find((s) => s === h) ?? 'library';
}

export class App {
  readonly notify = new Notifier();
  readonly library: Library;
  readonly gallery: Gallery;
  readonly selection: Selection;
  readonly labeling: Labeling;
  readonly runs: Runs;
  readonly classify: Classify;
  readonly weights: Weights;
  readonly camera: Camera;
  readonly cluster: Cluster;
  readonly settings: Settings;

  info = $state<AppInfo | null>(null);
  /** The screen shown; kept in the address's #hash so that a reload comes back to it. */
  screen = $state<Screen>(screenFromHash());
  helpOpen = $state(false);
  previewIndex = $state<number | null>(null);

  constructor(readonly api: Api) {
    this.library = new Library(api);
    this.gallery = new Gallery(api);
    this.selection = new Selection((i) => this.gallery.itemAt(i)?.id);
    this.labeling = new Labeling(api, this.library, this.gallery, this.selection, () => this.runs.model?.id ?? null);
    this.runs = new Runs(api);
    this.classify = new Classify(api);
    this.weights = new Weights(api);
    this.camera = new Camera(api);
    this.cluster = new Cluster(api);
    this.settings = new Settings(api);
  }

  thumbUrl(photoId: number): string {
    return imageUrl(this.info?.imageUrl.thumb ?? '/img/{id}?size=thumb', photoId);
  }

  fullUrl(photoId: number): string {
    return imageUrl(this.info?.imageUrl.full ?? '/img/{id}?size=full', photoId);
  }

  /** First load: app info, datasets, the first dataset's grid, runs; then listen to events. */
  async start(): Promise<void> {
    this.listen();
    await this.notify.guard(async () => {
      this.info = await this.api.call('app:info', {});
      await this.settings.load();
      await this.library.loadDatasets();
      await this.openDataset(this.library.datasetId);
      await this.weights.load();
    }, 'Loading the library');
  }

  async openDataset(datasetId: number | null): Promise<void> {
    this.selection.reset();
    await this.library.select(datasetId);
    await Promise.all([this.gallery.show({ datasetId, filter: {} }), this.runs.load(datasetId), this.labeling.peek()]);
    this.runs.chosenModelId = null;
    this.classify.runId = this.runs.model?.id ?? null;
  }

  /** The app setting's compute backend: saved, then the status bar shows what it loads, or why it did not. */
  async setBackend(choice: 'auto' | BackendName): Promise<void> {
    await this.notify.guard(async () => {
      await this.settings.setBackend(choice);
      const info = await this.api.call('app:info', {});
      // the status bar names the last run's backend while one is shown; between runs, the new one
      if (!this.runs.running) this.runs.backend = null;
      this.info = info;
      if (info.backendError) this.notify.error({ code: 'BACKEND_UNAVAILABLE', message: info.backendError }, 'Compute backend');
    }, 'Compute backend');
  }

  /** Undo (ctrl+Z, the menu, the status bar): says what it undid and refreshes every view of labels. */
  undo(): Promise<void> {
    return this.undoRedo('undo');
  }

  redo(): Promise<void> {
    return this.undoRedo('redo');
  }

  private async undoRedo(which: 'undo' | 'redo'): Promise<void> {
    await this.notify.guard(async () => {
      const what = which === 'undo' ? await this.labeling.undo() : await this.labeling.redo();
      if (what === null) {
        this.notify.info(which === 'undo' ? 'Nothing to undo' : 'Nothing to redo');
        return;
      }
      this.notify.info(`${which === 'undo' ? 'Undone' : 'Redone'}: ${what}`);
      await Promise.all([this.library.loadClasses(), this.runs.refreshEvaluation(), this.labeling.loadSuggestions()]);
    }, which === 'undo' ? 'Undo' : 'Redo');
  }

  /** The model in use predicts the photos it has not seen (after an import or an added photo). */
  async predictNew(): Promise<void> {
    const m = this.runs.model;
    if (!m) return;
    await this.notify.guard(async () => {
      const { queued } = await this.api.call('runs:predict', { runId: m.id });
      if (queued > 0) this.runs.predicting = { runId: m.id, done: 0, total: queued };
    }, 'Predicting new photos');
  }

  /** Chooses the model that suggests labels and classifies (null: the best validation accuracy). */
  async useModel(runId: number | null): Promise<void> {
    this.runs.chosenModelId = runId;
    this.classify.runId = this.runs.model?.id ?? null;
    await this.notify.guard(async () => {
      await Promise.all([this.labeling.loadSuggestions(), this.predictNew()]);
    });
  }

  /** Deletes a dataset and shows the next one (or the first-run screen when none is left). */
  async deleteDataset(datasetId: number): Promise<void> {
    await this.library.deleteDataset(datasetId);
    await this.openDataset(this.library.datasetId);
  }

  /** After anything that changes photos or labels: counts, classes and the visible pages. */
  async refreshLibrary(): Promise<void> {
    await Promise.all([this.library.loadClasses(), this.gallery.refresh()]);
  }

  private listen(): void {
    const a = this.api;
    a.on('import:progress', (p) => this.library.onProgress(p));
    a.on('import:done', (e) => {
      void this.notify.guard(async () => {
        if (e.error) this.notify.error(e.error, 'Import');
        await this.library.onDone(e);
        this.selection.reset();
        await Promise.all([this.gallery.show({ datasetId: e.datasetId, filter: {} }), this.runs.load(e.datasetId), this.labeling.peek()]);
        // said once the grid shows the result: a filter or selection made after this is the user's and stays
        if (!e.error && e.summary) this.notify.info(...importWords(e.summary), 8000);
        await this.predictNew();
      });
    });
    a.on('run:progress', (p) => this.runs.onProgress(p));
    a.on('run:epoch', (e) => this.runs.onEpoch(e));
    a.on('run:status', (s) => {
      this.runs.onStatus(s);
      if (s.backend && this.info) this.info = { ...this.info, runningRunId: s.status === 'running' ? s.runId : null };
      if (s.phase === 'done') {
        if (s.error) this.notify.error(s.error, 'Training');
        else if (s.status === 'finished') this.notify.info('Training finished');
        void this.notify.guard(async () => {
          await this.runs.load(this.library.datasetId);
          if (s.runId === this.runs.liveId) await this.runs.summarize(s.runId);
          if (s.status === 'finished') this.classify.runId = this.runs.model?.id ?? s.runId;
          await Promise.all([this.gallery.refresh(), this.labeling.loadSuggestions()]);
        });
      }
    });
    a.on('predict:progress', (p) => {
      if (p.datasetId !== this.library.datasetId) return;
      if (p.error?.code === 'CANCELLED') this.notify.info('Predicting new photos cancelled', 'The photos predicted so far keep their predictions.');
      else if (p.error) this.notify.error(p.error, 'Predicting new photos');
      this.runs.predicting = p.error || p.done >= p.total ? null : { runId: p.runId, done: p.done, total: p.total };
      if (!p.error && p.done >= p.total) void this.notify.guard(() => this.labeling.loadSuggestions());
    });
    a.on('library:changed', (c) => {
      if (c.datasetId !== null && c.datasetId !== this.library.datasetId) return;
      if (c.what === 'datasets') void this.notify.guard(() => this.library.loadDatasets());
      if (c.what === 'classes' || c.what === 'photos') void this.notify.guard(() => this.refreshLibrary());
    });
    a.on('menu:command', (m) => this.menu(m.command, m.folder));
    a.on('app:backend', (b) => {
      if (this.info) this.info = { ...this.info, backend: b, backendError: undefined }; // it loaded: no error to show
    });
    a.on('weights:progress', (p) => this.weights.onProgress(p));
    a.on('cluster:progress', (p) => this.cluster.onProgress(p));
    a.on('weights:done', (d) => {
      this.weights.onDone(d);
      if (d.error) this.notify.error(d.error, 'ImageNet weights');
      else this.notify.info('ImageNet weights ready');
    });
  }

  /** The app menu (Electron) asks the page to act. */
  menu(command: MenuCommand, folder?: string): void {
    const g = this.notify;
    switch (command) {
      case 'import-folder':
        if (folder) void g.guard(() => this.library.startImport(folder, 'new'), 'Import');
        this.screen = 'library';
        break;
      case 'undo':
        void this.undo();
        break;
      case 'redo':
        void this.redo();
        break;
      case 'select-all':
        void g.guard(async () => this.selection.selectAll(await this.gallery.allIds()));
        break;
      case 'show-shortcuts':
        this.helpOpen = true;
        break;
      case 'zoom-in':
        this.gallery.thumb = Math.min(320, this.gallery.thumb + 20);
        break;
      case 'zoom-out':
        this.gallery.thumb = Math.max(64, this.gallery.thumb - 20);
        break;
      default:
        break;
    }
  }
}
