/**
 * The MANIFEST section: a MessagePack map describing the file (kind, dimension, metric, count, sequence
 * numbers, creation time, writer) plus the caller's free-form `user` map.
 */
import { CorruptionError } from '../../errors.js';
import type { Metric } from '../../engine/types.js';
import { describe } from '../../engine/validate.js';
import { FORMAT_VERSION, MAX_DIMENSION } from './constants.js';
import { isPlainObject, jsonProblem, pack, unpackOne } from './msgpack.js';

/** What a .qvdb manifest holds. Delta-only fields are present exactly when `kind` is 'delta'. */
export interface QvdbManifest {
  format: 'qvdb';
  formatVersion: number;
  kind: 'full' | 'delta';
  dimension: number;
  metric: Metric;
  /** Entries in IDS/VECTORS/METADATA (for a delta: the upserted entries). */
  count: number;
  /** Sequence number of the last mutation included. */
  seq: number;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** The writer, e.g. "quiverdb 0.1.0". */
  library: string;
  sinceSeq?: number;
  cleared?: boolean;
  /** Ids in the DELETED section. */
  deletedCount?: number;
  /** File checksum of the base this delta applies to, or null when unknown. */
  baseChecksum?: string | null;
  /** The caller's map, returned verbatim. */
  user: Record<string, unknown>;
}

const METRICS: readonly string[] = ['cosine', 'euclidean', 'dot', 'manhattan'];

/** Encodes a manifest with keys in the documented order. */
export function encodeManifest(m: QvdbManifest): Uint8Array {
  const out: Record<string, unknown> = {
    format: m.format,
    formatVersion: m.formatVersion,
    kind: m.kind,
    dimension: m.dimension,
    metric: m.metric,
    count: m.count,
    seq: m.seq,
    createdAt: m.createdAt,
    library: m.library,
  };
  if (m.kind === 'delta') {
    out.sinceSeq = m.sinceSeq;
    out.cleared = m.cleared;
    out.deletedCount = m.deletedCount;
    out.baseChecksum = m.baseChecksum ?? null;
  }
  out.user = m.user;
  return pack(out);
}

/**
 * Decodes and validates a manifest; `kind` is the header's file kind, which the manifest must repeat.
 * Anything malformed is a CorruptionError of section "manifest".
 */
export function decodeManifest(bytes: Uint8Array, file: string, kind: 'full' | 'delta', offset: number): QvdbManifest {
  const fail = (problem: string, cause?: unknown): never => {
    throw new CorruptionError({ file, section: 'manifest', offset }, problem, 'CORRUPT', cause === undefined ? undefined : { cause });
  };
  let v: unknown;
  try {
    v = unpackOne(bytes);
  } catch (err) {
    fail(`it is not valid MessagePack (${(err as Error).message})`, err);
  }
  if (!isPlainObject(v)) return fail('it is not a MessagePack map');
  const m = v;
  const natural = (key: string): number => {
    const x = m[key];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) fail(`"${key}" is ${describe(x)}, not a non-negative integer`);
    return x as number;
  };
  if (m.format !== 'qvdb') fail(`"format" is ${describe(m.format)}, not "qvdb"`);
  if (m.formatVersion !== FORMAT_VERSION) fail(`"formatVersion" is ${describe(m.formatVersion)} but the header says ${FORMAT_VERSION}`);
  if (m.kind !== kind) fail(`"kind" is ${describe(m.kind)} but the header says "${kind}"`);
  const dimension = natural('dimension');
  if (dimension < 1 || dimension > MAX_DIMENSION) fail(`"dimension" ${dimension} is outside 1..${MAX_DIMENSION}`);
  if (typeof m.metric !== 'string' || !METRICS.includes(m.metric)) fail(`"metric" is ${describe(m.metric)}, not one of ${METRICS.join(', ')}`);
  if (typeof m.createdAt !== 'number' || !Number.isFinite(m.createdAt)) fail('"createdAt" is not a finite number');
  if (typeof m.library !== 'string') fail('"library" is not a string');
  if (!isPlainObject(m.user)) fail('"user" is not a map');
  const out: QvdbManifest = {
    format: 'qvdb',
    formatVersion: FORMAT_VERSION,
    kind,
    dimension,
    metric: m.metric as Metric,
    count: natural('count'),
    seq: natural('seq'),
    createdAt: m.createdAt as number,
    library: m.library as string,
    user: m.user as Record<string, unknown>,
  };
  if (kind === 'delta') {
    out.sinceSeq = natural('sinceSeq');
    out.deletedCount = natural('deletedCount');
    if (typeof m.cleared !== 'boolean') fail('"cleared" is not a boolean');
    out.cleared = m.cleared as boolean;
    if (m.baseChecksum !== null && m.baseChecksum !== undefined && typeof m.baseChecksum !== 'string') fail('"baseChecksum" is neither a string nor nil');
    out.baseChecksum = (m.baseChecksum as string | null | undefined) ?? null;
  }
  return out;
}

/** Describes why a caller's `user` map cannot be stored, or returns undefined. */
export function userMapProblem(user: unknown): string | undefined {
  if (!isPlainObject(user)) return 'opts.user must be a plain object';
  return jsonProblem(user, 'opts.user');
}
