/**
 * The one atomic-publish helper: every file QuiverDB writes is written to a temp file in the same
 * directory, fsynced, renamed over the target, and the directory fsynced. Nothing is written in place,
 * so a crash at any point leaves either the old file or the new one.
 */
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { QuiverError, ioError } from '../errors.js';
import type { FileHandle, FileSystem } from './fs.js';

/** Suffix of temp files; `cleanTempFiles` removes leftovers carrying it. */
export const TEMP_SUFFIX = '.quiver-tmp';

/** The temp path used while publishing `path`. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
}

/**
 * Writes `path` atomically: `write` fills a fresh temp file through `handle`; then fsync, rename,
 * fsync directory. On any failure the temp file is removed, the target is untouched, and the error is
 * rethrown as a QuiverError (OS codes kept).
 */
export async function publishAtomically<T>(fs: FileSystem, path: string, write: (handle: FileHandle) => Promise<T>): Promise<T> {
  const tmp = tempPathFor(path);
  let handle: FileHandle | undefined;
  let step = 'create';
  try {
    handle = await fs.open(tmp, 'wx');
    step = 'write';
    const counted = countingHandle(handle);
    const result = await write(counted.handle);
    step = 'fsync';
    await handle.sync();
    step = 'close';
    const h = handle;
    handle = undefined;
    await h.close();
    step = 'rename';
    await commitTempFile(fs, tmp, path, counted.bytes(), (done) => {
      step = done;
    });
    return result;
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    if (step !== 'fsync directory') await fs.rm(tmp).catch(() => undefined);
    // OS failures become QuiverErrors keeping their code; anything else (a QuiverError such as ABORTED
    // or CORRUPT from the writer, or a programming error) passes through unchanged.
    if (typeof (err as { code?: unknown } | null)?.code === 'string' && !(err instanceof QuiverError)) throw ioError(err, `${step} while saving`, path);
    throw err;
  }
}

/**
 * A publish writing at least this many bytes retires the file it replaces instead of letting the rename
 * free it: freeing a large file's extents inside rename(2) took ~50 ms per 160 MB on ext4 here, a
 * fifth of a whole save.
 */
export const RETIRE_MIN_BYTES = 8 << 20;

const retiring = new Set<Promise<void>>();

/**
 * The last steps of every publish, for a temp file already written, fsynced and closed: retire a large
 * old target, rename `tmp` over `path`, fsync the directory. `onStep('fsync directory')` is called once
 * the rename is done, so a caller's error path knows the temp file is gone. Throws the raw error.
 */
export async function commitTempFile(fs: FileSystem, tmp: string, path: string, newBytes: number, onStep?: (step: 'fsync directory') => void): Promise<void> {
  const retired = newBytes >= RETIRE_MIN_BYTES ? await retireTarget(fs, path) : undefined;
  try {
    await fs.rename(tmp, path);
    onStep?.('fsync directory');
    await fs.syncDir(dirname(path));
  } finally {
    if (retired !== undefined) releaseRetired(fs, retired);
  }
}

/** Wraps `handle` to count the bytes written through it (the new file's size, near enough). */
function countingHandle(handle: FileHandle): { handle: FileHandle; bytes: () => number } {
  let bytes = 0;
  return {
    bytes: () => bytes,
    handle: {
      write: (data, position) => {
        bytes += data.length;
        return handle.write(data, position);
      },
      read: (into, position, offset, length) => handle.read(into, position, offset, length),
      sync: () => handle.sync(),
      size: () => handle.size(),
      truncate: (length) => handle.truncate(length),
      close: () => handle.close(),
    },
  };
}

/**
 * Gives the existing `path` a second (temp) name, so the rename that replaces it frees nothing and its
 * extents are freed by an unlink after the publish. Only called when the new file is large (the old
 * one then usually is too). Any failure (no target, a file system without hard links) just means the
 * rename frees it as usual.
 */
async function retireTarget(fs: FileSystem, path: string): Promise<string | undefined> {
  try {
    const name = tempPathFor(path);
    await fs.link(path, name);
    return name;
  } catch {
    return undefined;
  }
}

/** Unlinks a retired name in the background; {@link settleRetired} waits for it. */
function releaseRetired(fs: FileSystem, name: string): void {
  const done: Promise<void> = fs.unlink(name).catch(() => undefined).finally(() => retiring.delete(done));
  retiring.add(done);
}

/**
 * Resolves once every replaced file retired by a publish has been unlinked. Until then such a file may
 * still show up as a temp file beside its target (a crash leaves it for {@link cleanTempFiles}).
 */
export async function settleRetired(): Promise<void> {
  while (retiring.size > 0) await Promise.all([...retiring]);
}

/** Removes temp files left in `dir` by publishes that a crash interrupted. Returns the names removed. */
export async function cleanTempFiles(fs: FileSystem, dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (name.endsWith(TEMP_SUFFIX)) {
      await fs.rm(join(dir, name)).catch(() => undefined);
      removed.push(name);
    }
  }
  return removed;
}

/** Writes a small file atomically from bytes. */
export function writeFileAtomic(fs: FileSystem, path: string, data: Uint8Array): Promise<void> {
  return publishAtomically(fs, path, (h) => h.write(data, 0));
}
