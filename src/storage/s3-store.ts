/**
 * A SnapshotStore in an S3 bucket (AWS S3 or any S3-compatible service: MinIO, Ceph, R2, ...), through
 * the AWS SDK v3. Store key `a/b` is the object `<prefix>a/b` of the bucket.
 *
 * How it keeps the store contract:
 * - Atomic puts: S3 publishes an object whole when its PutObject or CompleteMultipartUpload succeeds
 *   (s3-upload.ts): bodies up to one part go up in one PutObject, longer ones as a multipart upload that
 *   a failing producer, a failed part or the signal aborts before it publishes, so the previous object
 *   stays in place and no parts are left behind.
 * - Durability: S3 acknowledges a write once it is stored redundantly; reads after it see it.
 * - A read is one GET, so it sees one version of the object even if it is replaced meanwhile.
 * - Leftovers: an interrupted multipart upload (a killed process) is invisible to `list`; `sweep` aborts
 *   those whose last part (or start) is older than its cutoff, and `newestInProgress` dates folders by
 *   them for garbage collection, so an upload still making progress is never taken for a leftover.
 *
 * The SDK is loaded on first use, so programs that never touch S3 do not pay for loading it.
 */
import type { Readable } from 'node:stream';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { QuiverError } from '../errors.js';
import { checkKey, checkPrefix } from './keys.js';
import { isGoneUpload, isMissingObject, isNotSupported, s3Error } from './s3-errors.js';
import { uploadObject, type ClientModule } from './s3-upload.js';
import { checkAbort, collect, type PutResult, type ReadIntoOptions, type SnapshotStore, type StoreBody, type StoreObjectInfo, type StoreOpOptions, type StoreReadOptions } from './store.js';


/** S3's smallest multipart part (every part but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const DEFAULT_QUEUE_SIZE = 4;
const DEFAULT_CHUNK = 4 << 20;
/** Connection set-up limit of the client the store creates. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long the store's own client lets a connection sit without any bytes moving before it fails. */
const IDLE_TIMEOUT_MS = 60_000;
/** Keys per DeleteObjects request (S3's limit). */
const DELETE_BATCH = 1000;
const PREFIX_CHARS = /^[A-Za-z0-9._=/-]*$/;

/** Options of {@link S3SnapshotStore}. */
export interface S3StoreOptions {
  /** The bucket; it must exist. */
  bucket: string;
  /** Folder inside the bucket that holds the store, e.g. `backups/prod/` (default: the bucket's root). */
  prefix?: string;
  /** A configured client to use (region, endpoint, credentials, retries are then yours). */
  client?: S3Client;
  /**
   * Configuration for the client the store creates when `client` is not given (and destroys on `close`).
   * Unless it has a `requestHandler`, that client fails a connection that takes 10 s to open or moves no
   * bytes for 60 s (the SDK's own default waits forever).
   */
  clientConfig?: S3ClientConfig;
  /** Bytes per multipart part, at least 5 MiB (default 8 MiB); bodies up to one part are one PutObject. */
  partSize?: number;
  /** Parts uploaded at once per put (default 4); a streamed put holds up to `partSize × (queueSize + 1)` bytes. */
  queueSize?: number;
}

let sdk: Promise<ClientModule> | undefined;

function loadSdk(): Promise<ClientModule> {
  sdk ??= import('@aws-sdk/client-s3');
  return sdk;
}

function checkRootPrefix(prefix: unknown): string {
  if (prefix === undefined || prefix === '') return '';
  if (typeof prefix !== 'string' || !PREFIX_CHARS.test(prefix) || prefix.startsWith('/') || prefix.includes('//') || prefix.split('/').some((s) => s === '.' || s === '..')) {
    throw new QuiverError('INVALID_ARGUMENT', `S3SnapshotStore prefix ${JSON.stringify(prefix)} is not valid: use [A-Za-z0-9._=/-], no leading "/", no "//", no "." or ".." segments (e.g. "backups/prod/")`);
  }
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

function wholeNumber(name: string, v: unknown, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new QuiverError('INVALID_ARGUMENT', `S3SnapshotStore option ${name} must be a whole number ≥ ${min} (got ${String(v)})`);
  return v;
}

/** The snapshot store over an S3 bucket; see the module comment for how it keeps the store contract. */
export class S3SnapshotStore implements SnapshotStore {
  readonly location: string;
  /** The bucket. */
  readonly bucket: string;
  /** The folder inside the bucket, empty or ending in `/`. */
  readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly givenClient: S3Client | undefined;
  private readonly clientConfig: S3ClientConfig;
  private ownClient: S3Client | undefined;
  /** Set once a request found the bucket: a 404 without a body (HEAD) then means a missing object. */
  private bucketSeen = false;

  constructor(options: S3StoreOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('S3SnapshotStore needs an options object with { bucket }');
    if (typeof options.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new QuiverError('INVALID_ARGUMENT', `S3SnapshotStore bucket ${JSON.stringify(options.bucket)} is not a valid bucket name (3-63 of a-z, 0-9, "." and "-")`);
    }
    this.bucket = options.bucket;
    this.prefix = checkRootPrefix(options.prefix);
    this.partSize = wholeNumber('partSize', options.partSize, DEFAULT_PART_SIZE, MIN_PART_SIZE);
    this.queueSize = wholeNumber('queueSize', options.queueSize, DEFAULT_QUEUE_SIZE, 1);
    this.givenClient = options.client;
    this.clientConfig = options.clientConfig ?? {};
    this.location = `s3://${this.bucket}/${this.prefix}`;
  }

  locate(key: string): string {
    return `${this.location}${key}`;
  }

  /** Destroys the client the store created (its sockets); a client passed in is left to its owner. */
  close(): void {
    this.ownClient?.destroy();
    this.ownClient = undefined;
  }

  private async client(): Promise<{ client: S3Client; s3: ClientModule }> {
    const s3 = await loadSdk();
    // The SDK waits forever on a stalled connection by default; the store's own client does not.
    const client = this.givenClient ?? (this.ownClient ??= new s3.S3Client({ requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: IDLE_TIMEOUT_MS }, ...this.clientConfig }));
    return { client, s3 };
  }

  async put(key: string, body: StoreBody, options: StoreOpOptions = {}): Promise<PutResult> {
    checkKey(key);
    const { signal } = options;
    checkAbort(signal, `put ${key}`);
    const { client, s3 } = await this.client();
    // uploadObject reports QuiverErrors, and the producer's own errors as they are.
    const target = { client, s3, bucket: this.bucket, key: this.prefix + key, where: this.locate(key), partSize: this.partSize, queueSize: this.queueSize };
    const size = await uploadObject(target, body, signal, `put ${key}`);
    this.bucketSeen = true;
    return { key, size };
  }

  /** Starts a GET; the body must be consumed or destroyed. */
  private async open(key: string, signal: AbortSignal | undefined, op: string): Promise<{ body: Readable; length: number }> {
    checkKey(key);
    checkAbort(signal, `${op} ${key}`);
    const { client, s3 } = await this.client();
    try {
      const out = await client.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal: signal });
      this.bucketSeen = true;
      return { body: out.Body as Readable, length: Number(out.ContentLength ?? -1) };
    } catch (err) {
      throw s3Error(err, op, this.locate(key), signal);
    }
  }

  async get(key: string, options: StoreOpOptions = {}): Promise<Uint8Array> {
    const { body, length } = await this.open(key, options.signal, 'get');
    const pieces = this.pieces(key, body, length, options.signal, 'get');
    if (length < 0) return collect(pieces);
    const out = new Uint8Array(length);
    await this.drainInto(key, pieces, out);
    return out;
  }

  async *read(key: string, options: StoreReadOptions = {}): AsyncIterable<Uint8Array> {
    const { signal } = options;
    const step = chunkSize(options.chunkBytes);
    const { body, length } = await this.open(key, signal, 'read');
    // Re-cut into fresh buffers of `step` bytes (the last one shorter), each the consumer's to keep.
    let left = length >= 0 ? length : Number.POSITIVE_INFINITY;
    let buf = new Uint8Array(Math.min(step, left));
    let fill = 0;
    for await (const piece of this.pieces(key, body, length, signal, 'read')) {
      for (let at = 0; at < piece.length;) {
        const n = Math.min(buf.length - fill, piece.length - at);
        buf.set(piece.subarray(at, at + n), fill);
        fill += n;
        at += n;
        if (fill === buf.length) {
          checkAbort(signal, `read ${key}`);
          left -= fill;
          yield buf;
          buf = new Uint8Array(Math.min(step, left));
          fill = 0;
        }
      }
    }
    if (fill > 0) yield buf.subarray(0, fill);
  }

  async readInto(key: string, target: Uint8Array, options: ReadIntoOptions = {}): Promise<number> {
    const { body, length } = await this.open(key, options.signal, 'read');
    if (length > target.length) {
      body.destroy();
      throw new QuiverError('LIMIT_EXCEEDED', `${this.locate(key)} holds ${length} bytes, more than the ${target.length} expected`, { key });
    }
    return this.drainInto(key, this.pieces(key, body, length, options.signal, 'read'), target, chunkSize(options.chunkBytes), options.onChunk);
  }

  /**
   * The pieces of a GET's body as they arrive: the connection's failures become QuiverErrors, a body
   * longer or shorter than the object's `length` (when known) is an IO_ERROR, the signal is checked
   * between pieces, and the body is destroyed when the consumer stops (early or not), freeing the
   * connection. The one loop over a response that get, read and readInto share.
   */
  private async *pieces(key: string, body: Readable, length: number, signal: AbortSignal | undefined, op: string): AsyncGenerator<Uint8Array> {
    const it = body[Symbol.asyncIterator]();
    let got = 0;
    try {
      for (;;) {
        let r: IteratorResult<unknown>;
        try {
          r = await it.next();
        } catch (err) {
          // Only what the connection threw is the service's failure; the consumer's own errors pass as they are.
          throw s3Error(err, op, this.locate(key), signal);
        }
        if (r.done) break;
        const piece = r.value as Uint8Array;
        got += piece.length;
        if (length >= 0 && got > length) throw new QuiverError('IO_ERROR', `${this.locate(key)}: the service sent more than the object's ${length} bytes; try again`, { key });
        yield piece;
        checkAbort(signal, `${op} ${key}`);
      }
    } finally {
      body.destroy();
    }
    if (length >= 0 && got !== length) {
      throw new QuiverError('IO_ERROR', `${this.locate(key)}: the service sent ${got} of the object's ${length} bytes; try again`, { key, got, expected: length });
    }
  }

  /** Copies `pieces` into `target`, telling `onChunk` about each filled range of about `step` bytes. */
  private async drainInto(key: string, pieces: AsyncIterable<Uint8Array>, target: Uint8Array, step = DEFAULT_CHUNK, onChunk?: (chunk: Uint8Array) => void): Promise<number> {
    let at = 0;
    let told = 0;
    for await (const p of pieces) {
      if (at + p.length > target.length) throw new QuiverError('LIMIT_EXCEEDED', `${this.locate(key)} holds more than the ${target.length} bytes expected`, { key });
      target.set(p, at);
      at += p.length;
      if (onChunk && at - told >= step) {
        onChunk(target.subarray(told, at));
        told = at;
      }
    }
    if (onChunk && at > told) onChunk(target.subarray(told, at));
    return at;
  }

  async stat(key: string, options: StoreOpOptions = {}): Promise<StoreObjectInfo | null> {
    checkKey(key);
    const { signal } = options;
    checkAbort(signal, `stat ${key}`);
    const { client, s3 } = await this.client();
    try {
      const out = await client.send(new s3.HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal: signal });
      this.bucketSeen = true;
      return { key, size: Number(out.ContentLength ?? 0), mtimeMs: mtimeOf(out.LastModified) };
    } catch (err) {
      if (!isMissingObject(err)) throw s3Error(err, 'stat', this.locate(key), signal);
    }
    // A HEAD answers a missing bucket with the same bodiless 404 as a missing object: ask once.
    if (!this.bucketSeen) {
      try {
        await client.send(new s3.HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
        this.bucketSeen = true;
      } catch (err) {
        throw s3Error(isMissingObject(err) ? Object.assign(new Error('no such bucket'), { Code: 'NoSuchBucket' }) : err, 'stat', this.locate(key), signal);
      }
    }
    return null;
  }

  async list(prefix = '', options: StoreOpOptions = {}): Promise<StoreObjectInfo[]> {
    checkPrefix(prefix);
    const { signal } = options;
    checkAbort(signal, `list ${prefix}`);
    const { client, s3 } = await this.client();
    const out: StoreObjectInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await client.send(new s3.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }), { abortSignal: signal });
        for (const o of page.Contents ?? []) {
          const key = (o.Key ?? '').slice(this.prefix.length);
          // Objects other tools put under the prefix with names no store key can have are not the store's.
          if (!isStoreKey(key)) continue;
          out.push({ key, size: Number(o.Size ?? 0), mtimeMs: mtimeOf(o.LastModified) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      this.bucketSeen = true;
    } catch (err) {
      throw s3Error(err, 'list', this.location + prefix, signal);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string, options: StoreOpOptions = {}): Promise<boolean> {
    // S3 answers a delete of an absent key with success, so whether it was there is asked first; the
    // signal can stop that question, never the delete request after it (see SnapshotStore.delete).
    if ((await this.stat(key, options)) === null) return false;
    checkAbort(options.signal, `delete ${key}`);
    const { client, s3 } = await this.client();
    try {
      await client.send(new s3.DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    } catch (err) {
      throw s3Error(err, 'delete', this.locate(key));
    }
    return true;
  }

  async deletePrefix(prefix: string, options: StoreOpOptions = {}): Promise<number> {
    checkPrefix(prefix);
    const keys = (await this.list(prefix, options)).map((o) => o.key);
    checkAbort(options.signal, `delete ${prefix}`);
    const { client, s3 } = await this.client();
    for (let at = 0; at < keys.length; at += DELETE_BATCH) {
      const batch = keys.slice(at, at + DELETE_BATCH);
      try {
        const out = await client.send(new s3.DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.prefix + k })), Quiet: true } }));
        const failed = out.Errors ?? [];
        if (failed.length > 0) {
          const first = failed[0];
          throw s3Error(Object.assign(new Error(first.Message ?? 'delete refused'), { Code: first.Code }), 'delete', `${this.location}${(first.Key ?? '').slice(this.prefix.length)}`);
        }
      } catch (err) {
        throw s3Error(err, 'delete', this.location + prefix);
      }
    }
    if (prefix === '' || prefix.endsWith('/')) await this.abortUploads(prefix, Number.POSITIVE_INFINITY);
    return keys.length;
  }

  async sweep(olderThanMs: number): Promise<string[]> {
    return this.abortUploads('', olderThanMs);
  }

  async newestInProgress(prefix: string): Promise<number | undefined> {
    checkPrefix(prefix);
    let newest: number | undefined;
    for (const u of await this.uploads(prefix)) newest = Math.max(newest ?? 0, await this.lastActivity(u));
    return newest;
  }

  /**
   * When an upload last made progress: its newest part's time, else its start. An upload's start alone
   * would make a long one that is still running look abandoned.
   */
  private async lastActivity(u: { key: string; uploadId: string; initiated: number }): Promise<number> {
    const { client, s3 } = await this.client();
    let newest = u.initiated;
    let marker: string | undefined;
    try {
      for (;;) {
        const page = await client.send(new s3.ListPartsCommand({ Bucket: this.bucket, Key: this.prefix + u.key, UploadId: u.uploadId, PartNumberMarker: marker }));
        for (const p of page.Parts ?? []) newest = Math.max(newest, mtimeOf(p.LastModified));
        if (!page.IsTruncated) break;
        marker = page.NextPartNumberMarker;
      }
    } catch (err) {
      // Finished or aborted meanwhile: its start is all there is to date it by.
      if (!isGoneUpload(err) && !isNotSupported(err)) throw s3Error(err, 'list parts', this.locate(u.key));
    }
    return newest;
  }

  /** Multipart uploads in progress under `prefix`; none when the service cannot list them. */
  private async uploads(prefix: string): Promise<{ key: string; uploadId: string; initiated: number }[]> {
    const { client, s3 } = await this.client();
    const out: { key: string; uploadId: string; initiated: number }[] = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    try {
      for (;;) {
        const page = await client.send(new s3.ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix + prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
        for (const u of page.Uploads ?? []) {
          // Uploads of other tools under the prefix are theirs, as their objects are (see list).
          if (u.Key === undefined || u.UploadId === undefined || !isStoreKey(u.Key.slice(this.prefix.length))) continue;
          out.push({ key: u.Key.slice(this.prefix.length), uploadId: u.UploadId, initiated: mtimeOf(u.Initiated) });
        }
        if (!page.IsTruncated) break;
        keyMarker = page.NextKeyMarker;
        idMarker = page.NextUploadIdMarker;
      }
    } catch (err) {
      if (isNotSupported(err)) return [];
      throw s3Error(err, 'list uploads', this.location + prefix);
    }
    return out;
  }

  /** Aborts the uploads under `prefix` begun before `olderThanMs`; returns their keys. */
  private async abortUploads(prefix: string, olderThanMs: number): Promise<string[]> {
    const { client, s3 } = await this.client();
    const removed: string[] = [];
    for (const u of await this.uploads(prefix)) {
      if (u.initiated >= olderThanMs || (olderThanMs !== Number.POSITIVE_INFINITY && (await this.lastActivity(u)) >= olderThanMs)) continue;
      try {
        await client.send(new s3.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + u.key, UploadId: u.uploadId }));
      } catch (err) {
        // Finished or aborted by someone else meanwhile: gone either way.
        if (!isGoneUpload(err)) throw s3Error(err, 'abort upload', this.locate(u.key));
      }
      removed.push(u.key);
    }
    return removed;
  }
}

/**
 * A time the service reported, as the latest moment it can mean: S3 reports whole seconds, so an
 * object written at 12:00:00.942 is listed as 12:00:00.000, and garbage collection must not take it
 * for up to a second older than it is.
 */
function mtimeOf(d: Date | undefined): number {
  if (!d) return 0;
  const t = d.getTime();
  return t % 1000 === 0 ? t + 999 : t;
}

/** The chunk size asked for, or the default when it is not a positive number. */
function chunkSize(asked: number | undefined): number {
  return typeof asked === 'number' && asked >= 1 ? Math.floor(Math.min(asked, 1 << 30)) : DEFAULT_CHUNK;
}

function isStoreKey(key: string): boolean {
  try {
    checkKey(key);
    return true;
  } catch {
    return false;
  }
}
