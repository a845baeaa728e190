/**
 * The one progress reporter. Long operations report `{ operation, percentage, current, total, message }`;
 * the percentage never goes backwards and the last report is 100.
 */

/** One progress report (the reference DatabasePersistence shape). */
export interface Progress {
  operation: string;
  percentage: number;
  current: number;
  total: number;
  message: string;
}

/** Receives progress reports. Exceptions thrown by a callback abort the operation. */
export type ProgressCallback = (progress: Progress) => void;

/**
 * Turns raw work counts into monotonic reports. `total` may grow while running (it is clamped so the
 * percentage still never decreases); reports are throttled to whole-percent changes.
 */
export class ProgressReporter {
  private lastPct = -1;
  private done = false;
  private current = 0;

  constructor(
    private readonly operation: string,
    private total: number,
    private readonly callback: ProgressCallback | undefined,
  ) {}

  /** Sets the absolute amount of work done (values below the previous one are ignored). */
  update(current: number, message: string): void {
    if (!this.callback || this.done) return;
    if (current > this.current) this.current = current;
    if (this.current > this.total) this.total = this.current;
    const pct = this.total === 0 ? 0 : Math.floor((this.current / this.total) * 1000) / 10;
    const capped = Math.min(pct, 99.9);
    if (capped <= this.lastPct) return;
    this.lastPct = capped;
    this.callback({ operation: this.operation, percentage: capped, current: this.current, total: this.total, message });
  }

  /** Adds `delta` to the amount of work done. */
  advance(delta: number, message: string): void {
    this.update(this.current + delta, message);
  }

  /**
   * A callback for a sub-operation covering work units [start, start + span) of this one: its own
   * fractions are mapped into this reporter, so several files can feed one monotonic report.
   */
  child(start: number, span: number): ProgressCallback | undefined {
    if (!this.callback) return undefined;
    return (p) => {
      const frac = p.total > 0 ? Math.min(1, p.current / p.total) : p.percentage / 100;
      this.update(start + frac * span, p.message);
    };
  }

  /** Reports 100% exactly once. */
  finish(message: string): void {
    if (!this.callback || this.done) return;
    this.done = true;
    this.callback({ operation: this.operation, percentage: 100, current: this.total, total: this.total, message });
  }
}
