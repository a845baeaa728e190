/**
 * JSON.parse for the readers of stored and foreign JSON text (ids, metadata, whole lines). What it
 * returns may be adopted as metadata without a second check (see markDecodedMetadata), so it must
 * follow the engine's rules for metadata, which JSON.parse alone does not:
 * - a `\uD800`-`\uDFFF` escape can spell a lone UTF-16 surrogate, which no UTF-8 file can hold (the
 *   next save would silently change it);
 * - a number beyond float64's range (`1e400`) parses as Infinity, which no format can store;
 * - nesting deeper than MAX_STORED_DEPTH levels, which no stored file may hold (JSON.parse takes any
 *   depth, and the recursive codecs would overflow the stack at some depth). Between `insert`'s own
 *   limit (256) and this one, files of earlier versions may hold metadata, so readers accept it.
 * - an object of more than MAX_METADATA_KEYS members, which no save can store.
 * Each can only occur when the text shows a sign of it (a `\u` escape; a 3-digit exponent or a run
 * of 309 digits; more opening brackets than the limit; at least 4 characters per member, `"":0,`),
 * so only such text is walked.
 */
import { MAX_METADATA_KEYS, MAX_STORED_DEPTH, jsonProblem } from './msgpack.js';

const MAYBE_HUGE_NUMBER = /\d[eE]\+?\d{3}|\d{309}/;

/** More than `limit` opening brackets (of objects or arrays, strings included: a bound, not a count). */
function moreBracketsThan(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c === 123 || c === 91) && ++n > limit) return true;
  }
  return false;
}

/**
 * `JSON.parse(text)`, throwing a SyntaxError (which the callers turn into their typed errors) when the
 * value breaks a rule above. `levelsAbove` is how deep the metadata lies in the parsed value (1 for a
 * whole JSONL entry or an array of values): nesting is limited to MAX_STORED_DEPTH below that.
 */
export function parseJsonText(text: string, levelsAbove = 0): unknown {
  const value: unknown = JSON.parse(text);
  const maxDepth = MAX_STORED_DEPTH + levelsAbove;
  if (text.length > 4 * MAX_METADATA_KEYS || text.includes('\\u') || MAYBE_HUGE_NUMBER.test(text) || moreBracketsThan(text, maxDepth)) {
    // The engine's own check of plain JSON; depth counts from the metadata, below the wrapping levels.
    const at = jsonProblem(value, 'the value', -levelsAbove);
    if (at !== undefined) throw new SyntaxError(at);
  }
  return value;
}

/** Metadata arrays whose every item came out of a reader's JSON or MessagePack decoding (see below). */
const decoded = new WeakSet<readonly unknown[]>();

/**
 * Marks `metadata` as filled only by a reader's decoding (JSON.parse through {@link parseJsonText}, the
 * MessagePack JSON-value decoder), whose results are plain JSON by construction: the engine then skips
 * checking each object again when the columns are loaded.
 */
export function markDecodedMetadata(metadata: readonly unknown[]): void {
  decoded.add(metadata);
}

/** True for an array passed to {@link markDecodedMetadata}. */
export function isDecodedMetadata(metadata: readonly unknown[]): boolean {
  return decoded.has(metadata);
}
