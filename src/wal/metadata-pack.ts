/**
 * Metadata payloads of WAL records: the shared plain MessagePack codec, with the plain-JSON check
 * before encoding so that what a reader returns is exactly what was appended.
 */
import { QuiverError } from '../errors.js';
import { Unpackr } from 'msgpackr';
import { isPlainObject, jsonProblem, pack, unpackOne } from '../util/msgpack.js';

export { isWellFormedString } from '../util/msgpack.js';

/** Encodes metadata (a plain JSON object); throws QuiverError INVALID_METADATA otherwise. */
export function packMetadata(metadata: unknown): Uint8Array {
  if (!isPlainObject(metadata)) throw new QuiverError('INVALID_METADATA', 'metadata must be a plain JSON object (or omitted)');
  const p = jsonProblem(metadata, 'metadata');
  if (p) throw new QuiverError('INVALID_METADATA', `${p}; pass plain JSON metadata`);
  return pack(metadata);
}

/**
 * True when `bytes` may hold a MessagePack bin or ext value. msgpackr returns bin values as views of
 * its input, and the reader's window is reused, so such a (hand-made; packMetadata never writes one)
 * value must be decoded from a private copy. Bytes inside strings and numbers can match too: that only
 * costs a copy.
 */
function mayAlias(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if ((b >= 0xc4 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8)) return true;
  }
  return false;
}

/**
 * Decodes metadata occupying all of `bytes`; throws a plain Error when they are not one JSON object.
 * The result never shares memory with `bytes`, which the caller may overwrite afterwards.
 */
export function unpackMetadata(bytes: Uint8Array): Record<string, unknown> {
  const value = unpackOne(mayAlias(bytes) ? bytes.slice() : bytes);
  // Only the top level is checked: the bytes passed the record CRC, so they are what packMetadata
  // produced from checked plain JSON.
  if (!isPlainObject(value)) throw new Error('metadata payload is not a plain JSON object');
  return value;
}

// Same options as the shared codec's decoder (src/util/msgpack.ts): plain maps as objects, no records.
const inPlace = new Unpackr({ useRecords: false });
const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]; // "__proto__"

/** True when buf[start, end) may hold a bin/ext value (see mayAlias) or the bytes "__proto__". */
function needsPrivateDecode(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = buf[i];
    if ((b >= 0xc4 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8)) return true;
    if (b === 0x5f && i + PROTO.length <= end) {
      let j = 1;
      while (j < PROTO.length && buf[i + j] === PROTO[j]) j++;
      if (j === PROTO.length) return true;
    }
  }
  return false;
}

/**
 * {@link unpackMetadata} of buf[start, end), decoded in place: no per-record views (log replay calls
 * this once per record). Values that would alias `buf` or need the `__proto__` handling of the shared
 * codec take the general path on a private copy; the result is the same either way.
 */
export function unpackMetadataAt(buf: Buffer, start: number, end: number): Record<string, unknown> {
  if (needsPrivateDecode(buf, start, end)) return unpackMetadata(new Uint8Array(buf.subarray(start, end)));
  const value: unknown = inPlace.unpack(buf, { start, end });
  if (!isPlainObject(value)) throw new Error('metadata payload is not a plain JSON object');
  return value;
}
