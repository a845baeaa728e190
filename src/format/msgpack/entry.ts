/**
 * Decodes one entry map `{id, vector, metadata?}` from a window of MessagePack bytes: the id by hand,
 * the vector bin copied straight into the ColumnsBuilder's slab, metadata by the one-pass JSON value
 * decoder (json-value.ts). Keys may come in any order; nothing is committed until the whole entry is there,
 * so a NEED_MORE leaves the builder unchanged and the entry is decoded again after a refill.
 */
import type { Id, Metadata } from '../../engine/types.js';
import { MAX_ID_BYTES } from '../../engine/validate.js';
import type { ColumnsBuilder } from '../columns-builder.js';
import { HOST_IS_LITTLE_ENDIAN, swap32InPlace } from '../qvdb/endian.js';
import { jsonValueAt, valueEnd } from './json-value.js';
import { NEED_MORE, WireProblem, binAt, headerEnd, mapSizeAt, need, numberAt, numberEnd, strAt, utf8At } from './wire.js';

const K_ID = 1;
const K_VECTOR = 2;
const K_METADATA = 4;
/** The trailer's first key: an entry map starting with it is the trailer, seen early. */
export const K_END = 8;

/** Key names by code, and their bytes. */
const NAME: Record<number, string> = { [K_ID]: 'id', [K_VECTOR]: 'vector', [K_METADATA]: 'metadata', [K_END]: 'end' };
const NAME_BYTES = [K_ID, K_VECTOR, K_METADATA, K_END].map((k) => [k, Buffer.from(NAME[k], 'latin1')] as const);

let keyEnd = 0;

/** True when `buf[at..]` holds the bytes of `name` (the caller checked the length). */
function sameBytes(buf: Uint8Array, at: number, name: Uint8Array): boolean {
  for (let i = 0; i < name.length; i++) if (buf[at + i] !== name[i]) return false;
  return true;
}

/** Identifies the key at `pos` (a str); sets keyEnd. Returns 0 for any other name. */
function keyAt(buf: Uint8Array, pos: number, end: number): number {
  const len = strAt(buf, pos, end);
  if (len < 0) throw new WireProblem(pos, 'an entry key is not a string');
  const start = headerEnd;
  if (start + len > end) throw NEED_MORE;
  keyEnd = start + len;
  for (let j = 0; j < NAME_BYTES.length; j++) {
    const bytes = NAME_BYTES[j][1];
    if (bytes.length === len && sameBytes(buf, start, bytes)) return NAME_BYTES[j][0];
  }
  return 0;
}

/** The id decoded by the last {@link decodeEntry}. */
export let entryId: Id = '';
/** The metadata decoded by the last {@link decodeEntry}. */
export let entryMeta: Metadata | undefined;

function decodeId(buf: Uint8Array, pos: number, end: number): number {
  const len = strAt(buf, pos, end);
  if (len >= 0) {
    const start = headerEnd;
    if (start + len > end) throw NEED_MORE;
    if (len === 0) throw new WireProblem(pos, 'the id is an empty string', '.id');
    if (len > MAX_ID_BYTES) throw new WireProblem(pos, `the id is longer than ${MAX_ID_BYTES} UTF-8 bytes`, '.id');
    const s = utf8At(buf, start, start + len);
    if (s === undefined) throw new WireProblem(pos, 'the id is not valid UTF-8', '.id');
    entryId = s;
    return start + len;
  }
  const v = numberAt(buf, pos, end);
  if (!Number.isSafeInteger(v)) throw new WireProblem(pos, Number.isNaN(v) ? 'the id must be a string or a safe integer' : `the id ${v} is not a safe integer`, '.id');
  entryId = v === 0 ? 0 : v;
  return numberEnd;
}

function decodeMetadata(buf: Uint8Array, pos: number, end: number): number {
  need(pos, 1, end);
  if (buf[pos] === 0xc0) {
    entryMeta = undefined;
    return pos + 1;
  }
  if (mapSizeAt(buf, pos, end) < 0) throw new WireProblem(pos, 'metadata must be a map or nil', '.metadata');
  try {
    entryMeta = jsonValueAt(buf, pos, end) as Metadata;
  } catch (err) {
    if (err instanceof WireProblem) throw new WireProblem(err.pos, `metadata is not plain JSON: ${err.problem}`, '.metadata');
    throw err;
  }
  return valueEnd;
}

let slabOf: Float32Array | undefined;
let slabBytes: Uint8Array = new Uint8Array(0);
let slabWords: Uint32Array = new Uint32Array(0);

/** Element index (0-based) of the first NaN or ±Infinity in the last decoded vector, or -1. */
export let entryBadElement = -1;

/** Index (relative to `from`) of the first word of `w[from, from + n)` whose exponent is all ones, or -1. */
function firstNonFinite(w: Uint32Array, from: number, n: number): number {
  const E = 0x7f800000;
  let acc = 0;
  // One branch per vector: adding one exponent step to an all-ones exponent carries into the sign bit.
  for (let i = from, stop = from + n; i < stop; i++) acc |= ((w[i] & E) + 0x00800000) & 0x80000000;
  if (acc === 0) return -1;
  for (let i = 0; i < n; i++) if ((w[from + i] & E) === E) return i;
  return -1;
}

function decodeVector(buf: Uint8Array, pos: number, end: number, b: ColumnsBuilder): number {
  const len = binAt(buf, pos, end);
  const dim = b.dimension;
  if (len < 0) throw new WireProblem(pos, `the vector must be a bin of ${dim * 4} bytes (little-endian float32)`, '.vector');
  if (len !== dim * 4) {
    const floats = len % 4 === 0 ? `${len / 4} floats` : `${len} bytes, not whole float32s`;
    throw new WireProblem(pos, `the vector has ${floats}, expected ${dim} (dimension mismatch)`, '.vector');
  }
  const start = headerEnd;
  if (start + len > end) throw NEED_MORE;
  const slab = b.slot();
  if (slab !== slabOf) {
    slabOf = slab;
    slabBytes = new Uint8Array(slab.buffer, slab.byteOffset, slab.byteLength);
    slabWords = new Uint32Array(slab.buffer, slab.byteOffset, slab.length);
  }
  const at = b.count * len;
  slabBytes.set(buf.subarray(start, start + len), at);
  if (!HOST_IS_LITTLE_ENDIAN) swap32InPlace(slabBytes.subarray(at, at + len));
  // Checked now, while the bytes are in cache; reported by the reader after the checksum.
  entryBadElement = firstNonFinite(slabWords, at >> 2, dim);
  return start + len;
}

/**
 * Decodes the entry map at `buf[pos]` into the builder's next slot (not committed: the caller commits
 * {@link entryId} / {@link entryMeta}); returns the position after it, or -1 when the map's first key
 * is "end" (the trailer). Throws NEED_MORE or WireProblem (whose `field` names the key).
 */
export function decodeEntry(buf: Uint8Array, pos: number, end: number, b: ColumnsBuilder): number {
  const n = mapSizeAt(buf, pos, end);
  if (n < 0) throw new WireProblem(pos, 'expected an entry map');
  pos = headerEnd;
  let seen = 0;
  entryMeta = undefined;
  entryBadElement = -1;
  for (let i = 0; i < n; i++) {
    const keyPos = pos;
    const k = keyAt(buf, pos, end);
    if (k === K_END && i === 0) return -1;
    if (k === 0 || k === K_END) throw new WireProblem(keyPos, `unknown key ${JSON.stringify(utf8At(buf, headerEnd, keyEnd) ?? '?')} in an entry (allowed: id, vector, metadata)`);
    if (seen & k) throw new WireProblem(keyPos, `key "${NAME[k]}" appears twice`);
    seen |= k;
    pos = keyEnd;
    if (k === K_ID) pos = decodeId(buf, pos, end);
    else if (k === K_VECTOR) pos = decodeVector(buf, pos, end, b);
    else pos = decodeMetadata(buf, pos, end);
  }
  if (!(seen & K_ID)) throw new WireProblem(pos, 'the entry has no "id"');
  if (!(seen & K_VECTOR)) throw new WireProblem(pos, 'the entry has no "vector"');
  return pos;
}
