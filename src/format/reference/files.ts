/**
 * File plumbing shared by the import readers of this folder and of npy: opening a file with errors
 * that name it, running a streaming parse over it, and the errors every reader reports the same way.
 */
import { CorruptionError } from '../../errors.js';
import type { Id } from '../../engine/types.js';
import type { FileSystem } from '../../env/fs.js';
import type { OpenedFile } from '../stream/open-file.js';
import { fileByteSource, type ByteSource, type JsonCompression } from '../stream/sources.js';
import { statIfExists } from '../../env/stat-if-exists.js';
import { throwIfAborted } from '../../util/abort.js';

export { openFile, type OpenedFile } from '../stream/open-file.js';

/** True when `path` exists (any other stat failure is thrown, naming the path). */
export async function fileExists(fs: FileSystem, path: string): Promise<boolean> {
  return (await statIfExists(fs, path)) !== undefined;
}

/** Runs `parse` over a byte source of the opened file and always releases source and handle. */
export async function withSource<T>(
  file: OpenedFile,
  path: string,
  compression: JsonCompression,
  maxDecompressedBytes: number | undefined,
  parse: (source: ByteSource) => Promise<T>,
): Promise<T> {
  const source = fileByteSource(file.handle, file.size, path, compression, maxDecompressedBytes);
  try {
    return await parse(source);
  } finally {
    await source.close();
  }
}

/** An id as messages show it: strings quoted, numbers bare (so 7 and "7" read differently). */
export function idLabel(id: Id): string {
  return typeof id === 'string' ? JSON.stringify(id) : `${id} (a number)`;
}

/**
 * The one duplicate-id error (exports never hold duplicates, so a file that does is damaged): names
 * the id and both positions.
 */
export function duplicateIdError(file: string, section: string, id: Id, first: string, second: string, offset?: number): CorruptionError {
  return new CorruptionError({ file, section, offset }, `the id ${idLabel(id)} appears twice, at ${first} and at ${second}; ids must be unique`);
}

/** Throws ABORTED when `signal` fired. */
export function checkAborted(signal: AbortSignal | undefined, what: string): void {
  throwIfAborted(signal, `${what} was cancelled; nothing was changed.`);
}
