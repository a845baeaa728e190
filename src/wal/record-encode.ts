/**
 * Encoding of WAL records: header (CRC32, length, seq, type) and the payload of each record type, as
 * specified in docs/WAL.part.md. Encoding is synchronous and copies everything it needs, so callers may
 * reuse their arrays as soon as `append` returns.
 */
import { crc32 } from 'node:zlib';
import { QuiverError } from '../errors.js';
import type { Id } from '../engine/types.js';
import { IdTag, MAX_RECORD_PAYLOAD, MAX_SEQ, RECORD_CRC_COVERS_FROM, RECORD_HEADER_SIZE, RecordType } from './constants.js';
import { isWellFormedString, packMetadata } from './metadata-pack.js';
import type { WalOp, WalRecord } from './types.js';

const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** An op validated and converted, ready to be written into a record buffer. */
interface PreparedOp {
  type: number;
  size: number;
  write(buf: Buffer, at: number): number;
}

interface PreparedId {
  size: number;
  write(buf: Buffer, at: number): number;
}

function prepareId(id: Id): PreparedId {
  if (typeof id === 'string') {
    if (!isWellFormedString(id)) throw new QuiverError('INVALID_ID', 'id contains an unpaired surrogate and cannot be stored as UTF-8; pass a well-formed string');
    const bytes = Buffer.from(id, 'utf8');
    return {
      size: 5 + bytes.length,
      write: (buf, at) => {
        buf[at] = IdTag.STRING;
        buf.writeUInt32LE(bytes.length, at + 1);
        buf.set(bytes, at + 5);
        return at + 5 + bytes.length;
      },
    };
  }
  if (typeof id === 'number' && Number.isFinite(id)) {
    return {
      size: 9,
      write: (buf, at) => {
        buf[at] = IdTag.NUMBER;
        buf.writeDoubleLE(id, at + 1);
        return at + 9;
      },
    };
  }
  throw new QuiverError('INVALID_ID', `id must be a string or a finite number, got ${typeof id === 'number' ? String(id) : typeof id}`);
}

function prepareMetadata(metadata: unknown): Uint8Array | undefined {
  return metadata === undefined ? undefined : packMetadata(metadata);
}

function writeMetadata(buf: Buffer, at: number, meta: Uint8Array | undefined): number {
  const len = meta?.length ?? 0;
  buf.writeUInt32LE(len, at);
  if (meta) buf.set(meta, at + 4);
  return at + 4 + len;
}

function toFloat32(vector: ArrayLike<number>): Float32Array {
  if (vector === null || typeof vector !== 'object' || !Number.isSafeInteger(vector.length) || vector.length < 0) {
    throw new QuiverError('INVALID_VECTOR', 'vector must be an array or typed array of numbers');
  }
  if (vector.length * 4 > MAX_RECORD_PAYLOAD) throw new QuiverError('LIMIT_EXCEEDED', `a vector of ${vector.length} dimensions exceeds the log's record size limit`);
  // Always a copy: the caller may mutate its array once append has returned (and metadata packed
  // between preparing and writing a batch must not be able to change a prepared vector).
  // new Float32Array takes the fast path for arrays and typed arrays; .from serves other array-likes.
  if (Array.isArray(vector) || ArrayBuffer.isView(vector)) return new Float32Array(vector as ArrayLike<number>);
  return Float32Array.from(vector);
}

function writeFloats(buf: Buffer, at: number, v: Float32Array): number {
  if (LITTLE_ENDIAN_HOST) {
    buf.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), at);
  } else {
    for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i], at + 4 * i);
  }
  return at + v.byteLength;
}

function prepareOp(op: WalOp): PreparedOp {
  if (op === null || typeof op !== 'object') throw new QuiverError('INVALID_ARGUMENT', 'a log record must be an object with a "type"');
  switch (op.type) {
    case 'upsert': {
      const id = prepareId(op.id);
      const vec = toFloat32(op.vector);
      const meta = prepareMetadata(op.metadata);
      return {
        type: RecordType.UPSERT,
        size: id.size + 4 + vec.byteLength + 4 + (meta?.length ?? 0),
        write: (buf, at) => {
          at = id.write(buf, at);
          buf.writeUInt32LE(vec.length, at);
          at = writeFloats(buf, at + 4, vec);
          return writeMetadata(buf, at, meta);
        },
      };
    }
    case 'delete': {
      const id = prepareId(op.id);
      return { type: RecordType.DELETE, size: id.size, write: (buf, at) => id.write(buf, at) };
    }
    case 'updateMetadata': {
      const id = prepareId(op.id);
      const meta = prepareMetadata(op.metadata);
      return {
        type: RecordType.UPDATE_METADATA,
        size: id.size + 4 + (meta?.length ?? 0),
        write: (buf, at) => writeMetadata(buf, id.write(buf, at), meta),
      };
    }
    case 'clear':
      return { type: RecordType.CLEAR, size: 0, write: (_buf, at) => at };
    default:
      throw new QuiverError('INVALID_ARGUMENT', `unknown log record type ${JSON.stringify((op as { type?: unknown }).type)}; use upsert, delete, updateMetadata, clear or batch`);
  }
}

function prepareRecord(record: WalRecord): PreparedOp {
  if (record !== null && typeof record === 'object' && record.type === 'batch') {
    if (!Array.isArray(record.ops)) throw new QuiverError('INVALID_ARGUMENT', 'a batch record needs an "ops" array');
    const ops = record.ops.map((op) => {
      if ((op as { type?: unknown } | null)?.type === 'batch') throw new QuiverError('INVALID_ARGUMENT', 'batches cannot be nested; flatten the inner batch');
      return prepareOp(op);
    });
    let size = 4;
    for (const op of ops) size += 5 + op.size;
    return {
      type: RecordType.BATCH,
      size,
      write: (buf, at) => {
        buf.writeUInt32LE(ops.length, at);
        at += 4;
        for (const op of ops) {
          buf[at] = op.type;
          buf.writeUInt32LE(op.size, at + 1);
          const end = op.write(buf, at + 5);
          if (end !== at + 5 + op.size) throw new Error(`internal: batch op size mismatch (${end - at - 5} != ${op.size})`);
          at = end;
        }
        return at;
      },
    };
  }
  return prepareOp(record as WalOp);
}

/**
 * Validates `record` and encodes it as one complete log record with sequence number `seq`. Throws a
 * QuiverError (INVALID_*, LIMIT_EXCEEDED) for records that cannot be logged.
 */
export function encodeRecord(record: WalRecord, seq: number): Buffer {
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > MAX_SEQ) throw new RangeError(`sequence number ${seq} is out of range`);
  const prepared = prepareRecord(record);
  if (prepared.size > MAX_RECORD_PAYLOAD) {
    throw new QuiverError('LIMIT_EXCEEDED', `a log record of ${prepared.size} bytes exceeds the ${MAX_RECORD_PAYLOAD}-byte limit; split the batch`);
  }
  const buf = Buffer.allocUnsafe(RECORD_HEADER_SIZE + prepared.size);
  buf.writeUInt32LE(prepared.size, 4);
  buf.writeUInt32LE(seq % 0x1_0000_0000, 8);
  buf.writeUInt32LE(Math.floor(seq / 0x1_0000_0000), 12);
  buf[16] = prepared.type;
  buf[17] = 0;
  buf.writeUInt16LE(0, 18);
  const end = prepared.write(buf, RECORD_HEADER_SIZE);
  if (end !== buf.length) throw new Error(`internal: record size mismatch (${end} != ${buf.length})`);
  buf.writeUInt32LE(crc32(buf.subarray(RECORD_CRC_COVERS_FROM)), 0);
  return buf;
}
