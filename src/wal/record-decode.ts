/**
 * Decoding of WAL records. Header checks are split from payload decoding so the reader can tell a torn
 * or damaged record (bad length, bad CRC) from one whose CRC is valid but whose content is not.
 * Every length is checked against the bytes present before anything is allocated from it.
 */
import type { Id, MetadataBytes } from '../engine/types.js';
import { IdTag, RECORD_CRC_COVERS_FROM, RECORD_HEADER_SIZE, RecordType } from './constants.js';
import { decodesInPlace, unpackMetadataAt } from '../util/msgpack.js';
import { utf8At } from '../util/utf8.js';
import { copyBytes } from '../util/copy-bytes.js';
import { recordCrcMatches, type RecordFraming } from '../util/framed-crc.js';
import type { DecodedOp, DecodedRecord } from './types.js';

const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Where decoded vectors go: returns room for `dim` floats (called only after the bytes were found present). */
export type VectorAlloc = (dim: number) => Float32Array;

// Decoded vectors are carved out of shared slabs: one small ArrayBuffer per vector made allocation
// the largest cost of replay. A slab is never reused, so each vector's elements are its own.
const SLAB_FLOATS = 16 * 1024;
let slab = new Float32Array(0);
let slabUsed = 0;

/** Room for a vector that belongs to its record alone (never overwritten). */
export function allocVector(dim: number): Float32Array {
  if (dim > SLAB_FLOATS / 4) return new Float32Array(dim);
  if (slabUsed + dim > slab.length) {
    slab = new Float32Array(SLAB_FLOATS);
    slabUsed = 0;
  }
  const v = slab.subarray(slabUsed, slabUsed + dim);
  slabUsed += dim;
  return v;
}

/**
 * Reusable room for the vectors of one record at a time (replay hands them to a callback that copies
 * them): `reset()` before each record makes the previous record's vectors invalid. Grows only to the
 * largest record seen, which the reader has bounded by the bytes present.
 */
export class ScratchVectors {
  private floats = new Float32Array(0);
  private used = 0;
  // The view of the first vector is cached: with single-upsert records that is the only one needed.
  private first: Float32Array | undefined;

  reset(): void {
    this.used = 0;
  }

  readonly alloc: VectorAlloc = (dim) => {
    if (this.used === 0 && this.first !== undefined && this.first.length === dim) {
      this.used = dim;
      return this.first;
    }
    if (this.used + dim > this.floats.length) {
      // Views handed out for this record keep the old array alive, so they stay intact.
      this.floats = new Float32Array(Math.max(this.used + dim, 2 * this.floats.length, 1024));
      this.first = undefined;
    }
    const v = this.floats.subarray(this.used, this.used + dim);
    if (this.used === 0) this.first = v;
    this.used += dim;
    return v;
  };
}

/** The fixed fields of a record header. */
export interface RecordHeader {
  crc: number;
  /** Payload length (the record is RECORD_HEADER_SIZE + length bytes). */
  length: number;
  seq: number;
  type: number;
  flags: number;
  reserved: number;
}

/**
 * Reads the header at `at` (the caller guarantees RECORD_HEADER_SIZE bytes are present), into `into`
 * when given (the scan reuses one object for every record).
 */
export function readRecordHeader(buf: Buffer, at: number, into?: RecordHeader): RecordHeader {
  const hi = buf.readUInt32LE(at + 12);
  const h = into ?? { crc: 0, length: 0, seq: 0, type: 0, flags: 0, reserved: 0 };
  h.crc = buf.readUInt32LE(at);
  h.length = buf.readUInt32LE(at + 4);
  // A high word above 2^21 - 1 makes seq unsafe; report it as Infinity so every range check fails.
  h.seq = hi > 0x1f_ffff ? Infinity : hi * 0x1_0000_0000 + buf.readUInt32LE(at + 8);
  h.type = buf[at + 16];
  h.flags = buf[at + 17];
  h.reserved = buf.readUInt16LE(at + 18);
  return h;
}

/** True when type, flags, reserved and seq are values a version-1 writer produces (length and CRC not checked). */
export function plausibleHeader(h: RecordHeader): boolean {
  return h.type >= RecordType.UPSERT && h.type <= RecordType.BATCH && h.flags === 0 && h.reserved === 0 && Number.isFinite(h.seq) && h.seq >= 1;
}

/** Where a record keeps its CRC and length, and what the CRC covers (docs/FORMAT.md, "Write-ahead log"). */
export const RECORD_FRAMING: RecordFraming = { headerSize: RECORD_HEADER_SIZE, lengthAt: 4, crcAt: 0, coversFrom: RECORD_CRC_COVERS_FROM };

/** True when the CRC stored in the record at `at` (with payload length `length`) matches its bytes. */
export function crcMatches(buf: Buffer, at: number, length: number): boolean {
  return recordCrcMatches(buf, at, length, RECORD_FRAMING);
}

// A byte view of the ArrayBuffer vectors were last decoded into: vectors come from a few large
// buffers, so one view serves many of them instead of one new view per vector.
let viewed: ArrayBufferLike | undefined;
let viewedBytes: Buffer = Buffer.alloc(0);

function bytesOf(b: ArrayBufferLike): Buffer {
  if (b !== viewed) {
    viewed = b;
    viewedBytes = Buffer.from(b);
  }
  return viewedBytes;
}

/** Scratch for numeric ids: the 8 bytes are copied here and read as a float64 (little-endian host). */
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

/**
 * A cursor over one payload; every read is bounds-checked and throws a plain Error when short. It
 * reads the window's bytes in place (no Buffer views per field: those were a visible cost of replay).
 */
class PayloadCursor {
  pos: number;
  /**
   * Where {@link metadata} left an upsert's metadata encoded (when `keepEncoded` and the bytes decode in
   * place): the decoder moves it into the op.
   */
  encoded: MetadataBytes | undefined;
  constructor(
    private readonly buf: Buffer,
    start: number,
    readonly end: number,
    private readonly alloc: VectorAlloc,
    private readonly keepEncoded: boolean,
  ) {
    this.pos = start;
  }

  /** Throws unless `n` bytes remain; `index` is appended to `what` (the label is built only on failure). */
  need(n: number, what: string, index?: number): void {
    if (n > this.end - this.pos) throw new Error(`${opLabel(what, index)} needs ${n} bytes but only ${this.end - this.pos} remain in the payload`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  u32(what: string): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 0x100_0000;
  }

  id(): Id {
    const tag = this.u8('id tag');
    if (tag === IdTag.STRING) {
      const n = this.u32('id length');
      this.need(n, 'id');
      const b = this.buf;
      const start = this.pos;
      const end = start + n;
      this.pos = end;
      // Strict: malformed bytes are an error, not U+FFFD.
      const id = utf8At(b, start, end);
      if (id === undefined) throw new Error('the id is not valid UTF-8');
      return id;
    }
    if (tag === IdTag.NUMBER) {
      this.need(8, 'numeric id');
      const b = this.buf;
      const p = this.pos;
      for (let i = 0; i < 8; i++) f64Bytes[LITTLE_ENDIAN_HOST ? i : 7 - i] = b[p + i];
      this.pos = p + 8;
      const v = f64[0];
      if (!Number.isFinite(v)) throw new Error('numeric id is not finite');
      return v;
    }
    throw new Error(`unknown id tag ${tag}`);
  }

  /** The metadata; with `encodable`, undefined and `encoded` set when it can stay encoded. */
  metadata(encodable = false): Record<string, unknown> | undefined {
    const len = this.u32('metadata length');
    if (len === 0) return undefined;
    this.need(len, 'metadata');
    const b = this.buf;
    const at = this.pos;
    this.pos = at + len;
    if (encodable && this.keepEncoded && decodesInPlace(b, at, at + len)) {
      this.encoded = { buf: b, start: at, end: at + len };
      return undefined;
    }
    return unpackMetadataAt(b, at, at + len);
  }

  vector(): Float32Array {
    const dim = this.u32('dimension');
    const n = dim * 4;
    // Bounded by the payload before allocating.
    this.need(n, 'vector');
    const p = this.pos;
    this.pos = p + n;
    const out = this.alloc(dim);
    // The window may be shared memory (its CRCs checked on the helper thread): see copyBytes.
    if (LITTLE_ENDIAN_HOST) copyBytes(this.buf, p, p + n, bytesOf(out.buffer), out.byteOffset);
    else for (let i = 0; i < dim; i++) out[i] = this.buf.readFloatLE(p + 4 * i);
    return out;
  }
}

function decodeOp(type: number, c: PayloadCursor): DecodedOp {
  switch (type) {
    case RecordType.UPSERT: {
      const id = c.id();
      const vector = c.vector();
      const metadata = c.metadata(true);
      const metadataBytes = c.encoded;
      if (metadataBytes !== undefined) {
        c.encoded = undefined;
        return { type: 'upsert', id, vector, metadataBytes };
      }
      return metadata === undefined ? { type: 'upsert', id, vector } : { type: 'upsert', id, vector, metadata };
    }
    case RecordType.DELETE:
      return { type: 'delete', id: c.id() };
    case RecordType.UPDATE_METADATA: {
      const id = c.id();
      const metadata = c.metadata();
      return metadata === undefined ? { type: 'updateMetadata', id } : { type: 'updateMetadata', id, metadata };
    }
    case RecordType.CLEAR:
      return { type: 'clear' };
    default:
      throw new Error(`unknown op type ${type}`);
  }
}

function expectEnd(c: PayloadCursor, what: string, index?: number): void {
  if (c.pos !== c.end) throw new Error(`${c.end - c.pos} unexpected bytes after the ${opLabel(what, index)}`);
}

/** `what`, numbered when `index` is given (built only for an error: replay decodes every batch op). */
function opLabel(what: string, index: number | undefined): string {
  return index === undefined ? what : `${what} ${index}`;
}

/**
 * Decodes the payload of the record whose header is at `at` (CRC already verified), taking vector room
 * from `alloc`. Ids and metadata are copied out of `buf`, except that with `keepEncoded` an upsert's
 * metadata that decodes in place is left in `buf` as `metadataBytes` (valid until `buf` changes).
 * Throws a plain Error describing the problem when the payload does not match its type.
 */
export function decodePayload(buf: Buffer, at: number, h: RecordHeader, alloc: VectorAlloc = allocVector, keepEncoded = false): DecodedRecord {
  const c = new PayloadCursor(buf, at + RECORD_HEADER_SIZE, at + RECORD_HEADER_SIZE + h.length, alloc, keepEncoded);
  if (h.type !== RecordType.BATCH) {
    const op = decodeOp(h.type, c);
    expectEnd(c, 'record');
    return op;
  }
  const count = c.u32('batch count');
  // Each op takes at least 5 bytes: a damaged count cannot make us loop or allocate beyond the payload.
  if (count * 5 > c.end - c.pos) throw new Error(`batch count ${count} exceeds what the payload can hold`);
  const ops: DecodedOp[] = [];
  for (let i = 0; i < count; i++) {
    const type = c.u8('batch op type');
    if (type === RecordType.BATCH) throw new Error('nested batch');
    const len = c.u32('batch op length');
    c.need(len, 'batch op', i + 1);
    const inner = new PayloadCursor(buf, c.pos, c.pos + len, alloc, keepEncoded);
    ops.push(decodeOp(type, inner));
    expectEnd(inner, 'batch op', i + 1);
    c.pos += len;
  }
  expectEnd(c, 'batch');
  return { type: 'batch', ops };
}
