/**
 * Validation of SnapshotManager options and of the user metadata stored with snapshots.
 */
import { QuiverError } from '../errors.js';
import { jsonProblem, isPlainObject } from '../format/qvdb/msgpack.js';
import type { SnapshotCompression } from './layout.js';
import type { SnapshotManagerOptions } from './types.js';

/** Largest user metadata accepted, as JSON text (it lives in metadata.json). */
export const MAX_USER_METADATA_BYTES = 1 << 20;

/** Defaults: gzip level 6, verify on, 4 concurrent I/O tasks, chains of up to 8 incrementals, 10 min GC grace. */
export const DEFAULTS = { compression: 'gzip', compressionLevel: 6, verifyChecksum: true, maxConcurrentIo: 4, maxChainDepth: 8, gcGraceMs: 10 * 60_000 } as const;

/** Settings after defaults and validation. */
export interface ResolvedSnapshotOptions {
  compression: SnapshotCompression;
  compressionLevel: number;
  verifyChecksum: boolean;
  maxConcurrentIo: number;
  maxChainDepth: number;
  gcGraceMs: number;
}

function invalid(message: string): QuiverError {
  return new QuiverError('INVALID_ARGUMENT', message);
}

function intIn(name: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw invalid(`SnapshotManager option ${name} must be a whole number ${min}..${max}, got ${String(v)}`);
  return v;
}

/** A per-call boolean option: absent, or true or false (a string such as 'false' must not read as true, nor 0 as false). */
export function optionalBoolean(v: unknown, name: string): boolean | undefined {
  if (v !== undefined && typeof v !== 'boolean') throw invalid(`${name} must be true or false, got ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  return v;
}

/** Reference 002's snake_case option names and the camelCase ones they stand for. */
const REFERENCE_NAMES = [
  ['snapshot_dir', 'snapshotDir'],
  ['compression_level', 'compressionLevel'],
  ['verify_checksum', 'verifyChecksum'],
  ['max_concurrent_io', 'maxConcurrentIo'],
] as const;

/** `o` with reference 002's snake_case names moved to the camelCase ones; giving both differently is INVALID_ARGUMENT. */
export function withReferenceNames(o: SnapshotManagerOptions): SnapshotManagerOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('SnapshotManager needs an options object { snapshotDir | store, ... }');
  let out = o;
  for (const [snake, camel] of REFERENCE_NAMES) {
    if (o[snake] === undefined) continue;
    if (o[camel] !== undefined && o[camel] !== o[snake]) throw invalid(`options.${snake} and options.${camel} are the same option with different values; give one`);
    out = { ...out, [camel]: o[snake] };
  }
  return out;
}

/** Validates and completes manager options, as withReferenceNames returned them. */
export function resolveOptions(o: SnapshotManagerOptions): ResolvedSnapshotOptions {
  if (o.store === undefined) {
    if (typeof o.snapshotDir !== 'string' || o.snapshotDir === '' || o.snapshotDir.includes('\0')) throw invalid('SnapshotManager needs options.snapshotDir (a directory path) or options.store');
  } else if (o.store === null || typeof o.store !== 'object' || typeof o.store.put !== 'function') {
    throw invalid('options.store must be a SnapshotStore');
  }
  let compression: SnapshotCompression;
  const c = o.compression;
  if (c === undefined || c === true || c === 'gzip') compression = 'gzip';
  else if (c === false || c === 'none') compression = 'none';
  else throw invalid(`options.compression must be 'gzip', 'none' or a boolean, got ${JSON.stringify(c)}`);
  const verifyChecksum = o.verifyChecksum ?? DEFAULTS.verifyChecksum;
  if (typeof verifyChecksum !== 'boolean') throw invalid('options.verifyChecksum must be a boolean');
  const gcGraceMs = o.gcGraceMs ?? DEFAULTS.gcGraceMs;
  if (typeof gcGraceMs !== 'number' || !Number.isFinite(gcGraceMs) || gcGraceMs < 0) throw invalid(`options.gcGraceMs must be a number of ms >= 0, got ${String(gcGraceMs)}`);
  return {
    compression,
    compressionLevel: compression === 'none' ? 0 : intIn('compressionLevel', o.compressionLevel, DEFAULTS.compressionLevel, 0, 9),
    verifyChecksum,
    maxConcurrentIo: intIn('maxConcurrentIo', o.maxConcurrentIo, DEFAULTS.maxConcurrentIo, 1, 64),
    maxChainDepth: intIn('maxChainDepth', o.maxChainDepth, DEFAULTS.maxChainDepth, 0, 1000),
    gcGraceMs,
  };
}

/** A copy of `v` without the `undefined` members of its plain objects (arrays and other values as they are). */
function withoutUndefinedMembers(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutUndefinedMembers);
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined) continue;
    // A "__proto__" key is data, as in entry metadata: defined, never assigned (which would set the prototype).
    Object.defineProperty(out, k, { value: withoutUndefinedMembers(x), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * Returns a deep copy of `md` when it is a plain JSON object of at most 1 MiB as JSON. As in entry
 * metadata, `undefined` members of objects are dropped (as JSON.stringify drops them), so that
 * `{ user: process.env.USER }` works whether or not the variable is set; `undefined` in an array is refused.
 */
export function checkUserMetadata(md: unknown, what = 'snapshot metadata'): Record<string, unknown> {
  if (!isPlainObject(md)) throw new QuiverError('INVALID_METADATA', `${what} must be a plain JSON object`);
  const copy = withoutUndefinedMembers(md);
  const problem = jsonProblem(copy, what);
  if (problem) throw new QuiverError('INVALID_METADATA', `${problem}; store only plain JSON there`);
  const text = JSON.stringify(copy);
  if (Buffer.byteLength(text) > MAX_USER_METADATA_BYTES) throw new QuiverError('LIMIT_EXCEEDED', `${what} is ${Buffer.byteLength(text)} bytes as JSON; at most ${MAX_USER_METADATA_BYTES} are allowed: keep large data elsewhere and store its location here`);
  return JSON.parse(text) as Record<string, unknown>;
}
