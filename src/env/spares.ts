/**
 * Spare files: a file written ahead, never published, for a path's next publish to write over in place
 * instead of creating a new file (the next delta of a chain).
 */
import { dirname } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FileHandle, FileSystem } from './fs.js';
import { syncDirectory } from './dir-sync.js';
import { forgetAtExit, releaseRetired, settleRetired, tempGone, tempPathFor, track, unlinkAtExit } from './temp-files.js';

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
  unlinkAtExit(fs, spare.name);
}

/** Forgets `spare` (if it is still the one kept for `path`) and unlinks it in the background. */
function dropSpare(path: string, spare: Spare): void {
  clearTimeout(spare.timer);
  if (spares.get(path) === spare) spares.delete(path);
  releaseRetired(spare.fs, spare.name, spare.handle);
}

/** Takes the spare kept for `path` on `fs`, if any (the caller writes over it, or releases it and closes its handle). */
export function takeSpare(fs: FileSystem, path: string): Spare | undefined {
  const spare = spares.get(path);
  if (!spare || spare.fs !== fs) return undefined;
  clearTimeout(spare.timer);
  spares.delete(path);
  // Written over and published now: no longer a file to remove at exit.
  forgetAtExit(spare.name);
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
export function abandonPreparation(path: string): void {
  const job = preparing.get(path);
  if (job) job.wanted = false;
}

/** Unlinks the spare kept or being prepared for `path` (no publish there is expected any more). */
export function discardSpare(path: string): void {
  abandonPreparation(path);
  const spare = spares.get(path);
  if (spare) dropSpare(path, spare);
}
