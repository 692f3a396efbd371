// A terminal progress bar with rate and ETA, drawn on stderr so that stdout stays clean for
// --json output. On a terminal it redraws one line; elsewhere (CI logs, pipes) it prints a plain
// line at most every `intervalMs`.
export type ProgressOptions = {
  label: string;
  total: number;
  unit?: string; // what is counted, shown in the rate: 'img', 'step', 'MB'
  stream?: NodeJS.WriteStream;
  intervalMs?: number; // the least time between two non-terminal lines
  now?: () => number;
};

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export class ProgressBar {
  private start: number;
  private startDone = 0; // what was already done at the first update (rate and ETA count from there)
  private started = false;
  private lastPrint = -Infinity;
  private done = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly now: () => number;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.now = opts.now ?? (() => performance.now());
    this.start = this.now();
  }

  /** Seconds left at the current average rate, or NaN before anything is done. */
  eta(): number {
    const elapsed = (this.now() - this.start) / 1000;
    const progressed = this.done - this.startDone;
    if (progressed <= 0 || elapsed <= 0) return NaN;
    return (elapsed / progressed) * (this.opts.total - this.done);
  }

  line(suffix = ''): string {
    const { total, label, unit = 'it' } = this.opts;
    const frac = total > 0 ? Math.min(1, this.done / total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const elapsed = (this.now() - this.start) / 1000;
    const rate = elapsed > 0 ? (this.done - this.startDone) / elapsed : 0;
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    return `${label} [${bar}] ${this.done}/${total} ${(frac * 100).toFixed(0).padStart(3)}% ${rate.toFixed(1)} ${unit}/s ETA ${formatDuration(this.eta())}${suffix ? ' ' + suffix : ''}`;
  }

  update(done: number, suffix = ''): void {
    if (!this.started && done < this.opts.total) {
      // The first report marks the start: work done before the bar existed has no measured time.
      this.started = true;
      this.start = this.now();
      this.startDone = done;
    }
    this.done = done;
    const t = this.now();
    const finished = done >= this.opts.total;
    if (this.tty) {
      this.stream.write(`\r\x1b[2K${this.line(suffix)}${finished ? '\n' : ''}`);
    } else if (finished || t - this.lastPrint >= (this.opts.intervalMs ?? 2000)) {
      this.lastPrint = t;
      this.stream.write(this.line(suffix) + '\n');
    }
  }

  /** Ends the bar's line, whatever was reached (a cancel, an error). */
  finish(suffix = ''): void {
    if (this.tty) this.stream.write(`\r\x1b[2K${this.line(suffix)}\n`);
  }
}
