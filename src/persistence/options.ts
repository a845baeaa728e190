/**
 * The options of DatabasePersistence and of its operations, checked where they are given: constructor
 * options once (a bad value is INVALID_ARGUMENT before any save), an operation's path at its call.
 */
import { QuiverError } from '../errors.js';
import { describe } from '../engine/validate.js';
import { resolveCodec } from '../format/qvdb/codec.js';
import { MAX_TIMER_MS } from '../util/long-timer.js';
import type { CompressionType, PersistenceFormat, PersistenceOptions } from './types.js';

const FORMATS: readonly PersistenceFormat[] = ['json', 'binary', 'sqlite'];

/** True for the formats `save` writes (of all the formats a name or a file may be in). */
export function isSaveFormat(format: string): format is PersistenceFormat {
  return (FORMATS as readonly string[]).includes(format);
}
const COMPRESSIONS: readonly CompressionType[] = ['none', 'gzip', 'brotli'];

/** The constructor's options with their defaults filled in. */
export type Resolved = Required<Omit<PersistenceOptions, 'fs' | 'compressionLevel' | 'journalMaxBytes' | 'snapshotStore'>> & { compressionLevel?: number; journalMaxBytes?: number };

/** Checks the constructor's options and fills in the defaults. */
export function checkOptions(options: PersistenceOptions): Resolved {
  if (options === null || typeof options !== 'object') throw new TypeError('DatabasePersistence options must be an object');
  const format = options.format ?? 'binary';
  if (!FORMATS.includes(format)) throw new QuiverError('INVALID_ARGUMENT', `Unknown format "${String(format)}"; use 'binary', 'json' or 'sqlite'.`);
  const compression = options.compression ?? 'none';
  if (!COMPRESSIONS.includes(compression)) {
    throw new QuiverError('INVALID_ARGUMENT', `Unknown compression "${String(compression)}"; use 'none', 'gzip' or 'brotli'.`);
  }
  const num = (name: string, v: number | undefined, dflt: number, min: number, max = Number.MAX_VALUE, whole = false): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (whole && !Number.isInteger(v))) {
      throw new QuiverError('INVALID_ARGUMENT', `Option ${name} must be a ${whole ? 'whole ' : ''}number ≥ ${min}${max < Number.MAX_VALUE ? ` and ≤ ${max}` : ''} (got ${String(v)}).`);
    }
    return v;
  };
  const baseDir = options.baseDir ?? './data';
  if (typeof baseDir !== 'string' || baseDir === '') throw new QuiverError('INVALID_ARGUMENT', `Option baseDir must be a non-empty directory path (got ${describe(baseDir)}).`);
  const incremental = options.incremental ?? false;
  if (typeof incremental !== 'boolean') throw new QuiverError('INVALID_ARGUMENT', `Option incremental must be true or false (got ${describe(incremental)}).`);
  // Checked now against the codec saves will use (compress: true on an uncompressed instance means gzip),
  // rather than failing every later save.
  if (options.compressionLevel !== undefined) resolveCodec(compression === 'none' ? 'gzip' : compression, options.compressionLevel);
  return {
    baseDir,
    format,
    compression,
    compressionLevel: options.compressionLevel,
    incremental,
    // Node's timers take at most MAX_TIMER_MS (~24.8 days); a longer interval would save every 1 ms.
    autoSaveInterval: num('autoSaveInterval', options.autoSaveInterval, 0, 0, MAX_TIMER_MS),
    maxSnapshots: num('maxSnapshots', options.maxSnapshots, 10, 1, Number.MAX_VALUE, true),
    batchSize: num('batchSize', options.batchSize, 1000, 1, Number.MAX_VALUE, true),
    journalMaxBytes: options.journalMaxBytes === undefined ? undefined : num('journalMaxBytes', options.journalMaxBytes, 0, 0),
  };
}

/**
 * Checks an operation's options: `path` a non-empty string, or (where a default exists, `required`
 * false) absent; each of `booleans` absent, true or false (`compress: 'brotli'` must not read as gzip,
 * nor `verifyChecksum: 0` as "skip the check" when `'false'` reads as "check").
 */
export function checkCallOptions(op: string, options: object | null | undefined, required: boolean, booleans: readonly string[] = []): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`${op} needs an options object${required ? ' with { path }' : ''}`);
  const { path } = options as { path?: unknown };
  if (path !== undefined || required) {
    if (typeof path !== 'string' || path === '') throw new TypeError(`${op} needs { path } to be a non-empty file path${required ? '' : ' (or no path, for the default)'}, got ${describe(path)}`);
  }
  for (const name of booleans) {
    const v = (options as Record<string, unknown>)[name];
    if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`${op}({ ${name} }) must be true or false, got ${describe(v)}${name === 'compress' ? " (to choose the codec, name the file .gz or .br, or construct DatabasePersistence with compression: 'gzip' | 'brotli')" : ''}`);
  }
}
