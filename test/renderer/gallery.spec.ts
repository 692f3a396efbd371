// The grid's data and layout: filters become photos:list parameters (checked against what the real
// library answers), the virtual window keeps the DOM to the visible rows, the rubber band maps to
// cells, and pages load on demand.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE, Gallery, bandIndices, buildQuery, gridWindow, type GalleryView } from '../../renderer/src/lib/managers/gallery.svelte';
import { backend, type Backend } from './backend';

describe('buildQuery', () => {
  const base: GalleryView = { datasetId: 7, sort: 'confidence', order: 'asc', filter: {} };
  it('leaves out empty filters and asks for the total on the first page only', () => {
    expect(buildQuery(base, 0)).toEqual({ datasetId: 7, sort: 'confidence', order: 'asc', offset: 0, limit: PAGE, withTotal: true });
    expect(buildQuery({ ...base, filter: { classIds: [] } }, PAGE).classIds).toBeUndefined();
    expect(buildQuery(base, PAGE).withTotal).toBe(false);
  });
  it('passes each filter', () => {
    const q = buildQuery({ ...base, sort: 'name', order: 'desc', filter: { classIds: [3, 4], unlabeled: true, predictedClassId: 5, disagree: true } }, 400, 50);
    expect(q).toMatchObject({ sort: 'name', order: 'desc', classIds: [3, 4], unlabeled: true, predictedClassId: 5, disagree: true, offset: 400, limit: 50 });
  });
});

describe('gridWindow', () => {
  it('keeps only the visible rows plus overscan, wherever the scroll is', () => {
    const total = 10_000;
    for (const scrollTop of [0, 5_000, 200_000, 10_000_000]) {
      const w = gridWindow({ scrollTop, viewport: 800, width: 1200, thumb: 140, gap: 6, total });
      expect(w.cols).toBe(Math.floor((1200 + 6) / 146));
      expect(w.cell * w.cols).toBeCloseTo(1200 + 6); // cells stretch to fill the row
      expect(w.size).toBeGreaterThanOrEqual(140);
      expect(w.height).toBeCloseTo(Math.ceil(total / w.cols) * w.cell);
      const visibleRows = Math.ceil(800 / w.cell) + 1;
      expect(w.end - w.start).toBeLessThanOrEqual((visibleRows + 4) * w.cols);
      expect(w.end).toBeLessThanOrEqual(total);
      expect(w.start).toBeGreaterThanOrEqual(0);
    }
    const mid = gridWindow({ scrollTop: 146 * 100, viewport: 800, width: 8 * 146 - 6, thumb: 140, gap: 6, total });
    expect(mid.firstRow).toBe(98); // two rows of overscan above row 100
  });

  it('an empty list has nothing to draw', () => {
    const w = gridWindow({ scrollTop: 0, viewport: 800, width: 1200, thumb: 140, gap: 6, total: 0 });
    expect(w.end - w.start).toBe(0);
    expect(w.height).toBe(0);
  });
});

describe('bandIndices', () => {
  const w = { cols: 4, cell: 100 };
  it('selects the cells a rectangle touches, in either drag direction', () => {
    expect(bandIndices({ x0: 150, y0: 50, x1: 250, y1: 150 }, w, 100, 10)).toEqual([1, 2, 5, 6]);
    expect(bandIndices({ x0: 250, y0: 150, x1: 150, y1: 50 }, w, 100, 10)).toEqual([1, 2, 5, 6]);
  });
  it('a band inside a gap touches nothing; cells past the end are not selected', () => {
    expect(bandIndices({ x0: 92, y0: 10, x1: 98, y1: 20 }, w, 100, 10)).toEqual([]);
    expect(bandIndices({ x0: 0, y0: 0, x1: 399, y1: 199 }, w, 6, 10)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('Gallery on a real library', () => {
  let b: Backend;
  beforeAll(async () => {
    b = await backend(6);
  });
  afterAll(async () => {
    await b?.close();
  });

  it('loads the first page with the total, sorted by name', async () => {
    const g = new Gallery(b.api);
    await g.show({ datasetId: b.datasetId });
    expect(g.total).toBe(12);
    const names = Array.from({ length: 12 }, (_, i) => g.itemAt(i)!.name);
    expect(names).toEqual([...names].sort((x, y) => x.localeCompare(y, 'en', { sensitivity: 'base' })));
    await g.show({ order: 'desc' });
    expect(g.itemAt(0)!.name).toBe(names[11]);
  });

  it('filters reach the library: labeled as a class, unlabeled', async () => {
    const g = new Gallery(b.api);
    await g.show({ datasetId: b.datasetId });
    const classes = await b.api.call('classes:list', { datasetId: b.datasetId });
    const ants = classes.find((c) => c.name === 'ants')!;
    const first3 = [0, 1, 2].map((i) => g.itemAt(i)!.id);
    await b.api.call('labels:set', { datasetId: b.datasetId, photoIds: first3, classId: ants.id });
    await g.show({ filter: { classIds: [ants.id] } });
    expect(g.total).toBe(3);
    expect(new Set([0, 1, 2].map((i) => g.itemAt(i)!.id))).toEqual(new Set(first3));
    await g.show({ filter: { unlabeled: true } });
    expect(g.total).toBe(9);
    expect(Array.from({ length: 9 }, (_, i) => g.itemAt(i)!.classId)).toEqual(new Array(9).fill(null));
    expect((await g.allIds()).length).toBe(9);
  });
});
