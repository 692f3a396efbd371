/// <reference types="svelte" />
// Labeling: a hotkey labels the selection (or the focused photo), undo/redo go through the
// library's action log (labels:undo / labels:redo, so they survive a restart), the focus moves on to
// the next unlabeled photo, and suggestions from the latest run are accepted with one key.
import type { LabelResult, PhotoItem } from '../../../../preload/contract';
import type { Api } from '../api';
import { Latest } from '../latest';
import type { Gallery } from './gallery.svelte';
import type { Library } from './library.svelte';
import type { Selection } from './selection.svelte';

export class Labeling {
  /** What ctrl+Z / ctrl+shift+Z would do now, in words (null: nothing). */
  undoText = $state<string | null>(null);
  redoText = $state<string | null>(null);
  /** The last action's description ("Label 3 photos as bees"), for the status line. */
  lastAction = $state<string | null>(null);
  autoAdvance = $state(true);
  suggestions = $state<PhotoItem[]>([]);
  suggestionsTotal = $state(0);
  suggestionsRunId = $state<number | null>(null);

  private queue: Promise<unknown> = Promise.resolve(); // labeling actions run one after another
  // These show the answer of the call made last (an older, slower answer is dropped).
  private peeks = new Latest(); // peek(); a labeling action's answer drops them (it is newer)
  private suggestionLists = new Latest(); // loadSuggestions()

  constructor(
    private readonly api: Api,
    private readonly library: Library,
    private readonly gallery: Gallery,
    private readonly selection: Selection,
    private readonly modelRunId: () => number | null = () => null, // the model in use (null: the latest run)
  ) {}

  /** Labels the selection (or focused photo) with the class of `hotkey` ('1'..'9'); false if none. */
  async hotkey(key: string): Promise<boolean> {
    const c = this.library.classByHotkey(key);
    if (!c) return false;
    await this.label(c.id);
    return true;
  }

  /** Labels the targets as `classId` (null clears); a single focused photo then advances. */
  label(classId: number | null): Promise<void> {
    return this.serial(async () => {
      const ds = this.library.datasetId;
      const ids = this.selection.targets();
      if (ds === null || ids.length === 0) return;
      const single = ids.length === 1 && this.selection.focus >= 0;
      // where to go next, decided before the list changes under us
      const nextIndex = single && this.autoAdvance ? this.gallery.nextUnlabeled(this.selection.focus) : -1;
      const nextId = nextIndex >= 0 ? this.gallery.itemAt(nextIndex)?.id : undefined;
      const res = await this.api.call('labels:set', { datasetId: ds, photoIds: ids, classId });
      await this.apply(res);
      if (nextId !== undefined) {
        const i = this.gallery.indexOf(nextId);
        if (i >= 0) this.selection.focusOn(i);
      }
    });
  }

  /** Labels given photos (a suggestion corrected, a wrong prediction relabeled in place). */
  labelPhotos(photoIds: number[], classId: number | null): Promise<void> {
    return this.serial(async () => {
      const ds = this.library.datasetId;
      if (ds === null || photoIds.length === 0) return;
      await this.apply(await this.api.call('labels:set', { datasetId: ds, photoIds, classId }));
    });
  }

  /** Undoes the last labeling action; answers what it undid, in words (null: nothing to undo). */
  undo(): Promise<string | null> {
    return this.serialValue(async () => {
      const ds = this.library.datasetId;
      if (ds === null) return null;
      const what = this.undoText;
      const res = await this.api.call('labels:undo', { datasetId: ds });
      await this.apply(res);
      return res.action ? (what ?? res.action.description) : null;
    });
  }

  /** Redoes the last undone action; answers what it redid (null: nothing to redo). */
  redo(): Promise<string | null> {
    return this.serialValue(async () => {
      const ds = this.library.datasetId;
      if (ds === null) return null;
      const res = await this.api.call('labels:redo', { datasetId: ds });
      await this.apply(res);
      return res.action ? res.action.description : null;
    });
  }

  /** Re-reads what undo/redo would do (after switching datasets). */
  async peek(): Promise<void> {
    const current = this.peeks.ask();
    const ds = this.library.datasetId;
    if (ds === null) {
      this.undoText = this.redoText = null;
      return;
    }
    const p = await this.api.call('labels:peek', { datasetId: ds });
    if (!current()) return;
    this.undoText = p.undo;
    this.redoText = p.redo;
  }

  // suggestions -----------------------------------------------------------------------------------

  /** Unlabeled photos with a prediction, least confident first. */
  async loadSuggestions(limit = 200): Promise<void> {
    const current = this.suggestionLists.ask();
    const ds = this.library.datasetId;
    if (ds === null) return;
    const runId = this.modelRunId();
    const page = await this.api.call('suggestions:list', { datasetId: ds, limit, ...(runId !== null ? { runId } : {}) });
    if (!current()) return;
    this.suggestions = page.items;
    this.suggestionsTotal = page.total ?? page.items.length;
    this.suggestionsRunId = page.runId;
  }

  /** Accepts the predicted label of `photoIds` (one key per suggestion). */
  accept(photoIds: number[]): Promise<void> {
    return this.serial(async () => {
      const ds = this.library.datasetId;
      const runId = this.suggestionsRunId;
      if (ds === null || runId === null || photoIds.length === 0) return;
      await this.apply(await this.api.call('labels:accept', { datasetId: ds, runId, photoIds }));
      await this.loadSuggestions();
    });
  }

  /** Accepts every suggestion of the model in use at `minP` or more (all of them, not only the loaded page). */
  async acceptAbove(minP: number): Promise<number> {
    const ds = this.library.datasetId;
    const runId = this.suggestionsRunId;
    if (ds === null || runId === null) return 0;
    const ids = (await this.api.call('photos:list', { datasetId: ds, runId, unlabeled: true, minP, limit: 5000, withTotal: false })).items.map((p) => p.id);
    if (ids.length > 0) await this.accept(ids);
    return ids.length;
  }

  /**
   * Runs labeling actions in the order the keys were pressed: a hotkey pressed while the previous
   * one is still saving waits for it (and for the focus to move on), so fast typing never labels
   * the same photo twice.
   */
  private serialValue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(res: LabelResult): Promise<void> {
    this.peeks.drop();
    this.undoText = res.undo;
    this.redoText = res.redo;
    if (res.action) this.lastAction = res.action.description;
    this.library.setCounts(res.counts);
    const focused = this.selection.focus >= 0 ? this.gallery.itemAt(this.selection.focus)?.id : undefined;
    await this.gallery.refresh();
    await this.pruneSelection(focused);
  }

  /**
   * Drops from the selection what the view no longer shows (a relabel under a filter moves it out);
   * the focus follows the photo `focused` had before the list changed, or goes when it left.
   */
  async pruneSelection(focused?: number): Promise<void> {
    const sel = this.selection;
    if (sel.count === 0 && sel.focus < 0) return;
    sel.retain(new Set(await this.gallery.allIds()));
    if (focused !== undefined) sel.focus = this.gallery.indexOf(focused);
  }
}
