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
  const dir = dirname(path);
  const tmp = tempPathFor(path);
  let handle: FileHandle | undefined;
  let step = 'create';
  try {
    handle = await fs.open(tmp, 'wx');
    step = 'write';
    const result = await write(handle);
    step = 'fsync';
    await handle.sync();
    step = 'close';
    const h = handle;
    handle = undefined;
    await h.close();
    step = 'rename';
    await fs.rename(tmp, path);
    step = 'fsync directory';
    await fs.syncDir(dir);
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
