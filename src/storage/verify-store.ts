/**
 * Hash verification around any SnapshotStore: every put is hashed (SHA-256) as it streams and, by
 * default, read back and compared before it is acknowledged (catching a backend that stores something
 * other than what it was sent); every later read of a key whose hash is known (written through this
 * wrapper, or registered with `expect`) is checked against it.
 */
import { createHash } from 'node:crypto';
import { CorruptionError } from '../errors.js';
import { checkAbort, pumpBody, readInto, type PutResult, type ReadIntoOptions, type SnapshotStore, type StoreBody, type StoreObjectInfo, type StoreOpOptions, type StoreReadOptions } from './store.js';

/** Options of {@link VerifyingSnapshotStore}. */
export interface VerifyingStoreOptions {
  /** Re-read every object after writing it and compare hashes (default true). */
  readBack?: boolean;
  /**
   * Keys that other writers may rewrite, whose hash is therefore checked after this wrapper's own put
   * but not remembered for later reads (default: snapshot commit records, `…/metadata.json`, which pins
   * and folds rewrite and which carry their own `selfSha256`).
   */
  mutable?: (key: string) => boolean;
}

const MUTABLE_DEFAULT = (key: string): boolean => key === 'metadata.json' || key.endsWith('/metadata.json');

/** A SnapshotStore wrapper that verifies SHA-256 hashes of what it writes and reads. */
export class VerifyingSnapshotStore implements SnapshotStore {
  readonly location: string;
  private readonly readBack: boolean;
  private readonly mutable: (key: string) => boolean;
  private readonly known = new Map<string, string>();

  constructor(readonly inner: SnapshotStore, options: VerifyingStoreOptions = {}) {
    this.location = inner.location;
    this.readBack = options.readBack ?? true;
    this.mutable = options.mutable ?? MUTABLE_DEFAULT;
  }

  /** The hex SHA-256 this wrapper expects for `key`, if known. */
  expectedHash(key: string): string | undefined {
    return this.known.get(key);
  }

  /** Registers the hex SHA-256 reads of `key` must match (e.g. from a checksum file). */
  expect(key: string, sha256: string): void {
    this.known.set(key, sha256.toLowerCase());
  }

  locate(key: string): string {
    return this.inner.locate(key);
  }

  async put(key: string, body: StoreBody, options: StoreOpOptions = {}): Promise<PutResult> {
    // Until this put has succeeded the key holds either version (a failed put may still have landed).
    this.known.delete(key);
    const h = createHash('sha256');
    const result = await this.inner.put(key, (write) => pumpBody(body, (chunk) => {
      h.update(chunk);
      return write(chunk);
    }, options.signal, `put ${key}`).then(() => undefined), options);
    const sent = h.digest('hex');
    if (this.readBack) {
      const rh = createHash('sha256');
      // Without the signal: the object is published now, and an abort must not make this put report
      // ABORTED ("nothing was published") for it.
      for await (const chunk of this.inner.read(key, { ...options, signal: undefined })) rh.update(chunk);
      const stored = rh.digest('hex');
      if (stored !== sent) {
        // A new object that did not store right goes (its writer's failure cleans up the rest). A
        // rewritten one stays: the version it replaced is gone already, and removing a snapshot's commit
        // record on what may be one bad read would make its data collectable garbage; left, it is at
        // worst reported damaged, which is never removed automatically.
        if (!this.mutable(key)) await this.inner.delete(key).catch(() => undefined);
        throw this.mismatch(key, sent, stored, 'was read back different from what was written');
      }
    }
    if (!this.mutable(key)) this.known.set(key, sent);
    return result;
  }

  async get(key: string, options?: StoreOpOptions): Promise<Uint8Array> {
    const data = await this.inner.get(key, options);
    const want = this.known.get(key);
    if (want !== undefined) {
      const got = createHash('sha256').update(data).digest('hex');
      if (got !== want) throw this.mismatch(key, want, got, 'does not match the hash it was written with');
    }
    return data;
  }

  async *read(key: string, options?: StoreReadOptions): AsyncIterable<Uint8Array> {
    const want = this.known.get(key);
    const h = want === undefined ? undefined : createHash('sha256');
    for await (const chunk of this.inner.read(key, options)) {
      h?.update(chunk);
      yield chunk;
    }
    if (h && want !== undefined) {
      const got = h.digest('hex');
      if (got !== want) throw this.mismatch(key, want, got, 'does not match the hash it was written with');
    }
  }

  async readInto(key: string, target: Uint8Array, options: ReadIntoOptions = {}): Promise<number> {
    const want = this.known.get(key);
    const h = want === undefined ? undefined : createHash('sha256');
    const n = await readInto(this.inner, key, target, {
      ...options,
      onChunk: (c) => {
        h?.update(c);
        options.onChunk?.(c);
      },
    });
    if (h && want !== undefined) {
      const got = h.digest('hex');
      if (got !== want) throw this.mismatch(key, want, got, 'does not match the hash it was written with');
    }
    return n;
  }

  stat(key: string, options?: StoreOpOptions): Promise<StoreObjectInfo | null> {
    return this.inner.stat(key, options);
  }

  list(prefix?: string, options?: StoreOpOptions): Promise<StoreObjectInfo[]> {
    return this.inner.list(prefix, options);
  }

  async delete(key: string, options: StoreOpOptions = {}): Promise<boolean> {
    checkAbort(options.signal, `delete ${key}`);
    this.known.delete(key);
    return this.inner.delete(key);
  }

  async deletePrefix(prefix: string, options: StoreOpOptions = {}): Promise<number> {
    checkAbort(options.signal, `delete ${prefix}`);
    for (const k of [...this.known.keys()]) if (k.startsWith(prefix)) this.known.delete(k);
    return this.inner.deletePrefix(prefix);
  }

  newestInProgress(prefix: string): Promise<number | undefined> {
    return this.inner.newestInProgress?.(prefix) ?? Promise.resolve(undefined);
  }

  sweep(olderThanMs: number): Promise<string[]> {
    return this.inner.sweep(olderThanMs);
  }

  private mismatch(key: string, want: string, got: string, what: string): CorruptionError {
    return new CorruptionError({ file: this.inner.locate(key), section: 'object' }, `the object ${what} (expected SHA-256 ${want}, got ${got})`, 'CHECKSUM_MISMATCH');
  }
}
