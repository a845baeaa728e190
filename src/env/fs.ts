/**
 * The FileSystem seam. Every byte QuiverDB reads or writes goes through this interface so that tests
 * can swap in an in-memory or fault-injecting implementation (crash, EIO, ENOSPC, power loss).
 *
 * Implementations throw errors carrying the OS-style `code` (ENOENT, EIO, ENOSPC, EEXIST, ...);
 * callers wrap them with `ioError` from errors.ts.
 */

/** An open file. Positions are absolute byte offsets. */
export interface FileHandle {
  /** Writes all of `data` at `position`; append handles always write at the end; without a position, at the handle's own offset (0, then advancing). */
  write(data: Uint8Array, position?: number): Promise<void>;
  /** Reads up to `length` bytes (default: `into.length - offset`) into `into` at `offset`; returns bytes read (0 at EOF). */
  read(into: Uint8Array, position: number, offset?: number, length?: number): Promise<number>;
  /** Makes written data durable (fsync). */
  sync(): Promise<void>;
  /** Size in bytes. */
  size(): Promise<number>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** Open modes: read, create/truncate for write, exclusive create, append, read-write existing. */
export type OpenMode = 'r' | 'w' | 'wx' | 'a' | 'r+';

/** Options of {@link FileSystem.open}. */
export interface OpenOptions {
  /**
   * Every write resolves only once its own bytes (and the file size needed to read them) are durable:
   * one round trip instead of write + fdatasync (O_DSYNC on Linux; elsewhere each write is followed by
   * fdatasync). Unlike fdatasync it does not make earlier unsynced writes of the file durable. For
   * writable modes only.
   */
  dsync?: boolean;
}

/** The open modes that can write, the only ones `dsync` applies to. */
const WRITABLE: ReadonlySet<unknown> = new Set(['w', 'wx', 'a', 'r+']);

/**
 * Whether `options` ask for a dsync handle; a TypeError when they do for a mode that cannot write (the
 * one check every FileSystem implementation makes of its open options).
 */
export function wantsDsync(mode: OpenMode, options: OpenOptions | undefined): boolean {
  const dsync = options?.dsync === true;
  if (dsync && !WRITABLE.has(mode)) throw new TypeError(`dsync needs a writable open mode (w, wx, a or r+), got ${String(mode)}`);
  return dsync;
}

/** What `stat` reports. */
export interface FileStat {
  size: number;
  mtimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
  /** Number of names (hard links) of the file, when the file system knows it. */
  links?: number;
  /** The file's inode number, when the file system has one: two files of the same size and time differ in it. */
  ino?: number;
}

/** The narrow file-system surface QuiverDB needs. Paths are plain strings (node `path` semantics). */
export interface FileSystem {
  open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle>;
  readFile(path: string): Promise<Uint8Array>;
  /** Atomic within a directory; replaces `to` if it exists. */
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Makes `to` a second name (hard link) of the existing file `from`; EEXIST when `to` exists. */
  link(from: string, to: string): Promise<void>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** Names (not paths) of the entries of a directory. */
  readdir(path: string): Promise<string[]>;
  /** Throws ENOENT when missing. */
  stat(path: string): Promise<FileStat>;
  /** Removes a file or a directory tree; no error when missing. */
  rm(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** fsyncs a directory so that renames and creations in it are durable. */
  syncDir(path: string): Promise<void>;
}
