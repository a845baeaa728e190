/**
 * Test helper shared by the format tests: CollectionImage / ChangeImage built from plain arrays,
 * without the engine; deterministic vectors; bit-exact byte views.
 */
import type { ChangeImage, CollectionImage, Id, Metadata, Metric } from '../../src/engine/types.js';

/** Plain contents of an image. */
export interface ImageSpec {
  dimension: number;
  metric?: Metric;
  ids: Id[];
  vectors: Float32Array;
  metadata?: (Metadata | undefined)[];
  seq?: number;
}

/** A frozen view over `spec`; vectorChunks yields zero-copy subarrays, as the engine's do. */
export function makeImage(spec: ImageSpec): CollectionImage {
  const count = spec.ids.length;
  if (spec.vectors.length !== count * spec.dimension) throw new Error('vectors length must be count x dimension');
  const dim = spec.dimension;
  return {
    dimension: dim,
    metric: spec.metric ?? 'cosine',
    seq: spec.seq ?? count,
    count,
    ids: spec.ids,
    metadata: spec.metadata ?? spec.ids.map(() => undefined),
    *vectorChunks(maxEntries: number) {
      for (let i = 0; i < count; i += maxEntries) yield spec.vectors.subarray(i * dim, Math.min(count, i + maxEntries) * dim);
    },
    release() {},
  };
}

/**
 * A change set over `spec`: upserts plus deleted ids. `total` (the entries once applied) matters only to
 * a SQLite in-place update, which checks its result against it; without it such an update fails.
 */
export function makeChangeImage(spec: ImageSpec & { sinceSeq: number; cleared?: boolean; deletedIds?: Id[]; total?: number }): ChangeImage {
  return { ...makeImage(spec), sinceSeq: spec.sinceSeq, cleared: spec.cleared ?? false, deletedIds: spec.deletedIds ?? [], total: spec.total ?? NaN };
}

/** Deterministic pseudo-random float32 vectors (mulberry32), including negatives and tiny values. */
export function randomVectors(count: number, dim: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(count * dim);
  for (let i = 0; i < out.length; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** The bytes of a Float32Array, for bit-exact comparisons. */
export function bytesOf(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}
