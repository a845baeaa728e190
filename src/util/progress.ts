/**
 * The one progress reporter. Long operations report `{ operation, percentage, current, total, message }`;
 * the percentage never goes backwards and the last report is 100. `current`/`total` count entries
 * ("items") once the operation knows how many it works on; until then they are its own work units.
 */

/** One progress report (the reference DatabasePersistence shape). */
export interface Progress {
  operation: string;
  percentage: number;
  current: number;
  total: number;
  message: string;
}

/**
 * Receives progress reports. An exception thrown by a callback aborts the operation and is what the
 * operation rejects with; the callback is not called again. The final 100% report comes once the work
 * is done (a file published, a database replaced): an exception from that one cannot undo it, so it is
 * emitted as a process warning and the operation resolves.
 */
export type ProgressCallback = (progress: Progress) => void;

/** Errors thrown by a progress callback (passed through unchanged by the layers that wrap other errors). */
const callbackErrors = new WeakSet<object>();

/** True for an error a progress callback threw (see {@link ProgressCallback}). */
export function isProgressCallbackError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && callbackErrors.has(err);
}

/** Where a sub-operation's callback (from {@link ProgressReporter.child}) feeds its parent. */
interface Link {
  parent: ProgressReporter;
  start: number;
  span: number;
}

const links = new WeakMap<ProgressCallback, Link>();

/**
 * Turns raw work counts into monotonic reports. `total` may grow while running (it is clamped so the
 * percentage still never decreases); reports are throttled to 0.1% changes. A reporter built on a
 * callback from `child` is a sub-operation: it hands its exact fraction, and its item count, straight
 * to the parent, which alone reports.
 */
export class ProgressReporter {
  private lastPct = -1;
  private done = false;
  /** Set by {@link irreversible}: callback errors become warnings instead of stopping the work. */
  private committed = false;
  private current = 0;
  private items = -1;
  private readonly link: Link | undefined;

  constructor(
    private readonly operation: string,
    private total: number,
    private readonly callback: ProgressCallback | undefined,
  ) {
    // Checked here, where every operation's reporter starts, not at the first report deep inside it.
    if (callback !== undefined && typeof callback !== 'function') throw new TypeError(`onProgress must be a function, got ${typeof callback}`);
    this.link = callback ? links.get(callback) : undefined;
  }

  /**
   * Declares how many entries the operation works on: from now on reports count them (`current` is
   * that share of them, `total` all of them). The first count declared stays (a load's base file, not
   * the deltas after it), and is passed up to the parent of a sub-operation.
   */
  countItems(items: number): void {
    if (this.items >= 0 || !Number.isFinite(items) || items < 0) return;
    this.items = Math.floor(items);
    this.link?.parent.countItems(this.items);
  }

  /** Sets the absolute amount of work done (values below the previous one are ignored). */
  update(current: number, message: string): void {
    if (!this.callback || this.done) return;
    if (current > this.current) this.current = current;
    if (this.current > this.total) this.total = this.current;
    if (this.link) {
      const frac = this.total === 0 ? 0 : this.current / this.total;
      this.link.parent.update(this.link.start + frac * this.link.span, message);
      return;
    }
    const pct = this.total === 0 ? 0 : Math.floor((this.current / this.total) * 1000) / 10;
    const capped = Math.min(pct, 99.9);
    if (capped <= this.lastPct) return;
    this.lastPct = capped;
    this.report(capped, message);
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
    const cb: ProgressCallback = (p) => {
      const frac = p.total > 0 ? Math.min(1, p.current / p.total) : p.percentage / 100;
      this.update(start + frac * span, p.message);
    };
    links.set(cb, { parent: this, start, span });
    return cb;
  }

  /**
   * From here on the work runs to its end (deletions that have begun, say): a callback that throws is
   * not called again, and its error becomes a process warning instead of stopping the work half-way.
   */
  irreversible(): void {
    this.committed = true;
    this.link?.parent.irreversible();
  }

  /** Reports 100% exactly once (a sub-operation: the end of its span in the parent). */
  finish(message: string): void {
    if (!this.callback || this.done) return;
    if (this.link) {
      this.link.parent.update(this.link.start + this.link.span, message);
      this.done = true;
      return;
    }
    this.done = true;
    try {
      this.report(100, message);
    } catch (err) {
      process.emitWarning(`the progress callback of a ${this.operation} threw on its final 100% report, after the work was done (the call still succeeds): ${err instanceof Error ? err.message : String(err)}`, 'QuiverProgressWarning');
    }
  }

  /**
   * finish() once the work can no longer be undone (a file published, a transaction committed): a
   * sub-operation's last report is its parent's, under 100%, and a callback that throws on it cannot
   * undo the work either, so, as on the final 100%, its error becomes a process warning (and the
   * callback is not called again) instead of failing a call whose work is done.
   */
  finishDone(message: string): void {
    try {
      this.finish(message);
    } catch (err) {
      process.emitWarning(`the progress callback of a ${this.operation} threw after its work was done (the call still succeeds): ${err instanceof Error ? err.message : String(err)}`, 'QuiverProgressWarning');
    }
  }

  private report(percentage: number, message: string): void {
    let current = percentage === 100 ? this.total : this.current;
    let total = this.total;
    if (this.items >= 0) {
      total = this.items;
      current = percentage === 100 ? total : Math.min(total, Math.floor(this.total === 0 ? 0 : (this.current / this.total) * total));
    }
    try {
      this.callback!({ operation: this.operation, percentage, current, total, message });
    } catch (err) {
      // The operation stops with this error: no further reports, and no layer may dress it up as damage.
      this.done = true;
      if (this.committed) {
        process.emitWarning(`the progress callback of a ${this.operation} threw while work that cannot be stopped half-way ran (it runs to its end; the callback is not called again): ${err instanceof Error ? err.message : String(err)}`, 'QuiverProgressWarning');
        return;
      }
      if (typeof err === 'object' && err !== null) callbackErrors.add(err);
      throw err;
    }
  }
}
