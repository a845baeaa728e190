/**
 * `writeSqliteState`: a collection image as a new SQLite file, published atomically. On the real file
 * system SQLite builds the file itself in a temp file beside the target (no journal, no syncs during
 * the bulk build), which is then fsynced, renamed over the target and the directory fsynced. Any other
 * FileSystem gets an in-memory database serialised through `publishAtomically`.
 */
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { QuiverError, ioError } from '../../errors.js';
import type { CollectionImage } from '../../engine/types.js';
import type { FileSystem } from '../../env/fs.js';
import { NodeFileSystem } from '../../env/node-fs.js';
import { publishAtomically } from '../../env/atomic.js';
import { jsonProblem } from '../../util/msgpack.js';
import { ProgressReporter } from '../../util/progress.js';
import type { ExchangeWriteOptions } from '../exchange.js';
import { buildDatabase, type BuildControl } from './build.js';
import { checkAbort, mapSqliteError } from './sqlite-errors.js';
import { settleSideFiles } from './open.js';

/** Options of {@link writeSqliteState}: the exchange options plus the sequence number to record. */
export interface SqliteWriteOptions extends ExchangeWriteOptions {
  /** Recorded as quiver_meta.seq; default `image.seq`. */
  seq?: number;
}

/** What {@link writeSqliteState} and {@link applySqliteChanges} wrote. */
export interface SqliteWriteResult {
  path: string;
  /** Size of the file. */
  bytes: number;
  /** The file checksum recorded in quiver_meta (lowercase hex SHA-256). */
  checksum: string;
  /** Entries in the file. */
  count: number;
}

/** SQLite page cache of a bulk build, in KiB (4 pages of 64 KiB; see writeWithSqlite). */
const BUILD_CACHE_KIB = 256;

/** Bytes per write when an in-memory database is copied to a non-node FileSystem. */
const COPY_CHUNK = 4 << 20;

/** Validates the options shared by the writers; returns the seq and user map to record. */
export function checkWriteOptions(path: string, image: CollectionImage, opts: SqliteWriteOptions): { seq: number; user: Record<string, unknown> } {
  if (opts.compression !== undefined && opts.compression !== 'none') {
    throw new QuiverError('UNSUPPORTED_FORMAT', `The sqlite format cannot be compressed (asked for ${String(opts.compression)}); write it with compression 'none' and compress the file yourself if needed.`, { path });
  }
  const seq = opts.seq ?? image.seq;
  if (!Number.isSafeInteger(seq) || seq < 0) throw new QuiverError('INVALID_ARGUMENT', `seq must be a non-negative integer, got ${String(seq)}`);
  const user = opts.user ?? {};
  const problem = jsonProblem(user, 'options.user');
  if (problem !== undefined || typeof user !== 'object' || user === null || Array.isArray(user)) {
    throw new QuiverError('INVALID_ARGUMENT', `options.user must be a plain JSON object: ${problem ?? 'got a non-object'}`);
  }
  return { seq, user };
}

/** Writes `image` to `path` as a SQLite export (docs/FORMAT.md), atomically. */
export async function writeSqliteState(fs: FileSystem, path: string, image: CollectionImage, opts: SqliteWriteOptions = {}): Promise<SqliteWriteResult> {
  const { seq, user } = checkWriteOptions(path, image, opts);
  const progress = new ProgressReporter('save', image.count + 1, opts.onProgress);
  const ctl: BuildControl = { file: path, seq, user, progress, signal: opts.signal };
  checkAbort(opts.signal, `Saving ${path} was cancelled; the previous file (if any) is unchanged.`);
  const result = fs instanceof NodeFileSystem ? await writeWithSqlite(fs, path, image, ctl) : await writeThroughFs(fs, path, image, ctl);
  progress.finishDone(`saved ${result.count} entries to ${path}`);
  return result;
}

async function writeWithSqlite(fs: FileSystem, path: string, image: CollectionImage, ctl: BuildControl): Promise<SqliteWriteResult> {
  try {
    await fs.stat(dirname(path));
  } catch (err) {
    throw ioError(err, 'save', path);
  }
  // The file being replaced may have SQLite's journal or WAL beside it, which SQLite would apply to the
  // new file: settled into the old one first.
  await settleSideFiles(fs, path);
  // SQLite writes the temp file itself; the publish fsyncs it in the background as SQLite reports the
  // buckets it has taken (SQLite itself syncs nothing here), then fsyncs, renames and keeps no spare.
  return publishAtomically(fs, path, async (handle, temp) => {
    let db: Database.Database | undefined;
    try {
      db = new Database(temp.path);
      // Nothing reads the temp file before it is complete and fsynced, so the bulk build runs without a
      // rollback journal or syncs; a crash leaves only a temp file, removed by cleanTempFiles.
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      db.pragma('locking_mode = EXCLUSIVE');
      // A page cache of a few pages: an append-only build only needs the rightmost path of each B-tree.
      // A bigger cache is freed and reallocated as SQLite spills it, and glibc hands the freed top of the
      // heap back to the OS each time, so every cycle faults fresh pages in (~19,000 faults and ~0.3 s of
      // a ~0.7 s export of 100,000 x 384 with 4 MiB here; ~2,300 faults and ~0.4 s with 256 KiB).
      db.pragma(`cache_size = -${BUILD_CACHE_KIB}`);
      const built = await buildDatabase(db, image, { ...ctl, wrote: temp.wrote });
      db.close();
      return { path, bytes: await handle.size(), checksum: built.checksum, count: built.count };
    } catch (err) {
      if (db?.open) db.close();
      throw mapSqliteError(err, path, 'entries', 'build while saving');
    }
  }, { byName: true, signal: ctl.signal });
}

async function writeThroughFs(fs: FileSystem, path: string, image: CollectionImage, ctl: BuildControl): Promise<SqliteWriteResult> {
  let bytes: Buffer;
  let built: { checksum: string; count: number };
  const db = new Database(':memory:');
  try {
    built = await buildDatabase(db, image, ctl);
    bytes = db.serialize();
  } catch (err) {
    throw mapSqliteError(err, path, 'entries', 'save');
  } finally {
    db.close();
  }
  await writeBytesAtomically(fs, path, bytes, ctl.signal);
  return { path, bytes: bytes.length, checksum: built.checksum, count: built.count };
}

/** Publishes a serialised database through `fs` in slices, checking for cancellation between them. */
export function writeBytesAtomically(fs: FileSystem, path: string, bytes: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
  return publishAtomically(fs, path, async (h) => {
    for (let off = 0; off < bytes.length; off += COPY_CHUNK) {
      checkAbort(signal, `Saving ${path} was cancelled; the previous file (if any) is unchanged.`);
      await h.write(bytes.subarray(off, Math.min(bytes.length, off + COPY_CHUNK)), off);
    }
  }, { signal });
}
