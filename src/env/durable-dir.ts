/**
 * Durable directory creation. `mkdir` only adds an entry to the parent directory, and that entry is
 * lost on power loss until the parent is fsynced; a file published atomically inside a directory that
 * vanishes is lost with it. Store and snapshot code creates its directories through this helper.
 */
import { dirname } from 'node:path';
import { ioError } from '../errors.js';
import type { FileSystem } from './fs.js';

/**
 * Creates `dir` and its missing parents, fsyncing each new directory's parent so the whole chain
 * survives power loss. Directories that already exist are left as they are. Returns the paths created,
 * outermost first. Errors are QuiverErrors keeping the OS code (ENOTDIR when a component is a file).
 */
export async function ensureDirDurable(fs: FileSystem, dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let p = dir; ; p = dirname(p)) {
    try {
      const s = await fs.stat(p);
      if (!s.isDirectory) throw Object.assign(new Error(`${p} is not a directory`), { code: 'ENOTDIR' });
      break;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT' || dirname(p) === p) throw ioError(err, 'create directory', dir);
      missing.push(p);
    }
  }
  missing.reverse();
  for (const p of missing) {
    try {
      await fs.mkdir(p);
    } catch (err) {
      // Another writer may have created it meanwhile; it still needs its parent synced.
      if ((err as { code?: unknown }).code !== 'EEXIST') throw ioError(err, 'create directory', p);
    }
    try {
      await fs.syncDir(dirname(p));
    } catch (err) {
      throw ioError(err, 'fsync directory', dirname(p));
    }
  }
  return missing;
}
