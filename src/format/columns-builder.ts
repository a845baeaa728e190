/**
 * Accumulates decoded entries into columns: a geometrically grown Float32Array of vectors plus id
 * and metadata arrays, rejecting duplicate ids. Capacity hints from a file's header are only hints:
 * callers bound them by what the file's size allows before passing them in.
 */
import type { Id, Metadata } from '../engine/types.js';
import { OFFLOAD_MIN_BYTES } from '../util/hash-worker.js';
import { markDecodedMetadata } from '../util/json-text.js';

const MIN_CAPACITY = 16;

/** Options of {@link ColumnsBuilder}. */
export interface ColumnsBuilderOptions {
  /**
   * Back big vector stores with shared memory (as the engine's own slabs are), so the helper thread
   * can fault their pages in ahead of the decoder (see startPrefault) and later hash them in place.
   * Never for a builder whose vectors are moved to another thread in a transfer list.
   */
  shared?: boolean;
}

/** Growing columns of (id, float32 vector, metadata) with duplicate-id detection. */
export class ColumnsBuilder {
  /** Vector length; 0 until known (from the header or the first vector). */
  dimension = 0;
  /** Entries committed so far. */
  count = 0;
  /** Backing store; entry i lives at [i*dimension, (i+1)*dimension). Longer than needed. */
  vectors: Float32Array = new Float32Array(0);
  readonly ids: Id[] = [];
  readonly metadata: (Metadata | undefined)[] = [];
  private readonly seen = new Set<Id>();
  private hint = 0;

  constructor(private readonly options: ColumnsBuilderOptions = {}) {
    // Every builder is filled by a reader's decoding (see markDecodedMetadata).
    markDecodedMetadata(this.metadata);
  }

  /** Suggests a capacity in entries (already bounded by the caller); applied once the dimension is known. */
  capacityHint(entries: number): void {
    this.hint = Math.max(0, Math.floor(entries));
  }

  /** Fixes the dimension (once). */
  setDimension(dimension: number): void {
    this.dimension = dimension;
    const cap = Math.max(this.hint, MIN_CAPACITY);
    this.vectors = this.allocate(cap * dimension);
  }

  /** Makes room for entry `count` and returns the store to write its vector into. */
  slot(): Float32Array {
    return this.reserve(1);
  }

  /** Makes room for `n` more entries and returns the store. */
  reserve(n: number): Float32Array {
    const need = (this.count + n) * this.dimension;
    if (need > this.vectors.length) {
      const grown = this.allocate(Math.max(need, Math.ceil(this.vectors.length * 1.5)));
      grown.set(this.vectors.subarray(0, this.count * this.dimension));
      this.vectors = grown;
    }
    return this.vectors;
  }

  private allocate(floats: number): Float32Array {
    const bytes = floats * 4;
    return new Float32Array(this.options.shared && bytes >= OFFLOAD_MIN_BYTES ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  }

  /** True when `id` was already committed. */
  has(id: Id): boolean {
    return this.seen.has(id);
  }

  /**
   * Records entry `count` (its vector already written into `slot()`); returns false, recording
   * nothing, when `id` was already committed.
   */
  commit(id: Id, metadata: Metadata | undefined): boolean {
    const before = this.seen.size;
    this.seen.add(id);
    if (this.seen.size === before) return false;
    this.ids.push(id);
    this.metadata.push(metadata);
    this.count++;
    return true;
  }

  /** The vectors trimmed to exactly count*dimension (copied only when much capacity would be wasted). */
  finalVectors(): Float32Array {
    const n = this.count * this.dimension;
    if (this.vectors.length === n) return this.vectors;
    if (n >= this.vectors.length * 0.9) return this.vectors.subarray(0, n);
    return this.vectors.slice(0, n);
  }
}
