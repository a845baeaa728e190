/**
 * One helper thread for reading big JSONL files: while the main thread parses the first part of a
 * window's complete lines (and hashes and reads), the helper parses the rest. Lines are unambiguous
 * boundaries, so nothing is speculative: the main thread takes the helper's entries in order and
 * parses itself whatever line the helper left (see line-run.ts).
 */
import { availableParallelism } from 'node:os';
import { RequestThread } from '../../util/request-thread.js';
import { Keeper, type Keepable } from '../json/keeper.js';
import type { LineRunReply, LineRunRequest } from './line-run.js';

/** Inputs smaller than this are parsed on the main thread only. */
export const PARALLEL_MIN_BYTES = 32 << 20;
/** Windows with fewer bytes of complete lines than this are not split. */
export const SPLIT_MIN_BYTES = 256 << 10;
/** Share of a window's complete lines the main thread keeps (it also reads and hashes). */
export const MAIN_SHARE = 0.45;

/** Helper threads for an input of `bytes`: `requested` (0 or 1) if given, else 1 for big inputs on multi-core machines. */
export function lineWorkerCount(bytes: number, requested?: number): number {
  if (requested !== undefined) return Math.max(0, Math.min(1, Math.floor(requested)));
  return bytes >= PARALLEL_MIN_BYTES && availableParallelism() >= 2 ? 1 : 0;
}

const kept = new Keeper(() => new LinePool());

/** The shared helper (kept warm between reads); give it back with {@link releaseLinePool}. */
export function acquireLinePool(): LinePool {
  return kept.acquire();
}

/** Gives back the pool from {@link acquireLinePool}. */
export function releaseLinePool(pool: LinePool): Promise<void> {
  return kept.release(pool);
}

/** A single JSONL parse helper thread (absent when threads cannot start). */
export class LinePool extends RequestThread<LineRunRequest, LineRunReply> implements Keepable {
  private shared: Uint8Array = new Uint8Array(0);

  constructor() {
    super(new URL('./line-worker.js', import.meta.url), 'JSONL parse worker');
  }

  /**
   * A shared buffer of at least `n` bytes for the next request (shared memory needs no transfer). The
   * kept buffer is reused only when no request is in flight: a reader that failed may have left one
   * running, and the thread writes into its request's bytes.
   */
  requestBuffer(n: number): Uint8Array {
    if (this.pending > 0) return new Uint8Array(new SharedArrayBuffer(n));
    if (this.shared.length < n) this.shared = new Uint8Array(new SharedArrayBuffer(Math.max(n, this.shared.length * 2)));
    return this.shared.subarray(0, n);
  }

  /** Parses the lines in `bytes[0..end)` (from {@link requestBuffer}; left alone until the reply) on the helper thread. */
  parse(bytes: Uint8Array, end: number, dimension: number, maxLine: number): Promise<LineRunReply> {
    return this.request({ bytes, end, dimension, maxLine });
  }
}
