/**
 * JSON.parse for the readers of stored and foreign JSON text (ids, metadata, whole lines): JSON's
 * `\uD800`-`\uDFFF` escapes can spell a lone UTF-16 surrogate, which no UTF-8 file can hold, so such a
 * string would be stored and then silently changed by the next save. Text decoded from valid UTF-8
 * cannot contain one otherwise, so only text with a `\u` escape is checked.
 */
import { isWellFormedString } from './msgpack.js';

/** Where in `value` a string (or key) holds a lone surrogate, or undefined. */
function loneSurrogateAt(value: unknown, path: string, depth: number): string | undefined {
  if (typeof value === 'string') return isWellFormedString(value) ? undefined : path;
  if (typeof value !== 'object' || value === null || depth > 1000) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = loneSurrogateAt(value[i], `${path}[${i}]`, depth + 1);
      if (at !== undefined) return at;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (!isWellFormedString(key)) return `a key of ${path}`;
    const at = loneSurrogateAt((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
    if (at !== undefined) return at;
  }
  return undefined;
}

/**
 * `JSON.parse(text)`, throwing a SyntaxError (which the callers turn into their typed errors) when a
 * string holds a lone surrogate.
 */
export function parseJsonText(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (text.includes('\\u')) {
    const at = loneSurrogateAt(value, 'the value', 0);
    if (at !== undefined) throw new SyntaxError(`${at} holds an unpaired surrogate (a \\uD800-\\uDFFF escape without its pair), which UTF-8 text cannot store`);
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
