/**
 * The one error type of QuiverDB. Every failure a caller can act on carries a stable string `code`
 * (listed in {@link ErrorCode} and in README "Error codes"); messages say what to do next.
 */

/** Stable error codes. Operating-system I/O failures keep the OS code (ENOSPC, EIO, EACCES, ...). */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'DIMENSION_MISMATCH'
  | 'INVALID_VECTOR'
  | 'INVALID_METADATA'
  | 'INVALID_ID'
  | 'NOT_FOUND'
  | 'CORRUPT'
  | 'CHECKSUM_MISMATCH'
  | 'UNSUPPORTED_VERSION'
  | 'UNSUPPORTED_FORMAT'
  | 'LIMIT_EXCEEDED'
  | 'LOCKED'
  | 'CLOSED'
  | 'ABORTED'
  | 'BUSY'
  | 'IO_ERROR'
  | 'ENOSPC'
  | 'EIO'
  | 'EACCES'
  | 'EPERM'
  | 'EROFS'
  | 'EXDEV'
  | 'EMFILE'
  | 'ENOENT'
  | 'EEXIST'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'ENOTEMPTY';

/** Extra facts attached to an error, for logs and programs (never needed to understand the message). */
export interface ErrorDetails {
  [key: string]: unknown;
}

/** A QuiverDB failure with a stable `code`. Check `err instanceof QuiverError` and switch on `err.code`. */
export class QuiverError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QuiverError';
    this.code = code;
    this.details = details;
    // V8 keeps every frame's receiver alive until `stack` is first read: an error a caller keeps would
    // hold the reader that threw it (or its cause), with its read window (megabytes). Formatted once the
    // subclass constructors have run (so the header has their name and message), it holds only its text.
    queueMicrotask(() => settleStacks(this));
  }
}

/** Reads `stack` of `err` and of its causes (a few levels), which formats them and frees their frames. */
function settleStacks(err: Error): void {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 8; depth++) {
    void e.stack;
    e = e.cause;
  }
}

/** Where damaged bytes were found: the file, the byte offset (when known) and the section or JSON path. */
export interface CorruptionLocation {
  file: string;
  section: string;
  offset?: number;
}

/**
 * Stored bytes are damaged or not what the format allows. Raised instead of returning wrong data or
 * starting empty; nothing on disk is modified when it is thrown.
 */
export class CorruptionError extends QuiverError {
  readonly file: string;
  readonly section: string;
  readonly offset: number | undefined;
  /** What is damaged and where, without the advice that ends `message` (for messages that act on it). */
  readonly damage: string;
  /** What is wrong, without the file, section or advice (for an error that restates it with other advice). */
  readonly problem: string;

  constructor(loc: CorruptionLocation, problem: string, code: 'CORRUPT' | 'CHECKSUM_MISMATCH' = 'CORRUPT', options?: { cause?: unknown }) {
    const at = loc.offset === undefined ? '' : ` at byte ${loc.offset}`;
    // README promises that every message about a checksum says "checksum" (callers test for the word).
    if (code === 'CHECKSUM_MISMATCH' && !/checksum/i.test(problem)) problem = `checksum mismatch: ${problem}`;
    super(
      code,
      `${loc.file}: section "${loc.section}"${at} is damaged: ${problem}. The file was not modified; restore it from a snapshot or an earlier save.`,
      { file: loc.file, section: loc.section, offset: loc.offset },
      options,
    );
    this.name = 'CorruptionError';
    this.file = loc.file;
    this.section = loc.section;
    this.offset = loc.offset;
    this.damage = `${loc.file}: section "${loc.section}"${at} is damaged: ${problem}`;
    this.problem = problem;
  }
}

const OS_CODES = new Set<string>(['ENOSPC', 'EIO', 'EACCES', 'EPERM', 'EROFS', 'EXDEV', 'EMFILE', 'ENOENT', 'EEXIST', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY']);

const OS_HINTS: Record<string, string> = {
  ENOSPC: 'the disk is full; free space and retry (the previous file is intact)',
  EIO: 'the device reported an I/O error; check the disk and retry',
  EACCES: 'permission denied; check the directory permissions',
  EPERM: 'operation not permitted; check the directory permissions',
  EROFS: 'the file system is read-only',
  EXDEV: 'source and target are on different file systems',
  EMFILE: 'too many open files; raise the limit or close handles',
  ENOENT: 'no such file or directory',
  EEXIST: 'the file already exists',
  ENOTDIR: 'a path component is not a directory',
  EISDIR: 'the path is a directory',
  ENOTEMPTY: 'the directory is not empty',
};

/**
 * True for a failure to do I/O that says nothing about the bytes stored (an OS error such as EIO or
 * ENOSPC, or IO_ERROR): a missing file (ENOENT) is not one, since for stored data that is damage.
 */
export function isIoFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'IO_ERROR' || (typeof code === 'string' && code !== 'ENOENT' && OS_CODES.has(code));
}

/**
 * Wraps an operating-system error as a QuiverError that keeps the OS code (so `err.code === 'ENOSPC'`
 * keeps working) and names the operation and path. QuiverErrors pass through unchanged.
 */
export function ioError(err: unknown, op: string, path: string): QuiverError {
  if (err instanceof QuiverError) return err;
  const osCode = (err as { code?: unknown } | null)?.code;
  const code: ErrorCode = typeof osCode === 'string' && OS_CODES.has(osCode) ? (osCode as ErrorCode) : 'IO_ERROR';
  const hint = OS_HINTS[code] ?? (err instanceof Error ? err.message : String(err));
  return new QuiverError(code, `${op} ${path} failed: ${hint}`, { op, path, osCode }, { cause: err });
}

/** True when `err` is a QuiverError with the given code. */
export function isQuiverError(err: unknown, code?: ErrorCode): err is QuiverError {
  return err instanceof QuiverError && (code === undefined || err.code === code);
}
