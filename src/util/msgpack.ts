/**
 * The one MessagePack codec (plain: no records, no extensions, maps decoded as plain objects in key
 * order, `__proto__` kept as data) and the one plain-JSON value check, shared by .qvdb, the WAL and
 * snapshots so a writer never emits what a reader would reject.
 */
import { Packr, Unpackr } from 'msgpackr';

/** Deepest nesting of metadata (objects and arrays; the metadata object itself is level 1) that `insert` accepts. */
export const MAX_METADATA_DEPTH = 256;

/**
 * Most members one metadata object (at any level) may have: the codec writes every map with a 16-bit
 * member count (MessagePack map16, the form every stored file holds), so a wider object could not be
 * saved or logged; it is refused where it comes in instead.
 */
export const MAX_METADATA_KEYS = 0xffff;

/**
 * Deepest nesting every reader and writer of stored metadata accepts, in levels as above: files of
 * earlier versions (whose readers took up to this much from JSON text that `insert` would refuse) keep
 * reading; anything deeper is damage, and bounds the stack the recursive codecs use.
 */
export const MAX_STORED_DEPTH = 1001;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });
// msgpackr renames a "__proto__" key to "__proto_" when building objects; frames containing that key
// are decoded as Maps instead and converted here with defineProperty, so the key survives verbatim.
const mapUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: false });
const PROTO_KEY = Buffer.from('__proto__', 'latin1');

/** Encodes one value. The result stays valid after later calls (msgpackr never reuses returned bytes). */
export function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes exactly one value occupying all of `bytes`; throws (any Error) on malformed input. */
export function unpackOne(bytes: Uint8Array): unknown {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.indexOf(PROTO_KEY) === -1) return unpackr.unpack(buf);
  return mapsToObjects(mapUnpackr.unpack(buf));
}

function mapsToObjects(v: unknown): unknown {
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of v) {
      Object.defineProperty(out, String(k), { value: mapsToObjects(val), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = mapsToObjects(v[i]);
  }
  return v;
}

/** True for a non-null object that is neither an array nor a class instance (prototype Object or null). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const LONE_SURROGATE = /\p{Cs}/u;
const nativeWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/**
 * True when `s` survives UTF-8 encoding unchanged (no unpaired surrogate halves). Such strings would
 * silently change in a save/load round trip, so every way in (the engine, the readers) refuses them.
 */
export function isWellFormedString(s: string): boolean {
  return nativeWellFormed ? nativeWellFormed.call(s) : !LONE_SURROGATE.test(s);
}

/** True when `value` is plain JSON (see {@link jsonProblem}); the fast check, without descriptions. */
export function isJsonValue(value: unknown, depth = 0): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
      return isWellFormedString(value);
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (depth >= MAX_STORED_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isJsonValue(value[i], depth + 1)) return false;
        return true;
      }
      if (!isPlainObject(value)) return false;
      let members = 0;
      for (const key in value) {
        if (!isWellFormedString(key) || !isJsonValue(value[key], depth + 1)) return false;
        members++;
      }
      return members <= MAX_METADATA_KEYS;
    }
    default:
      return false;
  }
}

/**
 * Describes why `value` is not plain JSON (null, booleans, finite numbers, strings, arrays, plain
 * objects of at most MAX_METADATA_KEYS members, at most MAX_STORED_DEPTH levels deep), or returns undefined when it is. `path` names the value
 * in the description; `depth` is the value's own (negative for metadata wrapped in levels above it).
 */
export function jsonProblem(value: unknown, path: string, depth = 0): string | undefined {
  if (depth >= MAX_STORED_DEPTH && typeof value === 'object' && value !== null) return `${path} is nested deeper than ${MAX_STORED_DEPTH} levels`;
  switch (typeof value) {
    case 'string':
      return isWellFormedString(value) ? undefined : `${path} holds an unpaired surrogate (a \\uD800-\\uDFFF escape without its pair), which UTF-8 text cannot store`;
    case 'boolean':
      return undefined;
    case 'number':
      if (Number.isFinite(value)) return undefined;
      return Number.isNaN(value) ? `${path} is NaN (only finite numbers are JSON)` : `${path} is a number beyond the range of a float64 (it reads as ${value})`;
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const p = jsonProblem(value[i], `${path}[${i}]`, depth + 1);
          if (p) return p;
        }
        return undefined;
      }
      if (!isPlainObject(value)) return `${path} is a ${value.constructor?.name ?? 'non-plain object'}, not a plain JSON object`;
      const keys = Object.keys(value);
      if (keys.length > MAX_METADATA_KEYS) return `${path} has ${keys.length} members, more than the ${MAX_METADATA_KEYS} one object may have`;
      for (const key of keys) {
        if (!isWellFormedString(key)) return `a key of ${path} holds an unpaired surrogate`;
        const p = jsonProblem(value[key], `${path}.${key}`, depth + 1);
        if (p) return p;
      }
      return undefined;
    }
    default:
      return `${path} is ${typeof value}, not a JSON value`;
  }
}

/**
 * True when `bytes` may hold a MessagePack bin or ext value. msgpackr returns bin values as views of
 * its input, and the reader's window is reused, so such a (hand-made; packMetadata never writes one)
 * value must be decoded from a private copy. Bytes inside strings and numbers can match too: that only
 * costs a copy.
 */
function mayAlias(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (isBinOrExt(bytes[i])) return true;
  return false;
}

/** `value` as metadata: the top level must be a plain object (see unpackMetadata). */
function metadataObject(value: unknown): Record<string, unknown> {
  // Only the top level is checked: the bytes passed the record CRC, so they are what packMetadata
  // produced from checked plain JSON.
  if (!isPlainObject(value)) throw new Error('metadata payload is not a plain JSON object');
  return value;
}

/**
 * Decodes metadata occupying all of `bytes`; throws a plain Error when they are not one JSON object.
 * The result never shares memory with `bytes`, which the caller may overwrite afterwards.
 */
export function unpackMetadata(bytes: Uint8Array): Record<string, unknown> {
  return metadataObject(unpackOne(mayAlias(bytes) ? bytes.slice() : bytes));
}

// The shared decoder's options, for decoding a window's bytes in place.
const inPlace = new Unpackr({ useRecords: false });
const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]; // "__proto__"

/**
 * {@link unpackMetadata} of buf[start, end), decoded in place when {@link decodesInPlace} accepts the
 * bytes (no per-record views: log readers call this once per record). Anything else (bin or ext values,
 * which would alias `buf`, `__proto__` keys, which need the shared codec's handling, or bytes that are
 * not one map) takes the general path on a private copy; the result is the same either way.
 */
export function unpackMetadataAt(buf: Buffer, start: number, end: number): Record<string, unknown> {
  if (decodesInPlace(buf, start, end)) return unpackPlainMapAt(buf, start, end);
  // The copy is private, so nothing in the result can alias `buf`: no scan for bin or ext values.
  return metadataObject(unpackOne(new Uint8Array(buf.subarray(start, end))));
}

/**
 * Decodes in place bytes that {@link decodesInPlace} accepted (a plain map; cannot fail). Bytes in shared
 * memory are copied out first: msgpackr's native string extraction is ~30 times slower on them.
 */
export function unpackPlainMapAt(buf: Buffer, start: number, end: number): Record<string, unknown> {
  if (buf.buffer instanceof SharedArrayBuffer) return inPlace.unpack(Buffer.from(buf.subarray(start, end))) as Record<string, unknown>;
  return inPlace.unpack(buf, { start, end }) as Record<string, unknown>;
}

/** {@link valueExtent}: the value runs past `end`. */
export const EXTENT_SHORT = -1;
/** {@link valueExtent}: byte 0xc1, which MessagePack never uses. */
export const EXTENT_INVALID = -2;
/** {@link valueExtent}: containers nest deeper than the limit. */
export const EXTENT_TOO_DEEP = -3;
/** {@link valueExtent} with `plain`: a bin or ext value, a non-finite float, or a map key that is a container or `"__proto__"`. */
export const EXTENT_NOT_PLAIN = -4;

/** Fixed sizes (type byte included) of the scalar types 0xc0..0xdf; 0 = length-prefixed, container or invalid. */
const FIXED = new Uint8Array(256);
for (const [c, n] of [
  [0xc0, 1], [0xc2, 1], [0xc3, 1], [0xca, 5], [0xcb, 9], [0xcc, 2], [0xcd, 3], [0xce, 5], [0xcf, 9],
  [0xd0, 2], [0xd1, 3], [0xd2, 5], [0xd3, 9], [0xd4, 3], [0xd5, 4], [0xd6, 6], [0xd7, 10], [0xd8, 18],
]) FIXED[c] = n;

/** Big-endian u16 at `pos`. */
export function u16(buf: Uint8Array, pos: number): number {
  return (buf[pos] << 8) | buf[pos + 1];
}

/** Big-endian u32 at `pos`. */
export function u32(buf: Uint8Array, pos: number): number {
  return ((buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]) >>> 0;
}

function isContainer(c: number): boolean {
  return (c >= 0x80 && c < 0xa0) || (c >= 0xdc && c <= 0xdf);
}

/** True for the type codes of bin and ext values. */
function isBinOrExt(c: number): boolean {
  return (c >= 0xc4 && c <= 0xc9) || (c >= 0xd4 && c <= 0xd8);
}

/** True for the str `"__proto__"` at `pos`, in any of the str headers. */
function isProtoKey(buf: Uint8Array, pos: number, end: number): boolean {
  const c = buf[pos];
  const header = c === 0xa9 ? 1 : c === 0xd9 ? 2 : c === 0xda ? 3 : c === 0xdb ? 5 : 0;
  if (header === 0 || pos + header + 9 > end) return false;
  if (header > 1 && (header === 2 ? buf[pos + 1] : header === 3 ? u16(buf, pos + 1) : u32(buf, pos + 1)) !== 9) return false;
  for (let i = 0; i < 9; i++) if (buf[pos + header + i] !== PROTO[i]) return false;
  return true;
}

// The enclosing containers of a depth-limited walk (reused between calls: log replay walks every
// record's metadata): items each still has, and whether it is a map. Never longer than a walk's limit.
const outerPending: number[] = [];
const outerIsMap: boolean[] = [];

/**
 * The position just after the (possibly nested) MessagePack value at `pos`, reading no further than
 * `end`; or EXTENT_SHORT, EXTENT_INVALID (byte 0xc1), or EXTENT_TOO_DEEP when containers nest more than
 * `maxDepth` levels. With `plain`, also EXTENT_NOT_PLAIN for what the plain decoder would not turn into
 * plain JSON in place: bin and ext values, NaN and infinite floats, and map keys that are containers or
 * `"__proto__"`. Values are
 * walked, not decoded. Iterative: nesting costs no call stack, and without a depth limit or `plain`, no
 * memory either (a count of the items still to walk is all it keeps).
 */
export function valueExtent(buf: Uint8Array, pos: number, end: number, maxDepth = Infinity, plain = false): number {
  const nested = plain || maxDepth !== Infinity;
  let pending = 1;
  let depth = 0;
  let inMap = false;
  for (;;) {
    if (pending === 0) {
      if (depth === 0) break;
      depth--;
      pending = outerPending[depth];
      inMap = outerIsMap[depth];
      continue;
    }
    if (pos >= end) return EXTENT_SHORT;
    const c = buf[pos];
    if (plain) {
      // A map's items alternate key, value: a key is read while an even number of them is left.
      if (inMap && (pending & 1) === 0 && (isContainer(c) || isProtoKey(buf, pos, end))) return EXTENT_NOT_PLAIN;
      if (isBinOrExt(c)) return EXTENT_NOT_PLAIN;
      // NaN and the infinities are not JSON: float32 and float64 with an all-ones exponent.
      if (c === 0xca && pos + 2 < end && (buf[pos + 1] & 0x7f) === 0x7f && (buf[pos + 2] & 0x80) === 0x80) return EXTENT_NOT_PLAIN;
      if (c === 0xcb && pos + 2 < end && (buf[pos + 1] & 0x7f) === 0x7f && (buf[pos + 2] & 0xf0) === 0xf0) return EXTENT_NOT_PLAIN;
    }
    pending--;
    let items = 0;
    let map = false;
    // Arrays and maps, empty ones too (an empty one still adds a level of nesting).
    const container = (c >= 0x80 && c < 0xa0) || (c >= 0xdc && c <= 0xdf);
    if (container && nested && depth >= maxDepth) return EXTENT_TOO_DEEP;
    if (c < 0x80 || c >= 0xe0) pos++;
    else if (c < 0x90) {
      items = 2 * (c & 15);
      map = true;
      pos++;
    } else if (c < 0xa0) {
      items = c & 15;
      pos++;
    } else if (c < 0xc0) pos += 1 + (c & 31);
    else if (FIXED[c] !== 0) pos += FIXED[c];
    else {
      // Every remaining type has a length field: make sure it is there before reading it.
      const field = c === 0xc4 || c === 0xc7 || c === 0xd9 ? 1 : c === 0xc5 || c === 0xc8 || c === 0xda || c === 0xdc || c === 0xde ? 2 : 4;
      if (c === 0xc1) return EXTENT_INVALID;
      if (pos + 1 + field > end) return EXTENT_SHORT;
      const n = field === 1 ? buf[pos + 1] : field === 2 ? u16(buf, pos + 1) : u32(buf, pos + 1);
      pos += 1 + field;
      if (c === 0xdc || c === 0xdd) items = n;
      else if (c === 0xde || c === 0xdf) {
        items = 2 * n;
        map = true;
      } else pos += n + (c >= 0xc7 && c <= 0xc9 ? 1 : 0); // bin, str: the bytes; ext: its type byte too
    }
    if (items === 0) continue;
    if (!nested) {
      pending += items;
      continue;
    }
    outerPending[depth] = pending;
    outerIsMap[depth] = inMap;
    depth++;
    pending = items;
    inMap = map;
  }
  return pos > end ? EXTENT_SHORT : pos;
}

/**
 * True when buf[start, end) is exactly one MessagePack map, at most MAX_STORED_DEPTH levels deep, holding only
 * what {@link unpackMetadataAt} decodes to plain JSON (no bin or ext values, only finite numbers; map
 * keys are strings, numbers, booleans or nil, never `"__proto__"`): its decoding cannot fail and gives
 * a plain object, so it may be deferred until the metadata is read.
 */
export function decodesInPlace(buf: Uint8Array, start: number, end: number): boolean {
  return plainMapExtent(buf, start, end) === end;
}

/**
 * The position just after the MessagePack map at `pos` (read no further than `end`) when it is one
 * {@link decodesInPlace} would accept, else a negative number (not a map, or an EXTENT_* code).
 */
export function plainMapExtent(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return EXTENT_SHORT;
  const c = buf[pos];
  if ((c & 0xf0) !== 0x80 && c !== 0xde && c !== 0xdf) return EXTENT_NOT_PLAIN;
  return valueExtent(buf, pos, end, MAX_STORED_DEPTH, true);
}
