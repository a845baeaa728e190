/**
 * Incremental saves: delta files beside a base file, `<base>.delta-000001`, `<base>.delta-000002`, ...
 * Each delta's user map records `chain: { base, prev, index }` (checksums of the base file and of the
 * previous link). A delta whose `base` is not the current base's checksum is left over from an older base
 * (a crash between publishing a new base and removing old deltas) and ends the chain; a gap or a broken
 * `prev` link inside the current chain is corruption.
 */
import { basename, dirname, join } from 'node:path';
import { CorruptionError, ioError } from '../errors.js';
import type { FileSystem } from '../env/fs.js';
import { discardSpare } from '../env/atomic.js';
import type { DeltaColumns } from '../engine/types.js';
import { readState, type ReadSpec } from './codec.js';

/** Link information stored in every delta's user map. */
export interface ChainLink {
  base: string;
  prev: string;
  index: number;
}

const DELTA_RE = /\.delta-(\d{6})$/;

/** The path of delta number `index` of `basePath`. */
export function deltaPath(basePath: string, index: number): string {
  return `${basePath}.delta-${String(index).padStart(6, '0')}`;
}

/** Delta files present beside `basePath`, ordered by number. */
export async function listDeltaFiles(fs: FileSystem, basePath: string): Promise<{ index: number; path: string }[]> {
  const dir = dirname(basePath);
  const prefix = `${basename(basePath)}.delta-`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    throw ioError(err, 'list', dir);
  }
  const out: { index: number; path: string }[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = DELTA_RE.exec(name);
    if (m && name.length === prefix.length + 6) out.push({ index: Number(m[1]), path: join(dir, name) });
  }
  return out.sort((a, b) => a.index - b.index);
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
  stale: string[];
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
  const files = await listDeltaFiles(fs, basePath);
  const deltas: LoadedChain['deltas'] = [];
  const stale: string[] = [];
  let prev = baseChecksum;
  let expected = 1;
  for (const f of files) {
    if (stale.length > 0) {
      stale.push(f.path);
      continue;
    }
    const st = await readState(fs, f.path, { ...spec, onProgress: onFile?.(f.path, f.index) ?? undefined });
    const link = chainOf(st.user);
    if (st.kind !== 'delta' || !link) {
      throw new CorruptionError({ file: f.path, section: 'manifest' }, 'a file named as a delta is not a delta of this database');
    }
    if (link.base !== baseChecksum) {
      stale.push(f.path);
      continue;
    }
    if (f.index !== expected || link.index !== f.index) {
      throw new CorruptionError({ file: f.path, section: 'chain' }, `delta ${expected} of the chain is missing (found delta ${f.index}); the changes it held cannot be recovered from this chain`);
    }
    if (link.prev !== prev) {
      throw new CorruptionError({ file: f.path, section: 'chain' }, 'the delta does not follow the previous link (checksum of the previous file differs)', 'CHECKSUM_MISMATCH');
    }
    const bytes = await fs.stat(f.path).then((s) => s.size, () => 0);
    deltas.push({ path: f.path, delta: st.delta, checksum: st.checksum, bytes });
    prev = st.checksum;
    expected++;
  }
  return { deltas, lastChecksum: prev, stale };
}

/**
 * Removes every delta file of `basePath` (after a new full save made them obsolete), and the spare
 * prepared for the delta that would have followed them.
 */
export async function removeDeltas(fs: FileSystem, basePath: string): Promise<void> {
  const files = await listDeltaFiles(fs, basePath);
  const last = files.at(-1);
  if (last) discardSpare(deltaPath(basePath, last.index + 1));
  for (const f of files) await fs.rm(f.path);
  if (files.length > 0) await fs.syncDir(dirname(basePath));
}
