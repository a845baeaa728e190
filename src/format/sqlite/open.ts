/**
 * Opening an existing SQLite export: through SQLite's own file access on the real file system, or from
 * bytes read through any other FileSystem. The 16-byte SQLite header is checked first, so a file that
 * is not SQLite at all is reported as such instead of as SQLite's generic "not a database".
 */
import Database from 'better-sqlite3';
import { CorruptionError, ioError } from '../../errors.js';
import type { FileSystem } from '../../env/fs.js';
import { NodeFileSystem } from '../../env/node-fs.js';
import { SQLITE_HEADER, isSqliteHeader } from './schema.js';
import { mapSqliteError } from './sqlite-errors.js';

/** An open export and the size of the file it came from. */
export interface OpenedSqlite {
  db: Database.Database;
  size: number;
  /** True when SQLite accesses the file itself (changes go straight to disk). */
  onDisk: boolean;
}

function notSqlite(file: string, size: number): CorruptionError {
  const problem = size < SQLITE_HEADER.length ? `the file has only ${size} bytes, fewer than the 16-byte SQLite header` : 'it does not start with the SQLite header "SQLite format 3\\0", so it is not a SQLite database';
  return new CorruptionError({ file, section: 'header', offset: 0 }, problem);
}

/** Bytes of the SQLite file header (docs: https://www.sqlite.org/fileformat.html#the_database_header). */
const FILE_HEADER_BYTES = 100;
/** First bytes of a rollback journal's header; a journal without them is not hot. */
const JOURNAL_MAGIC = Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);

async function readPrefix(fs: FileSystem, path: string, length: number): Promise<{ head: Uint8Array; size: number }> {
  let handle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    throw ioError(err, 'open', path);
  }
  try {
    const size = await handle.size();
    const head = new Uint8Array(Math.min(length, size));
    let n = 0;
    while (n < head.length) {
      const got = await handle.read(head, n, n, head.length - n);
      if (got === 0) break;
      n += got;
    }
    return { head: head.subarray(0, n), size };
  } catch (err) {
    throw ioError(err, 'read', path);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Checks the header against the file's size: a file shorter than the page count its header records
 * was cut off. (SQLite itself zero-fills a short last page, and a cut at free space goes unnoticed.)
 * The recorded size is only trusted when valid: rollback-journal mode and "version-valid-for" equal to
 * the change counter, as SQLite requires.
 */
function checkTruncation(file: string, head: Uint8Array, size: number): void {
  if (head.length < FILE_HEADER_BYTES) throw new CorruptionError({ file, section: 'header', offset: 0 }, `the file has only ${size} bytes, fewer than the 100-byte SQLite header`);
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const rawPage = b.readUInt16BE(16);
  const pageSize = rawPage === 1 ? 65536 : rawPage;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new CorruptionError({ file, section: 'header', offset: 16 }, `the page size ${rawPage} is not a power of two from 512 to 65536`);
  }
  const legacy = b[18] === 1 && b[19] === 1;
  const pages = b.readUInt32BE(28);
  if (legacy && pages > 0 && b.readUInt32BE(92) === b.readUInt32BE(24) && size < pages * pageSize) {
    throw new CorruptionError({ file, section: 'header', offset: 28 }, `the file is truncated: its header records ${pages} pages of ${pageSize} bytes (${pages * pageSize} bytes) but it has ${size}`);
  }
}

/**
 * A rollback journal left by a crashed incremental save is "hot": SQLite must roll it back before the
 * file can be read, and a read-only connection cannot. A short read-write open does that recovery,
 * restoring the state before the interrupted save (SQLite's own atomic commit).
 */
async function recoverHotJournal(fs: FileSystem, path: string): Promise<boolean> {
  const journal = `${path}-journal`;
  try {
    const st = await fs.stat(journal);
    if (!st.isFile || st.size < JOURNAL_MAGIC.length) return false;
    const { head } = await readPrefix(fs, journal, JOURNAL_MAGIC.length);
    if (!JOURNAL_MAGIC.equals(head)) return false; // zeroed or partial header: not hot, SQLite ignores it
  } catch {
    return false;
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true });
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (err) {
    throw mapSqliteError(err, path, 'journal', 'recover the interrupted save of');
  } finally {
    db?.close();
  }
  return true;
}

/** What SQLite keeps beside a database file, named by its path: the rollback journal and the WAL with its index. */
const SIDE_FILES = ['-journal', '-wal', '-shm'] as const;

/**
 * Before a file replaces the SQLite file at `path` (a full save, an export, a convert): settles what
 * SQLite keeps beside the old one. SQLite finds those files by path, not by database, so left beside
 * the new file an old hot journal was rolled "back" into it (a load then returned wrong data, and the
 * file was damaged) and an old WAL's frames were applied to it (the load failed). A short read-write
 * open rolls a hot journal back into the old file and checkpoints a WAL into it, after which SQLite
 * removes them; an old file that cannot be opened at all has nothing they could restore, so they are
 * removed. Side files SQLite keeps after that belong to a connection still open elsewhere: left alone.
 */
export async function settleSideFiles(fs: FileSystem, path: string): Promise<void> {
  const present = await Promise.all(SIDE_FILES.map((s) => fs.stat(path + s).then(() => true, () => false)));
  if (!present.some(Boolean)) return;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true });
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal') {
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.pragma('journal_mode = DELETE');
    }
  } catch {
    db?.close();
    for (const s of SIDE_FILES) await fs.rm(path + s).catch(() => undefined);
    return;
  }
  db.close();
}

/** Largest WAL-mode file read from a private copy in memory; a larger one is opened on disk (and SQLite leaves its `-wal` and `-shm`). */
const WAL_COPY_MAX_BYTES = 256 * 1024 * 1024;

/**
 * True for a file of at most `maxBytes` whose header says WAL mode (bytes 18-19 = 2) and whose
 * `-wal` file is certainly absent (ENOENT) or empty.
 */
async function inWalModeWithEmptyLog(fs: FileSystem, path: string, maxBytes: number): Promise<boolean> {
  const { head, size } = await readPrefix(fs, path, FILE_HEADER_BYTES);
  if (size > maxBytes || !isSqliteHeader(head) || head.length < FILE_HEADER_BYTES || head[18] !== 2 || head[19] !== 2) return false;
  try {
    return (await fs.stat(`${path}-wal`)).size === 0;
  } catch (err) {
    return (err as { code?: unknown } | null)?.code === 'ENOENT';
  }
}

/**
 * Opens `path` read-only (or read-write when `writable`, for incremental saves). Non-node FileSystems
 * yield an in-memory copy; the caller serialises and publishes it if it changed anything.
 */
export async function openExport(fs: FileSystem, path: string, writable: boolean): Promise<OpenedSqlite> {
  // A file in WAL mode whose log is absent or empty holds everything in the main file; opened read-only on
  // disk, SQLite would create `-wal` and `-shm` beside it and leave them (a read-only connection cannot
  // remove them). It is read from a private copy instead, marked as a rollback-journal file there (bytes
  // 18-19: the only difference, and SQLite's in-memory files cannot be in WAL mode).
  // Other FileSystems read every file from a copy anyway: there the copy is always marked.
  const walOnly = !writable && (await inWalModeWithEmptyLog(fs, path, fs instanceof NodeFileSystem ? WAL_COPY_MAX_BYTES : Infinity));
  if (fs instanceof NodeFileSystem && !walOnly) {
    let { head, size } = await readPrefix(fs, path, FILE_HEADER_BYTES);
    if (!isSqliteHeader(head)) throw notSqlite(path, size);
    // Roll back an interrupted save first: until then the header and size may be mid-transaction.
    if (await recoverHotJournal(fs, path)) ({ head, size } = await readPrefix(fs, path, FILE_HEADER_BYTES));
    checkTruncation(path, head, size);
    try {
      return { db: new Database(path, { readonly: !writable, fileMustExist: true }), size, onDisk: true };
    } catch (err) {
      throw mapSqliteError(err, path, 'header', 'open');
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (err) {
    throw ioError(err, 'read', path);
  }
  if (!isSqliteHeader(bytes)) throw notSqlite(path, bytes.length);
  checkTruncation(path, bytes.subarray(0, FILE_HEADER_BYTES), bytes.length);
  try {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (walOnly && buf.length >= FILE_HEADER_BYTES) buf[18] = buf[19] = 1;
    return { db: new Database(buf, { readonly: !writable }), size: bytes.length, onDisk: false };
  } catch (err) {
    throw mapSqliteError(err, path, 'header', 'open');
  }
}
