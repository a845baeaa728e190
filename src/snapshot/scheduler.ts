/**
 * Scheduled snapshots: one run every `every` ms, never two at once. Timers are unref'd, so a schedule
 * never keeps a process alive. A run that takes longer than the period skips the periods it overran
 * (reported with a `skipped` event) instead of queueing them. With `incremental`, each run builds on
 * the previous run's snapshot (a full one first, and whenever the chain limit or a missing base says
 * so); with `retention`, the policy is applied physically after every successful snapshot.
 *
 * Events: `snapshot` (SnapshotInfo), `pruned` (PruneResult), `skipped` ({ periods }), `error` (Error).
 * Failures never throw out of a timer: without an `error` listener they become process warnings.
 */
import { EventEmitter } from 'node:events';
import { QuiverError } from '../errors.js';
import { VectorDB } from '../engine/vector-db.js';
import { applyRetention, parseDuration } from './retention.js';
import { checkSnapshotName, checkTags } from './ids.js';
import { checkUserMetadata } from './options.js';
import { setLongTimeout, type LongTimer } from '../util/long-timer.js';
import { notify } from '../util/notify.js';
import type { PruneResult, ScheduleOptions, SnapshotInfo } from './types.js';

/** What a schedule needs from the manager (keeps this file free of a manager import cycle). */
export interface ScheduleHost {
  createSnapshot(db: VectorDB, name: string, metadata?: Record<string, unknown>, options?: { tags?: string[] }): Promise<SnapshotInfo>;
  createIncrementalSnapshot(db: VectorDB, name: string, baseId: string, options?: { metadata?: Record<string, unknown>; tags?: string[] }): Promise<SnapshotInfo>;
  prune(policy: NonNullable<ScheduleOptions['retention']>, options: { protect: readonly string[] }): Promise<PruneResult>;
}

function resolveEvery(every: unknown): number {
  const ms = typeof every === 'string' ? parseDuration(every) : every;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 1) {
    throw new QuiverError('INVALID_ARGUMENT', `schedule({ every }) needs a whole number of ms >= 1 or a duration such as '6h', got ${String(every)}`);
  }
  return ms;
}

/** A running schedule; `stop()` ends it. */
export class SnapshotSchedule extends EventEmitter {
  /** The period in ms. */
  readonly every: number;
  private timer: LongTimer | undefined;
  private current: Promise<SnapshotInfo | undefined> | undefined;
  private stopped = false;
  private lastId: string | undefined;
  private runs = 0;

  constructor(private readonly host: ScheduleHost, private readonly options: ScheduleOptions) {
    super();
    if (options === null || typeof options !== 'object') throw new TypeError('schedule needs an options object { db, every, incremental?, retention? }');
    if (!(options.db instanceof VectorDB)) throw new TypeError('schedule({ db }) must be a VectorDB');
    this.every = resolveEvery(options.every);
    if (options.name !== undefined && typeof options.name !== 'function') throw new TypeError('schedule({ name }) must be a function (date) => string');
    if (options.metadata !== undefined) checkUserMetadata(options.metadata);
    if (options.tags !== undefined) checkTags(options.tags);
    // A bad policy is the caller's mistake now, not an error event at every run while snapshots pile up.
    if (options.retention !== undefined) applyRetention([], options.retention, Date.now());
    this.arm(options.immediate === true ? 0 : this.every);
  }

  /** True while a snapshot run is in progress. */
  get running(): boolean {
    return this.current !== undefined;
  }

  /** Successful and failed runs so far. */
  get runCount(): number {
    return this.runs;
  }

  /** Id of the last snapshot this schedule took. */
  get lastSnapshotId(): string | undefined {
    return this.lastId;
  }

  /** Runs a snapshot now (or joins the run in progress); resolves with its info, or undefined when it failed. */
  runNow(): Promise<SnapshotInfo | undefined> {
    if (this.current) return this.current;
    if (this.stopped) return Promise.resolve(undefined);
    // Periods are measured on the monotonic clock: a wall clock set back an hour during a run (NTP, a
    // suspended laptop's correction) would otherwise delay the next run by that hour, or set forward,
    // report periods as skipped that never passed.
    const started = performance.now();
    const run = this.runOnce().finally(() => {
      this.current = undefined;
      this.runs++;
      if (!this.stopped) this.armAfter(started);
    });
    this.current = run;
    return run;
  }

  /** Stops the schedule; resolves once a run in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.clear();
    this.timer = undefined;
    await this.current;
  }

  private arm(delay: number): void {
    this.timer?.clear();
    // Periods may be longer than Node's timers take ('4w'): see setLongTimeout.
    this.timer = setLongTimeout(() => {
      this.timer = undefined;
      void this.runNow();
    }, delay);
  }

  /** Next run one period after the last start; periods a long run overran are skipped, not queued. */
  private armAfter(started: number): void {
    const now = performance.now();
    let next = started + this.every;
    if (next < now) {
      const missed = Math.floor((now - started) / this.every);
      next = started + (missed + 1) * this.every;
      notify(this, 'skipped', { periods: missed }, 'a snapshot schedule');
    }
    this.arm(Math.max(0, next - now));
  }

  private async runOnce(): Promise<SnapshotInfo | undefined> {
    const o = this.options;
    let info: SnapshotInfo;
    try {
      const at = new Date();
      const name = checkSnapshotName(o.name ? o.name(at) : `scheduled ${at.toISOString()}`);
      const labels = { metadata: o.metadata, tags: o.tags };
      if (o.incremental && this.lastId !== undefined) {
        try {
          info = await this.host.createIncrementalSnapshot(o.db, name, this.lastId, labels);
        } catch (err) {
          // The previous snapshot was deleted (or damaged) meanwhile: start a new chain.
          if (!(err instanceof QuiverError) || !['NOT_FOUND', 'CORRUPT', 'CHECKSUM_MISMATCH'].includes(err.code)) throw err;
          info = await this.host.createSnapshot(o.db, name, o.metadata, { tags: o.tags });
        }
      } else {
        info = await this.host.createSnapshot(o.db, name, o.metadata, { tags: o.tags });
      }
      this.lastId = info.id;
      notify(this, 'snapshot', info, 'a snapshot schedule');
    } catch (err) {
      this.fail(err);
      return undefined;
    }
    // The snapshot is taken: a failed prune is reported, but the run still resolves with it.
    if (o.retention) {
      try {
        // Never the snapshot just taken, even when one dated later by another clock outranks it.
        notify(this, 'pruned', await this.host.prune(o.retention, { protect: [info.id] }), 'a snapshot schedule');
      } catch (err) {
        this.fail(err);
      }
    }
    return info;
  }

  private fail(err: unknown): void {
    if (!notify(this, 'error', err, 'a snapshot schedule')) process.emitWarning(`QuiverDB scheduled snapshot failed: ${err instanceof Error ? err.message : String(err)}`, { code: 'QUIVER_SCHEDULE' });
  }
}
