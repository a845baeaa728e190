/**
 * Opening an input file for reading with errors that name it: every reader (exchange codecs,
 * Parquet, .qvdb, the reference imports) opens, then asks the size, and must not leak the handle
 * when the size cannot be read.
 */
import { QuiverError, ioError } from '../../errors.js';
import type { FileHandle, FileSystem } from '../../env/fs.js';

/** An open file and its size. */
export interface OpenedFile {
  handle: FileHandle;
  size: number;
}

/**
 * Opens `path` for reading and reads its size (the handle is closed again when that fails). A missing
 * file is NOT_FOUND with `missing` as the message when given (readers say which file they expected
 * and why); other failures keep their OS code.
 */
export async function openFile(fs: FileSystem, path: string, missing?: string): Promise<OpenedFile> {
  let handle: FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    if (missing !== undefined && (err as { code?: unknown } | null)?.code === 'ENOENT') {
      throw new QuiverError('NOT_FOUND', missing, { path }, { cause: err });
    }
    throw ioError(err, 'open', path);
  }
  try {
    return { handle, size: await handle.size() };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw ioError(err, 'stat', path);
  }
}
