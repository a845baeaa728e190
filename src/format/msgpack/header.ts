/**
 * The header and trailer values of a QuiverDB MessagePack export (docs/FORMAT.md): their
 * names, how the writer builds them and how the reader validates them once decoded.
 */
import { CorruptionError, QuiverError } from '../../errors.js';
import type { Metric } from '../../engine/types.js';
import { describe } from '../../engine/validate.js';
import { isPlainObject, pack } from '../../util/msgpack.js';
import { checkHeaderFields, checkTrailerFields, type ExchangeHeader } from '../stream/exchange-header.js';

/** Value of the header's "format" key. */
export const MSGPACK_FORMAT_NAME = 'quiverdb-msgpack';
/** formatVersion written by this version; readers accept 1..this. */
export const MSGPACK_FORMAT_VERSION = 1;

/** The first key of every export's header map: the fixstr "format". */
export const SNIFF_KEY = Uint8Array.of(0xa6, ...Buffer.from('format', 'latin1'));

/**
 * True when `head` starts like a QuiverDB MessagePack export: a map whose first key is the fixstr
 * "format". The writer emits a fixmap (1-15 keys); map16 and map32, which other encoders (msgpackr
 * among them) use for maps of any size, are accepted too. A head shorter than that (a truncated file)
 * counts when it matches as far as it goes and has at least two bytes; the reader then reports the
 * truncation. The value is checked by the reader.
 */
export function sniffMsgpack(head: Uint8Array): boolean {
  if (head.length < 2) return false;
  const c = head[0];
  // Where the first key starts: after the fixmap byte, or after map16's / map32's count (not zero).
  let at: number;
  if ((c & 0xf0) === 0x80 && c !== 0x80) at = 1;
  else if (c === 0xde || c === 0xdf) {
    at = c === 0xde ? 3 : 5;
    if (head.length >= at) {
      let count = 0;
      for (let i = 1; i < at; i++) count = count * 256 + head[i];
      if (count === 0) return false;
    }
  } else return false;
  const n = Math.max(0, Math.min(SNIFF_KEY.length, head.length - at));
  for (let i = 0; i < n; i++) if (head[at + i] !== SNIFF_KEY[i]) return false;
  return true;
}

/** The decoded header value (first value of the stream). */
export type MsgpackHeader = ExchangeHeader;

/** The header map the writer emits, keys in this order ("format" first: the sniff relies on it). */
export function headerValue(dimension: number, metric: Metric, count: number, user: Record<string, unknown>, createdAt: number): Record<string, unknown> {
  return { format: MSGPACK_FORMAT_NAME, formatVersion: MSGPACK_FORMAT_VERSION, dimension, metric, count, user, createdAt };
}

/**
 * Encodes a map of at most 15 keys as a fixmap, keys in insertion order (the shared packer always
 * uses map16, and the sniff needs a fixmap whose first key is "format").
 */
export function packFixmap(value: Record<string, unknown>): Uint8Array {
  const keys = Object.keys(value);
  if (keys.length > 15) throw new RangeError('a fixmap holds at most 15 keys');
  const parts: Uint8Array[] = [Uint8Array.of(0x80 | keys.length)];
  for (const k of keys) parts.push(pack(k), pack(value[k]));
  return Buffer.concat(parts);
}

/**
 * Validates the decoded header. Not ours (not a map, no or another "format") → UNSUPPORTED_FORMAT;
 * a newer version → UNSUPPORTED_VERSION; bad fields → CorruptionError naming `header.<key>`.
 */
export function validateHeader(file: string, value: unknown, offset: number): MsgpackHeader {
  const bad = (key: string, problem: string) => new CorruptionError({ file, section: `header.${key}`, offset }, problem);
  const format = isPlainObject(value) ? value.format : undefined;
  if (!isPlainObject(value) || format !== MSGPACK_FORMAT_NAME) {
    throw new QuiverError(
      'UNSUPPORTED_FORMAT',
      `${file} is not a QuiverDB MessagePack export (its first value ${isPlainObject(value) ? `has "format" ${format === undefined ? 'missing' : describe(format)}` : 'is not a map'}); import it with a matching format instead.`,
      { file },
    );
  }
  return checkHeaderFields(value, { file, label: 'MessagePack', maxVersion: MSGPACK_FORMAT_VERSION, object: 'a map', bad });
}

/** Validates the decoded trailer against the header; returns its checksum. */
export function validateTrailer(file: string, value: unknown, offset: number, count: number): string {
  const bad = (key: string, problem: string) => new CorruptionError({ file, section: key === '' ? 'trailer' : `trailer.${key}`, offset }, problem);
  return checkTrailerFields(value, count, `the header and the file hold ${count}`, { object: 'a map', bad });
}
