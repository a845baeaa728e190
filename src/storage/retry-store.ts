/**
 * Retries transient store failures (EIO, timeouts, throttling) with exponential backoff and full
 * jitter, around any SnapshotStore. Only operations that can be repeated safely are retried: reads,
 * stats, lists and deletes always; puts when their body is a Uint8Array (a streamed body cannot be
 * replayed); streamed reads until their first chunk has been delivered.
 */
import { QuiverError } from '../errors.js';
import { MAX_TIMER_MS } from '../util/long-timer.js';
import { checkAbort, readInto, type PutResult, type ReadIntoOptions, type SnapshotStore, type StoreBody, type StoreObjectInfo, type StoreOpOptions, type StoreReadOptions } from './store.js';

/** Codes retried by default. Everything else (NOT_FOUND, ENOSPC, EACCES, CORRUPT, ABORTED, ...) fails at once. */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set(['EIO', 'EAGAIN', 'EBUSY', 'ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'EMFILE', 'ENFILE', 'IO_ERROR', 'BUSY']);

/** What `onRetry` is told before each new attempt. */
export interface RetryEvent {
  op: string;
  key: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  delayMs: number;
  error: unknown;
}

/** Options of {@link RetryingSnapshotStore}. */
export interface RetryOptions {
  /** Retries after the first attempt (default 3). */
  retries?: number;
  /** First backoff ceiling in ms (default 25); doubles per attempt. */
  baseDelayMs?: number;
  /** Largest backoff ceiling in ms (default 2000). */
  maxDelayMs?: number;
  /** Decides whether an error is transient (default: its code is in TRANSIENT_CODES, or `retryable === true`). */
  isRetryable?: (err: unknown) => boolean;
  onRetry?: (event: RetryEvent) => void;
  /** Random source in [0, 1) for the jitter (tests pass a fixed one). */
  random?: () => number;
}

/** The default transient-error test. */
export function isTransient(err: unknown): boolean {
  const e = err as { code?: unknown; retryable?: unknown } | null;
  if (e?.retryable === true) return true;
  return typeof e?.code === 'string' && TRANSIENT_CODES.has(e.code);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new QuiverError('ABORTED', 'the store operation was aborted while waiting to retry'));
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new QuiverError('ABORTED', 'the store operation was aborted while waiting to retry'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A SnapshotStore wrapper that retries transient failures. */
export class RetryingSnapshotStore implements SnapshotStore {
  readonly location: string;
  private readonly retries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly retryable: (err: unknown) => boolean;
  private readonly onRetry: ((e: RetryEvent) => void) | undefined;
  private readonly random: () => number;

  constructor(readonly inner: SnapshotStore, options: RetryOptions = {}) {
    const int = (name: string, v: number | undefined, dflt: number, max = Number.MAX_SAFE_INTEGER): number => {
      if (v === undefined) return dflt;
      if (!Number.isSafeInteger(v) || v < 0 || v > max) throw new QuiverError('INVALID_ARGUMENT', `RetryOptions.${name} must be a whole number 0..${max}, got ${String(v)}`);
      return v;
    };
    this.location = inner.location;
    this.retries = int('retries', options.retries, 3);
    // A delay over Node's timer limit would fire after 1 ms.
    this.baseDelayMs = int('baseDelayMs', options.baseDelayMs, 25, MAX_TIMER_MS);
    this.maxDelayMs = int('maxDelayMs', options.maxDelayMs, 2000, MAX_TIMER_MS);
    this.retryable = options.isRetryable ?? isTransient;
    this.onRetry = options.onRetry;
    this.random = options.random ?? Math.random;
  }

  locate(key: string): string {
    return this.inner.locate(key);
  }

  put(key: string, body: StoreBody, options?: StoreOpOptions): Promise<PutResult> {
    if (!(body instanceof Uint8Array)) return this.inner.put(key, body, options);
    return this.attempt('put', key, options?.signal, () => this.inner.put(key, body, options));
  }

  get(key: string, options?: StoreOpOptions): Promise<Uint8Array> {
    return this.attempt('get', key, options?.signal, () => this.inner.get(key, options));
  }

  async *read(key: string, options?: StoreReadOptions): AsyncIterable<Uint8Array> {
    // Retry opening (up to the first chunk); a failure after data was delivered cannot be hidden.
    const first = await this.attempt('read', key, options?.signal, async () => {
      const it = this.inner.read(key, options)[Symbol.asyncIterator]();
      try {
        return { it, head: await it.next() };
      } catch (err) {
        await it.return?.().catch(() => undefined);
        throw err;
      }
    });
    const { it } = first;
    let r = first.head;
    try {
      while (!r.done) {
        yield r.value;
        r = await it.next();
      }
    } finally {
      if (!r.done) await it.return?.().catch(() => undefined);
    }
  }

  async readInto(key: string, target: Uint8Array, options: ReadIntoOptions = {}): Promise<number> {
    // Retried only while nothing has been handed to `onChunk` (a consumer cannot take chunks back).
    let delivered = false;
    const onChunk = (c: Uint8Array): void => {
      delivered = true;
      options.onChunk?.(c);
    };
    return this.attempt('read', key, options.signal, () => readInto(this.inner, key, target, { ...options, onChunk }), () => !delivered);
  }

  stat(key: string, options: StoreOpOptions = {}): Promise<StoreObjectInfo | null> {
    return this.attempt('stat', key, options.signal, () => this.inner.stat(key, options));
  }

  list(prefix?: string, options: StoreOpOptions = {}): Promise<StoreObjectInfo[]> {
    return this.attempt('list', prefix ?? '', options.signal, () => this.inner.list(prefix, options));
  }

  // A failed attempt of a delete may have removed something, so its signal stops it only before the
  // first attempt (see SnapshotStore.delete): the retries run to their end.
  async delete(key: string, options: StoreOpOptions = {}): Promise<boolean> {
    checkAbort(options.signal, `delete ${key}`);
    return this.attempt('delete', key, undefined, () => this.inner.delete(key));
  }

  async deletePrefix(prefix: string, options: StoreOpOptions = {}): Promise<number> {
    checkAbort(options.signal, `delete ${prefix}`);
    return this.attempt('deletePrefix', prefix, undefined, () => this.inner.deletePrefix(prefix));
  }

  newestInProgress(prefix: string): Promise<number | undefined> {
    return this.inner.newestInProgress?.(prefix) ?? Promise.resolve(undefined);
  }

  sweep(olderThanMs: number): Promise<string[]> {
    return this.attempt('sweep', '', undefined, () => this.inner.sweep(olderThanMs));
  }

  private async attempt<T>(op: string, key: string, signal: AbortSignal | undefined, fn: () => Promise<T>, canRetry: () => boolean = () => true): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt > this.retries || !this.retryable(err) || !canRetry()) throw err;
        // A failed put may still have stored its object (a publish whose directory fsync failed), so the
        // caller who gave up gets that failure, never ABORTED ("nothing was published"). For the other
        // operations, which change nothing, the answer is the abort.
        if (signal?.aborted) throw op === 'put' ? err : new QuiverError('ABORTED', `${op} ${key} was aborted after a failed attempt; nothing was changed`, { op, key }, { cause: err });
        const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        const delayMs = Math.floor(this.random() * ceiling);
        this.onRetry?.({ op, key, attempt, delayMs, error: err });
        await sleep(delayMs, signal).catch((abort: unknown) => Promise.reject(op === 'put' ? err : abort));
      }
    }
  }
}
