/**
 * The one "stat, or nothing there" of the code above the FileSystem seam: a missing path is undefined,
 * any other failure an I/O error naming the path; and the one mark of a file's version.
 */
import { ioError } from '../errors.js';
import type { FileStat, FileSystem } from './fs.js';

/** `fs.stat(path)`, or undefined when nothing is at `path` (ENOENT); other failures are thrown (ioError). */
export async function statIfExists(fs: FileSystem, path: string): Promise<FileStat | undefined> {
  try {
    return await fs.stat(path);
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code === 'ENOENT') return undefined;
    throw ioError(err, 'stat', path);
  }
}

/** What tells one version of a file from the next: its inode number, size and modification time. */
export function markOf(st: FileStat): string {
  // The inode too: two writers' files of one size written in the same clock tick (ext4's timestamps are
  // coarse) have equal sizes and times.
  return `${st.ino ?? '-'}:${st.size}:${st.mtimeMs}`;
}
