/// <reference types="svelte" />
// The photo grid's data: the sorted, filtered list of one dataset, fetched page by page as the
// window scrolls (only the pages near the visible rows are requested), and the layout arithmetic of
// a virtualised grid (which rows are in the DOM).
import { LIMITS, type PhotoItem, type PhotoQuery, type PhotoSort } from '../../../../preload/contract';
import type { Api } from '../api';

export const PAGE = 200; // photos per photos:list request while scrolling

/** What the user filters by; the empty object means every photo. */
export type GalleryFilter = {
  classIds?: number[]; // labeled as one of these
  unlabeled?: boolean; // no label yet
  predictedClassId?: number; // the latest run predicts this class
  disagree?: boolean; // label and prediction differ
};

export type GalleryView = { datasetId: number; sort: PhotoSort; order: 'asc' | 'desc'; filter: GalleryFilter };

/** The view -> a photos:list request (empty filters left out, so the library sees only real ones). */
export function buildQuery(v: GalleryView, offset: number, limit = PAGE): PhotoQuery {
  const q: PhotoQuery = { datasetId: v.datasetId, sort: v.sort, order: v.order, offset, limit, withTotal: offset === 0 };
  const f = v.filter;
  if (f.classIds && f.classIds.length > 0) q.classIds = [...f.classIds];
  if (f.unlabeled) q.unlabeled = true;
  if (f.predictedClassId !== undefined) q.predictedClassId = f.predictedClassId;
  if (f.disagree) q.disagree = true;
  return q;
}

/** The rows of a virtualised grid that must be in the DOM (visible ones plus `overscan` each side). */
export type GridWindow = { cols: number; cell: number; size: number; rows: number; firstRow: number; lastRow: number; start: number; end: number; height: number };

export function gridWindow(o: { scrollTop: number; viewport: number; width: number; thumb: number; gap: number; total: number; overscan?: number }): GridWindow {
  const cols = Math.max(1, Math.floor((o.width + o.gap) / (o.thumb + o.gap))); // as many as fit at the asked size
  const cell = Math.max(o.thumb + o.gap, (o.width + o.gap) / cols); // one cell's pitch in px: the row fills the width
  const rows = Math.ceil(o.total / cols);
  const overscan = o.overscan ?? 2;
  // clamped: a scroll offset past the end (the list just shrank) still draws the last rows
  const firstRow = Math.max(0, Math.min(rows - 1, Math.floor(o.scrollTop / cell) - overscan));
  const lastRow = Math.max(firstRow - 1, Math.min(rows - 1, Math.ceil((o.scrollTop + o.viewport) / cell) + overscan));
  const start = Math.min(o.total, firstRow * cols);
  const end = Math.max(start, Math.min(o.total, (lastRow + 1) * cols)); // exclusive
  return { cols, cell, size: cell - o.gap, rows, firstRow, lastRow, start, end, height: rows * cell };
}

/** The cell indices a rubber band covers; the band is in content pixels (scroll offset included). */
export function bandIndices(band: { x0: number; y0: number; x1: number; y1: number }, w: Pick<GridWindow, 'cols' | 'cell'>, total: number, gap: number): number[] {
  const left = Math.min(band.x0, band.x1);
  const right = Math.max(band.x0, band.x1);
  const top = Math.min(band.y0, band.y1);
  const bottom = Math.max(band.y0, band.y1);
  const thumb = w.cell - gap; // the drawn square inside each cell
  const out: number[] = [];
  const r0 = Math.max(0, Math.floor(top / w.cell));
  const r1 = Math.floor(bottom / w.cell);
  for (let r = r0; r <= r1; r++) {
    for (let c = 0; c < w.cols; c++) {
      const x = c * w.cell;
      const y = r * w.cell;
      const i = r * w.cols + c;
      if (i >= total) break;
      if (x < right && x + thumb > left && y < bottom && y + thumb > top) out.push(i);
    }
  }
  return out;
}

export class Gallery {
  datasetId = $state<number | null>(null);
  sort = $state<PhotoSort>('name');
  order = $state<'asc' | 'desc'>('asc');
  filter = $state<GalleryFilter>({});
  thumb = $state(140); // thumbnail edge in px (the size slider)
  cols = $state(1); // columns the grid shows now (arrow up/down move by a row)
  total = $state(0);
  /** The run whose predictions the list shows (null before any run). */
  runId = $state<number | null>(null);
  loading = $state(false);
  /** Bumped whenever loaded pages change, so that readers of itemAt() re-render. */
  version = $state(0);

  private pages = new Map<number, PhotoItem[]>(); // page number -> its items
  private inflight = new Map<number, Promise<void>>();
  private generation = 0; // a new view discards answers to older requests

  constructor(private readonly api: Api) {}

  view(): GalleryView | null {
    return this.datasetId === null ? null : { datasetId: this.datasetId, sort: this.sort, order: this.order, filter: $state.snapshot(this.filter) as GalleryFilter };
  }

  /** Shows another dataset / sort / filter: drops every page and loads the first. */
  async show(change: { datasetId?: number | null; sort?: PhotoSort; order?: 'asc' | 'desc'; filter?: GalleryFilter }): Promise<void> {
    if (change.datasetId !== undefined) this.datasetId = change.datasetId;
    if (change.sort !== undefined) this.sort = change.sort;
    if (change.order !== undefined) this.order = change.order;
    if (change.filter !== undefined) this.filter = change.filter;
    await this.reload();
  }

  /** Refetches from the start (after labels change or an import). */
  async reload(): Promise<void> {
    this.generation++;
    this.pages.clear();
    this.inflight.clear();
    if (this.datasetId === null) {
      this.total = 0;
      this.version++;
      return;
    }
    this.loading = true;
    try {
      await this.load(0);
    } finally {
      this.loading = false;
    }
  }

  /** Refetches the loaded pages in place (labels changed; the order and total may not). */
  async refresh(): Promise<void> {
    const loaded = [...this.pages.keys()];
    this.generation++;
    this.inflight.clear();
    await Promise.all((loaded.length ? loaded : [0]).map((p) => this.load(p)));
  }

  itemAt(i: number): PhotoItem | undefined {
    void this.version; // a dependency: re-read when pages arrive
    return this.pages.get(Math.floor(i / PAGE))?.[i % PAGE];
  }

  /** Index of a loaded photo, or -1. */
  indexOf(photoId: number): number {
    for (const [p, items] of this.pages) {
      const k = items.findIndex((x) => x.id === photoId);
      if (k >= 0) return p * PAGE + k;
    }
    return -1;
  }

  /** Requests the pages covering indices [from, to). */
  ensure(from: number, to: number): void {
    if (this.datasetId === null || to <= from) return;
    for (let p = Math.floor(from / PAGE); p <= Math.floor((to - 1) / PAGE); p++) {
      if (!this.pages.has(p) && !this.inflight.has(p)) void this.load(p);
    }
  }

  /** Every id matching the view, in order (select all), in pages of LIMITS.pageSize. */
  async allIds(): Promise<number[]> {
    const v = this.view();
    if (!v) return [];
    const ids: number[] = [];
    for (let offset = 0; ; offset += LIMITS.pageSize) {
      const page = await this.api.call('photos:list', { ...buildQuery(v, offset, LIMITS.pageSize), withTotal: false });
      for (const it of page.items) ids.push(it.id);
      if (page.items.length < LIMITS.pageSize) return ids;
    }
  }

  /** The next index after `from` whose photo is unlabeled (loaded pages only), or -1. */
  nextUnlabeled(from: number): number {
    for (let i = from + 1; i < this.total; i++) {
      const it = this.itemAt(i);
      if (it === undefined) return i < this.total ? i : -1; // not loaded yet: stop on it
      if (it.classId === null) return i;
    }
    return -1;
  }

  private load(page: number): Promise<void> {
    const v = this.view();
    if (!v) return Promise.resolve();
    const gen = this.generation;
    const p = this.api
      .call('photos:list', buildQuery(v, page * PAGE))
      .then((res) => {
        if (gen !== this.generation) return;
        this.pages.set(page, res.items);
        if (res.total !== null) this.total = res.total;
        this.runId = res.runId;
        this.version++;
      })
      .finally(() => {
        if (this.inflight.get(page) === p) this.inflight.delete(page);
      });
    this.inflight.set(page, p);
    return p;
  }
}
