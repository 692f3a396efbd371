// Selection: click, shift-click ranges (from the anchor, either direction), ctrl/cmd toggles,
// shift+ctrl adds a range, keyboard moves and extends, rubber band, targets().
import { describe, expect, it } from 'vitest';
import { Selection } from '../../renderer/src/lib/managers/selection.svelte';

const ids = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]; // photo ids in grid order
const make = () => new Selection((i) => ids[i]);
const sorted = (s: Selection) => [...s.ids].sort((a, b) => a - b);

describe('Selection', () => {
  it('a plain click selects one photo and moves focus and anchor', () => {
    const s = make();
    s.click(3);
    s.click(5);
    expect(sorted(s)).toEqual([15]);
    expect(s.focus).toBe(5);
    expect(s.anchor).toBe(5);
    expect(s.count).toBe(1);
  });

  it('shift-click selects the range from the anchor, forwards and backwards, replacing the rest', () => {
    const s = make();
    s.click(2);
    s.click(6, { shift: true });
    expect(sorted(s)).toEqual([12, 13, 14, 15, 16]);
    s.click(0, { shift: true }); // the anchor stays at 2
    expect(sorted(s)).toEqual([10, 11, 12]);
  });

  it('ctrl/cmd toggles one photo; shift+ctrl adds a range to what is selected', () => {
    const s = make();
    s.click(1);
    s.click(4, { toggle: true });
    expect(sorted(s)).toEqual([11, 14]);
    s.click(1, { toggle: true });
    expect(sorted(s)).toEqual([14]);
    s.click(8, { shift: true, toggle: true }); // anchor is 1 (the last toggle)
    expect(sorted(s)).toEqual([11, 12, 13, 14, 15, 16, 17, 18]);
  });

  it('a click past the loaded photos does nothing', () => {
    const s = make();
    s.click(2);
    s.click(50);
    expect(sorted(s)).toEqual([12]);
  });

  it('arrow keys move the focus within bounds; shift extends from the anchor', () => {
    const s = make();
    s.move(1, ids.length); // nothing focused yet: the first photo
    expect(s.focus).toBe(0);
    s.move(-1, ids.length);
    expect(s.focus).toBe(0);
    s.move(4, ids.length);
    expect(sorted(s)).toEqual([14]);
    s.move(2, ids.length, true);
    s.move(1, ids.length, true);
    expect(sorted(s)).toEqual([14, 15, 16, 17]);
    s.move(100, ids.length);
    expect(s.focus).toBe(9);
  });

  it('rubber band selects the covered cells, adding to the previous selection with ctrl held', () => {
    const s = make();
    s.click(0);
    const before = s.ids;
    s.band([4, 5, 8, 9]);
    expect(sorted(s)).toEqual([14, 15, 18, 19]);
    s.band([4, 5], true, before);
    expect(sorted(s)).toEqual([10, 14, 15]);
  });

  it('targets(): the selection, else the focused photo; clear and reset', () => {
    const s = make();
    expect(s.targets()).toEqual([]);
    s.selectAll(ids);
    expect(s.targets().length).toBe(10);
    s.move(3, ids.length);
    s.clear();
    expect(s.targets()).toEqual([ids[s.focus]]);
    s.reset();
    expect(s.targets()).toEqual([]);
    expect(s.focus).toBe(-1);
  });
});
