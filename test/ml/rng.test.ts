import { describe, expect, it } from 'vitest';
import { createRng } from '../../ml/rng';

const draw = (seed: number, n: number): number[] => {
  const r = createRng(seed);
  return Array.from({ length: n }, () => r.next());
};

describe('createRng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    expect(draw(42, 100)).toEqual(draw(42, 100));
    expect(draw(42, 100)).not.toEqual(draw(43, 100));
    // Nearby seeds give unrelated first draws (splitmix seeding), not near-identical ones.
    const firsts = [0, 1, 2, 3, 4, 5, 6, 7].map((s) => draw(s, 1)[0]!);
    expect(new Set(firsts.map((x) => Math.floor(x * 1000))).size).toBeGreaterThan(6);
  });

  it('next() is uniform in [0, 1)', () => {
    const xs = draw(1, 100_000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    const bins = new Array(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]++;
    for (const b of bins) expect(Math.abs(b - 10_000)).toBeLessThan(500);
  });

  it('int(n) covers 0..n-1 evenly and rejects bad n', () => {
    const r = createRng(5);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) {
      const k = r.int(7);
      expect(Number.isInteger(k)).toBe(true);
      counts[k]++;
    }
    expect(counts.every((c) => Math.abs(c - 10_000) < 500)).toBe(true);
    expect(r.int(1)).toBe(0);
    expect(() => r.int(0)).toThrow(RangeError);
    expect(() => r.int(2.5)).toThrow(RangeError);
  });

  it('normal() has mean 0 and variance 1', () => {
    const r = createRng(9);
    let s = 0;
    let s2 = 0;
    const N = 200_000;
    for (let i = 0; i < N; i++) {
      const v = r.normal();
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / N)).toBeLessThan(0.01);
    expect(Math.abs(s2 / N - 1)).toBeLessThan(0.02);
  });

  it('normals(n, std) draws N(0, std^2), deterministic per seed, continuing the stream', () => {
    const N = 200_000;
    const xs = createRng(11).normals(N, 0.5);
    expect(xs).toHaveLength(N);
    let s = 0;
    let s2 = 0;
    for (const v of xs) {
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / N)).toBeLessThan(0.005);
    expect(Math.abs(s2 / N - 0.25)).toBeLessThan(0.005);
    expect(Array.from(createRng(11).normals(101, 2))).toEqual(Array.from(createRng(11).normals(101, 2)));
    expect(Array.from(createRng(12).normals(8))).not.toEqual(Array.from(createRng(11).normals(8)));
    // It draws from the generator's own state: the next draw after it differs from a fresh stream's.
    const r = createRng(11);
    r.normals(3);
    expect(r.next()).not.toBe(createRng(11).next());
    expect(createRng(1).normals(0)).toHaveLength(0);
  });

  it('shuffle is an in-place permutation, deterministic per seed', () => {
    const a = Array.from({ length: 50 }, (_, i) => i);
    const b = a.slice();
    const ra = createRng(3).shuffle(a);
    expect(ra).toBe(a);
    expect(a.slice().sort((x, y) => x - y)).toEqual(b);
    expect(a).not.toEqual(b);
    expect(createRng(3).shuffle(b.slice())).toEqual(a);
    expect(createRng(4).shuffle(b.slice())).not.toEqual(a);
  });

  it('fork depends on (seed, label) only, not on draws made before', () => {
    const r1 = createRng(11);
    const r2 = createRng(11);
    for (let i = 0; i < 17; i++) r2.next();
    expect(r1.fork('epoch').fork(3).next()).toBe(r2.fork('epoch').fork(3).next());
    expect(r1.fork(3).next()).not.toBe(r1.fork(4).next());
    expect(r1.fork(3).next()).not.toBe(r1.fork('3').next());
    expect(createRng(12).fork(3).next()).not.toBe(r1.fork(3).next());
    // a child's stream is not the parent's
    expect(draw(11, 5)).not.toEqual(Array.from({ length: 5 }, ((c) => () => c.next())(createRng(11).fork(0))));
  });
});
