/**
 * Test helpers for the engine: a naive reference search, state snapshots for exact comparison, and
 * image readers.
 */
import assert from 'node:assert/strict';
import { QuiverError, type ErrorCode } from '../../src/errors.js';
import type { CollectionImage, Columns, Id, Metadata, Metric } from '../../src/engine/types.js';
import type { VectorDB } from '../../src/engine/vector-db.js';

/** Asserts that `fn` throws synchronously a QuiverError with `code` (and message matching `re`). */
export function throwsCode(fn: () => unknown, code: ErrorCode, re?: RegExp): QuiverError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof QuiverError, `expected a QuiverError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (re) assert.match(caught.message, re);
  return caught;
}

/** The raw bytes of a Float32Array, for bit-exact comparison. */
export function bytes(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Exact state of a database: id -> (vector bytes as hex, metadata JSON with key order). */
export function stateOf(db: VectorDB): Map<Id, { vec: string; md: string | undefined }> {
  const m = new Map<Id, { vec: string; md: string | undefined }>();
  for (const e of db) m.set(e.id, { vec: bytes(e.vector).toString('hex'), md: e.metadata === undefined ? undefined : JSON.stringify(e.metadata) });
  return m;
}

/** Reads a whole image into columns (chunks concatenated). */
export function readImage(img: CollectionImage, maxEntries = 3): Columns {
  const vectors = new Float32Array(img.count * img.dimension);
  let off = 0;
  for (const chunk of img.vectorChunks(maxEntries)) {
    assert.ok(chunk.length % img.dimension === 0, 'chunk holds whole vectors');
    assert.ok(chunk.length / img.dimension <= maxEntries, 'chunk respects maxEntries');
    vectors.set(chunk, off);
    off += chunk.length;
  }
  assert.equal(off, vectors.length, 'chunks cover the view exactly');
  return { dimension: img.dimension, metric: img.metric, ids: [...img.ids], vectors, metadata: [...img.metadata] };
}

/** Expected content of an image: id -> vector hex, in view order. */
export function imageState(cols: Columns): [Id, string, string | undefined][] {
  const d = cols.dimension;
  return cols.ids.map((id, i) => [id, bytes(cols.vectors.subarray(i * d, (i + 1) * d)).toString('hex'), cols.metadata[i] === undefined ? undefined : JSON.stringify(cols.metadata[i])]);
}

/** The {@link imageState} of an image of `db` opened and released now. */
export function imageNow(db: VectorDB): ReturnType<typeof imageState> {
  const img = db.openImage();
  const s = imageState(readImage(img, 1000));
  img.release();
  return s;
}

/** A naive search over plain entries: the reference the engine is compared with. */
export function naiveSearch(
  entries: { id: Id; vector: Float32Array; metadata?: Metadata }[],
  metric: Metric,
  query: Float32Array,
  k: number,
  threshold?: number,
  pred?: (m: Metadata | undefined) => boolean,
): { id: Id; score: number }[] {
  const scored = entries.map((e, order) => ({ id: e.id, score: naiveScore(metric, e.vector, query), order, md: e.metadata }));
  const lower = metric === 'euclidean' || metric === 'manhattan';
  return scored
    .filter((s) => threshold === undefined || (lower ? s.score <= threshold : s.score >= threshold))
    .filter((s) => !pred || pred(s.md))
    .sort((a, b) => (lower ? a.score - b.score : b.score - a.score) || a.order - b.order)
    .slice(0, k)
    .map(({ id, score }) => ({ id, score }));
}

/** Score of one vector against a query, computed the obvious way in double precision. */
export function naiveScore(metric: Metric, a: Float32Array, q: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nq = 0;
  let l2 = 0;
  let l1 = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * q[i];
    na += a[i] * a[i];
    nq += q[i] * q[i];
    l2 += (a[i] - q[i]) ** 2;
    l1 += Math.abs(a[i] - q[i]);
  }
  switch (metric) {
    case 'dot':
      return dot;
    case 'cosine':
      return na === 0 || nq === 0 ? 0 : Math.max(-1, Math.min(1, dot / (Math.sqrt(na) * Math.sqrt(nq))));
    case 'euclidean':
      return Math.sqrt(l2);
    case 'manhattan':
      return l1;
  }
}
