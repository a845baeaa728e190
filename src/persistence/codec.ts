/**
 * Format dispatch for DatabasePersistence: picks the writer for a format and, on read, detects the
 * format and compression from the file's bytes (never its name) and calls the matching reader.
 * New formats (sqlite) plug in here and nowhere else.
 */
import { CorruptionError, QuiverError } from '../errors.js';
import type { FileStat, FileSystem } from '../env/fs.js';
import type { ChangeImage, CollectionImage, Columns, DeltaColumns } from '../engine/types.js';
import type { ProgressCallback } from '../util/progress.js';
import { writeQvdb, readQvdb } from '../format/qvdb/index.js';
import { writeJsonState, readJsonState } from '../format/json/index.js';
import { detectFormat } from '../format/detect.js';
import { applySqliteChanges, isSqliteHeader, readSqliteState, writeSqliteState } from '../format/sqlite/index.js';
import { formatForPath } from '../interchange/index.js';
import { isSaveFormat } from './options.js';
import type { CompressionType, PersistenceFormat } from './types.js';

/** How to write one state file. */
export interface WriteSpec {
  format: PersistenceFormat;
  compression: CompressionType;
  level?: number;
  user: Record<string, unknown>;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** A delta's base: the file checksum of the chain's full base file (stored as the delta's `baseChecksum`). */
  baseChecksum?: string;
  /** Publish only where no file is (a delta of a chain): BUSY otherwise, nothing published. */
  noReplace?: boolean;
  /** Binary and JSON files: told the new file's stat just before it is published (see PublishOptions.onSealed). */
  onSealed?: (stat: FileStat) => void;
  /** Binary and JSON files: awaited before the written file is made durable (see PublishOptions.ready). */
  ready?: Promise<unknown>;
}

/** What a written state file is. */
export interface WrittenState {
  path: string;
  bytes: number;
  checksum: string;
  count: number;
}

/** A state file read back: a full state or a delta, with the caller's `user` map. */
export type ReadState =
  | { kind: 'full'; columns: Columns; checksum: string; user: Record<string, unknown>; format: PersistenceFormat }
  /** `baseChecksum`: the base the delta's own header names (its format's field; null when it names none). */
  | { kind: 'delta'; delta: DeltaColumns; checksum: string; user: Record<string, unknown>; format: PersistenceFormat; baseChecksum: string | null };

/** Options of `readState`. */
export interface ReadSpec {
  verifyChecksum?: boolean;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Binary files: keep metadata encoded for `replaceAll` (see ReadQvdbOptions.keepMetadataEncoded). */
  keepMetadataEncoded?: boolean;
}

/** Writes `image` (full) or a ChangeImage (delta) to `path` atomically in the requested format. */
export async function writeState(fs: FileSystem, path: string, image: CollectionImage | ChangeImage, spec: WriteSpec): Promise<WrittenState> {
  const opts = { compression: spec.compression, level: spec.level, user: spec.user, onProgress: spec.onProgress, signal: spec.signal, baseChecksum: spec.baseChecksum, noReplace: spec.noReplace, onSealed: spec.onSealed, ready: spec.ready };
  switch (spec.format) {
    case 'binary':
      return writeQvdb(fs, path, image, opts);
    case 'json':
      return writeJsonState(fs, path, image, opts);
    case 'sqlite': {
      if ('sinceSeq' in image) throw new QuiverError('INVALID_ARGUMENT', 'SQLite files take incremental saves in place (applySqliteChanges), not as delta files.');
      const r = await writeSqliteState(fs, path, image, { compression: spec.compression, user: spec.user, seq: image.seq, onProgress: spec.onProgress, signal: spec.signal });
      return { path, bytes: r.bytes, checksum: r.checksum, count: r.count };
    }
    default:
      throw new QuiverError('INVALID_ARGUMENT', `Unknown format "${String(spec.format)}"; use 'binary', 'json' or 'sqlite'.`);
  }
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Reads a state file of any supported format, detected from its first bytes. */
export async function readState(fs: FileSystem, path: string, spec: ReadSpec): Promise<ReadState> {
  const { format, compression } = await detectFormat(fs, path);
  if (format === 'sqlite') {
    const r = await readSqliteState(fs, path, { verifyChecksum: spec.verifyChecksum, onProgress: spec.onProgress, signal: spec.signal });
    return { kind: 'full', columns: r.columns, checksum: r.checksum, user: r.user, format: 'sqlite' };
  }
  if (format === 'binary') {
    const r = await readQvdb(fs, path, { verifyChecksum: spec.verifyChecksum, onProgress: spec.onProgress, signal: spec.signal, keepMetadataEncoded: spec.keepMetadataEncoded });
    const user = asRecord(r.manifest.user);
    return r.kind === 'full'
      ? { kind: 'full', columns: r.columns, checksum: r.checksum, user, format: 'binary' }
      : { kind: 'delta', delta: r.delta, checksum: r.checksum, user, format: 'binary', baseChecksum: r.manifest.baseChecksum ?? null };
  }
  if (format === 'json') {
    const r = await readJsonState(fs, path, { compression, verifyChecksum: spec.verifyChecksum, onProgress: spec.onProgress, signal: spec.signal });
    const user = asRecord(r.header.options);
    return r.kind === 'full'
      ? { kind: 'full', columns: r.columns, checksum: r.checksum, user, format: 'json' }
      : { kind: 'delta', delta: r.delta, checksum: r.checksum, user, format: 'json', baseChecksum: r.header.baseChecksum ?? null };
  }
  throw (await damagedSaveFile(fs, path)) ?? new QuiverError('UNSUPPORTED_FORMAT', `${path} is not a QuiverDB save file (.qvdb, JSON state plain/gzip/brotli, or SQLite); use import() for interchange formats.`, { path });
}

/** `<base>.delta-000001`: a delta is named after its base file. */
const DELTA_SUFFIX = /\.delta-\d{6}$/;

/**
 * The error for a file in no save format whose name says it is a save file (`.qvdb`, `.sqlite`, `.json`,
 * `.json.gz`, `.json.br`, or a delta of one): damage to its first bytes (a flipped bit in the magic, a
 * file cut to nothing), which must read as damage, not as "another kind of file; use import()".
 */
async function damagedSaveFile(fs: FileSystem, path: string): Promise<CorruptionError | undefined> {
  const named = formatForPath(path.replace(DELTA_SUFFIX, ''));
  if (named === undefined || !isSaveFormat(named.format)) return undefined;
  const empty = await fs.stat(path).then((st) => st.size === 0, () => false);
  const what = `${named.format}${named.compression === 'none' ? '' : ` (${named.compression})`}`;
  return new CorruptionError({ file: path, section: 'header', offset: 0 }, empty ? `the file is empty, though its name says it is a ${what} save file` : `its first bytes are not those of a ${what} save file, which its name says it is`);
}

/** Applies a change image to a SQLite save file in place; see applySqliteChanges. */
export async function updateSqliteState(fs: FileSystem, path: string, changes: ChangeImage, expectedChecksum: string, onProgress?: ProgressCallback, signal?: AbortSignal): Promise<WrittenState> {
  const r = await applySqliteChanges(fs, path, changes, { expectedChecksum, seq: changes.seq, onProgress, signal });
  return { path, bytes: r.bytes, checksum: r.checksum, count: r.count };
}

export { isSqliteHeader };

/** The conventional file extension of a format + compression. */
export function extensionFor(format: PersistenceFormat, compression: CompressionType): string {
  const base = format === 'binary' ? '.qvdb' : format === 'json' ? '.json' : '.sqlite';
  if (format !== 'json' || compression === 'none') return base;
  return base + (compression === 'gzip' ? '.gz' : '.br');
}
