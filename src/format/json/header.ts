/**
 * The non-vector members of a JSON state file (docs/FORMAT.md "JSON state files"): their names, the
 * header object readers return, and its validation.
 */
import { CorruptionError, QuiverError } from '../../errors.js';
import type { Metric } from '../../engine/types.js';
import { MAX_DIMENSION } from './entry-parser.js';

/** Value of the "format" member. */
export const JSON_FORMAT_NAME = 'quiverdb';
/** Value of the "formatVersion" member written by this version; readers accept 1..this. */
export const JSON_FORMAT_VERSION = 1;
/** Value of the reference-compatible "version" member (the state layout's version string). */
export const JSON_STATE_VERSION = '1.0.0';

/** Member names, in the order the writer emits them. */
export const MEMBER = {
  format: 'format',
  formatVersion: 'formatVersion',
  kind: 'kind',
  version: 'version',
  seq: 'seq',
  sinceSeq: 'sinceSeq',
  cleared: 'cleared',
  baseChecksum: 'baseChecksum',
  timestamp: 'timestamp',
  options: 'options',
  stats: 'stats',
  deleted: 'deleted',
  vectors: 'vectors',
  checksum: 'checksum',
} as const;

const KNOWN = new Set<string>(Object.values(MEMBER));

/** Keys of the "options" member the writer fills from the image (the reference layout's DbOptions), not from the user map. */
export const OPTIONS_FROM_IMAGE = ['dimension', 'metric'] as const;
const METRICS: readonly Metric[] = ['cosine', 'euclidean', 'dot', 'manhattan'];

/** The `stats` member. */
export interface JsonStateStats {
  /** Entries in this file's "vectors". */
  count: number;
  dimension: number;
  metric: Metric;
}

/** Every member of a state file except "vectors", "deleted" and "checksum", validated. */
export interface JsonStateHeader {
  format: typeof JSON_FORMAT_NAME;
  formatVersion: number;
  kind: 'full' | 'delta';
  version: string | number;
  seq: number;
  timestamp: number;
  /** The writer's `user` map (DatabasePersistence stores its options here): "options" without its dimension and metric; {} when absent. */
  options: Record<string, unknown>;
  stats: JsonStateStats;
  /** Deltas only: the seq the changes are relative to. */
  sinceSeq?: number;
  /** Deltas only: apply as clear, then the upserts. */
  cleared?: boolean;
  /** Deltas only: checksum of the state this delta applies to, or null when the writer did not know it. */
  baseChecksum?: string | null;
  /** Members this version does not know (kept for forward compatibility). */
  extra: Record<string, unknown>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** What the parser learned besides the header members. */
export interface BodyFacts {
  entries: number;
  /** Dimension seen in the vectors (0 when there were none). */
  dimension: number;
  hasVectors: boolean;
  hasDeleted: boolean;
}

/**
 * The error for a JSON file that is not a state file of ours, given the members read so far: one
 * with none of our identifying members, or another "format" (JSON Lines, say), is UNSUPPORTED_FORMAT
 * pointing to import, not damage. `several` says the file holds more than one JSON document.
 */
export function foreignJsonError(file: string, members: ReadonlyMap<string, unknown>, several = false): QuiverError {
  const lines = several ? ' It holds several JSON documents one after another (JSON Lines, perhaps).' : '';
  if (![MEMBER.format, MEMBER.formatVersion, MEMBER.kind, MEMBER.seq].some((k) => members.has(k))) {
    return new QuiverError('UNSUPPORTED_FORMAT', `${file} is JSON but not a QuiverDB state file (it has no "format" member).${lines} To read a file of another system, such as the reference DatabasePersistence JSON, or an export in JSON Lines, use import({ path }) instead of load.`, { file });
  }
  const format = members.get(MEMBER.format);
  return new QuiverError(
    'UNSUPPORTED_FORMAT',
    `${file} is not a QuiverDB JSON state file (its "format" member is ${format === undefined ? 'missing' : JSON.stringify(format)}).${lines} Import it with a matching importer instead (import({ path }) detects the format).`,
    { file },
  );
}

/**
 * Validates the collected members (after the checksum was verified, so a damaged file is reported
 * as such first). Unknown format or newer version → UNSUPPORTED_FORMAT / UNSUPPORTED_VERSION;
 * anything else inconsistent → CorruptionError naming the member.
 */
export function validateHeader(file: string, members: Map<string, unknown>, body: BodyFacts): JsonStateHeader {
  const bad = (section: string, problem: string) => new CorruptionError({ file, section }, problem);
  if (members.get(MEMBER.format) !== JSON_FORMAT_NAME) throw foreignJsonError(file, members);
  const fv = members.get(MEMBER.formatVersion);
  if (typeof fv !== 'number' || !Number.isInteger(fv) || fv < 1) throw bad(MEMBER.formatVersion, 'it must be a positive integer');
  if (fv > JSON_FORMAT_VERSION) {
    throw new QuiverError('UNSUPPORTED_VERSION', `${file} uses JSON state format version ${fv}; this QuiverDB reads up to version ${JSON_FORMAT_VERSION}. Upgrade QuiverDB to load it.`, {
      file,
      formatVersion: fv,
    });
  }
  const kind = members.get(MEMBER.kind);
  if (kind !== 'full' && kind !== 'delta') throw bad(MEMBER.kind, 'it must be "full" or "delta"');
  const seq = members.get(MEMBER.seq);
  if (!isCount(seq)) throw bad(MEMBER.seq, 'it must be a non-negative integer');
  const version = members.get(MEMBER.version) ?? JSON_STATE_VERSION;
  if (typeof version !== 'string' && typeof version !== 'number') throw bad(MEMBER.version, 'it must be a string');
  const timestamp = members.get(MEMBER.timestamp) ?? 0;
  if (typeof timestamp !== 'number') throw bad(MEMBER.timestamp, 'it must be a number (ms since the epoch)');
  const options = members.get(MEMBER.options) ?? {};
  if (!isObject(options)) throw bad(MEMBER.options, 'it must be an object');

  const stats = members.get(MEMBER.stats);
  if (!isObject(stats)) throw bad(MEMBER.stats, stats === undefined ? 'the member is missing' : 'it must be an object');
  const { count, dimension, metric } = stats;
  if (!isCount(count)) throw bad('stats.count', 'it must be a non-negative integer');
  if (!isCount(dimension) || dimension < 1 || dimension > MAX_DIMENSION) throw bad('stats.dimension', `it must be an integer in 1..${MAX_DIMENSION}`);
  if (!METRICS.includes(metric as Metric)) throw bad('stats.metric', `it must be one of ${METRICS.join(', ')}`);
  const user = { ...options };
  for (const k of OPTIONS_FROM_IMAGE) {
    if (!Object.hasOwn(user, k)) continue; // files written before 2026-12-07 have neither
    if (user[k] !== stats[k]) throw bad(`options.${k}`, `it says ${JSON.stringify(user[k])} but stats.${k} is ${JSON.stringify(stats[k])}`);
    delete user[k];
  }
  if (!body.hasVectors) throw bad(MEMBER.vectors, 'the member is missing');
  if (count !== body.entries) throw bad('stats.count', `it says ${count} entries but "vectors" holds ${body.entries}`);
  if (body.dimension !== 0 && body.dimension !== dimension) {
    throw bad(MEMBER.vectors, `the vectors have ${body.dimension} numbers but stats.dimension is ${dimension} (dimension mismatch)`);
  }

  const extra: Record<string, unknown> = {};
  for (const [k, v] of members) if (!KNOWN.has(k)) extra[k] = v;
  const header: JsonStateHeader = {
    format: JSON_FORMAT_NAME,
    formatVersion: fv,
    kind,
    version,
    seq,
    timestamp,
    options: user,
    stats: { count, dimension, metric: metric as Metric },
    extra,
  };
  const sinceSeq = members.get(MEMBER.sinceSeq);
  const cleared = members.get(MEMBER.cleared);
  const baseChecksum = members.get(MEMBER.baseChecksum);
  if (kind === 'full') {
    for (const k of [MEMBER.sinceSeq, MEMBER.cleared, MEMBER.baseChecksum]) if (members.has(k)) throw bad(k, 'a full state has no delta members');
    if (body.hasDeleted) throw bad(MEMBER.deleted, 'a full state has no delta members');
    return header;
  }
  if (!isCount(sinceSeq)) throw bad(MEMBER.sinceSeq, 'it must be a non-negative integer');
  if (sinceSeq > seq) throw bad(MEMBER.sinceSeq, `it is after seq (${sinceSeq} > ${seq})`);
  if (typeof cleared !== 'boolean') throw bad(MEMBER.cleared, 'it must be true or false');
  if (!body.hasDeleted) throw bad(MEMBER.deleted, 'the member is missing');
  if (baseChecksum !== undefined && baseChecksum !== null && typeof baseChecksum !== 'string') throw bad(MEMBER.baseChecksum, 'it must be a string or null');
  header.sinceSeq = sinceSeq;
  header.cleared = cleared;
  header.baseChecksum = (baseChecksum as string | null | undefined) ?? null;
  return header;
}
