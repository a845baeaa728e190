/**
 * The FileSystem seam over Node's `fs/promises`: the implementation used outside tests.
 */
import { open as fsOpen, readFile, rename, unlink, link, mkdir, readdir, stat, rm } from 'node:fs/promises';
import type { FileHandle as NodeHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { wantsDsync, type FileHandle, type FileStat, type FileSystem, type OpenMode, type OpenOptions } from './fs.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DSYNC } = constants;

/** The open(2) flags of each mode, for opens that need a flag the mode strings cannot carry. */
const FLAGS: Record<OpenMode, number> = {
  r: O_RDONLY,
  w: O_WRONLY | O_CREAT | O_TRUNC,
  wx: O_WRONLY | O_CREAT | O_EXCL,
  a: O_WRONLY | O_CREAT | O_APPEND,
  'r+': O_RDWR,
};

/** Where O_DSYNC gives fdatasync's guarantee (see NodeFileHandle). */
const NATIVE_DSYNC = process.platform === 'linux' && O_DSYNC !== undefined;

class NodeFileHandle implements FileHandle {
  /**
   * @param emulateDsync each write is followed by fdatasync instead of the file being opened O_DSYNC:
   * everywhere but Linux. Windows has no O_DSYNC, and on macOS O_DSYNC does not flush the drive's
   * write cache, while Node's fdatasync there does (F_FULLFSYNC).
   */
  constructor(private readonly h: NodeHandle, private readonly append: boolean, private readonly emulateDsync: boolean) {}

  async write(data: Uint8Array, position?: number): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const pos = this.append || position === undefined ? null : position + off;
      const { bytesWritten } = await this.h.write(data, off, data.length - off, pos);
      off += bytesWritten;
    }
    if (this.emulateDsync) await this.h.datasync();
  }

  async read(into: Uint8Array, position: number, offset = 0, length = into.length - offset): Promise<number> {
    const { bytesRead } = await this.h.read(into, offset, length, position);
    return bytesRead;
  }

  sync(): Promise<void> {
    return this.h.sync();
  }

  async size(): Promise<number> {
    return (await this.h.stat()).size;
  }

  truncate(length: number): Promise<void> {
    return this.h.truncate(length);
  }

  close(): Promise<void> {
    return this.h.close();
  }
}

/** Node's real file system. */
export class NodeFileSystem implements FileSystem {
  private readonly nativeDsync: boolean;

  /**
   * `nativeDsync: false` makes dsync handles follow each write with fdatasync even on Linux (the path
   * other platforms take), so that tests can run it here.
   */
  constructor(options: { nativeDsync?: boolean } = {}) {
    this.nativeDsync = NATIVE_DSYNC && options.nativeDsync !== false;
  }

  async open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle> {
    const dsync = wantsDsync(mode, options);
    const native = dsync && this.nativeDsync;
    const h = await fsOpen(path, native ? FLAGS[mode] | O_DSYNC : mode);
    return new NodeFileHandle(h, mode === 'a', dsync && !native);
  }

  async readFile(path: string): Promise<Uint8Array> {
    return readFile(path);
  }

  rename(from: string, to: string): Promise<void> {
    return rename(from, to);
  }

  unlink(path: string): Promise<void> {
    return unlink(path);
  }

  link(from: string, to: string): Promise<void> {
    return link(from, to);
  }

  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    await mkdir(path, { recursive: options?.recursive ?? false });
  }

  readdir(path: string): Promise<string[]> {
    return readdir(path);
  }

  async stat(path: string): Promise<FileStat> {
    const s = await stat(path);
    return { size: s.size, mtimeMs: s.mtimeMs, isFile: s.isFile(), isDirectory: s.isDirectory(), links: s.nlink, ino: s.ino };
  }

  async rm(path: string, options?: { recursive?: boolean }): Promise<void> {
    try {
      await rm(path, { recursive: options?.recursive ?? false, force: true });
    } catch (err) {
      // Node reports a directory without `recursive` as ERR_FS_EISDIR; keep the POSIX code callers expect.
      if ((err as { code?: string }).code === 'ERR_FS_EISDIR') throw Object.assign(err as Error, { code: 'EISDIR' });
      throw err;
    }
  }

  async syncDir(path: string): Promise<void> {
    const h = await fsOpen(path, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  }
}

/** The process-wide default file system. */
export const nodeFs: FileSystem = new NodeFileSystem();
