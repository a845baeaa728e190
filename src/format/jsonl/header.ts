/**
 * The header and trailer lines of a QuiverDB JSONL export (docs/FORMAT.md): their text, their
 * validation, and the sniff that recognises both our files and foreign JSONL of `{id, vector}` lines.
 */
import { CorruptionError, QuiverError } from '../../errors.js';
import type { Metric } from '../../engine/types.js';
import { checkHeaderFields, checkTrailerFields, type ExchangeHeader } from '../stream/exchange-header.js';

/** Value of the header's "format" member. */
export const JSONL_FORMAT_NAME = 'quiverdb-jsonl';
/** formatVersion written by this version; readers accept 1..this. */
export const JSONL_FORMAT_VERSION = 1;

/** The decoded header line. */
export type JsonlHeader = ExchangeHeader;

/** The header line (with its newline). `user` was checked to be plain JSON. */
export function headerLine(dimension: number, metric: Metric, count: number, user: Record<string, unknown>, createdAt: number): string {
  return `${JSON.stringify({ format: JSONL_FORMAT_NAME, formatVersion: JSONL_FORMAT_VERSION, dimension, metric, count, user, createdAt })}\n`;
}

/** The trailer line (with its newline). */
export function trailerLine(count: number, checksum: string): string {
  return `{"end":true,"count":${count},"checksum":"${checksum}"}\n`;
}

/**
 * Validates a parsed header line (line 1). Another "format" → UNSUPPORTED_FORMAT; a newer version →
 * UNSUPPORTED_VERSION; bad members → CorruptionError naming the line and member.
 */
export function validateHeader(file: string, value: Record<string, unknown>, offset: number): JsonlHeader {
  const bad = (key: string, problem: string) => new CorruptionError({ file, section: `line 1 (header.${key})`, offset }, problem);
  if (value.format !== JSONL_FORMAT_NAME) {
    throw new QuiverError(
      'UNSUPPORTED_FORMAT',
      `${file} is not a QuiverDB JSONL export (line 1 has "format" ${JSON.stringify(value.format)}); import it with a matching format instead.`,
      { file },
    );
  }
  return checkHeaderFields(value, { file, label: 'JSONL', maxVersion: JSONL_FORMAT_VERSION, object: 'an object', bad });
}

/** Validates a parsed trailer line against the entries read; returns its checksum. */
export function validateTrailer(file: string, value: unknown, line: number, offset: number, entries: number): string {
  const bad = (key: string, problem: string) => new CorruptionError({ file, section: `line ${line} (trailer${key ? `.${key}` : ''})`, offset }, problem);
  return checkTrailerFields(value, entries, `the file holds ${entries}`, { object: 'an object', bad });
}

/** Position after `{` and whitespace when `buf[pos..]` opens an object whose first member is `key`; else -1. */
export function firstKeyIs(buf: Uint8Array, pos: number, end: number, key: Uint8Array): number {
  while (pos < end && (buf[pos] === 32 || buf[pos] === 9)) pos++;
  if (buf[pos] !== 123 /* { */) return -1;
  pos++;
  while (pos < end && (buf[pos] === 32 || buf[pos] === 9 || buf[pos] === 10 || buf[pos] === 13)) pos++;
  if (pos + key.length > end) return -1;
  for (let i = 0; i < key.length; i++) if (buf[pos + i] !== key[i]) return -1;
  return pos;
}

/** `"format"`, `"end"`, `"id"`, `"vector"` as bytes. */
export const KEY_FORMAT = Buffer.from('"format"', 'latin1');
export const KEY_END = Buffer.from('"end"', 'latin1');
const KEY_ID = Buffer.from('"id"', 'latin1');
const KEY_VECTOR = Buffer.from('"vector"', 'latin1');

/**
 * True when `head` starts like JSONL this codec reads: a first line that is our header
 * (`{"format":"quiverdb-jsonl",...`), or an object whose first member is "id" or "vector" (foreign
 * JSONL of entries). A UTF-8 BOM is skipped. A pretty-printed JSON document (`{` alone on line 1) is not.
 */
export function sniffJsonl(head: Uint8Array): boolean {
  let pos = head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  let nl = head.indexOf(10, pos);
  if (nl < 0) nl = head.length;
  const f = firstKeyIs(head, pos, nl, KEY_FORMAT);
  if (f >= 0) {
    pos = f + KEY_FORMAT.length;
    while (pos < nl && (head[pos] === 32 || head[pos] === 9)) pos++;
    if (head[pos] !== 58 /* : */) return false;
    pos++;
    while (pos < nl && (head[pos] === 32 || head[pos] === 9)) pos++;
    const name = Buffer.from(JSON.stringify(JSONL_FORMAT_NAME), 'latin1');
    return Buffer.from(head.buffer, head.byteOffset + pos, Math.min(name.length, nl - pos)).equals(name);
  }
  return firstKeyIs(head, pos, nl, KEY_ID) >= 0 || firstKeyIs(head, pos, nl, KEY_VECTOR) >= 0;
}
