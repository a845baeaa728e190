/**
 * Types shared by the engine and the layers that read or write its contents (format, persistence).
 * Nothing here has behaviour; the contracts are described on each type.
 */

/** An entry id. Strings are the norm; safe integers are accepted and come back as numbers. */
export type Id = string | number;

/** Distance metric of a collection. See README "Search scores" for what `score` means for each. */
export type Metric = 'cosine' | 'euclidean' | 'dot' | 'manhattan';

/** Entry metadata: a plain JSON object (nested objects, arrays, strings, finite numbers, booleans, null). */
export type Metadata = Record<string, unknown>;

/**
 * Metadata still in its logged encoding: buf[start, end) holds one MessagePack map that
 * `decodesInPlace` (util/msgpack.ts) accepted, decoded with `unpackPlainMapAt`. Valid only during the
 * call it is passed to.
 */
export interface MetadataBytes {
  buf: Buffer;
  start: number;
  end: number;
}

/** What callers pass to insert. Vectors may be plain arrays or Float32Array. */
export interface VectorEntry {
  id?: Id;
  vector: ArrayLike<number>;
  metadata?: Metadata;
}

/** An entry as the database returns it: float32 vector (a copy) and a copy of its metadata. */
export interface StoredEntry {
  id: Id;
  vector: Float32Array;
  metadata?: Metadata;
}

/** A range condition on a numeric (or string) metadata field. */
export interface RangeCondition {
  gte?: number | string;
  gt?: number | string;
  lte?: number | string;
  lt?: number | string;
}

/** One field condition of a filter: equality, range, any-of or all-of (the reference-004 filter language). */
export type FieldCondition = unknown | RangeCondition | { any: unknown[] } | { all: unknown[] };

/** A metadata filter: every key must match its condition. */
export type Filter = Record<string, FieldCondition>;

/** A search request (the reference VectorDB shape). */
export interface SearchQuery {
  vector: ArrayLike<number>;
  /** Number of results, default 10. */
  k?: number;
  filter?: Filter;
  /** For cosine/dot: minimum score; for euclidean/manhattan: maximum distance. */
  threshold?: number;
  /** Accepted for compatibility with HNSW engines; flat search is exact and ignores it. */
  efSearch?: number;
}

/** One search hit, best first. */
export interface SearchResult {
  id: Id;
  score: number;
  vector: Float32Array;
  metadata?: Metadata;
}

/** `stats()` of a database. */
export interface DbStats {
  count: number;
  dimension: number;
  metric: Metric;
  /** Bytes held by vectors, norms, ids and an estimate of metadata. */
  memoryUsage: number;
  indexType: 'flat';
}

/** Reference 001's name for {@link VectorDBOptions}. */
export type DbOptions = VectorDBOptions;

/** Options of `new VectorDB(...)`; the reference's spellings and aliases are accepted. */
export interface VectorDBOptions {
  dimension?: number;
  dimensions?: number;
  metric?: Metric;
  distanceMetric?: Metric;
  /** Accepted for compatibility; the flat index ignores it. */
  hnswConfig?: { m?: number; efConstruction?: number; efSearch?: number; maxElements?: number };
  /** Accepted for compatibility with the reference VectorDB; persistence goes through DatabasePersistence. */
  storagePath?: string;
  /** Initial capacity in entries (the slab grows by doubling). */
  initialCapacity?: number;
}

/**
 * The full contents of a database as columns, entry i being (ids[i], vectors[i*dim..], metadata[i]).
 * Produced by readers and adopted by `VectorDB.replaceAll` without copying `vectors`.
 */
export interface Columns {
  dimension: number;
  metric: Metric;
  ids: Id[];
  vectors: Float32Array;
  metadata: (Metadata | undefined)[];
}

/**
 * A frozen, point-in-time read view of a database (or of the entries changed since a sequence number),
 * for writers. Mutations made after it was opened do not show through (copy-on-write); call `release()`
 * when done so the engine stops preserving old vectors.
 */
export interface CollectionImage {
  readonly dimension: number;
  readonly metric: Metric;
  /** Sequence number of the last mutation included. */
  readonly seq: number;
  /** Number of entries in the view. */
  readonly count: number;
  /** Entry ids in view order. */
  readonly ids: readonly Id[];
  /** Entry metadata in view order (shared, never mutated by the engine). */
  readonly metadata: readonly (Metadata | undefined)[];
  /**
   * True when every id and metadata object was checked on its way in and never changed since (the
   * engine's change images), so writers need not check them again.
   */
  readonly checked?: boolean;
  /**
   * The view's vectors in order, as consecutive float32 chunks of at most `maxEntries` entries each.
   * Chunks may alias engine memory: consume each before asking for the next, unless `hold` (from this
   * image's `holdChunks`) keeps it longer.
   */
  vectorChunks(maxEntries: number, hold?: ChunkHold): Iterable<Float32Array>;
  /**
   * Optional: a hold for one `vectorChunks` walk. A chunk of that walk that aliases engine memory can
   * then be kept unchanged until the hold is released, not only until the next chunk, so that a writer
   * can let work on it (a hash on another thread) outlast its step.
   */
  holdChunks?(): ChunkHold;
  /** Stop preserving this view. Idempotent. */
  release(): void;
}

/** See {@link CollectionImage.holdChunks}. */
export interface ChunkHold {
  /**
   * Keeps `bytes`, the walk's current chunk, unchanged past the next chunk until `release()`. False,
   * keeping nothing, when it cannot: `bytes` are a copy or not the current chunk, or the hold ended.
   */
  keep(bytes: ArrayBufferView): boolean;
  /** False once the image was released while this hold kept chunks: their memory may have changed since. */
  readonly intact: boolean;
  /** Ends the hold: the engine may overwrite the kept chunks' memory again. Idempotent. */
  release(): void;
}

/** The changes since a sequence number, as a view: upserted entries plus deleted ids. */
export interface ChangeImage extends CollectionImage {
  /** The sequence number the changes are relative to. */
  readonly sinceSeq: number;
  /** True when the database was cleared after `sinceSeq`: apply as clear, then upserts. */
  readonly cleared: boolean;
  /** Ids deleted after `sinceSeq` and not present now. */
  readonly deletedIds: readonly Id[];
  /**
   * Entries in the database at `seq` (all of them, not only the changed ones): what a file holding the
   * state at `sinceSeq` holds once the changes are applied, which an in-place update checks its result by.
   */
  readonly total: number;
}

/** A decoded delta, ready to apply with `VectorDB.applyDelta`. */
export interface DeltaColumns extends Columns {
  cleared: boolean;
  deletedIds: Id[];
}
