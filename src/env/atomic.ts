/**
 * The one atomic-publish helper: every file QuiverDB writes is written to a temp file in the same
 * directory, fsynced, renamed over the target, and the directory fsynced (except over a spare prepared
 * as recoverable, see prepareSpare). No published file is ever written again, in place or as a spare
 * (the temp file may be a spare written ahead, which no name but its temp one has ever reached), so a
 * crash at any point leaves either the old file or the new one, and a reader that opened a file reads
 * it unchanged to the end.
 */
import { dirname } from 'node:path';
import { QuiverError, ioError } from '../errors.js';
import type { FileHandle, FileStat, FileSystem } from './fs.js';
import { BackgroundSync } from './background-sync.js';
import { keepSecondName, syncDirectory } from './dir-sync.js';
import { linkOrRename } from './links.js';
import { abandonPreparation, takeSpare } from './spares.js';
import { leaveUnremoved, releaseRetired, retryUnremoved, tempGone, tempPathFor } from './temp-files.js';
import { throwIfAborted } from '../util/abort.js';

/** Options of {@link publishAtomically}. */
export interface PublishOptions {
  /** Start a background fsync every this many bytes written (default BYTES_PER_SYNC; 0 = never). */
  syncEveryBytes?: number;
  /**
   * The content is written by another writer that opens the temp file by its name (SQLite), which
   * reports its progress through `TempFile.wrote`. No spare is written over: such a writer cannot
   * start from an existing file.
   */
  byName?: boolean;
  /**
   * Publish only if `path` does not exist (a delta file: two writers racing for one number must not
   * both succeed, the later silently replacing the earlier). The rename becomes a hard link to `path`
   * (EEXIST: `BUSY`, nothing published) and the temp name is unlinked once the link is durable.
   */
  noReplace?: boolean;
  /**
   * Told the temp file's stat once its content is final (fsynced), just before it is published: the
   * published file's inode number, size and modification time, taken before another writer can replace
   * it under the same name (a stat of the name after the publish may already see that writer's file).
   */
  onSealed?: (stat: FileStat) => void;
  /**
   * Checked once the content is written and fsynced, just before it is published: an abort that came
   * while the last bytes were written (from a progress callback, say) fails the publish with ABORTED,
   * and nothing is published. The writer checks it along the way too; this is the last moment.
   */
  signal?: AbortSignal;
  /**
   * A condition checked while the content is being written (an incremental save's check that no other
   * writer changed its chain, whose file-system round trips then overlap the write instead of preceding
   * it): awaited once the content is written, before it is made durable; a rejection fails the publish
   * with that error, the temp file is removed, and nothing is published. The caller must not let it
   * reject unobserved before then (attach a handler).
   */
  ready?: Promise<unknown>;
}

/** The temp file being published, for a writer that opens it by name (see PublishOptions.byName). */
export interface TempFile {
  path: string;
  /** Reports bytes written to the file other than through the handle (they count for the background fsyncs). */
  wrote(bytes: number): void;
}

/**
 * Writes `path` atomically: `write` fills a temp file through `handle` (a new one, or the path's spare,
 * which it writes over from offset 0 and which is then cut to what was written), which fsyncs in the
 * background as the bytes accumulate; then fsync, rename, fsync directory. On any failure the temp file
 * is removed, the target is untouched, and the error is rethrown as a QuiverError (OS codes kept).
 *
 * Over a spare prepared with `recoverable` (see {@link prepareSpare}) the directory fsync is left out:
 * the spare's name was made durable when it was prepared, so once the file's own fsync returns, its
 * complete content is on disk under the spare's name or, once the rename is durable, under `path`, and
 * the caller's readers look in both places.
 */
export async function publishAtomically<T>(fs: FileSystem, path: string, write: (handle: FileHandle, temp: TempFile) => Promise<T>, options: PublishOptions = {}): Promise<T> {
  await retryUnremoved(fs, dirname(path));
  try {
    return await publishOnce(fs, path, write, options, !options.byName);
  } catch (err) {
    if (!(err instanceof SpareGone)) throw err;
    // The spare opened ahead was removed or its handle went stale meanwhile (another process's cleanup
    // of temp files, say): what was written went nowhere, so the file is written again, into a new one.
    return publishOnce(fs, path, write, options, false);
  }
}

/** A publish over a spare opened ahead found the spare gone; nothing was published. */
class SpareGone extends Error {}

async function publishOnce<T>(fs: FileSystem, path: string, write: (handle: FileHandle, temp: TempFile) => Promise<T>, options: PublishOptions, useSpare: boolean): Promise<T> {
  let tmp = '';
  let handle: FileHandle | undefined;
  let step = 'create';
  let counted: CountingHandle | undefined;
  let openedAhead = false;
  try {
    const spare = useSpare ? takeSpare(fs, path) : undefined;
    // One still being prepared would be kept for a path published by now, open, until it expires.
    if (useSpare && spare === undefined) abandonPreparation(path);
    openedAhead = spare?.handle !== undefined;
    if (spare !== undefined) {
      handle = spare.handle ?? (await fs.open(spare.name, 'r+').catch(() => undefined));
      if (handle) tmp = spare.name;
      else releaseRetired(fs, spare.name);
    }
    const recycled = handle !== undefined;
    const nameDurable = recycled && spare?.recoverable === true;
    if (!handle) {
      tmp = tempPathFor(path);
      handle = await fs.open(tmp, 'wx');
    }
    step = 'write';
    counted = countingHandle(handle, recycled, options.syncEveryBytes);
    const result = await write(counted.handle, { path: tmp, wrote: counted.wrote });
    if (recycled && (spare?.size === undefined || counted.end() < spare.size)) {
      // The spare's old bytes past the new end are not part of the new file.
      step = 'truncate';
      await handle.truncate(counted.end());
    }
    if (options.ready) {
      step = 'check';
      await options.ready;
    }
    // A failed background fsync is this file's fsync failing.
    step = 'fsync';
    await counted.settle();
    await handle.sync();
    throwIfAborted(options.signal, `writing ${path} was aborted; nothing was published and the previous file (if any) is unchanged`, { path });
    if (options.onSealed) {
      step = 'stat';
      options.onSealed(await fs.stat(tmp));
    }
    step = 'close';
    const h = handle;
    handle = undefined;
    // Over a recoverable spare the content is durable by now: close and rename together (one round trip
    // fewer; a file may be renamed while open). Once the rename is done the file is published; a close
    // failing after its fsync cannot take that back, so it is not reported as a failed save.
    const closing = nameDurable ? h.close().catch(() => undefined) : undefined;
    if (!closing) await h.close();
    step = options.noReplace ? 'link' : 'rename';
    await commitTempFile(fs, tmp, path, counted.written(), (done) => {
      step = done;
    }, !nameDurable, options.noReplace === true);
    await closing;
    return result;
  } catch (err) {
    if (handle) {
      await counted?.settle().catch(() => undefined);
      await handle.close().catch(() => undefined);
    }
    if (step !== 'fsync directory' && tmp !== '') {
      await fs.rm(tmp).catch((rmErr: unknown) => {
        if ((rmErr as { code?: unknown } | null)?.code !== 'ENOENT') leaveUnremoved(fs, tmp);
      });
      tempGone(tmp);
      // Refused by its ready check, the content was complete (over a spare whose name is durable, and
      // partly fsynced already): its removal is made durable, or a power loss could bring back a file that
      // a load recovers as the delta another writer's chain has under that number.
      if (step === 'check') await syncDirectory(fs, dirname(path)).catch(() => undefined);
    }
    const code = (err as { code?: unknown } | null)?.code;
    if (openedAhead && (code === 'EBADF' || (code === 'ENOENT' && (step === 'rename' || step === 'link')))) throw new SpareGone(`the spare of ${path} is gone`, { cause: err });
    // OS failures become QuiverErrors keeping their code; anything else (a QuiverError such as ABORTED
    // or CORRUPT from the writer, or a programming error) passes through unchanged.
    if (typeof code === 'string' && !(err instanceof QuiverError)) throw ioError(err, `${step} while saving`, path);
    throw err;
  }
}

/**
 * A publish writing at least this many bytes retires the file it replaces instead of letting the rename
 * free it: freeing a large file's extents inside rename(2) took ~50 ms per 160 MB on ext4 here, a
 * fifth of a whole save.
 */
export const RETIRE_MIN_BYTES = 8 << 20;

/**
 * How long a retired file waits before it is unlinked: freeing its extents (~50 ms of kernel time per
 * 160 MB here) started at once and slowed the publisher's own next steps on two vCPUs (a full save's
 * stat and readdir removing the old chain's deltas: 2-10 ms instead of ~1 ms).
 */
export const RETIRE_UNLINK_DELAY_MS = 20;

/**
 * The last steps of every publish, for a temp file already written, fsynced and closed: retire a large
 * old target, rename `tmp` over `path`, fsync the directory. `onStep('fsync directory')` is called once
 * the rename is done, so the error path knows the temp file is gone. The retired file is unlinked in the
 * background, never written over: a reader (another process, a backup copying the file) may still have
 * it open, and a published file's bytes must stay what they were for as long as anyone reads them.
 * Throws the raw error.
 */
async function commitTempFile(fs: FileSystem, tmp: string, path: string, newBytes: number, onStep?: (step: 'fsync directory') => void, syncDir = true, noReplace = false): Promise<void> {
  if (noReplace) return linkTempFile(fs, tmp, path, onStep, syncDir);
  const retired = newBytes >= RETIRE_MIN_BYTES ? await retireTarget(fs, path) : undefined;
  try {
    await fs.rename(tmp, path);
    tempGone(tmp);
    onStep?.('fsync directory');
    if (syncDir) await syncDirectory(fs, dirname(path));
  } finally {
    if (retired !== undefined) releaseRetired(fs, retired, undefined, RETIRE_UNLINK_DELAY_MS);
  }
}

/**
 * commitTempFile for a publish that must not replace `path`: link, so that an existing `path` is an
 * error (`BUSY`) instead of being replaced, then drop the temp name. Until the link is durable the temp
 * name may be the only one a power loss leaves, so it is unlinked only after an fsync of the directory:
 * this publish's own, or, over a recoverable spare (whose publish skips it), the next one in that
 * directory (see syncDirectory).
 */
async function linkTempFile(fs: FileSystem, tmp: string, path: string, onStep: ((step: 'fsync directory') => void) | undefined, syncDir: boolean): Promise<void> {
  let how: 'linked' | 'renamed';
  try {
    how = await linkOrRename(fs, tmp, path);
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code !== 'EEXIST') throw err;
    // The winner's link may not be durable yet (published over its spare, without a directory fsync),
    // while this temp's name may be: a power loss could then leave this file, complete and linking like
    // the winner's, as the delta a load recovers. The temp goes, durably, before the refusal.
    await fs.rm(tmp).catch(() => undefined);
    tempGone(tmp);
    await fs.syncDir(dirname(path)).catch(() => undefined);
    throw new QuiverError('BUSY', `${path} was published by another writer while this one was being written; nothing was published. Load the files again to continue from them.`, { path }, { cause: err });
  }
  tempGone(tmp);
  onStep?.('fsync directory');
  if (how === 'renamed') {
    await syncDirectory(fs, dirname(path));
    return;
  }
  keepSecondName(fs, tmp, path);
  if (syncDir) await syncDirectory(fs, dirname(path));
}

/** A publish's view of its temp file: the bytes written so far, and the background fsyncs they started. */
interface CountingHandle {
  handle: FileHandle;
  /** The end of the bytes written through the handle (the new file's size). */
  end: () => number;
  /** The new file's size as far as known: the end, or what a writer by name reported if more. */
  written: () => number;
  /** Counts bytes written by name (see TempFile.wrote). */
  wrote: (bytes: number) => void;
  /** Waits for the background fsync; throws if any failed. */
  settle: () => Promise<void>;
}

/**
 * Wraps `handle` to track the end of the bytes written through it and to fsync in the background as
 * they accumulate (one mechanism for every writer that publishes).
 */
function countingHandle(handle: FileHandle, recycled: boolean, syncEveryBytes: number | undefined): CountingHandle {
  let end = 0;
  let cursor = 0;
  let reported = 0;
  const background = new BackgroundSync(() => handle.sync(), syncEveryBytes);
  return {
    end: () => end,
    written: () => Math.max(end, reported),
    wrote: (bytes) => {
      reported += bytes;
      background.wrote(bytes);
    },
    settle: () => background.settle(),
    handle: {
      write: async (data, position) => {
        const at = position ?? cursor;
        cursor = at + data.length;
        end = Math.max(end, cursor);
        await handle.write(data, position);
        background.wrote(data.length);
      },
      read: (into, position, offset, length) => handle.read(into, position, offset, length),
      sync: () => handle.sync(),
      // A recycled file still holds old bytes past what was written: its size is what was written.
      size: () => (recycled ? Promise.resolve(end) : handle.size()),
      truncate: (length) => {
        end = length;
        return handle.truncate(length);
      },
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
  const name = tempPathFor(path);
  try {
    await fs.link(path, name);
    return name;
  } catch {
    tempGone(name);
    return undefined;
  }
}


/** Writes a small file atomically from bytes. */
export function writeFileAtomic(fs: FileSystem, path: string, data: Uint8Array): Promise<void> {
  return publishAtomically(fs, path, (h) => h.write(data, 0));
}
