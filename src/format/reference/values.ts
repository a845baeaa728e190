/**
 * Value parsers for the import readers, on top of the JSON format's tokenizer: an id (validated as
 * the engine would), a vector array straight into a ColumnsBuilder (the first one fixes the
 * dimension when the file declared none; numbers through the JSON format's number reader, which is
 * fast also for the full-precision text the reference systems wrote), and a metadata value.
 */
import type { Id, Metadata } from '../../engine/types.js';
import { isWellFormedString } from '../../util/msgpack.js';
import type { ColumnsBuilder } from '../columns-builder.js';
import { MAX_DIMENSION, parseId, parsedId } from '../json/entry-parser.js';
import { JsonSyntaxError, expected, parseJsonSlice, scanValue, skipWs } from '../json/tokenizer.js';
import type { CanonicalHash } from './canonical.js';
import { parseFloat32At } from '../json/float-parse.js';

/** The id read by the last {@link readId} (module-level: no result object per element). */
export let lastId: Id = '';

/**
 * Parses an id at `buf[pos]`: a non-empty, well-formed string of at most 65535 UTF-8 bytes or a
 * safe integer (-0 becomes 0). Sets {@link lastId}; returns the position after it.
 */
export function readId(buf: Uint8Array, pos: number, end: number): number {
  const e = parseId(buf, pos, end);
  if (typeof parsedId === 'string' && !isWellFormedString(parsedId)) throw new JsonSyntaxError(pos, 'an id must not contain an unpaired UTF-16 surrogate');
  lastId = parsedId;
  return e;
}

/** Index of the number that failed in the last {@link readVector} (-1: not one number). */
export let failedNumber = -1;

let scratch = new Float32Array(1024);

/**
 * Parses the vector array at `buf[pos]` into the builder's slot for entry `b.count` (not committed)
 * and returns the position after its "]". The first vector of a file that declared no dimension
 * fixes it; after that a different length is a syntax error saying "dimension mismatch". Numbers
 * are `Math.fround(Number(text))` and must be finite (see json/float-parse.ts). With `echo`, the array's
 * text minus whitespace is added to it (room reserved by the caller).
 */
export function readVector(buf: Uint8Array, pos: number, end: number, b: ColumnsBuilder, echo?: CanonicalHash): number {
  failedNumber = -1;
  if (buf[pos] !== 91 /* [ */) expected(buf, pos, end, 'an array of numbers');
  pos = skipWs(buf, pos + 1);
  const dim = b.dimension;
  if (buf[pos] === 93 /* ] */) throw new JsonSyntaxError(pos, dim ? `the vector has 0 numbers, expected ${dim} (dimension mismatch)` : 'a vector must not be empty');
  let dst = dim ? b.slot() : scratch;
  const base = dim ? b.count * dim : 0;
  echo?.byte(91);
  let n = 0;
  try {
    for (;;) {
      if (dim) {
        if (n === dim) throw new JsonSyntaxError(pos, `the vector has more than ${dim} numbers (dimension mismatch)`);
      } else if (n === scratch.length) {
        if (n >= MAX_DIMENSION) throw new JsonSyntaxError(pos, `a vector has more than ${MAX_DIMENSION} numbers`);
        const grown = new Float32Array(n * 2);
        grown.set(scratch);
        dst = scratch = grown;
      }
      const start = pos;
      pos = parseFloat32At(buf, pos, end, dst, base + n);
      echo?.copy(buf, start, pos);
      n++;
      pos = skipWs(buf, pos);
      const c = buf[pos];
      if (c === 44 /* , */) {
        echo?.byte(44);
        pos = skipWs(buf, pos + 1);
      } else if (c === 93 /* ] */) break;
      else expected(buf, pos, end, '"," or "]" in a vector');
    }
  } catch (err) {
    if (!(err instanceof JsonSyntaxError && err.problem.endsWith('(dimension mismatch)'))) failedNumber = n;
    throw err;
  }
  if (dim && n !== dim) throw new JsonSyntaxError(pos, `the vector has ${n} numbers, expected ${dim} (dimension mismatch)`);
  if (!dim) {
    b.setDimension(n);
    b.slot().set(scratch.subarray(0, n), b.count * n);
  }
  echo?.byte(93);
  return pos + 1;
}

/** The metadata read by the last {@link readMetadata}: an object, or undefined for null. */
export let lastMetadata: Metadata | undefined;

/** Parses a metadata value at `buf[pos]`: an object, or null for none; anything else is an error. */
export function readMetadata(buf: Uint8Array, pos: number, end: number, what: string): number {
  const e = scanValue(buf, pos, end);
  const c = buf[pos];
  if (c === 123 /* { */) {
    lastMetadata = parseJsonSlice(buf, pos, e) as Metadata;
    return e;
  }
  const v = parseJsonSlice(buf, pos, e);
  if (v !== null) throw new JsonSyntaxError(pos, `${what} must be a JSON object or null, not ${Array.isArray(v) ? 'an array' : typeof v}`);
  lastMetadata = undefined;
  return e;
}
