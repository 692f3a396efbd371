/// <reference types="svelte" />
// Which photos are selected, which one has the keyboard focus, and the anchor of shift-ranges.
// Indices are positions in the gallery's current order; ids are photo ids. The gallery tells the
// selection which id sits at an index (idAt), so this class knows nothing about paging.
export type Mods = { shift?: boolean; toggle?: boolean }; // toggle = ctrl on Linux/Windows, cmd on macOS

export class Selection {
  /** Selected photo ids (replaced, never mutated, so that readers re-render). */
  ids = $state.raw<ReadonlySet<number>>(new Set());
  /** The focused index (keyboard cursor), or -1 when nothing has focus yet. */
  focus = $state(-1);
  /** Where the next shift-click range starts. */
  anchor = $state(-1);
  count = $derived(this.ids.size);

  constructor(private readonly idAt: (index: number) => number | undefined) {}

  has(id: number): boolean {
    return this.ids.has(id);
  }

  /** A click on index `i`: plain selects only it, toggle adds/removes it, shift selects the range. */
  click(i: number, mods: Mods = {}): void {
    const id = this.idAt(i);
    if (id === undefined) return;
    if (mods.shift && this.anchor >= 0) {
      const range = this.range(this.anchor, i);
      this.ids = mods.toggle ? new Set([...this.ids, ...range]) : new Set(range);
    } else if (mods.toggle) {
      const next = new Set(this.ids);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      this.ids = next;
      this.anchor = i;
    } else {
      this.ids = new Set([id]);
      this.anchor = i;
    }
    this.focus = i;
  }

  /** Moves the focus by `delta` (arrows); with shift it extends the selection from the anchor. */
  move(delta: number, total: number, extend = false): void {
    if (total <= 0) return;
    const from = this.focus < 0 ? 0 : this.focus;
    const to = Math.max(0, Math.min(total - 1, this.focus < 0 ? 0 : from + delta));
    if (extend) {
      if (this.anchor < 0) this.anchor = from;
      this.ids = new Set(this.range(this.anchor, to));
      this.focus = to;
    } else {
      this.focusOn(to);
    }
  }

  /** Focus `i` and select only it (keyboard navigation, auto-advance). */
  focusOn(i: number): void {
    const id = this.idAt(i);
    this.focus = i;
    this.anchor = i;
    this.ids = id === undefined ? new Set() : new Set([id]);
  }

  /** A rubber band over the cells `indices`; `add` keeps what was selected before (ctrl/cmd held). */
  band(indices: number[], add = false, before: ReadonlySet<number> = new Set()): void {
    const ids = indices.map((i) => this.idAt(i)).filter((id): id is number => id !== undefined);
    this.ids = add ? new Set([...before, ...ids]) : new Set(ids);
    if (indices.length > 0) this.focus = indices[indices.length - 1];
  }

  selectAll(ids: Iterable<number>): void {
    this.ids = new Set(ids);
  }

  clear(): void {
    this.ids = new Set();
    this.anchor = -1;
  }

  /**
   * Keeps only the selected photos still in view (`inView`: every id the grid's filter and sort now
   * show): a photo that left the view by a relabel, a filter or a sort is never acted on unseen.
   */
  retain(inView: ReadonlySet<number>): void {
    const kept = [...this.ids].filter((id) => inView.has(id));
    if (kept.length !== this.ids.size) this.ids = new Set(kept);
    const focused = this.focus >= 0 ? this.idAt(this.focus) : undefined;
    if (focused === undefined || !inView.has(focused)) this.focus = -1;
    if (this.anchor >= 0 && this.idAt(this.anchor) === undefined) this.anchor = -1;
  }

  /** Forget everything (a new dataset, sort or filter changes every index). */
  reset(): void {
    this.clear();
    this.focus = -1;
  }

  /** The ids to act on: the selection, or the focused photo when nothing is selected. */
  targets(): number[] {
    if (this.ids.size > 0) return [...this.ids];
    const id = this.focus >= 0 ? this.idAt(this.focus) : undefined;
    return id === undefined ? [] : [id];
  }

  private range(a: number, b: number): number[] {
    const out: number[] = [];
    for (let i = Math.min(a, b); i <= Math.max(a, b); i++) {
      const id = this.idAt(i);
      if (id !== undefined) out.push(id);
    }
    return out;
  }
}
