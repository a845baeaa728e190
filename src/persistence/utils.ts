/**
 * The reference-000 utility functions: human-readable sizes and times, and a memory estimate.
 */
import type { DatabaseState } from './types.js';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** Bytes as a short human-readable size in binary units, e.g. 1536000 → "1.46 MB". */
export function formatFileSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) throw new TypeError('formatFileSize needs a non-negative finite number of bytes');
  let v = bytes;
  let u = 0;
  // A value that rounds to 1024.00 in its unit is shown as 1.00 of the next (1048575 → "1.00 MB").
  while ((u === 0 ? Math.round(v) >= 1024 : Number(v.toFixed(2)) >= 1024) && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // Whole bytes below 1 KB (a fractional count, as from an average, is rounded).
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(2)} ${UNITS[u]}`;
}

/** A Unix timestamp in milliseconds as an ISO-8601 UTC string. */
export function formatTimestamp(timestamp: number): string {
  // Dates reach ±8.64e15 ms (±273,790 years) from the epoch; beyond that toISOString throws a RangeError.
  if (!Number.isFinite(timestamp) || Math.abs(timestamp) > 8.64e15) throw new TypeError('formatTimestamp needs a finite millisecond timestamp within ±8.64e15 ms of the epoch');
  return new Date(timestamp).toISOString();
}

/** Anything with entries whose memory can be estimated. */
export type MemoryEstimateInput =
  | Pick<DatabaseState, 'vectors'>
  | { count: number; dimension: number; metadataBytesPerEntry?: number }
  | { stats(): { memoryUsage: number } };

const ENTRY_OVERHEAD = 64; // map slot, id reference and per-entry bookkeeping

/**
 * Estimated bytes a database state occupies in memory once loaded: float32 vectors, ids, metadata and
 * per-entry overhead. Accepts a DatabaseState, `{ count, dimension }` or a VectorDB.
 */
export function estimateMemoryUsage(state: MemoryEstimateInput): number {
  if (state && typeof (state as { stats?: unknown }).stats === 'function') return (state as { stats(): { memoryUsage: number } }).stats().memoryUsage;
  if (state && Array.isArray((state as { vectors?: unknown }).vectors)) {
    let total = 0;
    const vectors = (state as Pick<DatabaseState, 'vectors'>).vectors;
    for (let i = 0; i < vectors.length; i++) {
      const e = vectors[i];
      const length = (e?.vector as { length?: unknown } | undefined)?.length;
      if (typeof length !== 'number') throw new TypeError(`estimateMemoryUsage: vectors[${i}] has no vector (an array of numbers)`);
      total += length * 4 + 2 * String(e.id).length + ENTRY_OVERHEAD;
      if (e.metadata) total += 2 * JSON.stringify(e.metadata).length;
    }
    return total;
  }
  const s = state as { count?: unknown; dimension?: unknown; metadataBytesPerEntry?: unknown };
  if (typeof s?.count === 'number' && typeof s.dimension === 'number') {
    const meta = s.metadataBytesPerEntry ?? 0;
    const counts = [s.count, s.dimension, meta];
    if (!counts.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0)) {
      throw new TypeError('estimateMemoryUsage needs non-negative finite count, dimension and metadataBytesPerEntry');
    }
    return s.count * (s.dimension * 4 + ENTRY_OVERHEAD + (meta as number));
  }
  throw new TypeError('estimateMemoryUsage needs a DatabaseState ({ vectors }), { count, dimension } or a VectorDB');
}
