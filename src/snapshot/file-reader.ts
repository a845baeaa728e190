/**
 * Reads one data file of a snapshot from the store as a stream: counts and (optionally) hashes the
 * stored bytes, decompresses gzip bounded by the raw length metadata.json declares (one byte more
 * stops the stream: the zip-bomb guard), and hands raw chunks to the caller. When decoding fails and
 * the bytes do not match their SHA-256, the checksum mismatch is what is reported.
 */
import { createHash, type Hash } from 'node:crypto';
import { OFFLOAD_MIN_BYTES, startSha256, type Sha256Job } from '../util/hash-worker.js';
import { allNormsClaimed, claimNorms } from '../util/hash-norms.js';
import { CorruptionError, QuiverError } from '../errors.js';
import { DecompressStream, RawLengthError } from '../format/qvdb/codec.js';
import { Codec } from '../format/qvdb/constants.js';
import { checkAbort, readInto, type SnapshotStore } from '../storage/store.js';
import type { SnapshotCompression } from './layout.js';
import type { ManifestFile } from './manifest.js';

/** How to read. */
export interface FileReadControl {
  compression: SnapshotCompression;
  /** Expected SHA-256 (hex) of the stored bytes; undefined skips hashing. */
  sha256?: string;
  signal?: AbortSignal;
  /** Told each stored chunk's size, for progress. */
  onStored?: (bytes: number) => void;
  /**
   * For uncompressed files: the destination of the raw bytes (exactly `rawBytes` long). They are read
   * straight into it and `onRaw` is not called.
   */
  into?: Uint8Array;
  /**
   * With `into` backed by a SharedArrayBuffer and `sha256` set: the SHA-256 runs on the helper thread,
   * which also computes these norms (entries of `dim` float32s) into `out` while it hashes; `complete`
   * tells afterwards whether it computed them all (else the caller computes them itself).
   */
  norms?: NormsRequest;
}

/** Norms computed while hashing (see FileReadControl.norms). */
export interface NormsRequest {
  dim: number;
  out: Float64Array;
  complete: boolean;
}

/** The section name used in errors for a file role. */
export function sectionOf(file: ManifestFile): string {
  return file.role === 'metadata' ? 'records' : file.role;
}

/** Converts a store's NOT_FOUND for a snapshot file into corruption of that snapshot. */
export function missingFile(store: SnapshotStore, key: string, err: unknown): unknown {
  if (err instanceof QuiverError && err.code === 'NOT_FOUND') {
    return new CorruptionError({ file: store.locate(key), section: 'file' }, 'the file is missing from the snapshot', 'CORRUPT', { cause: err });
  }
  return err;
}

/** Streams file `key` (described by `file`) to `onRaw`, verifying what `ctl` asks for. */
export async function readDataFile(store: SnapshotStore, key: string, file: ManifestFile, onRaw: (chunk: Uint8Array) => void, ctl: FileReadControl): Promise<void> {
  const where = { file: store.locate(key), section: sectionOf(file) };
  if (ctl.into && ctl.compression === 'none') return readDirect(store, key, file, ctl.into, ctl, where);
  const hash = ctl.sha256 === undefined ? undefined : createHash('sha256');
  const dec = ctl.compression === 'gzip' ? new DecompressStream(Codec.GZIP, file.rawBytes, onRaw) : undefined;
  let stored = 0;
  let failure: unknown;
  const it = store.read(key, { signal: ctl.signal })[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) {
        exhausted = true;
        break;
      }
      if (failure !== undefined && !hash) break;
      const chunk = r.value;
      checkAbort(ctl.signal, `reading ${key}`);
      hash?.update(chunk);
      stored += chunk.length;
      ctl.onStored?.(chunk.length);
      if (failure !== undefined) continue; // keep hashing to tell damage from a decoder problem
      if (stored > file.bytes) {
        failure = new CorruptionError({ ...where, offset: file.bytes }, `the file is longer than the ${file.bytes} bytes metadata.json records`);
        continue;
      }
      try {
        if (dec) await dec.write(chunk);
        else onRaw(chunk);
      } catch (err) {
        failure = err;
      }
    }
    if (failure === undefined && dec) {
      try {
        await dec.end();
      } catch (err) {
        failure = err;
      }
    }
  } catch (err) {
    throw missingFile(store, key, err);
  } finally {
    dec?.destroy();
    if (!exhausted) await it.return?.().catch(() => undefined);
  }
  if (hash && ctl.sha256 !== undefined) {
    const actual = hash.digest('hex');
    if (actual !== ctl.sha256) {
      const size = stored === file.bytes ? `${stored} bytes` : `${stored} bytes where metadata.json records ${file.bytes}`;
      throw new CorruptionError(where, `checksum mismatch: checksum file records SHA-256 ${ctl.sha256}, the ${size} hash to ${actual}`, 'CHECKSUM_MISMATCH');
    }
  }
  if (failure === undefined && stored < file.bytes) failure = new CorruptionError({ ...where, offset: stored }, `the file is truncated: ${stored} of ${file.bytes} bytes`);
  if (failure !== undefined) {
    if (failure instanceof QuiverError) throw failure;
    if (failure instanceof RawLengthError) throw new CorruptionError(where, `the compressed data ${failure.message}`, 'CORRUPT', { cause: failure });
    throw new CorruptionError(where, `the data is damaged (${(failure as Error)?.message ?? String(failure)})`, 'CORRUPT', { cause: failure });
  }
}

async function readDirect(store: SnapshotStore, key: string, file: ManifestFile, into: Uint8Array, ctl: FileReadControl, where: { file: string; section: string }): Promise<void> {
  const shared = into.buffer instanceof SharedArrayBuffer && into.length >= OFFLOAD_MIN_BYTES;
  let job: Sha256Job | undefined = ctl.sha256 === undefined ? undefined : startSha256({ offload: shared });
  let local: Hash | undefined;
  const norms = job?.offloaded ? ctl.norms : undefined;
  const count = norms ? Math.floor(into.length / (norms.dim * 4)) : 0;
  const claim = new Int32Array(new SharedArrayBuffer(4));
  const vectors = norms ? new Float32Array(into.buffer, into.byteOffset, count * norms.dim) : undefined;
  let at = 0;
  let got: number;
  try {
    // Hashing one range (here or on the helper thread) overlaps the reads of the next ones.
    got = await readInto(store, key, into, {
      signal: ctl.signal,
      onChunk: (c) => {
        if (job?.offloaded && (c.buffer !== into.buffer || c.byteOffset !== into.byteOffset + at)) {
          // Not a view of `into` in order: finish the hash here instead (norms are left to the caller).
          job.abandon();
          job = undefined;
          local = createHash('sha256').update(into.subarray(0, at));
        }
        if (local) local.update(c);
        else job?.update(c);
        at += c.length;
        if (norms && vectors && job) job.norms(vectors, norms.dim, count, Math.floor(at / (norms.dim * 4)), norms.out, claim);
        ctl.onStored?.(c.length);
      },
    });
  } catch (err) {
    job?.abandon();
    if (err instanceof QuiverError && err.code === 'LIMIT_EXCEEDED') throw new CorruptionError({ ...where, offset: file.bytes }, `the file is longer than the ${file.bytes} bytes metadata.json records`);
    throw missingFile(store, key, err);
  }
  // Everything landed: this thread computes the norms the helper thread has not claimed yet.
  if (norms && vectors && job) claimNorms(vectors, norms.dim, count, norms.out, claim, count);
  if (ctl.sha256 !== undefined) {
    const actual = local ? local.digest('hex') : job ? (await job.digest()).toString('hex') : undefined;
    if (actual !== ctl.sha256) throw new CorruptionError(where, `checksum mismatch: checksum file records SHA-256 ${ctl.sha256}, the ${got} bytes hash to ${String(actual)}`, 'CHECKSUM_MISMATCH');
  }
  if (norms) norms.complete = job !== undefined && job.normsComplete && count * norms.dim * 4 === into.length && allNormsClaimed(count, claim);
  if (got !== file.bytes) throw new CorruptionError({ ...where, offset: got }, `the file is truncated: ${got} of ${file.bytes} bytes`);
}

/** Size and SHA-256 (hex) of an object, streamed. */
export async function hashObject(store: SnapshotStore, key: string, signal?: AbortSignal, onStored?: (n: number) => void): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of store.read(key, { signal })) {
    h.update(chunk);
    bytes += chunk.length;
    onStored?.(chunk.length);
  }
  return { bytes, sha256: h.digest('hex') };
}
