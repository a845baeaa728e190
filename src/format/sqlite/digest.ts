/**
 * The content digests of a SQLite export (docs/FORMAT.md "Checksums"). Entries are grouped
 * into buckets of `bucketRows` consecutive positions; each bucket has a SHA-256 over its rows, and the
 * file checksum is a SHA-256 over quiver_meta and the list of bucket digests. An incremental save
 * rehashes only the buckets it touches and then the short list, never every row.
 */
import { createHash } from 'node:crypto';
import type { Id } from '../../engine/types.js';
import { startSha256, type Sha256Job } from '../../util/hash-worker.js';

const KIND_INTEGER = 0x49; // 'I'
const KIND_TEXT = 0x54; // 'T'
const NULL_LENGTH = 0xffffffff;
const TWO32 = 0x1_0000_0000;

/** Vector bytes of one bucket from which hashing moves to the SHA-256 helper thread. */
export const OFFLOAD_MIN_BYTES = 1 << 20;

/**
 * Serialises the non-vector part of a bucket's rows (position, id with its kind, metadata text) into
 * one growing buffer, hashed once per bucket: one hash call per bucket instead of several per row.
 */
export class KeyRecords {
  private buf = Buffer.allocUnsafe(1 << 16);
  private used = 0;

  /** Appends the record of one row. `metadata` is the stored JSON text, or null. */
  add(pos: number, id: Id, metadata: string | null): void {
    const idText = typeof id === 'number' ? String(id) : id;
    const need = 8 + 1 + 4 + idText.length * 3 + 4 + (metadata === null ? 0 : metadata.length * 3);
    this.ensure(need);
    const b = this.buf;
    let o = this.used;
    b.writeUInt32LE(pos % TWO32, o);
    b.writeUInt32LE(Math.floor(pos / TWO32), o + 4);
    b[o + 8] = typeof id === 'number' ? KIND_INTEGER : KIND_TEXT;
    o += 9;
    const idLen = b.write(idText, o + 4, 'utf8');
    b.writeUInt32LE(idLen, o);
    o += 4 + idLen;
    if (metadata === null) {
      b.writeUInt32LE(NULL_LENGTH, o);
      o += 4;
    } else {
      const mLen = b.write(metadata, o + 4, 'utf8');
      b.writeUInt32LE(mLen, o);
      o += 4 + mLen;
    }
    this.used = o;
  }

  /** The SHA-256 of the records added since the last call; starts a new bucket. */
  digest(): Buffer {
    const d = createHash('sha256').update(this.buf.subarray(0, this.used)).digest();
    this.used = 0;
    return d;
  }

  private ensure(extra: number): void {
    if (this.used + extra <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + extra));
    this.buf.copy(grown, 0, 0, this.used);
    this.buf = grown;
  }
}

/** digest(bucket) = SHA-256(SHA-256(key records) ‖ SHA-256(vector bytes)). */
export function combineBucket(keys: Uint8Array, vectors: Uint8Array): Buffer {
  return createHash('sha256').update(keys).update(vectors).digest();
}

/**
 * Bucket digests computed while rows stream by, the vector halves possibly on the helper thread.
 * Offloaded views must stay unchanged until {@link BucketDigests.results} settles.
 */
export class BucketDigests {
  private readonly keys = new KeyRecords();
  private readonly pending: Promise<[number, Buffer]>[] = [];
  private readonly jobs: Sha256Job[] = [];

  /** Appends a row's key record to the current bucket. */
  addKey(pos: number, id: Id, metadata: string | null): void {
    this.keys.add(pos, id, metadata);
  }

  /**
   * Closes bucket `bucket` whose vectors are `vectors` (all rows, in order; a SharedArrayBuffer view
   * when `offload`). Returns a promise of its digest (also collected for {@link results}).
   */
  close(bucket: number, vectors: Uint8Array, offload: boolean): Promise<Buffer> {
    const k = this.keys.digest();
    const job = startSha256({ offload: offload && vectors.buffer instanceof SharedArrayBuffer });
    this.jobs.push(job);
    job.update(vectors);
    const p = job.digest().then((v) => combineBucket(k, v));
    const pair = p.then((d): [number, Buffer] => [bucket, d]);
    // Both are collected by results(), or dropped by abandon(), which rejects them on purpose: neither
    // may reject unhandled (that would end the process after a cancelled or failed write).
    p.catch(() => undefined);
    pair.catch(() => undefined);
    this.pending.push(pair);
    return p;
  }

  /** All closed buckets' [bucket, digest] pairs in closing order. */
  async results(): Promise<[number, Buffer][]> {
    const out = await Promise.all(this.pending);
    this.jobs.length = 0;
    return out;
  }

  /** Stops outstanding helper-thread work after a failure. */
  abandon(): void {
    for (const j of this.jobs) j.abandon();
    this.jobs.length = 0;
    this.pending.length = 0;
  }
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n, 0);
  return b;
}

/**
 * The file checksum: SHA-256 over every quiver_meta row except `checksum`, in ascending byte order of
 * the key (u32le key length, key, u32le value length, value; UTF-8), then every bucket digest in
 * ascending bucket order (u64le bucket, 32 digest bytes). Returns lowercase hex.
 */
export function fileChecksum(meta: Iterable<readonly [string, string]>, buckets: Iterable<readonly [number, Uint8Array]>): string {
  const rows = [...meta].filter(([k]) => k !== 'checksum').map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
  rows.sort((a, b) => Buffer.compare(a[0], b[0]));
  const h = createHash('sha256');
  for (const [k, v] of rows) h.update(u32(k.length)).update(k).update(u32(v.length)).update(v);
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const head = Buffer.allocUnsafe(8);
  for (const [bucket, digest] of sorted) {
    head.writeUInt32LE(bucket % TWO32, 0);
    head.writeUInt32LE(Math.floor(bucket / TWO32), 4);
    h.update(head).update(digest);
  }
  return h.digest('hex');
}
