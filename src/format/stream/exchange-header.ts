/**
 * The header and trailer fields the MessagePack and JSONL exports share (docs/FORMAT.md): both carry
 * the same header members and the same `{end, count, checksum}` trailer, and check them the same
 * way. Each codec keeps its own recognition of the "format" value and its own section names.
 */
import { CorruptionError, QuiverError } from '../../errors.js';
import type { Metric } from '../../engine/types.js';
import { describe, MAX_DIMENSION, METRICS } from '../../engine/validate.js';
import { isPlainObject, jsonProblem } from '../../util/msgpack.js';

/** A decoded, validated export header. */
export interface ExchangeHeader {
  formatVersion: number;
  dimension: number;
  metric: Metric;
  count: number;
  user: Record<string, unknown>;
  /** Milliseconds since the epoch when the export was written (0 when absent). */
  createdAt: number;
}

/** How a codec names things in header and trailer messages. */
export interface ExchangeFieldWords {
  file: string;
  /** The format as messages name it: 'MessagePack', 'JSONL'. */
  label: string;
  /** Newest formatVersion this version reads. */
  maxVersion: number;
  /** A JSON object as this format calls it: 'a map', 'an object'. */
  object: string;
  /** The CorruptionError for a bad member `key` ('' for the value itself). */
  bad: (key: string, problem: string) => CorruptionError;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Validates the header members after the codec recognised its "format": a newer formatVersion →
 * UNSUPPORTED_VERSION; a bad member → `words.bad(key, …)`. createdAt must be a finite number.
 */
export function checkHeaderFields(value: Record<string, unknown>, words: ExchangeFieldWords): ExchangeHeader {
  const { file, bad } = words;
  const fv = value.formatVersion;
  if (typeof fv !== 'number' || !Number.isInteger(fv) || fv < 1) throw bad('formatVersion', 'it must be a positive integer');
  if (fv > words.maxVersion) {
    throw new QuiverError('UNSUPPORTED_VERSION', `${file} uses ${words.label} export format version ${fv}; this QuiverDB reads up to version ${words.maxVersion}. Upgrade QuiverDB to import it.`, {
      file,
      formatVersion: fv,
    });
  }
  const { dimension, metric, count } = value;
  if (!isCount(dimension) || dimension < 1 || dimension > MAX_DIMENSION) throw bad('dimension', `it must be an integer in 1..${MAX_DIMENSION}`);
  if (typeof metric !== 'string' || !METRICS.includes(metric as Metric)) throw bad('metric', `it must be one of ${METRICS.join(', ')}`);
  if (!isCount(count)) throw bad('count', 'it must be a non-negative integer');
  const user = value.user ?? {};
  if (!isPlainObject(user)) throw bad('user', `it must be ${words.object}`);
  const problem = jsonProblem(user, 'user');
  if (problem) throw bad('user', problem);
  const createdAt = value.createdAt ?? 0;
  if (typeof createdAt !== 'number' || !Number.isFinite(createdAt)) throw bad('createdAt', CREATED_AT_PROBLEM);
  return { formatVersion: fv, dimension, metric: metric as Metric, count, user, createdAt };
}

/** The problem reported for a createdAt that is not a time. */
export const CREATED_AT_PROBLEM = 'it must be a number of milliseconds since the epoch';

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Validates a decoded trailer `{end: true, count, checksum}`; returns its checksum. `holds` ends the
 * count-mismatch message ("the file holds 3").
 */
export function checkTrailerFields(value: unknown, count: number, holds: string, words: Pick<ExchangeFieldWords, 'object' | 'bad'>): string {
  const { bad } = words;
  if (!isPlainObject(value)) throw bad('', `it must be ${words.object}`);
  if (value.end !== true) throw bad('end', 'it must be true');
  if (value.count !== count) throw bad('count', `it says ${describe(value.count)} entries but ${holds}`);
  const checksum = value.checksum;
  if (typeof checksum !== 'string' || !HEX64.test(checksum)) throw bad('checksum', 'it must be 64 lowercase hex digits (SHA-256)');
  return checksum;
}
