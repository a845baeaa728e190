/**
 * A SnapshotStore over a directory, through the FileSystem seam (node's real file system in
 * production, the in-memory or fault-injecting ones in tests). Key `a/b/c` is the file `<root>/a/b/c`.
 * Every put is published atomically (temp file in the same directory, fsync, rename, fsync directory)
 * into a directory created durably; deletions fsync their directory before resolving.
 *
 * A key cannot be both an object and a folder of other keys here (a file system limit object stores
 * do not share); snapshot layouts never need that.
 */
import { dirname, join, resolve } from 'node:path';
import { ioError, QuiverError } from '../errors.js';
import type { FileHandle, FileSystem } from '../env/fs.js';
import { nodeFs } from '../env/node-fs.js';
import { publishAtomically } from '../env/atomic.js';
import { TEMP_SUFFIX } from '../env/temp-files.js';
import { ensureDirDurable } from '../env/durable-dir.js';
import { BufferedWriter } from '../env/buffered-writer.js';
import { BYTES_PER_SYNC } from '../env/background-sync.js';
import { checkKey, checkPrefix, isKeySegment, MAX_KEY_DEPTH } from './keys.js';
import { checkAbort, notFound, pumpBody, type PutResult, type ReadIntoOptions, type SnapshotStore, type StoreBody, type StoreObjectInfo, type StoreOpOptions, type StoreReadOptions } from './store.js';

const DEFAULT_CHUNK = 4 << 20;
/** Positional reads kept in flight by `readInto`. */
const READS_IN_FLIGHT = 2;

function codeOf(err: unknown): unknown {
  return (err as { code?: unknown } | null)?.code;
}

function isMissing(err: unknown): boolean {
  const c = codeOf(err);
  return c === 'ENOENT' || c === 'ENOTDIR' || c === 'EISDIR';
}

/** Options of {@link FileSystemSnapshotStore}. */
export interface FileSystemStoreOptions {
  /** The file system to use (default: node's). */
  fs?: FileSystem;
  /** A long put starts a background fsync every this many bytes (default BYTES_PER_SYNC, 32 MiB; 0 turns it off). */
  backgroundSyncBytes?: number;
}

/** The directory-backed snapshot store. */
export class FileSystemSnapshotStore implements SnapshotStore {
  readonly location: string;
  private readonly fs: FileSystem;
  private readonly syncEvery: number;

  /** `root` is the store's directory; it is created (durably) by the first put. */
  constructor(root: string, options: FileSystemStoreOptions = {}) {
    if (typeof root !== 'string' || root === '' || root.includes('\0')) throw new TypeError('FileSystemSnapshotStore needs a directory path (a non-empty string without NUL)');
    this.fs = options.fs ?? nodeFs;
    this.syncEvery = options.backgroundSyncBytes ?? BYTES_PER_SYNC;
    this.location = options.fs ? root : resolve(root);
  }

  locate(key: string): string {
    return join(this.location, ...key.split('/'));
  }

  async put(key: string, body: StoreBody, options: StoreOpOptions = {}): Promise<PutResult> {
    const path = this.locate(checkKey(key));
    checkAbort(options.signal, `put ${key}`);
    await ensureDirDurable(this.fs, dirname(path));
    // The publish fsyncs in the background as the bytes go out, so the disk flushes while the producer computes.
    const size = await publishAtomically(this.fs, path, async (h) => {
      const w = new BufferedWriter(h);
      const n = await pumpBody(body, (chunk) => w.write(chunk), options.signal, `put ${key}`);
      await w.flush();
      return n;
    }, { syncEveryBytes: this.syncEvery });
    return { key, size };
  }

  async get(key: string, options: StoreOpOptions = {}): Promise<Uint8Array> {
    const path = this.locate(checkKey(key));
    checkAbort(options.signal, `get ${key}`);
    try {
      await this.checkRegular(key, path);
      return await this.fs.readFile(path);
    } catch (err) {
      if (err instanceof QuiverError) throw err;
      if (isMissing(err)) throw notFound(key, this.location);
      throw ioError(err, 'read', path);
    }
  }

  async *read(key: string, options: StoreReadOptions = {}): AsyncIterable<Uint8Array> {
    const path = this.locate(checkKey(key));
    const step = Math.max(1, options.chunkBytes ?? DEFAULT_CHUNK);
    const h = await this.openForRead(key, path);
    const readAt = async (pos: number): Promise<Uint8Array> => {
      const buf = Buffer.allocUnsafe(step);
      let got = 0;
      try {
        while (got < step) {
          const n = await h.read(buf, pos + got, got, step - got);
          if (n === 0) break;
          got += n;
        }
      } catch (err) {
        throw ioError(err, 'read', path);
      }
      return buf.subarray(0, got);
    };
    // One read stays in flight while the consumer works on the previous chunk.
    let next: Promise<Uint8Array> | undefined = readAt(0);
    next.catch(() => undefined);
    try {
      let pos = 0;
      while (next) {
        const chunk: Uint8Array = await next;
        next = undefined;
        if (chunk.length === 0) break;
        pos += chunk.length;
        if (chunk.length === step) {
          next = readAt(pos);
          next.catch(() => undefined);
        }
        checkAbort(options.signal, `read ${key}`);
        yield chunk;
      }
    } finally {
      if (next) await next.catch(() => undefined);
      await h.close().catch(() => undefined);
    }
  }

  /**
   * NOT_FOUND unless `path` is a regular file (as `stat` and `list` see objects): opening a FIFO would
   * wait for a writer forever, and a directory fails only at the first read. File-system errors pass through.
   */
  private async checkRegular(key: string, path: string): Promise<void> {
    if (!(await this.fs.stat(path)).isFile) throw notFound(key, this.location, `${path} is not a regular file`);
  }

  /** Opens an object's file for reading; a missing file (or anything but a regular file) is NOT_FOUND naming the key. */
  private async openForRead(key: string, path: string): Promise<FileHandle> {
    try {
      await this.checkRegular(key, path);
      return await this.fs.open(path, 'r');
    } catch (err) {
      if (err instanceof QuiverError) throw err;
      if (isMissing(err)) throw notFound(key, this.location);
      throw ioError(err, 'open', path);
    }
  }

  /**
   * Reads the whole object into `target` (positional reads straight into it, two in flight) and
   * returns its size; `onChunk` sees each range as it lands, in order. An object larger than `target`
   * fails with LIMIT_EXCEEDED after filling it.
   */
  async readInto(key: string, target: Uint8Array, options: ReadIntoOptions = {}): Promise<number> {
    const path = this.locate(checkKey(key));
    const step = Math.max(1, options.chunkBytes ?? 8 << 20);
    const h = await this.openForRead(key, path);
    const inFlight: { at: number; done: Promise<number> }[] = [];
    try {
      const size = await h.size();
      const readRange = async (at: number): Promise<number> => {
        const n = Math.min(step, size - at);
        let got = 0;
        while (got < n) {
          const r = await h.read(target, at + got, at + got, n - got);
          if (r === 0) break;
          got += r;
        }
        return got;
      };
      if (size > target.length) throw new QuiverError('LIMIT_EXCEEDED', `${path} holds ${size} bytes, more than the ${target.length} expected`, { key, size });
      let issued = 0;
      let total = 0;
      const issue = (): void => {
        while (issued < size && inFlight.length < READS_IN_FLIGHT) {
          const done = readRange(issued);
          done.catch(() => undefined);
          inFlight.push({ at: issued, done });
          issued += Math.min(step, size - issued);
        }
      };
      issue();
      while (inFlight.length > 0) {
        const head = inFlight[0];
        const got = await head.done;
        inFlight.shift();
        checkAbort(options.signal, `read ${key}`);
        issue();
        options.onChunk?.(target.subarray(head.at, head.at + got));
        total += got;
        if (got < Math.min(step, size - head.at)) break; // the file shrank while being read
      }
      return total;
    } catch (err) {
      if (err instanceof QuiverError) throw err;
      throw ioError(err, 'read', path);
    } finally {
      await Promise.allSettled(inFlight.map((r) => r.done));
      await h.close().catch(() => undefined);
    }
  }

  async stat(key: string, options: StoreOpOptions = {}): Promise<StoreObjectInfo | null> {
    const path = this.locate(checkKey(key));
    checkAbort(options.signal, `stat ${key}`);
    try {
      const s = await this.fs.stat(path);
      return s.isFile ? { key, size: s.size, mtimeMs: s.mtimeMs } : null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw ioError(err, 'stat', path);
    }
  }

  async list(prefix = '', options: StoreOpOptions = {}): Promise<StoreObjectInfo[]> {
    checkPrefix(prefix);
    checkAbort(options.signal, `list ${prefix}`);
    const out: StoreObjectInfo[] = [];
    await this.walk('', 0, async (rel, isDir, size, mtimeMs) => {
      checkAbort(options.signal, `list ${prefix}`);
      if (isDir) return (rel + '/').startsWith(prefix) || prefix.startsWith(rel + '/');
      if (rel.startsWith(prefix)) out.push({ key: rel, size, mtimeMs });
      return false;
    });
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string, options: StoreOpOptions = {}): Promise<boolean> {
    const path = this.locate(checkKey(key));
    checkAbort(options.signal, `delete ${key}`);
    try {
      await this.fs.unlink(path);
    } catch (err) {
      if (isMissing(err)) return false;
      throw ioError(err, 'delete', path);
    }
    await this.syncDir(dirname(path));
    return true;
  }

  async deletePrefix(prefix: string, options: StoreOpOptions = {}): Promise<number> {
    checkPrefix(prefix);
    const listed = await this.list(prefix, options);
    checkAbort(options.signal, `delete ${prefix}`);
    if (prefix.endsWith('/')) {
      const dir = this.locate(prefix.slice(0, -1));
      try {
        await this.fs.rm(dir, { recursive: true });
      } catch (err) {
        throw ioError(err, 'remove', dir);
      }
      await this.syncDir(dirname(dir));
    } else {
      for (const o of listed) await this.delete(o.key);
    }
    return listed.length;
  }

  async newestInProgress(prefix: string): Promise<number | undefined> {
    checkPrefix(prefix);
    if (!prefix.endsWith('/')) return undefined;
    const dir = this.locate(prefix.slice(0, -1));
    const names = await this.listDir(dir);
    if (names === undefined) return undefined;
    let newest: number | undefined;
    for (const name of names) {
      if (!name.endsWith(TEMP_SUFFIX)) continue;
      const st = await this.fs.stat(join(dir, name)).catch(() => undefined);
      if (st) newest = Math.max(newest ?? 0, st.mtimeMs);
    }
    return newest;
  }

  async sweep(olderThanMs: number): Promise<string[]> {
    const removed: string[] = [];
    const visit = async (rel: string, depth: number): Promise<boolean> => {
      const dir = rel === '' ? this.location : this.locate(rel);
      const names = await this.listDir(dir);
      if (names === undefined) return false;
      let left = names.length;
      for (const name of names) {
        const childRel = rel === '' ? name : `${rel}/${name}`;
        const path = join(dir, name);
        const s = await this.fs.stat(path).catch(() => undefined);
        if (!s) {
          left--;
          continue;
        }
        const old = s.mtimeMs <= olderThanMs;
        if (s.isFile && name.endsWith(TEMP_SUFFIX) && old) {
          await this.fs.rm(path).catch(() => undefined);
          removed.push(childRel);
          left--;
        } else if (s.isDirectory && isKeySegment(name) && depth < MAX_KEY_DEPTH) {
          const emptied = await visit(childRel, depth + 1);
          if (emptied && old) {
            await this.fs.rm(path, { recursive: true }).catch(() => undefined);
            removed.push(childRel + '/');
            left--;
          }
        }
      }
      if (removed.length > 0) await this.syncDir(dir).catch(() => undefined);
      return left === 0;
    };
    await visit('', 0);
    return removed;
  }

  /** The names in `dir`, or undefined when it is missing. */
  private async listDir(dir: string): Promise<string[] | undefined> {
    try {
      return await this.fs.readdir(dir);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw ioError(err, 'list', dir);
    }
  }

  /** Visits files and folders under the root; `visit` returns true to descend into a folder. */
  private async walk(rel: string, depth: number, visit: (rel: string, isDir: boolean, size: number, mtimeMs: number) => Promise<boolean>): Promise<void> {
    const dir = rel === '' ? this.location : this.locate(rel);
    const names = await this.listDir(dir);
    if (names === undefined) return;
    for (const name of names) {
      if (!isKeySegment(name)) continue;
      const childRel = rel === '' ? name : `${rel}/${name}`;
      let s;
      try {
        s = await this.fs.stat(join(dir, name));
      } catch (err) {
        if (isMissing(err)) continue; // removed while listing
        throw ioError(err, 'stat', join(dir, name));
      }
      if (s.isDirectory) {
        if (depth + 1 < MAX_KEY_DEPTH && (await visit(childRel, true, 0, s.mtimeMs))) await this.walk(childRel, depth + 1, visit);
      } else if (s.isFile) {
        await visit(childRel, false, s.size, s.mtimeMs);
      }
    }
  }

  private async syncDir(dir: string): Promise<void> {
    try {
      await this.fs.syncDir(dir);
    } catch (err) {
      throw ioError(err, 'fsync directory', dir);
    }
  }
}
