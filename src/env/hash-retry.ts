/**
 * Retrying a write whose SHA-256 ran on the helper thread. Offloaded jobs that keep no copy of their
 * bytes cannot be finished here if the thread stops mid-file, so the file is written again from the
 * start with the hash computed on the calling thread.
 */
import { HashThreadLostError } from '../util/hash-worker.js';
import type { FileHandle } from './fs.js';

/**
 * Runs `write(offloadHash)` into the temp file behind `handle`, hashing on the helper thread when
 * `offloadHash` is asked for; if that thread stops mid-file (HashThreadLostError), empties the file
 * and runs `write` again with the hash computed here. `write` must start from an empty file each time.
 */
export async function writeWithHashRetry<T>(handle: FileHandle, offloadHash: boolean, write: (offloadHash: boolean) => Promise<T>): Promise<T> {
  if (!offloadHash) return write(false);
  try {
    return await write(true);
  } catch (err) {
    if (!(err instanceof HashThreadLostError)) throw err;
    await handle.truncate(0);
    return write(false);
  }
}
