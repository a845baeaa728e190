/**
 * Turning better-sqlite3's SqliteError (codes like SQLITE_CORRUPT, SQLITE_IOERR_WRITE) into QuiverDB's
 * typed errors: damaged files become CorruptionErrors naming the file and the table being read, OS
 * trouble keeps an OS-style code, and cancellation checks live here too.
 */
import { CorruptionError, QuiverError, ioError } from '../../errors.js';
import { isProgressCallbackError } from '../../util/progress.js';
import { throwIfAborted } from '../../util/abort.js';

/** The SQLite result code of an error thrown by better-sqlite3, or undefined for anything else. */
export function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** Extended I/O codes whose cause we can name with an OS code. */
const IO_CODES: Record<string, string> = {
  SQLITE_FULL: 'ENOSPC',
  SQLITE_PERM: 'EPERM',
};

function osCodeFor(code: string): string | undefined {
  if (IO_CODES[code]) return IO_CODES[code];
  if (code.startsWith('SQLITE_READONLY')) return 'EROFS';
  if (code.startsWith('SQLITE_IOERR') && code !== 'SQLITE_IOERR_NOMEM') return 'EIO';
  return undefined;
}

/**
 * Maps an error raised while `op` was working on `file` (in table/section `section`) to a QuiverError.
 * QuiverErrors and a progress callback's own error pass through unchanged; non-SQLite errors are OS
 * errors (ioError).
 */
export function mapSqliteError(err: unknown, file: string, section: string, op: string): Error {
  if (err instanceof QuiverError) return err;
  if (isProgressCallbackError(err)) return err as Error; // the caller's own error, passed through as it is
  const code = sqliteCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code === undefined) return ioError(err, op, file);
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' || code === 'SQLITE_FORMAT' || code === 'SQLITE_RANGE' || code === 'SQLITE_MISMATCH' || code === 'SQLITE_CONSTRAINT_CHECK') {
    return new CorruptionError({ file, section }, `SQLite reports "${message}" (${code})`, 'CORRUPT', { cause: err });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new QuiverError('BUSY', `${op} ${file} failed: the database is locked by another connection (${code}); retry when it is free`, { file, sqliteCode: code }, { cause: err });
  }
  if (code === 'SQLITE_NOMEM' || code === 'SQLITE_TOOBIG') {
    return new QuiverError('LIMIT_EXCEEDED', `${op} ${file} failed: SQLite ran out of memory or hit a size limit (${message}); free memory or use a smaller collection`, { file, sqliteCode: code }, { cause: err });
  }
  if (code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_CANTOPEN')) {
    return new QuiverError('IO_ERROR', `${op} ${file} failed: SQLite cannot open the file (${message}); check that the path and its directory exist and are accessible`, { file, sqliteCode: code }, { cause: err });
  }
  const os = osCodeFor(code);
  if (os !== undefined) return ioError(Object.assign(new Error(message), { code: os }), op, file);
  return new QuiverError('IO_ERROR', `${op} ${file} failed: SQLite reports "${message}" (${code})`, { file, sqliteCode: code }, { cause: err });
}

/** Throws ABORTED when `signal` fired; `what` says what was cancelled and what stays unchanged. */
export function checkAbort(signal: AbortSignal | undefined, what: string): void {
  throwIfAborted(signal, what);
}

/** Lets timers and abort signals run between batches of synchronous SQLite work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
