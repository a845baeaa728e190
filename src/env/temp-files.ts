/**
 * Temp files of publishes: their names (which carry the writing process's identity), which of them
 * are live, the background removal of names no longer needed, and the cleanup of leftovers a crash
 * left behind.
 */
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import type { FileHandle, FileSystem } from './fs.js';
import { NodeFileSystem } from './node-fs.js';
import { currentBootId, isProcessAlive, isRecordedProcessAlive, mayHaveWritten, processIdentity } from './process-alive.js';

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

/**
 * Files SQLite keeps beside a database it writes, named by appending these: a temp file built by name
 * (a SQLite export) has them too while it is written, and a crash leaves them with it.
 */
const SIDE_FILE_SUFFIXES = ['-journal', '-wal', '-shm'] as const;

// Names of earlier versions carry no process id (`.<name>.<12 hex>.quiver-tmp`), or no start ticks.
const TEMP_NAME_RE = new RegExp(`^\\.(.+)\\.(?:p([0-9]+)(?:s([0-9]+))?-)?[0-9a-f]{12}${TEMP_SUFFIX.replaceAll('.', '\\.')}(${SIDE_FILE_SUFFIXES.join('|')})?$`);

/** The file name a temp file named by {@link tempPathFor} was made for, or undefined for any other name (a side file's too). */
export function tempTarget(name: string): string | undefined {
  const m = TEMP_NAME_RE.exec(name);
  return m && m[4] === undefined ? m[1] : undefined;
}

/** The temp file `name` is, or the one it is a side file of; undefined when it is neither. */
function tempFileOf(name: string): string | undefined {
  if (name.endsWith(TEMP_SUFFIX)) return name;
  const side = SIDE_FILE_SUFFIXES.find((s) => name.endsWith(TEMP_SUFFIX + s));
  return side === undefined ? undefined : name.slice(0, -side.length);
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
export function tempGone(name: string): void {
  liveTemps.delete(name);
}

/** True while `path` is a temp file this process is writing or keeping (a spare): no leftover. */
export function isLiveTemp(path: string): boolean {
  return liveTemps.has(path);
}

/**
 * Temp files of failed publishes whose removal failed too (a failing disk): no longer this process's
 * (another cleanup may remove them), and removed by the next publish into their directory, since the
 * cleanup of leftovers runs once per directory.
 */
const unremoved = new WeakMap<FileSystem, Set<string>>();

/** Removes the temp files of `dir` left in {@link leaveUnremoved}'s list (those still there). */
export async function retryUnremoved(fs: FileSystem, dir: string): Promise<void> {
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

/** Notes a temp file whose removal failed, for the next publish into its directory to remove. */
export function leaveUnremoved(fs: FileSystem, tmp: string): void {
  let paths = unremoved.get(fs);
  if (paths === undefined) unremoved.set(fs, (paths = new Set()));
  paths.add(tmp);
}

/** Background removals of temp names (retired files, spares), which {@link settleRetired} waits for. */
const retiring = new Set<Promise<void>>();

/**
 * Unlinks a retired name (after closing its open handle, if any) in the background, after `delayMs`;
 * {@link settleRetired} waits for it, and a process that exits first unlinks it then (see {@link unlinkAtExit}).
 */
export function releaseRetired(fs: FileSystem, name: string, handle?: FileHandle, delayMs = 0): void {
  unlinkAtExit(fs, name);
  const closed = handle ? handle.close().catch(() => undefined) : Promise.resolve();
  const waited = delayMs > 0 ? closed.then(() => new Promise<void>((res) => setTimeout(res, delayMs))) : closed;
  track(
    waited.then(() => fs.unlink(name)).finally(() => {
      forgetAtExit(name);
      tempGone(name);
    }),
  );
}

/** Temp names on the real file system to unlink if the process exits first (timers and promises do not run then). */
const atExit = new Set<string>();
let exitHooked = false;

/**
 * Has `name` unlinked synchronously when the process exits (`process.exit()` included; a kill by a
 * signal runs no hook, and the next publish's cleanTempFiles removes it then), until {@link forgetAtExit}.
 * Only on the real file system: other implementations live in memory.
 */
export function unlinkAtExit(fs: FileSystem, name: string): void {
  if (!(fs instanceof NodeFileSystem)) return;
  atExit.add(name);
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const n of atExit) {
      try {
        unlinkSync(n);
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Unlinks, synchronously, every temp file this process is writing or keeping, with the side files SQLite
 * keeps beside a database it writes (`-journal`, `-wal`, `-shm`): for a program about to exit on a
 * signal (the CLI on Ctrl-C), whose pending writes will never be published. Nothing else calls it.
 */
export function removeLiveTempsSync(): void {
  for (const name of [...liveTemps, ...atExit]) {
    for (const f of [name, `${name}-journal`, `${name}-wal`, `${name}-shm`]) {
      try {
        unlinkSync(f);
      } catch {
        // not there (or not on the real file system)
      }
    }
  }
}

/** Cancels {@link unlinkAtExit} for `name` (removed, or taken over by a publish). */
export function forgetAtExit(name: string): void {
  atExit.delete(name);
}

/** Background work on retired files, which {@link settleRetired} waits for; its failures are ignored. */
export function track(work: Promise<unknown>): void {
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
    const base = tempFileOf(name);
    // A side file lives as long as the temp file it belongs to.
    if (base === undefined || liveTemps.has(join(dir, base)) || keep?.(base)) continue;
    if (await ownedByLiveProcess(fs, join(dir, base))) continue;
    const path = join(dir, name);
    await fs.rm(path).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}
