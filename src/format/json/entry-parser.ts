/**
 * Parses the elements of a state file's "vectors" array and id lists. Each element is parsed from a
 * window of bytes in one synchronous pass (keys in any order, any whitespace); vector numbers go
 * straight into the ColumnsBuilder's Float32Array, ids and metadata are decoded from their byte
 * slices. A NEED_MORE from any scanner aborts the element; the caller refills and parses it again
 * (nothing is committed until the element is complete).
 */
import type { Id, Metadata } from '../../engine/types.js';
import { failedElement, parseFloat32Array, parseFloat32At } from './float-parse.js';
import { JsonSyntaxError, decodeUtf8, expected, lastStringWasPlain, parseJsonSlice, scanString, scanValue, skipWs, stringValue } from './tokenizer.js';
import type { ColumnsBuilder } from '../columns-builder.js';

/** Largest vector length accepted (the engine's limit). */
export const MAX_DIMENSION = 65536;
/** Largest id accepted, in UTF-8 bytes (the engine's limit). */
export const MAX_ID_BYTES = 65535;

function withPath(err: unknown, path: string): unknown {
  if (err instanceof JsonSyntaxError && err.path === '') err.path = path;
  return err;
}

/** The id parsed by the last {@link parseId} call (module-level to avoid a result object per entry). */
export let parsedId: Id = '';

/** Parses an id value (string or safe integer) at `buf[pos]`; sets {@link parsedId}, returns the end. */
export function parseId(buf: Uint8Array, pos: number, end: number): number {
  const c = buf[pos];
  if (c === 34 /* " */) {
    const e = scanString(buf, pos, end);
    const s = stringValue(buf, pos, e, lastStringWasPlain);
    if (s.length === 0) throw new JsonSyntaxError(pos, 'an id must not be the empty string');
    if (s.length > MAX_ID_BYTES / 3 && Buffer.byteLength(s) > MAX_ID_BYTES) throw new JsonSyntaxError(pos, `an id must be at most ${MAX_ID_BYTES} UTF-8 bytes`);
    parsedId = s;
    return e;
  }
  const e = scanValue(buf, pos, end);
  if (c === 45 || (c >= 48 && c <= 57)) {
    const v = parseJsonSlice(buf, pos, e) as number;
    if (Number.isSafeInteger(v)) {
      parsedId = v === 0 ? 0 : v; // -0 and 0 are one id
      return e;
    }
  }
  throw new JsonSyntaxError(pos, 'an id must be a string or a safe integer');
}

/** Codes of an entry's member names (see {@link readEntryKey}). */
export const KEY_OTHER = 0;
export const KEY_ID = 1;
export const KEY_VECTOR = 2;
export const KEY_METADATA = 3;

const NAME_BYTES: readonly [number, number[]][] = [
  [KEY_ID, [...Buffer.from('"id"')]],
  [KEY_VECTOR, [...Buffer.from('"vector"')]],
  [KEY_METADATA, [...Buffer.from('"metadata"')]],
];

/** Where the member name read by the last {@link readEntryKey} ends. */
export let keyEnd = 0;
/** That name, when it was not one of the three (or was spelled with escapes). */
export let keyText = '';

/**
 * Identifies the member name of an entry object at `buf[pos]` (a quote) and returns its KEY_ code;
 * sets keyEnd (and keyText). Used by the state format's and the reference-000 files' entry readers.
 */
export function readEntryKey(buf: Uint8Array, pos: number, end: number): number {
  for (const [code, bytes] of NAME_BYTES) {
    let i = 0;
    while (i < bytes.length && buf[pos + i] === bytes[i]) i++;
    if (i === bytes.length) {
      keyEnd = pos + i;
      return code;
    }
  }
  // Unusual spellings ("\u0069d") and unknown names take the general path.
  keyEnd = scanString(buf, pos, end);
  keyText = stringValue(buf, pos, keyEnd, lastStringWasPlain);
  return keyText === 'id' ? KEY_ID : keyText === 'vector' ? KEY_VECTOR : keyText === 'metadata' ? KEY_METADATA : KEY_OTHER;
}

let scratch = new Float32Array(1024);
/** Index of the number being read when a vector failed (-1: the failure was not inside a vector). */
let failedItem = -1;

/** Parses a vector of unknown length into the scratch buffer, then fixes the builder's dimension. */
function parseFirstVector(buf: Uint8Array, pos: number, end: number, b: ColumnsBuilder): number {
  let n = 0;
  if (buf[pos] === 93 /* ] */) throw new JsonSyntaxError(pos, 'a vector must not be empty');
  try {
    for (;;) {
      if (n === scratch.length) {
        if (n >= MAX_DIMENSION) throw new JsonSyntaxError(pos, `a vector has more than ${MAX_DIMENSION} numbers`);
        const grown = new Float32Array(n * 2);
        grown.set(scratch);
        scratch = grown;
      }
      pos = parseFloat32At(buf, pos, end, scratch, n);
      n++;
      pos = skipWs(buf, pos);
      const c = buf[pos];
      if (c === 44 /* , */) pos = skipWs(buf, pos + 1);
      else if (c === 93 /* ] */) break;
      else expected(buf, pos, end, '"," or "]" in a vector');
    }
  } catch (err) {
    failedItem = n;
    throw err;
  }
  b.setDimension(n);
  b.slot().set(scratch.subarray(0, n), b.count * n);
  return pos + 1;
}

/** Parses the vector array at `buf[pos]` (a "[" expected) into the builder's slot for the next entry. */
function parseVector(buf: Uint8Array, pos: number, end: number, b: ColumnsBuilder): number {
  if (buf[pos] !== 91 /* [ */) expected(buf, pos, end, 'an array of numbers');
  pos = skipWs(buf, pos + 1);
  const dim = b.dimension;
  if (dim === 0) return parseFirstVector(buf, pos, end, b);
  try {
    return parseFloat32Array(buf, pos, end, b.slot(), b.count * dim, dim);
  } catch (err) {
    failedItem = failedElement;
    throw err;
  }
}

let parsedMeta: Metadata | undefined;

/** Parses a metadata value (object or null) at `buf[pos]`. */
function parseMetadata(buf: Uint8Array, pos: number, end: number): number {
  const c = buf[pos];
  const e = scanValue(buf, pos, end);
  if (c === 123 /* { */) {
    parsedMeta = parseJsonSlice(buf, pos, e) as Metadata;
    return e;
  }
  if (e - pos === 4 && decodeUtf8(buf, pos, e) === 'null') {
    parsedMeta = undefined;
    return e;
  }
  throw new JsonSyntaxError(pos, 'metadata must be an object or null');
}

/**
 * Parses one element of "vectors" at `buf[pos]` (a "{" expected) and commits it to `b`; returns the
 * position after it. Errors carry the JSON path `vectors[i]...`.
 */
export function parseEntry(buf: Uint8Array, pos: number, end: number, b: ColumnsBuilder, section: string): number {
  const index = b.count;
  let field = '';
  failedItem = -1;
  try {
    if (buf[pos] !== 123 /* { */) expected(buf, pos, end, 'an entry object');
    const start = pos;
    pos = skipWs(buf, pos + 1);
    let seen = 0;
    let id: Id = '';
    parsedMeta = undefined;
    let meta: Metadata | undefined;
    if (buf[pos] !== 125 /* } */) {
      for (;;) {
        if (buf[pos] !== 34 /* " */) expected(buf, pos, end, 'a member name');
        const key = readEntryKey(buf, pos, end);
        field = key === KEY_ID ? '.id' : key === KEY_VECTOR ? '.vector' : key === KEY_METADATA ? '.metadata' : '';
        if (key === KEY_OTHER) throw new JsonSyntaxError(pos, `unknown member ${JSON.stringify(keyText)} in an entry (allowed: id, vector, metadata)`);
        if (seen & (1 << key)) throw new JsonSyntaxError(pos, `member "${field.slice(1)}" appears twice`);
        seen |= 1 << key;
        pos = skipWs(buf, keyEnd);
        if (buf[pos] !== 58 /* : */) expected(buf, pos, end, '":"');
        pos = skipWs(buf, pos + 1);
        if (key === KEY_VECTOR) pos = parseVector(buf, pos, end, b);
        else if (key === KEY_ID) {
          pos = parseId(buf, pos, end);
          id = parsedId;
        } else {
          pos = parseMetadata(buf, pos, end);
          meta = parsedMeta;
        }
        field = '';
        pos = skipWs(buf, pos);
        const c = buf[pos];
        if (c === 44 /* , */) pos = skipWs(buf, pos + 1);
        else if (c === 125 /* } */) break;
        else expected(buf, pos, end, '"," or "}" after an entry member');
      }
    }
    if (!(seen & (1 << KEY_ID))) throw new JsonSyntaxError(start, 'the entry has no "id"');
    if (!(seen & (1 << KEY_VECTOR))) throw new JsonSyntaxError(start, 'the entry has no "vector"');
    if (!b.commit(id, meta)) throw new JsonSyntaxError(start, `duplicate id ${JSON.stringify(id)} (${typeof id})`);
    return pos + 1;
  } catch (err) {
    throw withPath(err, `${section}[${index}]${field}${field === '.vector' && failedItem >= 0 ? `[${failedItem}]` : ''}`);
  }
}

/** Parses one id of an id list (e.g. "deleted") at `buf[pos]`; errors carry `section[index]`. */
export function parseListId(buf: Uint8Array, pos: number, end: number, section: string, index: number): number {
  try {
    return parseId(buf, pos, end);
  } catch (err) {
    throw withPath(err, `${section}[${index}]`);
  }
}
