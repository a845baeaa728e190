/**
 * Decoding of WAL records. Header checks are split from payload decoding so the reader can tell a torn
 * or damaged record (bad length, bad CRC) from one whose CRC is valid but whose content is not.
 * Every length is checked against the bytes present before anything is allocated from it.
 */
import { crc32 } from 'node:zlib';
import type { Id } from '../engine/types.js';
import { IdTag, RECORD_CRC_COVERS_FROM, RECORD_HEADER_SIZE, RecordType } from './constants.js';
import { unpackMetadata } from './metadata-pack.js';
import type { DecodedOp, DecodedRecord } from './types.js';

const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const utf8 = new TextDecoder('utf-8', { fatal: true });

// Decoded vectors are carved out of shared slabs: one small ArrayBuffer per vector made allocation
// the largest cost of replay. A slab is never reused, so each vector's elements are its own.
const SLAB_FLOATS = 16 * 1024;
let slab = new Float32Array(0);
let slabUsed = 0;

function allocVector(dim: number): Float32Array {
  if (dim > SLAB_FLOATS / 4) return new Float32Array(dim);
  if (slabUsed + dim > slab.length) {
    slab = new Float32Array(SLAB_FLOATS);
    slabUsed = 0;
  }
  const v = slab.subarray(slabUsed, slabUsed + dim);
  slabUsed += dim;
  return v;
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

/** Reads the header at `at` (the caller guarantees RECORD_HEADER_SIZE bytes are present). */
export function readRecordHeader(buf: Buffer, at: number): RecordHeader {
  const hi = buf.readUInt32LE(at + 12);
  return {
    crc: buf.readUInt32LE(at),
    length: buf.readUInt32LE(at + 4),
    // A high word above 2^21 - 1 makes seq unsafe; report it as Infinity so every range check fails.
    seq: hi > 0x1f_ffff ? Infinity : hi * 0x1_0000_0000 + buf.readUInt32LE(at + 8),
    type: buf[at + 16],
    flags: buf[at + 17],
    reserved: buf.readUInt16LE(at + 18),
  };
}

/** True when type, flags, reserved and seq are values a version-1 writer produces (length and CRC not checked). */
export function plausibleHeader(h: RecordHeader): boolean {
  return h.type >= RecordType.UPSERT && h.type <= RecordType.BATCH && h.flags === 0 && h.reserved === 0 && Number.isFinite(h.seq) && h.seq >= 1;
}

/** True when the CRC stored in the record at `at` (with payload length `length`) matches its bytes. */
export function crcMatches(buf: Buffer, at: number, length: number): boolean {
  return crc32(buf.subarray(at + RECORD_CRC_COVERS_FROM, at + RECORD_HEADER_SIZE + length)) === buf.readUInt32LE(at);
}

/** A cursor over one payload; every read is bounds-checked and throws a plain Error when short. */
class PayloadCursor {
  pos: number;
  constructor(private readonly buf: Buffer, start: number, readonly end: number) {
    this.pos = start;
  }

  need(n: number, what: string): void {
    if (n > this.end - this.pos) throw new Error(`${what} needs ${n} bytes but only ${this.end - this.pos} remain in the payload`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  id(): Id {
    const tag = this.u8('id tag');
    if (tag === IdTag.STRING) return utf8.decode(this.bytes(this.u32('id length'), 'id'));
    if (tag === IdTag.NUMBER) {
      const v = this.bytes(8, 'numeric id').readDoubleLE(0);
      if (!Number.isFinite(v)) throw new Error('numeric id is not finite');
      return v;
    }
    throw new Error(`unknown id tag ${tag}`);
  }

  metadata(): Record<string, unknown> | undefined {
    const len = this.u32('metadata length');
    return len === 0 ? undefined : unpackMetadata(this.bytes(len, 'metadata'));
  }

  vector(): Float32Array {
    const dim = this.u32('dimension');
    // Bounded by the payload before allocating.
    const raw = this.bytes(dim * 4, 'vector');
    const out = allocVector(dim);
    if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer, out.byteOffset, raw.length).set(raw);
    else for (let i = 0; i < dim; i++) out[i] = raw.readFloatLE(4 * i);
    return out;
  }
}

function decodeOp(type: number, c: PayloadCursor): DecodedOp {
  switch (type) {
    case RecordType.UPSERT: {
      const id = c.id();
      const vector = c.vector();
      const metadata = c.metadata();
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

function expectEnd(c: PayloadCursor, what: string): void {
  if (c.pos !== c.end) throw new Error(`${c.end - c.pos} unexpected bytes after the ${what}`);
}

/**
 * Decodes the payload of the record whose header is at `at` (CRC already verified). Throws a plain
 * Error describing the problem when the payload does not match its type.
 */
export function decodePayload(buf: Buffer, at: number, h: RecordHeader): DecodedRecord {
  const c = new PayloadCursor(buf, at + RECORD_HEADER_SIZE, at + RECORD_HEADER_SIZE + h.length);
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
    c.need(len, `batch op ${i + 1}`);
    const inner = new PayloadCursor(buf, c.pos, c.pos + len);
    ops.push(decodeOp(type, inner));
    expectEnd(inner, `batch op ${i + 1}`);
    c.pos += len;
  }
  expectEnd(c, 'batch');
  return { type: 'batch', ops };
}
