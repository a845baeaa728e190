/**
 * Change tracking for incremental saves. Upserts are tracked per slot by the engine (a Float64Array of
 * last-modified seq numbers); this log keeps what a slot cannot: deletions (id + seq, in seq order) and
 * the seq of the last clear. `horizon` is the oldest seq changes can still be computed from: it moves
 * forward when old tombstones are trimmed and when a loaded state is adopted.
 */
import { QuiverError } from '../errors.js';
import type { Id } from './types.js';

/** Deletions and clears since the horizon. */
export class ChangeLog {
  private ids: Id[] = [];
  private seqs: number[] = [];
  // Tombstones before `head` are trimmed; the arrays are compacted when that prefix gets large.
  private head = 0;
  /** Seq of the last clear (0 = none since the horizon). */
  clearedAtSeq = 0;
  /** Changes can be computed for any `sinceSeq >= horizon`. */
  horizon = 0;

  /** Number of tombstones held. */
  get size(): number {
    return this.ids.length - this.head;
  }

  /** Records the deletion of `id` at `seq` (seqs arrive increasing). */
  recordDelete(id: Id, seq: number): void {
    this.ids.push(id);
    this.seqs.push(seq);
  }

  /** Records a clear: every earlier tombstone is implied by it. */
  recordClear(seq: number): void {
    this.ids = [];
    this.seqs = [];
    this.head = 0;
    this.clearedAtSeq = seq;
  }

  /** Forgets everything: the state at `seq` is the new baseline (a freshly loaded database). */
  reset(seq: number): void {
    this.ids = [];
    this.seqs = [];
    this.head = 0;
    this.clearedAtSeq = 0;
    this.horizon = seq;
  }

  /** Drops tombstones with seq ≤ `seq`; changes since earlier seqs can no longer be computed. */
  trimBefore(seq: number): void {
    this.head = this.firstAfter(seq);
    if (seq > this.horizon) this.horizon = seq;
    if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head);
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
  }

  /** Throws INVALID_ARGUMENT when changes since `sinceSeq` are no longer known. */
  checkSince(sinceSeq: number): void {
    if (sinceSeq < this.horizon) {
      throw new QuiverError(
        'INVALID_ARGUMENT',
        `changes since seq ${sinceSeq} are no longer tracked (history starts at seq ${this.horizon}); take a full save instead of an incremental one`,
        { sinceSeq, horizon: this.horizon },
      );
    }
  }

  /** True when a clear happened after `sinceSeq`. */
  clearedSince(sinceSeq: number): boolean {
    return this.clearedAtSeq > sinceSeq;
  }

  /** Ids deleted after `sinceSeq` for which `isPresent` is false, each once, in deletion order. */
  deletedSince(sinceSeq: number, isPresent: (id: Id) => boolean): Id[] {
    const out: Id[] = [];
    const seen = new Set<Id>();
    for (let i = this.firstAfter(sinceSeq); i < this.ids.length; i++) {
      const id = this.ids[i];
      if (seen.has(id) || isPresent(id)) continue;
      seen.add(id);
      out.push(id);
    }
    return out;
  }

  // Index of the first tombstone with seq > `seq` (binary search; seqs are increasing).
  private firstAfter(seq: number): number {
    let lo = this.head;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid] <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
