/**
 * A CollectionImage over decoded Columns, so that a file read by one codec can be written by another
 * (conversion) without a database in between.
 */
import type { CollectionImage, Columns } from '../engine/types.js';

/** A frozen view over `columns`; vector chunks are zero-copy subarrays. */
export function columnsImage(columns: Columns, seq = columns.ids.length): CollectionImage {
  const dim = columns.dimension;
  const count = columns.ids.length;
  return {
    dimension: dim,
    metric: columns.metric,
    seq,
    count,
    ids: columns.ids,
    metadata: columns.metadata,
    *vectorChunks(maxEntries: number) {
      const step = Math.max(1, Math.floor(maxEntries));
      for (let i = 0; i < count; i += step) yield columns.vectors.subarray(i * dim, Math.min(count, i + step) * dim);
    },
    release() {},
  };
}
