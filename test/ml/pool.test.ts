import { describe, expect, it } from 'vitest';
import { limiter, mapPool } from '../../ml/pool';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mapPool', () => {
  it('results in item order, at most `limit` calls in flight, started in item order', async () => {
    let inFlight = 0;
    let most = 0;
    const started: number[] = [];
    const out = await mapPool([30, 5, 20, 1, 10, 2], 2, async (ms, i) => {
      started.push(i);
      most = Math.max(most, ++inFlight);
      await tick(ms);
      inFlight--;
      return ms * 10;
    });
    expect(out).toEqual([300, 50, 200, 10, 100, 20]);
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await mapPool([], 4, async () => 1)).toEqual([]);
  });

  it('a rejection rejects the whole', async () => {
    await expect(mapPool([1, 2, 3], 2, async (x) => (x === 2 ? Promise.reject(new Error('two')) : x))).rejects.toThrow('two');
  });
});

describe('limiter', () => {
  it('runs at most `limit` at once, the waiting ones first come first served, slots freed on errors', async () => {
    const run = limiter(2);
    let inFlight = 0;
    let most = 0;
    const order: number[] = [];
    const job = (i: number, fail = false) =>
      run(async () => {
        most = Math.max(most, ++inFlight);
        order.push(i);
        await tick(5);
        inFlight--;
        if (fail) throw new Error(`job ${i}`);
        return i;
      });
    const all = await Promise.allSettled([job(0), job(1, true), job(2), job(3), job(4)]);
    expect(all.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(await job(5)).toBe(5); // every slot came back
  });
});
