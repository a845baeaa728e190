/**
 * Giving a file a name without replacing what may be there, and taking a name away only from the file
 * it was checked to be: the two steps by which writers that share a directory without a lock (the
 * delta chain's) avoid removing or replacing each other's files.
 */
import type { FileSystem } from './fs.js';
import { markOf } from './stat-if-exists.js';
import { tempGone, tempPathFor } from './temp-files.js';

/**
 * Removes `path` only if it is still the file whose mark (see markOf) is `mark`, leaving no moment in
 * which another writer's file that took the name could be removed instead of it: the file under the
 * name is renamed to a private temp name first (one file is renamed, atomically), checked there, and
 * removed; a file that proves to be another one gets its name back by a link, which never replaces
 * what took the name meanwhile. True when it was removed; false when the name held nothing or another
 * file.
 */
export async function removeIfStill(fs: FileSystem, path: string, mark: string): Promise<boolean> {
  const aside = tempPathFor(path);
  try {
    try {
      await fs.rename(path, aside);
    } catch (err) {
      if ((err as { code?: unknown } | null)?.code === 'ENOENT') return false;
      throw err;
    }
    if (markOf(await fs.stat(aside)) === mark) {
      await fs.rm(aside);
      return true;
    }
    try {
      if ((await linkOrRename(fs, aside, path)) === 'linked') await fs.rm(aside);
    } catch (err) {
      // Unless the name was taken meanwhile: then the file stays aside, where a load's recovery of a
      // dead writer's temp can still find it.
      if ((err as { code?: unknown } | null)?.code !== 'EEXIST') throw err;
    }
    return false;
  } finally {
    tempGone(aside);
  }
}

/**
 * Gives the file `from` the name `to` without replacing a file there (`EEXIST`, thrown raw, as every
 * other failure): by a hard link, so `from` keeps its name too ('linked'); on a file system without
 * hard links (FAT, some network mounts) by a rename, which does replace ('renamed'), so that only the
 * caller's checks before it guard against a racing writer.
 */
export async function linkOrRename(fs: FileSystem, from: string, to: string): Promise<'linked' | 'renamed'> {
  try {
    await fs.link(from, to);
    return 'linked';
  } catch (err) {
    if (!isNoHardLinkError((err as { code?: unknown } | null)?.code)) throw err;
    await fs.rename(from, to);
    return 'renamed';
  }
}

const NO_HARD_LINKS = new Set<unknown>(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** True for the error codes of `link` on a file system that has no hard links (FAT, some network mounts). */
function isNoHardLinkError(code: unknown): boolean {
  return NO_HARD_LINKS.has(code);
}
