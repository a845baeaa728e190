/**
 * Reading section bytes: streamed (hashed, decompressed, bounded by the declared raw length), whole
 * (the small manifest), or, for uncompressed VECTORS, positional reads straight into the destination
 * Float32Array, hashed piece by piece (on the SHA-256 helper thread for big sections) while later
 * pieces are read.
 */
import { createHash, type Hash } from 'node:crypto';
import { CorruptionError, QuiverError } from '../../errors.js';
import { isProgressCallbackError, type ProgressReporter } from '../../util/progress.js';
import { Codec, IO_CHUNK_BYTES, STREAM_CHUNK_BYTES, type CodecCode } from './constants.js';
import { DecompressStream, RawLengthError } from './codec.js';
import { sectionName, type DirectoryEntry } from './layout.js';
import { readExact, type OpenedQvdb } from './open.js';
import { HOST_IS_LITTLE_ENDIAN, swap32InPlace } from './endian.js';
import { OFFLOAD_MIN_BYTES, startSha256, type Sha256Job } from '../../util/hash-worker.js';
import { allNormsClaimed, claimNorms, rememberNorms } from '../../util/hash-norms.js';
import { throwIfAborted } from '../../util/abort.js';

/** How a data section is read. */
export interface SectionReadControl {
  /** Verify the SHA-256 of the stored bytes (always on for the manifest). */
  verify: boolean;
  signal?: AbortSignal;
  progress?: ProgressReporter;
}

function checkAbort(signal: AbortSignal | undefined): void {
  throwIfAborted(signal, 'the load was aborted; nothing was changed');
}

function mismatch(q: OpenedQvdb, e: DirectoryEntry, actual: Uint8Array): CorruptionError {
  return new CorruptionError(
    { file: q.file, section: sectionName(e.type), offset: e.offset },
    `checksum mismatch: the directory records SHA-256 ${Buffer.from(e.sha256).toString('hex')} for its ${e.storedLength} stored bytes, they hash to ${Buffer.from(actual).toString('hex')}`,
    'CHECKSUM_MISMATCH',
  );
}

function asCorruption(q: OpenedQvdb, e: DirectoryEntry, err: unknown): QuiverError {
  if (err instanceof QuiverError) return err;
  const loc = { file: q.file, section: sectionName(e.type), offset: e.offset };
  if (err instanceof RawLengthError) return new CorruptionError(loc, `the compressed data ${err.message}`, 'CORRUPT', { cause: err });
  return new CorruptionError(loc, `the compressed data is damaged (${(err as Error)?.message ?? String(err)})`, 'CORRUPT', { cause: err });
}

/** Hashes stored bytes [from, end) of `e` into `hash` (used to decide whether a decode error was corruption). */
async function hashRest(q: OpenedQvdb, e: DirectoryEntry, hash: Hash, from: number): Promise<void> {
  const buf = new Uint8Array(Math.min(STREAM_CHUNK_BYTES, Math.max(1, e.storedLength - from)));
  for (let pos = from; pos < e.storedLength; ) {
    const n = Math.min(buf.length, e.storedLength - pos);
    await readExact(q.handle, q.file, sectionName(e.type), buf, e.offset + pos, 0, n);
    hash.update(buf.subarray(0, n));
    pos += n;
  }
}

/**
 * Streams the decoded bytes of section `e` to `onRaw` (synchronously, in order, chunks reused after
 * the call returns), checking the raw length and, when `ctl.verify`, the SHA-256. When decoding fails
 * and the stored bytes do not match their hash, the checksum mismatch is what is reported.
 */
export async function streamSection(q: OpenedQvdb, e: DirectoryEntry, ctl: SectionReadControl, onRaw: (chunk: Uint8Array) => void): Promise<void> {
  const hash = ctl.verify ? createHash('sha256') : undefined;
  const dec = e.codec === Codec.NONE ? undefined : new DecompressStream(e.codec as CodecCode, e.rawLength, onRaw);
  const buf = new Uint8Array(Math.max(1, Math.min(STREAM_CHUNK_BYTES, e.storedLength)));
  let hashed = 0;
  try {
    for (let pos = 0; pos < e.storedLength; ) {
      checkAbort(ctl.signal);
      const n = Math.min(buf.length, e.storedLength - pos);
      await readExact(q.handle, q.file, sectionName(e.type), buf, e.offset + pos, 0, n);
      const piece = buf.subarray(0, n);
      hash?.update(piece);
      pos += n;
      hashed = pos;
      if (dec) await dec.write(piece);
      else onRaw(piece);
      ctl.progress?.advance(n, `reading ${sectionName(e.type)}`);
    }
    if (dec) await dec.end();
  } catch (err) {
    dec?.destroy();
    if (isProgressCallbackError(err)) throw err;
    if (err instanceof RangeError) {
      throw new QuiverError('LIMIT_EXCEEDED', `${q.file}: out of memory decoding section "${sectionName(e.type)}" (${e.rawLength} bytes); free memory or load on a larger machine`, { file: q.file }, { cause: err });
    }
    const decodeFailure = !(err instanceof QuiverError) || err instanceof CorruptionError;
    if (hash && decodeFailure) {
      await hashRest(q, e, hash, hashed);
      const actual = hash.digest();
      if (!actual.equals(e.sha256)) throw mismatch(q, e, actual);
    }
    throw asCorruption(q, e, err);
  }
  if (hash) {
    const actual = hash.digest();
    if (!actual.equals(e.sha256)) throw mismatch(q, e, actual);
  }
}

/**
 * Collects decoded bytes up to a declared length without trusting it for allocation: the buffer starts
 * at a guess bounded by the stored size and doubles (capped at the declared length) as bytes arrive.
 */
class ByteCollector {
  private buf: Uint8Array;
  private used = 0;

  constructor(private readonly declared: number, storedLength: number) {
    this.buf = new Uint8Array(Math.min(declared, storedLength * 4 + (64 << 10)));
  }

  push(chunk: Uint8Array): void {
    const need = this.used + chunk.length;
    if (need > this.buf.length) {
      const grown = new Uint8Array(Math.min(this.declared, Math.max(need, this.buf.length * 2)));
      grown.set(this.buf.subarray(0, this.used));
      this.buf = grown;
    }
    this.buf.set(chunk, this.used);
    this.used = need;
  }

  /** The collected bytes; exactly `declared` long once that many arrived (the caller checked). */
  bytes(): Uint8Array {
    return this.used === this.buf.length ? this.buf : this.buf.subarray(0, this.used);
  }
}

/** Reads and verifies (always) a whole small section, decoded; `maxRaw` bounds its raw length. */
export async function readWholeSection(q: OpenedQvdb, e: DirectoryEntry, maxRaw: number): Promise<Uint8Array> {
  if (e.rawLength > maxRaw) throw new CorruptionError({ file: q.file, section: sectionName(e.type), offset: e.offset }, `its declared raw length ${e.rawLength} exceeds the ${maxRaw}-byte limit for this section`);
  const out = new ByteCollector(e.rawLength, e.storedLength);
  await streamSection(q, e, { verify: true }, (chunk) => out.push(chunk));
  return out.bytes();
}

/**
 * Reads VECTORS into a new Float32Array of `floats` elements. The caller has checked that the raw
 * length is floats * 4. Uncompressed, the directory bounded that by the file and the destination is
 * allocated at once, with `spareFloats` more floats of zeroed room after it in the same buffer (the
 * store reserves room for its log replay this way instead of copying the slab afterwards);
 * compressed, it grows with the bytes actually decoded (see ByteCollector) and has no spare room.
 */
export async function readVectorSection(q: OpenedQvdb, e: DirectoryEntry, floats: number, ctl: SectionReadControl, spareFloats = 0, normsDim = 0): Promise<Float32Array> {
  let bytes: Uint8Array;
  let norms: NormRequest | undefined;
  try {
    if (e.codec === Codec.NONE) {
      // Big verified sections land in shared memory so the helper thread can hash them in place
      // while later pieces are read and ids and metadata are decoded here.
      const offload = ctl.verify && floats * 4 >= OFFLOAD_MIN_BYTES;
      const room = (floats + spareFloats) * 4;
      // Room as big as the engine's shared slabs is shared too, whatever the checkpoint holds: the store
      // replays its log into it, and the helper thread can then fault that room in ahead of the replay.
      const buffer = offload || room >= OFFLOAD_MIN_BYTES ? new SharedArrayBuffer(room) : new ArrayBuffer(room);
      bytes = new Uint8Array(buffer, 0, floats * 4);
      const job = ctl.verify ? startSha256({ offload }) : undefined;
      // The helper thread also computes cosine norms while it hashes (the same bytes, already in its
      // cache), which the engine's replaceAll then takes instead of a pass of its own.
      if (job?.offloaded && normsDim > 0 && HOST_IS_LITTLE_ENDIAN) {
        const count = floats / normsDim;
        norms = { vectors: new Float32Array(buffer, 0, floats), dim: normsDim, count, out: new Float64Array(new SharedArrayBuffer(count * 8)), claim: new Int32Array(new SharedArrayBuffer(4)), lost: false };
      }
      await readDirect(q, e, bytes, ctl, job, norms);
    } else {
      const out = new ByteCollector(e.rawLength, e.storedLength);
      await streamSection(q, e, ctl, (chunk) => out.push(chunk));
      bytes = out.bytes();
    }
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new QuiverError('LIMIT_EXCEEDED', `${q.file}: cannot allocate ${floats * 4} bytes for the vectors; free memory or load on a larger machine`, { file: q.file }, { cause: err });
  }
  if (!HOST_IS_LITTLE_ENDIAN) swap32InPlace(bytes);
  const vectors = norms ? norms.vectors : new Float32Array(bytes.buffer, bytes.byteOffset, floats);
  if (norms && !norms.lost && allNormsClaimed(norms.count, norms.claim)) rememberNorms(vectors, norms.out);
  return vectors;
}

/**
 * Norms computed while reading: the helper thread takes blocks of landed entries after hashing them,
 * this thread takes whatever is left once everything landed (instead of idling until the digest).
 */
interface NormRequest {
  vectors: Float32Array;
  dim: number;
  count: number;
  out: Float64Array;
  claim: Int32Array;
  /** Set when the thread could not compute them all: the engine computes them instead. */
  lost: boolean;
}

/**
 * Positional reads kept in flight: enough to ride out main-thread stalls (hashing here, or decoding a
 * record frame while the helper thread hashes).
 */
const READS_IN_FLIGHT = 3;

/**
 * Reads `e` into `bytes` (its stored length) in IO_CHUNK_BYTES pieces, several in flight, each piece
 * handed to `job` (when verifying) as soon as it has landed; checks the digest after the last piece.
 */
async function readDirect(q: OpenedQvdb, e: DirectoryEntry, bytes: Uint8Array, ctl: SectionReadControl, job: Sha256Job | undefined, norms?: NormRequest): Promise<void> {
  const len = e.storedLength;
  const name = sectionName(e.type);
  const inFlight: { pos: number; n: number; done: Promise<void> }[] = [];
  let issued = 0;
  const issue = (): void => {
    while (issued < len && inFlight.length < READS_IN_FLIGHT) {
      const n = Math.min(IO_CHUNK_BYTES, len - issued);
      const done = readExact(q.handle, q.file, name, bytes, e.offset + issued, issued, n);
      done.catch(() => undefined); // awaited in order below
      inFlight.push({ pos: issued, n, done });
      issued += n;
    }
  };
  try {
    issue();
    while (inFlight.length > 0) {
      const head = inFlight[0];
      try {
        await head.done;
        checkAbort(ctl.signal);
      } catch (err) {
        await Promise.allSettled(inFlight.map((r) => r.done));
        throw err;
      }
      inFlight.shift();
      issue();
      job?.update(bytes.subarray(head.pos, head.pos + head.n));
      if (norms && !norms.lost && job) {
        // Every entry wholly inside the bytes landed so far (reads complete in order).
        const landed = Math.floor((head.pos + head.n) / (norms.dim * 4));
        if (!job.norms(norms.vectors, norms.dim, norms.count, landed, norms.out, norms.claim)) norms.lost = true;
      }
      ctl.progress?.advance(head.n, `reading ${name}`);
    }
  } catch (err) {
    job?.abandon();
    throw err;
  }
  if (norms && !norms.lost) claimNorms(norms.vectors, norms.dim, norms.count, norms.out, norms.claim, norms.count);
  if (job) {
    const actual = await job.digest();
    if (!actual.equals(e.sha256)) throw mismatch(q, e, actual);
    if (norms && !job.normsComplete) norms.lost = true;
  }
}

/** Checks that every padding gap between sections is zero bytes. */
export async function checkPadding(q: OpenedQvdb): Promise<void> {
  for (const g of q.gaps) {
    const b = new Uint8Array(g.length);
    await readExact(q.handle, q.file, `padding before ${g.before}`, b, g.offset);
    const bad = b.findIndex((x) => x !== 0);
    if (bad >= 0) throw new CorruptionError({ file: q.file, section: `padding before ${g.before}`, offset: g.offset + bad }, 'padding bytes must be zero');
  }
}
