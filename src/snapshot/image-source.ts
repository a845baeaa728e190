/**
 * What a snapshot is written from: a CollectionImage of the entries to store plus, for incrementals,
 * the deleted ids and the clear flag. Decoded columns (a staged chain being folded, the changed entries
 * a content diff found) are adapted to the same CollectionImage shape.
 */
import type { CollectionImage, Columns, Id, Metadata, Metric } from '../engine/types.js';

/** The entries and deletions one snapshot stores. */
export interface SnapshotSource {
  image: CollectionImage;
  deletedIds: readonly Id[];
  cleared: boolean;
}

/** A CollectionImage over plain columns (nothing to release; chunks are views of `vectors`). */
export function columnsImage(c: Columns, seq = 0): CollectionImage {
  const { dimension, metric, ids, metadata, vectors } = c;
  return {
    dimension,
    metric: metric as Metric,
    seq,
    count: ids.length,
    ids,
    metadata: metadata as readonly (Metadata | undefined)[],
    *vectorChunks(maxEntries: number): Iterable<Float32Array> {
      const step = Math.max(1, maxEntries) * dimension;
      for (let at = 0; at < ids.length * dimension; at += step) yield vectors.subarray(at, Math.min(ids.length * dimension, at + step));
    },
    release(): void {},
  };
}
