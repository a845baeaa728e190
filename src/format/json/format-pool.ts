/**
 * A small pool of worker threads that format vector chunks into JSON text while the main thread
 * assembles entries, hashes and writes (number formatting is most of a JSON save's CPU time). Replies
 * are consumed in submission order. When worker threads are unavailable the chunks are formatted
 * inline, with the same results.
 */
import { availableParallelism } from 'node:os';
import { RequestThread } from '../../util/request-thread.js';
import { formatChunk, ownBuffers, type FormatReply, type FormatRequest } from './format-chunk.js';
import { Keeper, type Keepable } from './keeper.js';

/** Below this many floats a save formats on the main thread (starting workers costs ~30 ms). */
export const PARALLEL_MIN_FLOATS = 1 << 22;
/** The default number of formatting threads (the pool of this size is kept between saves). */
const DEFAULT_WORKERS = 2;

/** Worker count for a job of `floats` numbers: `requested` if given, else 2 when it is big and there are 2+ cores. */
export function formatWorkerCount(floats: number, requested?: number): number {
  if (requested !== undefined) return Math.max(0, Math.floor(requested));
  if (floats < PARALLEL_MIN_FLOATS) return 0;
  return availableParallelism() >= 2 ? DEFAULT_WORKERS : 0;
}

const kept = new Keeper(() => new FormatPool(DEFAULT_WORKERS));

/** A pool of `size` threads: the kept shared one for the default size, else a private one. */
export function acquireFormatPool(size: number): FormatPool {
  return size === DEFAULT_WORKERS ? kept.acquire() : new FormatPool(size);
}

/** Gives back a pool from {@link acquireFormatPool} (the shared one stays warm for a while). */
export function releaseFormatPool(pool: FormatPool): Promise<void> {
  return kept.release(pool);
}

/** Formats chunks on worker threads (or inline when `size` is 0 or workers cannot start). */
export class FormatPool implements Keepable {
  private readonly threads: RequestThread<FormatRequest, FormatReply>[] = [];
  private next = 0;
  private closed = false;
  private spares: Uint8Array[] = [];
  private vectorSpares: Float32Array[] = [];

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const t = new RequestThread<FormatRequest, FormatReply>(new URL('./format-worker.js', import.meta.url), 'JSON format worker');
      if (!t.started) break;
      this.threads.push(t);
    }
  }

  /**
   * Formats the entries of `vectors` between their surrounding texts (see FormatRequest); the arrays
   * are owned by the pool from now on (they are transferred to a worker). `shared`: text in shared memory.
   */
  format(vectors: Float32Array, parts: Uint8Array, cuts: Uint32Array, dimension: number, shared: boolean): Promise<FormatReply> {
    const spare = this.spares.pop();
    const req = { dimension, vectors, parts, cuts, shared, spare };
    if (this.threads.length === 0) {
      try {
        return Promise.resolve(formatChunk({ seq: 0, ...req }));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const transfer = ownBuffers([vectors, parts, cuts, spare]);
    return this.threads[this.next++ % this.threads.length].request(req, transfer);
  }

  /** Number of worker threads (0: formatting inline). */
  get size(): number {
    return this.threads.length;
  }

  /** False once a worker failed or the pool was closed. */
  get healthy(): boolean {
    return !this.closed && this.threads.every((t) => t.healthy);
  }

  /** Lets the threads keep the process alive (while in use). */
  ref(): void {
    for (const t of this.threads) t.ref();
  }

  /** Stops the threads from keeping the process alive (while idle). */
  unref(): void {
    for (const t of this.threads) t.unref();
  }

  /** Hands a reply's text buffer back for reuse by a later request. */
  recycle(text: Uint8Array): void {
    if (this.spares.length < 4) this.spares.push(text);
  }

  /**
   * A Float32Array of `length` to copy a chunk into before {@link format}: a recycled one when
   * possible (fresh buffers per chunk cost the main thread allocation and GC time).
   */
  takeVectors(length: number): Float32Array {
    const spare = this.vectorSpares.pop();
    return spare !== undefined && spare.buffer.byteLength >= length * 4 ? new Float32Array(spare.buffer, 0, length) : new Float32Array(length);
  }

  /** Hands a reply's vectors back for reuse by {@link takeVectors}. */
  recycleVectors(vectors: Float32Array): void {
    if (this.vectorSpares.length < 4) this.vectorSpares.push(vectors);
  }

  /** Stops the workers (pending requests are rejected). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.splice(0).map((t) => t.close()));
  }
}
