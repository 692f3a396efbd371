// main/cli/progress.ts: the CLI's progress bar. On a terminal it redraws one line; in a log or a
// pipe it prints whole lines, at most one per interval, and always the finished one. Rate and ETA
// count from the first report, so work done before the bar existed does not inflate the rate.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatDuration, ProgressBar } from '../../../main/cli/progress';

/** A stream that keeps what is written; `tty` says whether it claims to be a terminal. */
function sink(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const parts: string[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, done) {
      parts.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream: Object.assign(w, { isTTY: tty }) as unknown as NodeJS.WriteStream, text: () => parts.join('') };
}

/** A clock the test moves by hand (ms). */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('formatDuration', () => {
  it('writes mm:ss, h:mm:ss past an hour, and --:-- for what is not a time', () => {
    expect(formatDuration(0)).toBe('00:00');
    expect(formatDuration(59.4)).toBe('00:59');
    expect(formatDuration(59.6)).toBe('01:00');
    expect(formatDuration(754)).toBe('12:34');
    expect(formatDuration(3600)).toBe('1:00:00');
    expect(formatDuration(3 * 3600 + 62)).toBe('3:01:02');
    expect(formatDuration(Number.NaN)).toBe('--:--');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('--:--');
    expect(formatDuration(-1)).toBe('--:--');
  });
});

describe('ProgressBar', () => {
  it('shows the count, percent, rate and ETA from the first report on', () => {
    const c = clock();
    const out = sink(false);
    const bar = new ProgressBar({ label: 'train', total: 100, unit: 'img', stream: out.stream, now: c.now });
    expect(Number.isNaN(bar.eta())).toBe(true); // nothing done yet: no estimate
    c.advance(60_000); // the time before the first report does not count
    bar.update(20);
    c.advance(10_000);
    bar.update(40); // 20 images in 10 s: 2 img/s, 60 left: 30 s
    expect(bar.eta()).toBeCloseTo(30, 6);
    expect(bar.line()).toBe(`train [${'#'.repeat(10)}${'-'.repeat(14)}] 40/100  40% 2.0 img/s ETA 00:30`);
    expect(bar.line('loss 0.3')).toMatch(/ETA 00:30 loss 0\.3$/);
  });

  it('in a log, prints a line at most every intervalMs, and always the finished one', async () => {
    const c = clock();
    const out = sink(false);
    const bar = new ProgressBar({ label: 'x', total: 10, stream: out.stream, now: c.now, intervalMs: 1000 });
    bar.update(1); // first line
    c.advance(500);
    bar.update(2); // too soon
    c.advance(600);
    bar.update(3); // 1.1 s after the first
    c.advance(10);
    bar.update(10); // finished: printed whatever the interval
    bar.finish(); // nothing more in a log
    await settle();
    const lines = out.text().split('\n').filter(Boolean);
    expect(lines.map((l) => l.match(/ (\d+)\/10 /)?.[1])).toEqual(['1', '3', '10']);
    expect(out.text()).not.toContain('\r');
    expect(lines[2]).toContain('100%');
  });

  it('on a terminal, redraws one line and ends it when finished or cut short', async () => {
    const c = clock();
    const out = sink(true);
    const bar = new ProgressBar({ label: 'x', total: 4, stream: out.stream, now: c.now });
    bar.update(1);
    c.advance(100);
    bar.update(2);
    await settle();
    expect(out.text().split('\r\x1b[2K')).toHaveLength(3); // two redraws of the same line
    expect(out.text()).not.toContain('\n');
    bar.finish('cancelled');
    await settle();
    expect(out.text().endsWith(' cancelled\n')).toBe(true);
    expect(out.text()).toContain(' 2/4 ');
  });

  it('a bar that is already complete at the first report draws a full bar', async () => {
    const out = sink(false);
    const bar = new ProgressBar({ label: 'x', total: 3, stream: out.stream, now: clock().now });
    bar.update(3);
    await settle();
    expect(out.text()).toContain(`[${'#'.repeat(24)}] 3/3 100%`);
  });
});
