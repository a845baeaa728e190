/**
 * The reference-000 utility functions: human-readable sizes and times, and a memory estimate.
 */
import type { DatabaseState } from './types.js';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** Bytes as a short human-readable size in binary units, e.g. 1536000 → "1.46 MB". */
export function formatFileSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) throw new TypeError('formatFileSize needs a non-negative finite number of bytes');
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(2)} ${UNITS[u]}`;
}

/** A Unix timestamp in milliseconds as an ISO-8601 UTC string. */
export function formatTimestamp(timestamp: number): string {
  if (!Number.isFinite(timestamp)) throw new TypeError('formatTimestamp needs a finite millisecond timestamp');
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
    for (const e of (state as Pick<DatabaseState, 'vectors'>).vectors) {
      total += e.vector.length * 4 + 2 * String(e.id).length + ENTRY_OVERHEAD;
      if (e.metadata) total += 2 * JSON.stringify(e.metadata).length;
    }
    return total;
  }
  const s = state as { count?: unknown; dimension?: unknown; metadataBytesPerEntry?: unknown };
  if (typeof s?.count === 'number' && typeof s.dimension === 'number') {
    const meta = typeof s.metadataBytesPerEntry === 'number' ? s.metadataBytesPerEntry : 0;
    return s.count * (s.dimension * 4 + ENTRY_OVERHEAD + meta);
  }
  throw new TypeError('estimateMemoryUsage needs a DatabaseState ({ vectors }), { count, dimension } or a VectorDB');
}
