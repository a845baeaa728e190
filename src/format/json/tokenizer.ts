/**
 * Byte-level JSON scanning primitives for the streaming readers. They work on a window of bytes
 * `buf[0..end)` that is always followed by a 0 sentinel at `buf[end]`: a 0 byte can never appear in
 * valid JSON outside a string (and inside a string it is an unescaped control character), so every
 * scanning loop stops at the sentinel without a bounds check. A scanner that stops at `end` throws
 * {@link NEED_MORE}: the caller refills the window and restarts the unit it was parsing.
 */
import { parseJsonText } from '../../util/json-text.js';

/** Thrown when a token runs into the end of the bytes available so far (a singleton, not a failure). */
export class NeedMoreData extends Error {
  constructor() {
    super('more input needed');
    this.name = 'NeedMoreData';
  }
}

/** The one instance scanners throw; compare with `===`. */
export const NEED_MORE = new NeedMoreData();

/** Invalid JSON at byte `pos` of the window; readers turn it into a CorruptionError with a JSON path. */
export class JsonSyntaxError extends Error {
  /** JSON path of the value being read, filled in by the layer that knows it. */
  path = '';

  constructor(readonly pos: number, readonly problem: string) {
    super(problem);
    this.name = 'JsonSyntaxError';
  }

  /** Sets the JSON path (for chaining at the throw site). */
  withPath(path: string): this {
    this.path = path;
    return this;
  }
}

/**
 * Throws for an unexpected byte at `pos`: NEED_MORE when `pos` is the end of the window (the byte
 * is not there yet), else a JsonSyntaxError saying what was expected and what was found.
 */
export function expected(buf: Uint8Array, pos: number, end: number, what: string): never {
  if (pos >= end) throw NEED_MORE;
  const c = buf[pos];
  const shown = c >= 33 && c <= 126 ? `"${String.fromCharCode(c)}"` : `byte 0x${c.toString(16).padStart(2, '0')}`;
  throw new JsonSyntaxError(pos, `expected ${what}, found ${shown}`);
}

/** True for the four JSON whitespace bytes. */
export function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/** Position of the first non-whitespace byte at or after `pos` (may be `end`, the sentinel). */
export function skipWs(buf: Uint8Array, pos: number): number {
  let c = buf[pos];
  while (c === 32 || c === 10 || c === 13 || c === 9) c = buf[++pos];
  return pos;
}

/** Set by {@link scanString}: true when the string had only printable ASCII and no escapes. */
export let lastStringWasPlain = false;

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/**
 * Scans the JSON string starting at the quote `buf[pos]` and returns the position after its closing
 * quote. Validates escapes and rejects raw control characters; UTF-8 validity is checked when the
 * string is decoded.
 */
export function scanString(buf: Uint8Array, pos: number, end: number): number {
  let plain = true;
  for (;;) {
    const c = buf[++pos];
    if (c === 34 /* " */) break;
    if (c === 92 /* \\ */) {
      plain = false;
      const e = buf[++pos];
      if (e === 117) {
        for (let i = 0; i < 4; i++) {
          const h = buf[++pos];
          if (!isHex(h)) {
            if (pos >= end) throw NEED_MORE;
            throw new JsonSyntaxError(pos, 'invalid \\u escape in string');
          }
        }
      } else if (!(e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116)) {
        if (pos >= end) throw NEED_MORE;
        throw new JsonSyntaxError(pos, 'invalid escape in string');
      }
    } else if (c < 32) {
      if (pos >= end) throw NEED_MORE;
      throw new JsonSyntaxError(pos, 'unescaped control character in string');
    } else if (c > 126) {
      plain = false;
    }
  }
  lastStringWasPlain = plain;
  return pos + 1;
}

/**
 * Returns the position just after the JSON value starting at `buf[pos]` (no leading whitespace).
 * Strings and nesting are followed exactly; scalars end at the next delimiter. Only structure is
 * checked here: callers hand the bytes to JSON.parse, which validates the rest.
 */
export function scanValue(buf: Uint8Array, pos: number, end: number): number {
  let c = buf[pos];
  if (c === 34 /* " */) return scanString(buf, pos, end);
  if (c !== 123 && c !== 91) {
    const start = pos;
    while (c !== 44 && c !== 125 && c !== 93 && c !== 58 && c !== 34 && !isWs(c) && c !== 0) c = buf[++pos];
    if (pos >= end) throw NEED_MORE;
    if (pos === start) throw new JsonSyntaxError(pos, c === 0 ? 'unexpected byte 0' : `unexpected "${String.fromCharCode(c)}", expected a value`);
    return pos;
  }
  let depth = 0;
  for (;;) {
    if (c === 34 /* " */) {
      pos = scanString(buf, pos, end);
      c = buf[pos];
      continue;
    }
    if (c === 123 || c === 91 /* { [ */) depth++;
    else if (c === 125 || c === 93 /* } ] */) {
      if (--depth === 0) return pos + 1;
    } else if (c === 0) {
      if (pos >= end) throw NEED_MORE;
      throw new JsonSyntaxError(pos, 'unexpected byte 0');
    }
    c = buf[++pos];
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** Decodes `buf[start..end)` as strict UTF-8 (invalid sequences are a syntax error at `start`). */
export function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  try {
    return utf8.decode(buf.subarray(start, end));
  } catch {
    throw new JsonSyntaxError(start, 'invalid UTF-8');
  }
}

/** Decodes ASCII bytes (already known to be printable ASCII). */
export function decodeAscii(buf: Uint8Array, start: number, end: number): string {
  return latin1.decode(buf.subarray(start, end));
}

/**
 * JSON.parse of `buf[start..end)`; failures (invalid UTF-8 too) become a JsonSyntaxError at `start`,
 * carrying `path` when given (the member or element the value is).
 */
export function parseJsonSlice(buf: Uint8Array, start: number, end: number, path?: string): unknown {
  try {
    return parseJsonText(decodeUtf8(buf, start, end));
  } catch (err) {
    const e = err instanceof JsonSyntaxError ? err : new JsonSyntaxError(start, `invalid JSON value (${(err as Error).message})`);
    if (path !== undefined) e.path = path;
    throw e;
  }
}

/** The value of the string token `buf[start..end)` (quotes included), fast for plain ASCII. */
export function stringValue(buf: Uint8Array, start: number, end: number, plain: boolean): string {
  if (plain) return decodeAscii(buf, start + 1, end - 1);
  return parseJsonSlice(buf, start, end) as string;
}
