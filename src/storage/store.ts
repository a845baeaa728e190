/**
 * The snapshot store seam: a flat namespace of immutable-once-written objects under `/`-separated keys
 * (see keys.ts), with whole-object atomic puts and streaming reads and writes. The file-system and
 * in-memory stores implement it here; an object store (S3) implements the same contract and must pass
 * the same conformance suite (test/storage/store-suite.ts). Retry and hash verification are wrappers
 * (retry-store.ts, verify-store.ts), never code inside a store.
 *
 * Contract every implementation keeps:
 * - `put` is atomic: a reader sees the previous object or the complete new one, never a prefix; a put
 *   that fails or is aborted leaves the previous object (or its absence) as it was. After `put`
 *   resolves the object is durable (as durable as the backend can make it).
 * - Missing objects: `get` and `read` throw QuiverError `NOT_FOUND`; `stat` returns null; `delete`
 *   returns false.
 * - `list` returns objects sorted by key (code-unit order) and never shows temporaries.
 * - OS failures are QuiverErrors keeping the OS code (ENOSPC, EIO, ...); network and service failures
 *   of remote stores are IO_ERROR (transient; the cause's code in `details`); an aborted signal
 *   makes the operation fail with `ABORTED`, and an operation that fails so has changed nothing (a
 *   delete checks its signal only before it removes anything).
 */
import { QuiverError } from '../errors.js';
import { throwIfAborted } from '../util/abort.js';

/** What `stat` and `list` report about an object. */
export interface StoreObjectInfo {
  key: string;
  /** Size in bytes. */
  size: number;
  /** Last modification time, ms since the epoch. */
  mtimeMs: number;
}

/**
 * Receives an object's bytes in order. The store has consumed (copied or written) `chunk` when the
 * promise resolves; until then the caller must not change it.
 */
export type ChunkSink = (chunk: Uint8Array) => Promise<void>;

/** The bytes of a put: one buffer, an async iterable of chunks, or a producer writing into a sink. */
export type StoreBody = Uint8Array | AsyncIterable<Uint8Array> | ((write: ChunkSink) => Promise<void>);

/** Options of every store operation that can take long. */
export interface StoreOpOptions {
  signal?: AbortSignal;
}

/** Options of `read`. */
export interface StoreReadOptions extends StoreOpOptions {
  /** Preferred chunk size in bytes (a hint; default 4 MiB). */
  chunkBytes?: number;
}

/** Options of `readInto`. */
export interface ReadIntoOptions extends StoreReadOptions {
  /** Sees each range of `target` once it has been filled, in order. */
  onChunk?: (chunk: Uint8Array) => void;
}

/** What `put` returns. */
export interface PutResult {
  key: string;
  size: number;
}

/** A snapshot store; see the module comment for the contract. */
export interface SnapshotStore {
  /** A short human-readable location (a directory, `memory`, a bucket URL) for messages. */
  readonly location: string;
  /** Writes an object atomically, replacing any previous one. */
  put(key: string, body: StoreBody, options?: StoreOpOptions): Promise<PutResult>;
  /** The whole object. */
  get(key: string, options?: StoreOpOptions): Promise<Uint8Array>;
  /** The object as a stream of chunks (each a fresh buffer the consumer may keep). */
  read(key: string, options?: StoreReadOptions): AsyncIterable<Uint8Array>;
  /**
   * Optional fast path: reads the whole object into `target` (no intermediate buffers) and returns its
   * size, telling `onChunk` about each range in order. An object larger than `target` fails with
   * LIMIT_EXCEEDED. Callers go through {@link readInto}, which falls back to `read` when absent.
   */
  readInto?(key: string, target: Uint8Array, options?: ReadIntoOptions): Promise<number>;
  /** Size and mtime of an object, or null when absent. */
  stat(key: string, options?: StoreOpOptions): Promise<StoreObjectInfo | null>;
  /** Every object whose key starts with `prefix` (default: all), sorted by key. */
  list(prefix?: string, options?: StoreOpOptions): Promise<StoreObjectInfo[]>;
  /**
   * Removes an object; false when it was absent. Durable when it resolves. The signal is checked before
   * anything is removed: once removing has begun it runs to its end, so `ABORTED` means nothing changed.
   */
  delete(key: string, options?: StoreOpOptions): Promise<boolean>;
  /**
   * Removes every object under `prefix` (and, for `dir/` prefixes, leftovers there); returns the count of
   * objects removed. The signal is checked as for `delete`: before the first removal, never after.
   */
  deletePrefix(prefix: string, options?: StoreOpOptions): Promise<number>;
  /**
   * Removes leftovers of interrupted puts (temporaries, empty folders) last modified before
   * `olderThanMs` (ms since the epoch); returns what was removed. Stores without such leftovers do nothing.
   */
  sweep(olderThanMs: number): Promise<string[]>;
  /**
   * The newest modification time (ms since the epoch) of the puts still in progress under the folder
   * `prefix` (ending in `/`), which `list` does not show; undefined when there are none. Garbage
   * collection dates a folder by it too, so a put that takes long is not mistaken for a leftover.
   * Stores whose puts never show partial state need not have it.
   */
  newestInProgress?(prefix: string): Promise<number | undefined>;
  /** Where `key` lives, for error messages (a file path, a URL). */
  locate(key: string): string;
}

/** Throws QuiverError ABORTED when `signal` is aborted. */
export function checkAbort(signal: AbortSignal | undefined, what: string): void {
  throwIfAborted(signal, `${what} was aborted; nothing was changed`);
}

/** Feeds a StoreBody into `sink` chunk by chunk, checking `signal` between chunks. Returns the byte count. */
export async function pumpBody(body: StoreBody, sink: ChunkSink, signal: AbortSignal | undefined, what: string): Promise<number> {
  let size = 0;
  const write: ChunkSink = async (chunk) => {
    if (!(chunk instanceof Uint8Array)) throw new TypeError(`${what}: body chunks must be Uint8Arrays`);
    checkAbort(signal, what);
    size += chunk.length;
    if (chunk.length > 0) await sink(chunk);
  };
  checkAbort(signal, what);
  if (body instanceof Uint8Array) await write(body);
  else if (typeof body === 'function') await body(write);
  else if (body !== null && typeof body === 'object' && Symbol.asyncIterator in body) {
    for await (const chunk of body) await write(chunk);
  } else {
    throw new TypeError(`${what}: the body must be a Uint8Array, an async iterable of Uint8Arrays or a producer function`);
  }
  checkAbort(signal, what);
  return size;
}

/** Reads a whole object by concatenating `read` chunks (for stores whose `get` is built on `read`). */
export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const c of chunks) {
    parts.push(c);
    total += c.length;
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The QuiverError stores throw for a missing object. */
export function notFound(key: string, where: string, why?: string): QuiverError {
  return new QuiverError('NOT_FOUND', `${where}: no such object "${key}"${why === undefined ? '' : ` (${why})`}`, { key, where });
}

/** `store.readInto` when the store has it, else `read` copied into `target`. */
export async function readInto(store: SnapshotStore, key: string, target: Uint8Array, options: ReadIntoOptions = {}): Promise<number> {
  if (store.readInto) return store.readInto(key, target, options);
  let at = 0;
  for await (const chunk of store.read(key, options)) {
    if (at + chunk.length > target.length) {
      throw new QuiverError('LIMIT_EXCEEDED', `${store.locate(key)} holds more than the ${target.length} bytes expected`, { key });
    }
    target.set(chunk, at);
    options.onChunk?.(target.subarray(at, at + chunk.length));
    at += chunk.length;
  }
  return at;
}
