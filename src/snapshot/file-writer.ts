/**
 * Writes one data file of a snapshot into the store: raw bytes from a producer, SHA-256 of the stored
 * bytes, and with gzip, compression in independent 4 MiB blocks (each a complete gzip member; the
 * concatenation is a valid multi-member gzip file that `gzip -d` and zlib decode in one pass). Blocks
 * are compressed concurrently on the libuv threadpool, up to the limiter's bound, and written in order.
 */
import { createHash } from 'node:crypto';
import { CompressStream } from '../format/qvdb/codec.js';
import { Codec } from '../format/qvdb/constants.js';
import type { ChunkSink, SnapshotStore } from '../storage/store.js';
import { checkAbort } from '../storage/store.js';
import { HashThreadLostError, startSha256, writeWhileHashing, type Sha256Job } from '../util/hash-worker.js';
import type { Limiter } from './limiter.js';
import type { FileRole, SnapshotCompression } from './layout.js';

/** Raw bytes per compression block. */
export const COMPRESSION_BLOCK_BYTES = 4 << 20;

/**
 * A producer of a file's raw bytes; it must not change a chunk until `write` resolves. With
 * `offloadHash` it may be run a second time (after a HashThreadLostError from `write`).
 */
export type RawProducer = (write: (raw: Uint8Array) => Promise<void>) => Promise<void>;

/** What was written. */
export interface WrittenFile {
  name: string;
  role: FileRole;
  bytes: number;
  rawBytes: number;
  sha256: string;
}

/** How to write. */
export interface FileWriteControl {
  compression: SnapshotCompression;
  level: number;
  limiter: Limiter;
  signal?: AbortSignal;
  /** Told the raw bytes consumed so far, for progress. */
  onRaw?: (bytes: number) => void;
  /**
   * Uncompressed files only: hash on the helper thread. The producer then gives chunks of shared memory
   * (a chunk that is not starts the file over, hashed here, as does the thread stopping mid-file), and
   * each `write` resolves once its chunk is hashed, so the producer may reuse it as usual.
   */
  offloadHash?: boolean;
}

async function gzipBlock(input: Uint8Array, level: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const z = new CompressStream(Codec.GZIP, level, async (c) => void out.push(c));
  try {
    if (input.length > 0) await z.write(input);
    await z.end();
  } catch (err) {
    z.destroy();
    throw err;
  }
  return out;
}

/** Writes `key` (named `name`, role `role`) from `produce`; returns sizes and the SHA-256 of the stored bytes. */
export async function writeDataFile(store: SnapshotStore, key: string, name: string, role: FileRole, produce: RawProducer, ctl: FileWriteControl): Promise<WrittenFile> {
  if (ctl.offloadHash && ctl.compression === 'none') {
    const job = startSha256({ offload: true, retainViews: false });
    if (job.offloaded) {
      try {
        return await writeHashedElsewhere(store, key, name, role, produce, ctl, job);
      } catch (err) {
        if (!(err instanceof HashThreadLostError)) throw err;
        // The helper thread stopped (or the producer lost it): the store dropped the partial file; write
        // it again, hashed here.
      }
    } else {
      job.abandon();
    }
  }
  const hash = createHash('sha256');
  let bytes = 0;
  let rawBytes = 0;
  const what = `writing ${key}`;
  const body = ctl.compression === 'none'
    ? (sink: ChunkSink) => produce(async (raw) => {
      checkAbort(ctl.signal, what);
      const p = sink(raw);
      // Hash while the store writes: both only read the chunk.
      hash.update(raw);
      bytes += raw.length;
      rawBytes += raw.length;
      ctl.onRaw?.(rawBytes);
      await p;
    })
    : (sink: ChunkSink) => writeBlocks(sink, produce, ctl, what, (stored) => {
      hash.update(stored);
      bytes += stored.length;
    }, (raw) => {
      rawBytes += raw;
      ctl.onRaw?.(rawBytes);
    });
  await store.put(key, body, { signal: ctl.signal });
  return { name, role, bytes, rawBytes, sha256: hash.digest('hex') };
}

/** The uncompressed path with the SHA-256 on the helper thread (see FileWriteControl.offloadHash). */
async function writeHashedElsewhere(store: SnapshotStore, key: string, name: string, role: FileRole, produce: RawProducer, ctl: FileWriteControl, job: Sha256Job): Promise<WrittenFile> {
  let bytes = 0;
  const what = `writing ${key}`;
  try {
    await store.put(key, (sink: ChunkSink) => produce(async (raw) => {
      checkAbort(ctl.signal, what);
      if (!(raw.buffer instanceof SharedArrayBuffer)) throw new HashThreadLostError();
      bytes += raw.length;
      ctl.onRaw?.(bytes);
      await writeWhileHashing(job, raw, () => sink(raw));
    }), { signal: ctl.signal });
  } catch (err) {
    job.abandon();
    throw err;
  }
  const digest = await job.digest();
  return { name, role, bytes, rawBytes: bytes, sha256: digest.toString('hex') };
}

async function writeBlocks(sink: ChunkSink, produce: RawProducer, ctl: FileWriteControl, what: string, onStored: (c: Uint8Array) => void, onRaw: (n: number) => void): Promise<void> {
  const window = Math.max(1, ctl.limiter.limit);
  const pending: Promise<Uint8Array[]>[] = [];
  let block = new Uint8Array(COMPRESSION_BLOCK_BYTES);
  let used = 0;
  let launched = 0;
  const emitOldest = async (): Promise<void> => {
    const parts = await (pending.shift() as Promise<Uint8Array[]>);
    for (const c of parts) {
      onStored(c);
      await sink(c);
    }
  };
  const launch = async (): Promise<void> => {
    const input = block.subarray(0, used);
    block = new Uint8Array(COMPRESSION_BLOCK_BYTES);
    used = 0;
    launched++;
    const job = ctl.limiter.run(() => gzipBlock(input, ctl.level));
    job.catch(() => undefined); // awaited in order by emitOldest
    pending.push(job);
    while (pending.length >= window) await emitOldest();
  };
  try {
    await produce(async (raw) => {
      checkAbort(ctl.signal, what);
      // Raw chunks are copied into blocks, so the producer's buffers are free as soon as this returns.
      for (let at = 0; at < raw.length; ) {
        const n = Math.min(raw.length - at, COMPRESSION_BLOCK_BYTES - used);
        block.set(raw.subarray(at, at + n), used);
        used += n;
        at += n;
        if (used === COMPRESSION_BLOCK_BYTES) await launch();
      }
      onRaw(raw.length);
    });
    if (used > 0 || launched === 0) await launch();
    while (pending.length > 0) await emitOldest();
  } finally {
    // On failure, let running blocks finish quietly (their results are dropped).
    await Promise.allSettled(pending);
  }
}
