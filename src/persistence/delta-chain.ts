/**
 * Incremental saves: delta files beside a base file, `<base>.delta-000001`, `<base>.delta-000002`, ...
 * Each delta's user map records `chain: { base, prev, index }` (checksums of the base file and of the
 * previous link). A delta whose `base` is not the current base's checksum is left over from an older base
 * (a crash between publishing a new base and removing old deltas) and ends the chain; a gap or a broken
 * `prev` link inside the current chain is corruption. A delta written over a prepared spare may be found
 * under the spare's temp name (a power loss undid its rename, whose directory fsync is skipped): the
 * reader takes it when it verifies and links, and gives it its name.
 */
import { basename, dirname, join } from 'node:path';
import { CorruptionError, QuiverError, ioError } from '../errors.js';
import type { FileSystem } from '../env/fs.js';
import { linkOrRename, removeIfStill } from '../env/links.js';
import { discardSpare } from '../env/spares.js';
import { cleanTempFiles, isLiveTemp, ownedByLiveProcess, tempTarget } from '../env/temp-files.js';
import { markOf } from '../env/stat-if-exists.js';
import type { DeltaColumns } from '../engine/types.js';
import { readState, type ReadSpec } from './codec.js';

/** Link information stored in every delta's user map. */
export interface ChainLink {
  base: string;
  prev: string;
  index: number;
}

const DELTA_RE = /\.delta-(\d{6})$/;

/**
 * The highest delta number: names have six digits, and a reader takes no other. An incremental save
 * that would write the next one writes a full save instead (a delta numbered past it would be written,
 * then never read).
 */
export const MAX_DELTA_INDEX = 999_999;

/** The path of delta number `index` of `basePath` (past MAX_DELTA_INDEX: a name no reader takes, never written). */
export function deltaPath(basePath: string, index: number): string {
  return `${basePath}.delta-${String(index).padStart(6, '0')}`;
}

/** A delta file (or a temp file that may hold one) and its number. */
interface DeltaFile {
  index: number;
  path: string;
}

/** Delta files beside `basePath` and temp files made for one (see tempPathFor), each ordered by number. */
async function deltaNames(fs: FileSystem, basePath: string): Promise<{ files: DeltaFile[]; temps: DeltaFile[] }> {
  const dir = dirname(basePath);
  const prefix = `${basename(basePath)}.delta-`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    throw ioError(err, 'list', dir);
  }
  const indexOf = (name: string | undefined): number | undefined => {
    if (name === undefined || !name.startsWith(prefix) || name.length !== prefix.length + 6) return undefined;
    const m = DELTA_RE.exec(name);
    return m ? Number(m[1]) : undefined;
  };
  const files: DeltaFile[] = [];
  const temps: DeltaFile[] = [];
  for (const name of names) {
    const index = indexOf(name);
    if (index !== undefined) {
      files.push({ index, path: join(dir, name) });
      continue;
    }
    const target = indexOf(tempTarget(name));
    if (target !== undefined) temps.push({ index: target, path: join(dir, name) });
  }
  const byIndex = (a: DeltaFile, b: DeltaFile): number => a.index - b.index;
  return { files: files.sort(byIndex), temps: temps.sort(byIndex) };
}

/** Reads `user.chain` from a delta's user map, or undefined when absent/malformed. */
export function chainOf(user: Record<string, unknown>): ChainLink | undefined {
  const c = user.chain as Partial<ChainLink> | undefined;
  if (!c || typeof c.base !== 'string' || typeof c.prev !== 'string' || typeof c.index !== 'number') return undefined;
  return { base: c.base, prev: c.prev, index: c.index };
}

/** The deltas of the current chain, decoded and verified, in order. */
export interface LoadedChain {
  deltas: { path: string; delta: DeltaColumns; checksum: string; bytes: number }[];
  /** Checksum of the last link (the base's when there are no deltas). */
  lastChecksum: string;
  /** Delta files found that belong to an older base (safe to remove). */
  /**
   * Delta files found that belong to an older base (safe to remove), each with the mark it had when it
   * was found to be one; a mark is left out when the file changed while it was read (it may then be
   * another writer's new delta, which must never be taken for the leftover).
   */
  stale: { path: string; mark?: string }[];
  /** Links found under their temp name and renamed to their own (`{ from, to }`). */
  recovered: { from: string; to: string }[];
}

/** Failures to rename in a directory this process may read but not change. */
const READ_ONLY_CODES = new Set(['EROFS', 'EACCES', 'EPERM']);

/** Errors of an unreadable file that stay errors when the file is only a candidate (the disk failed, not the file). */
const IO_CODES = new Set(['IO_ERROR', 'EIO', 'EACCES', 'EPERM', 'EMFILE', 'ENOSPC', 'EROFS', 'ABORTED']);

/** fsync of an existing file's content (opened read-only: fsync needs no write access). */
async function syncFile(fs: FileSystem, path: string): Promise<void> {
  const h = await fs.open(path, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

type ReadLink = (f: DeltaFile) => Promise<{ st: Awaited<ReturnType<typeof readState>>; link: ChainLink | undefined }>;

/**
 * The temp file holding link `index` of the chain after `prev`, if any: a delta written over a prepared
 * spare whose rename a power loss undid. A candidate that does not decode and verify (a spare never
 * written, a save cut short) or that belongs elsewhere in some chain is not it. Temps this process is
 * still writing are skipped.
 */
async function findTempLink(fs: FileSystem, temps: DeltaFile[], index: number, baseChecksum: string, prev: string, read: ReadLink) {
  for (const t of temps) {
    if (t.index !== index || isLiveTemp(t.path)) continue;
    // Another running writer's delta in flight (complete, maybe, but not yet fsynced and renamed by it):
    // taking it would fail that writer's save. Only a dead writer's temp can be a link to recover.
    if (await ownedByLiveProcess(fs, t.path)) continue;
    let found;
    try {
      found = await read(t);
    } catch (err) {
      if (err instanceof QuiverError && IO_CODES.has(err.code)) throw err;
      continue;
    }
    const { st, link } = found;
    if (st.kind === 'delta' && link && link.base === baseChecksum && link.index === index && link.prev === prev) return { temp: t, st };
  }
  return undefined;
}

/**
 * Reads and verifies the chain of deltas of the base at `basePath` whose checksum is `baseChecksum`.
 * `onFile` is told each file before it is read (for progress).
 */
export async function readDeltaChain(
  fs: FileSystem,
  basePath: string,
  baseChecksum: string,
  spec: ReadSpec,
  onFile?: (path: string, index: number) => ReadSpec['onProgress'],
): Promise<LoadedChain> {
  const { files, temps } = await deltaNames(fs, basePath);
  const deltas: LoadedChain['deltas'] = [];
  const stale: LoadedChain['stale'] = [];
  const markNow = (path: string): Promise<string | undefined> => fs.stat(path).then(markOf, () => undefined);
  const recovered: LoadedChain['recovered'] = [];
  let prev = baseChecksum;
  let expected = 1;
  // A candidate under a temp name is always verified, whatever the caller asked: a save cut short can
  // leave the manifest and chain link intact over pages that were never written.
  const read = async (f: DeltaFile, verifyAlways = false): ReturnType<ReadLink> => {
    const verifyChecksum = verifyAlways || spec.verifyChecksum;
    const st = await readState(fs, f.path, { ...spec, verifyChecksum, onProgress: onFile?.(f.path, f.index) ?? undefined });
    return { st, link: chainOf(st.user) };
  };
  const take = async (path: string, st: Awaited<ReturnType<typeof readState>>): Promise<void> => {
    if (st.kind !== 'delta') return;
    const bytes = await fs.stat(path).then((s) => s.size, () => 0);
    deltas.push({ path, delta: st.delta, checksum: st.checksum, bytes });
    prev = st.checksum;
    expected++;
  };
  /**
   * Takes link `expected` from its temp name, if there; named as a delta when the directory allows it.
   * `leftover` is the file of an older base holding that number (with the mark it was read with), if any.
   */
  const fromTemp = async (leftover?: { path: string; mark: string }): Promise<boolean> => {
    const t = await findTempLink(fs, temps, expected, baseChecksum, prev, (c) => read(c, true));
    if (!t) return false;
    let at = deltaPath(basePath, expected);
    try {
      // Its writer died before (or during) its fsync: the bytes just read may still be only in the
      // page cache. They are made durable before the name is, or a power loss could leave an empty
      // or torn link under the delta's own name, which no load gets past.
      await syncFile(fs, t.temp.path);
      await nameRecovered(fs, t.temp.path, at, leftover);
    } catch (err) {
      if (err instanceof QuiverError) throw err;
      // A directory this process may not change (read-only media): the link is read where it is.
      if (!READ_ONLY_CODES.has((err as { code?: unknown } | null)?.code as string)) throw ioError(err, 'make durable and name a recovered delta', at);
      at = t.temp.path;
    }
    recovered.push({ from: t.temp.path, to: at });
    await take(at, t.st);
    return true;
  };
  for (let i = 0; i <= files.length; ) {
    const f = files[i];
    if (f !== undefined && stale.length > 0) {
      // Past the end of the chain: marked as found now, without being read.
      stale.push({ path: f.path, mark: await markNow(f.path) });
      i++;
      continue;
    }
    // After a leftover of an older base the chain has ended: the number it reached was looked for
    // under a temp name before the leftover was set aside.
    if (f === undefined && stale.length > 0) break;
    if (f === undefined || f.index !== expected) {
      // No file of that number: the link may be under its temp name (or the chain ends here).
      if (await fromTemp()) continue;
      if (f === undefined) break;
    }
    // Its mark, taken before it is read: if it proves a leftover of an older base, a recovery may remove
    // it, but only while it is still that file.
    const mark = await markNow(f.path);
    const { st, link } = await read(f);
    if (st.kind !== 'delta' || !link) {
      throw new CorruptionError({ file: f.path, section: 'manifest' }, 'a file named as a delta is not a delta of this database');
    }
    // The base is named twice, by the chain link and by the format's own header: damage to one (read
    // without checksum verification) must not make a delta of this base pass for another base's leftover.
    if (st.baseChecksum !== null && st.baseChecksum !== link.base) {
      throw new CorruptionError({ file: f.path, section: 'chain' }, `the delta's chain link names base ${link.base.slice(0, 16)}… but its header names ${st.baseChecksum.slice(0, 16)}…; one of them is damaged`);
    }
    if (link.base !== baseChecksum) {
      // Left over from an older base; the link of this number may still be under its temp name (its
      // publish after the leftover's removal did not reach the disk).
      i++;
      // The same file before and after the read: what was read is what the mark names.
      const still = mark !== undefined && (await markNow(f.path)) === mark ? mark : undefined;
      if (f.index === expected && (await fromTemp(still === undefined ? undefined : { path: f.path, mark: still }))) continue;
      stale.push({ path: f.path, mark: still });
      continue;
    }
    if (f.index !== expected || link.index !== f.index) {
      throw new CorruptionError({ file: f.path, section: 'chain' }, `delta ${expected} of the chain is missing (found delta ${f.index}); the changes it held cannot be recovered from this chain`);
    }
    if (link.prev !== prev) {
      throw new CorruptionError({ file: f.path, section: 'chain' }, 'the delta does not follow the previous link (checksum of the previous file differs)', 'CHECKSUM_MISMATCH');
    }
    await take(f.path, st);
    i++;
  }
  return { deltas, lastChecksum: prev, stale, recovered };
}

/**
 * Gives a recovered delta (complete and durable under its temp name) its own name `at`, as its writer
 * would have: by a link, which never replaces a file, so that a running writer that published this
 * number meanwhile keeps its delta (the link fails: BUSY, and the load reads the chain again). A
 * leftover of an older base at `at` goes first, if it is still the file that was read. The name is made
 * durable before the temp name goes. Throws the raw error of a failed step.
 */
async function nameRecovered(fs: FileSystem, temp: string, at: string, leftover?: { path: string; mark: string }): Promise<void> {
  if (leftover !== undefined) await removeIfStill(fs, leftover.path, leftover.mark);
  let how: 'linked' | 'renamed';
  try {
    how = await linkOrRename(fs, temp, at);
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code !== 'EEXIST') throw err;
    throw new QuiverError('BUSY', `${at} was published by a running writer while this load recovered it from its temp name; the chain is read again`, { path: at }, { cause: err });
  }
  await fs.syncDir(dirname(at));
  if (how === 'linked') await fs.rm(temp).catch(() => undefined);
}

/**
 * Removes every delta file of `basePath` (after a new full save made them obsolete), the spare prepared
 * for the delta that would have followed them, and the temp files named for a delta of `basePath` that
 * no running process is using (spares a crash left, deltas a power loss left under their temp name:
 * `cleanTempFiles` leaves those to this, see {@link isDeltaTemp}). `stillOurs`, asked once the
 * directory is listed, says whether the base is still the caller's file: when not, nothing is removed.
 * `newBase` (the new base's checksum and the modification time of its content, taken before its
 * publish) protects the deltas of the new base itself: another writer may have loaded it the moment it
 * was published and written its delta 1 on it, which this cleanup must not remove. A file written since
 * that time is read, and kept when it is such a delta. Each file goes only while it is the one examined
 * (removeIfStill).
 */
export async function removeDeltas(fs: FileSystem, basePath: string, stillOurs?: () => Promise<boolean>, newBase?: { checksum: string; mtimeMs: number }): Promise<void> {
  const { files, temps } = await deltaNames(fs, basePath);
  // What was listed may be another writer's, whose save replaced the base since: then none of it goes.
  if (stillOurs !== undefined && !(await stillOurs())) return;
  const last = files.at(-1);
  if (last) discardSpare(deltaPath(basePath, last.index + 1));
  // Not the temps this process is using, nor another running process's (a delta it is writing now).
  const leftovers: DeltaFile[] = [];
  for (const t of temps) if (!isLiveTemp(t.path) && !(await ownedByLiveProcess(fs, t.path))) leftovers.push(t);
  let removed = 0;
  const remove = async (path: string): Promise<void> => {
    const st = await fs.stat(path).catch(() => undefined);
    if (st === undefined) return;
    if (newBase !== undefined && st.mtimeMs >= newBase.mtimeMs) {
      const link = await readState(fs, path, { verifyChecksum: false }).then((r) => chainOf(r.user), () => undefined);
      if (link?.base === newBase.checksum) return;
    }
    if (await removeIfStill(fs, path, markOf(st))) removed++;
  };
  // Highest first: a reader listing the chain meanwhile finds a shorter chain, never one with a hole.
  for (const f of [...files].reverse()) await remove(f.path);
  for (const f of leftovers) await remove(f.path);
  if (removed > 0) await fs.syncDir(dirname(basePath));
}

/**
 * True for the name of a temp file that may hold a delta (`.<base>.delta-NNNNNN.p<pid>-<12 hex>.quiver-tmp`):
 * after a power loss it can be the only copy of an acknowledged delta, so the directory's cleanup of
 * leftover temp files must leave it to the next full save of its base ({@link removeDeltas}).
 */
export function isDeltaTemp(name: string): boolean {
  const target = tempTarget(name);
  return target !== undefined && DELTA_RE.test(target);
}

/**
 * Removes the temp files that dead writers left in a directory that saves and exports write into,
 * except delta temps (see {@link isDeltaTemp}) and those `keep` names. Returns the names removed.
 */
export function cleanLeftoverTemps(fs: FileSystem, dir: string, keep?: (name: string) => boolean): Promise<string[]> {
  return cleanTempFiles(fs, dir, (name) => isDeltaTemp(name) || keep?.(name) === true);
}
