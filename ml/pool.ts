// Bounded concurrency, the one helper behind every "at most N at once" in the engine: decodes in
// the batch loader, in classify/evaluate and on a feature-cache miss, header sniffing in folder scans.

/**
 * A FIFO limiter: `run(fn)` starts fn once fewer than `limit` runs are in flight, in call order.
 * For work asked for piecemeal (the batch loader's decodes), where the next job is not known yet.
 */
export function limiter(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  const max = Math.max(1, Math.floor(limit));
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((r) => waiting.push(r));
    else active++;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next(); // hand the slot over directly
      else active--;
    }
  };
}

/**
 * fn over every item with at most `limit` calls in flight, started in item order; the results in
 * item order. A rejection rejects the whole (the calls already running finish on their own).
 */
export async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(Math.floor(limit), items.length)) }, worker));
  return out;
}
