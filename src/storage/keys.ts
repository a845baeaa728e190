/**
 * Object keys of snapshot stores. A key is one to four `/`-separated segments of letters, digits, `_`,
 * `-` and `.`, each starting with a letter, digit or `_`, never containing `..`. That alphabet makes a
 * key safe as a relative path on every file system and as an object-store key: no key can name an
 * absolute path, climb out of the store's root with `..`, use a backslash or NUL, or collide with the
 * dot-prefixed temporaries the file-system store writes while publishing.
 */
import { QuiverError } from '../errors.js';

/** Longest key accepted, in characters. */
export const MAX_KEY_LENGTH = 512;
/** Longest key segment accepted, in characters. */
export const MAX_SEGMENT_LENGTH = 200;
/** Most segments in one key. */
export const MAX_KEY_DEPTH = 4;

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const PREFIX_CHARS = /^[A-Za-z0-9._/-]*$/;

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  return v === null ? 'null' : typeof v;
}

function invalid(what: string, value: unknown, why: string): QuiverError {
  return new QuiverError('INVALID_ARGUMENT', `${what} ${describe(value)} is not a valid store key: ${why}`, { key: typeof value === 'string' ? value : undefined });
}

/** True when `segment` is a valid key segment. */
export function isKeySegment(segment: string): boolean {
  return segment.length > 0 && segment.length <= MAX_SEGMENT_LENGTH && SEGMENT.test(segment) && !segment.includes('..');
}

/** Returns `key` when it is a valid store key; throws QuiverError INVALID_ARGUMENT otherwise. */
export function checkKey(key: unknown, what = 'key'): string {
  if (typeof key !== 'string') throw invalid(what, key, 'keys are strings');
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw invalid(what, key, `keys are 1..${MAX_KEY_LENGTH} characters`);
  const parts = key.split('/');
  if (parts.length > MAX_KEY_DEPTH) throw invalid(what, key, `keys have at most ${MAX_KEY_DEPTH} segments`);
  for (const p of parts) {
    if (!isKeySegment(p)) {
      throw invalid(what, key, `each /-separated segment must be 1..${MAX_SEGMENT_LENGTH} of [A-Za-z0-9._-], start with a letter, digit or _, and never contain ".."`);
    }
  }
  return key;
}

/**
 * Returns `prefix` when it is a valid listing prefix: empty, or a key-shaped string that may end with
 * `/` or stop inside a segment (e.g. `snapshot-`). Throws QuiverError INVALID_ARGUMENT otherwise.
 */
export function checkPrefix(prefix: unknown, what = 'prefix'): string {
  if (typeof prefix !== 'string') throw invalid(what, prefix, 'prefixes are strings');
  if (prefix === '') return prefix;
  if (prefix.length > MAX_KEY_LENGTH || !PREFIX_CHARS.test(prefix) || prefix.includes('..') || prefix.startsWith('/') || prefix.includes('//')) {
    throw invalid(what, prefix, 'a prefix is the start of a key: [A-Za-z0-9._/-], no leading "/", no "//" and no ".."');
  }
  const parts = prefix.split('/');
  const last = parts.pop() as string;
  if (parts.length >= MAX_KEY_DEPTH) throw invalid(what, prefix, `keys have at most ${MAX_KEY_DEPTH} segments`);
  for (const p of parts) if (!isKeySegment(p)) throw invalid(what, prefix, 'every complete segment must be a valid key segment');
  if (last !== '' && !/^[A-Za-z0-9_]/.test(last)) throw invalid(what, prefix, 'a segment starts with a letter, digit or _');
  return prefix;
}
