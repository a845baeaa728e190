/**
 * The one atomic-publish helper: every file QuiverDB writes is written to a temp file in the same
 * directory, fsynced, renamed over the target, and the directory fsynced (except over a spare prepared
 * as recoverable, see prepareSpare). No published file is ever written again, in place or as a spare
 * (the temp file may be a spare written ahead, which no name but its temp one has ever reached), so a
 * crash at any point leaves either the old file or the new one, and a reader that opened a file reads
 * it unchanged to the end.
 */
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { QuiverError, ioError } from '../errors.js';
import { unlinkSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FileHandle, FileStat, FileSystem } from './fs.js';
import { NodeFileSystem } from './node-fs.js';
import { BackgroundSync } from './background-sync.js';
import { currentBootId, isProcessAlive, isRecordedProcessAlive, mayHaveWritten, processIdentity } from './process-alive.js';
import { markOf } from './stat-if-exists.js';

/** Suffix of temp files; `cleanTempFiles` removes leftovers carrying it. */
export const TEMP_SUFFIX = '.quiver-tmp';

/**
 * Temp files of this process that exist or are about to: files being published, spares and retired
 * files. {@link cleanTempFiles} leaves them alone (a second persistence instance on the same directory
 * must not remove the first one's spare, still open for its next publish, or a file it is writing).
 */
const liveTemps = new Set<string>();

/** This process's start time in clock ticks since boot (Linux), which temp names carry beside the pid. */
const OWN_START_TICKS = processIdentity(process.pid)?.startTicks;

/**
 * A new temp path for publishing `path`, registered as live until {@link tempGone}:
 * `.<name>.p<pid>s<start ticks>-<12 hex>.quiver-tmp` (`s<start ticks>` only where /proc gives them).
 * The process's id and start time let another process's cleanup tell a temp file still being written
 * (or kept as a spare) by a live process from a leftover of one that died, even once the pid was reused.
 */
export function tempPathFor(path: string): string {
  const who = OWN_START_TICKS === undefined ? `p${process.pid}` : `p${process.pid}s${OWN_START_TICKS}`;
  const name = join(dirname(path), `.${basename(path)}.${who}-${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
  liveTemps.add(name);
  return name;
}

// Names of earlier versions carry no process id (`.<name>.<12 hex>.quiver-tmp`), or no start ticks.
const TEMP_NAME_RE = new RegExp(`^\\.(.+)\\.(?:p([0-9]+)(?:s([0-9]+))?-)?[0-9a-f]{12}${TEMP_SUFFIX.replaceAll('.', '\\.')}$`);

/** The file name a temp file named by {@link tempPathFor} was made for, or undefined for any other name. */
export function tempTarget(name: string): string | undefined {
  return TEMP_NAME_RE.exec(name)?.[1];
}

/**
 * True when the temp file at `path` may belong to another process that is still running: its name
 * carries that process's id, which is alive, and (when the name has them) its start ticks, which the
 * process now under that pid has too (else the pid was reused: after a reboot, say). No file times are
 * compared for such names, so clock steps do not matter. Names of the versions of 2026-12-07 before
 * the ticks (`p<pid>` alone) fall back to the file's time: a file older than this boot, or than the
 * process now under its pid, is a leftover. Such a file may be mid-write: it is neither removed nor taken over.
 */
export async function ownedByLiveProcess(fs: FileSystem, path: string): Promise<boolean> {
  const m = TEMP_NAME_RE.exec(basename(path));
  const pid = Number(m?.[2] ?? 0);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  if (m?.[3] !== undefined) return isRecordedProcessAlive(pid, { bootId: currentBootId(), startTicks: m[3] });
  if (!isProcessAlive(pid)) return false;
  const st = await fs.stat(path).catch(() => undefined);
  return st === undefined || mayHaveWritten(pid, st.mtimeMs);
}

/** `name` was renamed away or unlinked. */
function tempGone(name: string): void {
  liveTemps.delete(name);
}

/** True while `path` is a temp file this process is writing or keeping (a spare): no leftover. */
export function isLiveTemp(path: string): boolean {
  return liveTemps.has(path);
}

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

/**
 * Temp files of failed publishes whose removal failed too (a failing disk): no longer this process's
 * (another cleanup may remove them), and removed by the next publish into their directory, since the
 * cleanup of leftovers runs once per directory.
 */
const unremoved = new WeakMap<FileSystem, Set<string>>();

async function retryUnremoved(fs: FileSystem, dir: string): Promise<void> {
  const paths = unremoved.get(fs);
  if (paths === undefined) return;
  for (const tmp of paths) {
    if (dirname(tmp) !== dir) continue;
    try {
      await fs.rm(tmp);
      paths.delete(tmp);
    } catch (err) {
      if ((err as { code?: unknown } | null)?.code === 'ENOENT') paths.delete(tmp);
    }
  }
}

function leaveUnremoved(fs: FileSystem, tmp: string): void {
  let paths = unremoved.get(fs);
  if (paths === undefined) unremoved.set(fs, (paths = new Set()));
  paths.add(tmp);
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
    // A failed background fsync is this file's fsync failing.
    step = 'fsync';
    await counted.settle();
    await handle.sync();
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

const retiring = new Set<Promise<void>>();

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
    if (retired !== undefined) releaseRetired(fs, retired);
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
  let names = secondNames.get(fs);
  if (names === undefined) secondNames.set(fs, (names = new Map()));
  names.set(tmp, path);
  if (syncDir) await syncDirectory(fs, dirname(path));
}

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

/**
 * Temp names that are second names of files published without replacing (see linkTempFile), waiting
 * for a directory fsync before they can go.
 */
const secondNames = new WeakMap<FileSystem, Map<string, string>>();

/**
 * fsyncs `dir`, then unlinks the second names in it that were there before the fsync (their links are
 * durable now). Every directory fsync of a publish goes through here.
 */
async function syncDirectory(fs: FileSystem, dir: string): Promise<void> {
  const names = secondNames.get(fs);
  const linked = names === undefined ? [] : [...names].filter(([n]) => dirname(n) === dir);
  await fs.syncDir(dir);
  for (const [n, published] of linked) {
    names?.delete(n);
    // Only while the published name is still a name of the same file: if it is gone (a crash undid the
    // link, as tests simulate in-process) the temp name holds the only copy, for a load to recover.
    const [st, pub] = await Promise.all([fs.stat(n).catch(() => undefined), fs.stat(published).catch(() => undefined)]);
    if (st === undefined || pub === undefined || (st.links !== undefined && st.links < 2)) continue;
    await fs.rm(n).catch((err: unknown) => {
      if ((err as { code?: unknown } | null)?.code !== 'ENOENT') leaveUnremoved(fs, n);
    });
  }
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

/**
 * Spare files: a file written ahead, never published, for a path's next publish to write over in place
 * instead of creating a new file (see {@link prepareSpare}; the next delta of a chain): its page-cache
 * pages and disk blocks are allocated between saves rather than inside one. A file that was ever
 * published is never a spare (readers may still have it open). A spare is unlinked after SPARE_KEEP_MS
 * unused, at process exit, or by {@link cleanTempFiles} (it carries TEMP_SUFFIX, so one left by a crash
 * goes with the other temp files).
 */
export const SPARE_KEEP_MS = 60_000;

interface Spare {
  fs: FileSystem;
  name: string;
  /** Open for reading and writing: a prepared spare is opened ahead too, sparing its publish the open. */
  handle?: FileHandle;
  /** Its size when known: a publish that writes at least this much has nothing to cut off. */
  size?: number;
  /** Prepared with `recoverable` (its name is durable; see publishAtomically). */
  recoverable?: boolean;
  timer: ReturnType<typeof setTimeout>;
}

/** The spare of each target path (with the file system it is on). */
const spares = new Map<string, Spare>();

function keepSpare(fs: FileSystem, path: string, kept: Pick<Spare, 'name' | 'handle' | 'size' | 'recoverable'>): void {
  const old = spares.get(path);
  if (old) dropSpare(path, old);
  const spare: Spare = { fs, ...kept, timer: setTimeout(() => dropSpare(path, spare), SPARE_KEEP_MS) };
  spare.timer.unref();
  spares.set(path, spare);
  watchExit();
}

/** Forgets `spare` (if it is still the one kept for `path`) and unlinks it in the background. */
function dropSpare(path: string, spare: Spare): void {
  clearTimeout(spare.timer);
  if (spares.get(path) === spare) spares.delete(path);
  releaseRetired(spare.fs, spare.name, spare.handle);
}

/** Takes the spare kept for `path` on `fs`, if any (the caller writes over it, or releases it and closes its handle). */
function takeSpare(fs: FileSystem, path: string): Spare | undefined {
  const spare = spares.get(path);
  if (!spare || spare.fs !== fs) return undefined;
  clearTimeout(spare.timer);
  spares.delete(path);
  return spare;
}

/** Unlinks every spare and waits for it (tests, and callers that want the disk space back now). */
export async function dropSpares(): Promise<void> {
  // Spares still being prepared are kept when they finish: let them finish first.
  await settleRetired();
  for (const [path, spare] of [...spares]) dropSpare(path, spare);
  await settleRetired();
}

/** Smallest file {@link prepareSpare} writes ahead (a smaller one has few pages to gain on). */
export const PREPARE_MIN_BYTES = 256 << 10;
/** Largest file {@link prepareSpare} writes ahead (bounds the background write and the disk it holds). */
export const PREPARE_MAX_BYTES = 32 << 20;

/** Share of the expected size that prepareSpare writes (see preparedSize). */
const PREPARE_FRACTION = 0.95;

/** Spares being written by prepareSpare; `wanted` turns false when discarded meanwhile. */
const preparing = new Map<string, { wanted: boolean }>();

/**
 * Writes, in the background, a spare for a file about to be published at `path` for the first time
 * (the next delta of a chain), about `bytes` long: {@link preparedSize} zeros under a temp name, fsynced
 * and kept open, which that publish then writes over in place. The page-cache pages of a new file are
 * then allocated between saves instead of inside one: a 1.5 MB delta took 2.5-3.5 ms to write into a
 * new file in the benchmark's process, ~1 ms over a prepared one.
 *
 * `recoverable` promises that every reader of `path` also accepts the file under its temp name (the
 * delta chain's reader does: a delta is self-verifying and names its place in the chain). The spare's
 * directory entry is then fsynced here, and the publish over it skips its directory fsync (~0.4-0.5 ms
 * of a 1.5 MB delta's save). Nothing happens outside PREPARE_MIN_BYTES..PREPARE_MAX_BYTES or when
 * `path` has a spare; a failure only means the publish creates its file as usual.
 */
export function prepareSpare(fs: FileSystem, path: string, bytes: number, recoverable = false): void {
  if (bytes < PREPARE_MIN_BYTES || bytes > PREPARE_MAX_BYTES || spares.has(path) || preparing.has(path)) return;
  const job = { wanted: true };
  preparing.set(path, job);
  track(writeSpare(fs, path, bytes, recoverable, job).finally(() => preparing.delete(path)));
}

async function writeSpare(fs: FileSystem, path: string, bytes: number, recoverable: boolean, job: { wanted: boolean }): Promise<void> {
  // From the next turn on: the caller, whose save just ended, resumes first.
  await nextTurn();
  const name = tempPathFor(path);
  const size = preparedSize(bytes);
  let kept: FileHandle;
  try {
    const handle = await fs.open(name, 'wx');
    try {
      // Zero-filled memory from the allocator maps the zero page: no memory is touched to fill it.
      await handle.write(new Uint8Array(size), 0);
      // Written back now, so the publish's fsync writes only its own pages: blocks allocated by then.
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (recoverable) await syncDirectory(fs, dirname(name));
    // Opened for the publish now (it then starts writing at once: ~0.1-0.4 ms, and the open's
    // occasional stalls, off every incremental save).
    kept = await fs.open(name, 'r+');
  } catch (err) {
    await fs.rm(name).catch(() => undefined);
    tempGone(name);
    throw err;
  }
  if (job.wanted) keepSpare(fs, path, { name, handle: kept, size, recoverable });
  else releaseRetired(fs, name, kept);
}

/**
 * The size of a prepared spare for a file of about `bytes`: a little smaller, in whole 4 KiB blocks, so
 * that the publish usually extends it rather than cutting blocks off its end, which ext4 frees inside
 * the save (measured over 1.5 MB: ~2.45 ms per write + fsync + rename against ~2.7 ms cut to length).
 */
export function preparedSize(bytes: number): number {
  return Math.floor((bytes * PREPARE_FRACTION) / 4096) * 4096;
}

/** A spare being prepared for `path` is unlinked when ready instead of kept. */
function abandonPreparation(path: string): void {
  const job = preparing.get(path);
  if (job) job.wanted = false;
}

/** Unlinks the spare kept or being prepared for `path` (no publish there is expected any more). */
export function discardSpare(path: string): void {
  abandonPreparation(path);
  const spare = spares.get(path);
  if (spare) dropSpare(path, spare);
}

let exitWatched = false;

/** At exit, spares on the real file system are unlinked synchronously (timers do not run then). */
function watchExit(): void {
  if (exitWatched) return;
  exitWatched = true;
  process.once('exit', () => {
    for (const spare of spares.values()) {
      if (!(spare.fs instanceof NodeFileSystem)) continue;
      try {
        unlinkSync(spare.name);
      } catch {
        // already gone
      }
    }
  });
}

/** Unlinks a retired name (after closing its open handle, if any) in the background; {@link settleRetired} waits for it. */
function releaseRetired(fs: FileSystem, name: string, handle?: FileHandle): void {
  track((handle ? handle.close().catch(() => undefined) : Promise.resolve()).then(() => fs.unlink(name)).finally(() => tempGone(name)));
}

/** Background work on retired files, which {@link settleRetired} waits for; its failures are ignored. */
function track(work: Promise<unknown>): void {
  const done: Promise<void> = work.then(() => undefined, () => undefined).finally(() => retiring.delete(done));
  retiring.add(done);
}

/**
 * Resolves once every replaced file retired by a publish has been unlinked or kept as a spare. Until
 * then such a file may still show up as a temp file beside its target (a crash leaves it for
 * {@link cleanTempFiles}); spares stay (see SPARE_KEEP_MS).
 */
export async function settleRetired(): Promise<void> {
  while (retiring.size > 0) await Promise.all([...retiring]);
}

/**
 * Removes temp files left in `dir` by publishes that a crash interrupted, except those this process is
 * using, those of other processes still running (their names carry the process id), and those `keep`
 * names (a caller whose readers recover files from temp names). Returns the names removed.
 */
export async function cleanTempFiles(fs: FileSystem, dir: string, keep?: (name: string) => boolean): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    if (!name.endsWith(TEMP_SUFFIX) || liveTemps.has(path) || keep?.(name)) continue;
    if (await ownedByLiveProcess(fs, path)) continue;
    await fs.rm(path).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

/** Writes a small file atomically from bytes. */
export function writeFileAtomic(fs: FileSystem, path: string, data: Uint8Array): Promise<void> {
  return publishAtomically(fs, path, (h) => h.write(data, 0));
}
