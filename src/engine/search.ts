/**
 * Exact flat search: one pass over the slab in slot order feeding a fixed-size top-k heap. Scores are
 * turned into a higher-is-better "goodness" (distances negated) so one heap serves every metric.
 * The filter runs only for candidates that would enter the heap, so a filtered search still returns
 * k results whenever k entries match, however far down the ranking they are.
 */
import { cosineFrom, dotAt, l1At, normAt, squaredL2At } from './distance.js';
import type { MetadataPredicate } from './filter.js';
import type { SlotStore } from './slots.js';
import { TopK } from './topk.js';
import type { Metric } from './types.js';

/** True for metrics where a lower score is better (distances). */
export function lowerIsBetter(metric: Metric): boolean {
  return metric === 'euclidean' || metric === 'manhattan';
}

/** Converts a goodness back to the metric's score. */
export function scoreOf(metric: Metric, goodness: number): number {
  return lowerIsBetter(metric) ? 0 - goodness : goodness;
}

/** Parameters of one scan; `q` holds the float32 query. */
export interface ScanRequest {
  q: Float32Array;
  k: number;
  threshold: number | undefined;
  filter: MetadataPredicate | undefined;
}

/** Scans every live slot; returns the best `k` slots and their goodness, best first. */
export function flatScan(store: SlotStore, metric: Metric, req: ScanRequest): { goodness: Float64Array; slots: Int32Array } {
  const heap = new TopK(Math.min(req.k, store.count));
  if (heap.capacity === 0) return heap.drain();
  const q = req.q;
  const { slab, norms } = store;
  // One loop with a per-metric switch: each kernel has a single call site, so it stays inlined even
  // when databases with different metrics share the process.
  const mode = metric === 'dot' ? 0 : metric === 'cosine' ? 1 : metric === 'euclidean' ? 2 : 3;
  const qn = mode === 1 ? normAt(q, 0, store.dim) : 0;
  const minGood = req.threshold === undefined ? -Infinity : lowerIsBetter(metric) ? -req.threshold : req.threshold;
  const { ids, dim } = store;
  const pred = req.filter;
  const hw = store.highWater;
  for (let s = 0, o = 0; s < hw; s++, o += dim) {
    if (ids[s] === undefined) continue;
    let g: number;
    if (mode === 0) g = dotAt(slab, o, q, dim);
    else if (mode === 1) g = cosineFrom(dotAt(slab, o, q, dim), qn, norms[s]);
    else if (mode === 2) g = -Math.sqrt(squaredL2At(slab, o, q, dim));
    else g = -l1At(slab, o, q, dim);
    if (g < minGood) continue;
    // Slots arrive in increasing order, so a tie with the current worst loses (stable ordering).
    if (heap.full && g <= heap.worst) continue;
    if (pred !== undefined && !pred(store.metaAt(s))) continue;
    heap.push(g, s);
  }
  return heap.drain();
}
