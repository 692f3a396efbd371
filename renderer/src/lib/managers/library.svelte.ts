/// <reference types="svelte" />
// Datasets, the current dataset's classes and counts, and imports with their progress.
import type { ClassCounts, ClassInfo, DatasetInfo, Events, ImportSummaryInfo } from '../../../../preload/contract';
import type { Api } from '../api';
import { Latest } from '../latest';

export type ImportState = { importId: string; datasetId: number; phase: 'scan' | 'import' | 'verify'; done: number; total: number; added: number };

export class Library {
  datasets = $state<DatasetInfo[]>([]);
  datasetId = $state<number | null>(null);
  classes = $state<ClassInfo[]>([]);
  counts = $state<ClassCounts | null>(null);
  importing = $state<ImportState | null>(null);
  lastImport = $state<ImportSummaryInfo | null>(null);

  current = $derived(this.datasets.find((d) => d.id === this.datasetId) ?? null);

  // The lists show the answer of the call made last (an older, slower answer is dropped).
  private datasetLists = new Latest(); // loadDatasets()
  private classLists = new Latest(); // loadClasses()

  constructor(private readonly api: Api) {}

  async loadDatasets(): Promise<void> {
    const current = this.datasetLists.ask();
    const datasets = await this.api.call('datasets:list', {});
    if (!current()) return;
    this.datasets = datasets;
    if (this.datasetId === null || !this.datasets.some((d) => d.id === this.datasetId)) {
      this.datasetId = this.datasets[0]?.id ?? null;
    }
  }

  async select(datasetId: number | null): Promise<void> {
    this.datasetId = datasetId;
    await this.loadClasses();
  }

  /** Classes and counts of the current dataset. */
  async loadClasses(): Promise<void> {
    const current = this.classLists.ask();
    const id = this.datasetId;
    if (id === null) {
      this.classes = [];
      this.counts = null;
      return;
    }
    const [classes, counts] = await Promise.all([this.api.call('classes:list', { datasetId: id }), this.api.call('datasets:counts', { datasetId: id })]);
    if (!current() || id !== this.datasetId) return;
    this.classes = classes;
    this.counts = counts;
  }

  setCounts(c: ClassCounts): void {
    this.counts = c;
    // a class's photoCount follows the counts (what a delete/merge confirmation says)
    const by = new Map(c.byClass.map((x) => [x.classId, x.count]));
    this.classes = this.classes.map((k) => ({ ...k, photoCount: by.get(k.id) ?? 0 }));
  }

  private starting = 0; // import:start calls not answered yet
  private ended = new Set<string>(); // imports whose import:done came while a start was unanswered

  /** Starts importing `folder` (into the current dataset, or a new one named after the folder).
   *  A small import can end before the answer to import:start arrives: then it is not shown as
   *  running (else the Import button would stay disabled for good). */
  async startImport(folder: string, into: 'current' | 'new'): Promise<string> {
    const req = into === 'current' && this.datasetId !== null ? { folder, datasetId: this.datasetId } : { folder };
    this.starting++;
    let answer: { importId: string; datasetId: number };
    try {
      answer = await this.api.call('import:start', req);
    } finally {
      this.starting--;
    }
    const { importId, datasetId } = answer;
    if (this.ended.delete(importId)) {
      if (this.importing?.importId === importId) this.importing = null; // set by an early import:progress
      return importId;
    }
    this.importing = { importId, datasetId, phase: 'scan', done: 0, total: 0, added: 0 };
    return importId;
  }

  async cancelImport(): Promise<void> {
    if (this.importing) await this.api.call('import:cancel', { importId: this.importing.importId });
  }

  onProgress(p: Events['import:progress']): void {
    if (this.importing && this.importing.importId !== p.importId) return;
    this.importing = { ...p };
  }

  /** An import finished: show its dataset. */
  async onDone(e: Events['import:done']): Promise<void> {
    if (this.importing?.importId === e.importId) this.importing = null;
    if (this.starting > 0) this.ended.add(e.importId);
    this.lastImport = e.summary;
    await this.loadDatasets();
    await this.select(e.datasetId);
  }

  // classes ---------------------------------------------------------------------------------------

  async createClass(name: string): Promise<ClassInfo> {
    if (this.datasetId === null) throw new Error('no dataset');
    // the library picks the colour and the first free hotkey
    const c = await this.api.call('classes:create', { datasetId: this.datasetId, name });
    await this.loadClasses();
    return c;
  }

  async renameClass(classId: number, name: string): Promise<void> {
    await this.api.call('classes:update', { classId, name });
    await this.loadClasses();
  }

  async mergeClass(fromId: number, intoId: number): Promise<number> {
    const r = await this.api.call('classes:merge', { fromId, intoId });
    await this.loadClasses();
    return r.moved;
  }

  async deleteClass(classId: number): Promise<number> {
    const r = await this.api.call('classes:delete', { classId });
    await this.loadClasses();
    return r.unlabeled;
  }

  async createDataset(name: string): Promise<void> {
    const d = await this.api.call('datasets:create', { name });
    await this.loadDatasets();
    await this.select(d.id);
  }

  async renameDataset(datasetId: number, name: string): Promise<void> {
    await this.api.call('datasets:rename', { datasetId, name });
    await this.loadDatasets();
  }

  /** Deletes a dataset from the library (its photo files are not touched); shows the next one. */
  async deleteDataset(datasetId: number): Promise<void> {
    await this.api.call('datasets:delete', { datasetId });
    await this.loadDatasets();
    await this.select(this.datasetId);
  }

  classByHotkey(key: string): ClassInfo | undefined {
    return this.classes.find((c) => c.hotkey === key);
  }
}
