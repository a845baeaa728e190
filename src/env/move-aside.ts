/**
 * Moving damaged files out of the way without deleting them: what a repair or a recovery does with
 * data it cannot use, so that nothing a person might still mend is destroyed.
 */
import { ioError } from '../errors.js';
import type { FileSystem } from './fs.js';

/** Renames `path` to `<path>.corrupt-<time>` (a name no reader takes for data) and returns the new path. */
export async function moveAside(fs: FileSystem, path: string): Promise<string> {
  const to = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    await fs.rename(path, to);
  } catch (err) {
    throw ioError(err, 'move aside', path);
  }
  return to;
}
