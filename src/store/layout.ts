/**
 * File names inside a durable store directory (docs/STORE.part.md "Directory layout"):
 *
 *   <dir>/LOCK                               the writer's lock (src/env/lock.ts)
 *   <dir>/CURRENT                            the pointer to the current checkpoint (pointer.ts)
 *   <dir>/checkpoint-<16-digit generation>.qvdb   checkpoints (.qvdb, kind full)
 *   <dir>/wal/wal-<16-digit seq>.log          write-ahead log segments (src/wal)
 *
 * Anything else in the directory is ignored, except temp files of interrupted publishes, which a
 * writable open removes.
 */
import { join } from 'node:path';
import { ioError } from '../errors.js';
import type { FileSystem } from '../env/fs.js';

/** Name of the pointer file. */
export const CURRENT_FILE = 'CURRENT';
/** Name of the subdirectory holding the write-ahead log segments. */
export const WAL_DIR = 'wal';

const CHECKPOINT_NAME = /^checkpoint-(\d{16})\.qvdb$/;

/** The file name of checkpoint generation `gen` (1, 2, ...). */
export function checkpointName(gen: number): string {
  return `checkpoint-${String(gen).padStart(16, '0')}.qvdb`;
}

/** The generation encoded in a checkpoint file name, or undefined for any other name. */
export function parseCheckpointName(name: string): number | undefined {
  const m = CHECKPOINT_NAME.exec(name);
  if (!m) return undefined;
  const gen = Number(m[1]);
  return gen >= 1 && Number.isSafeInteger(gen) ? gen : undefined;
}

/** A checkpoint file found in a store directory. */
export interface CheckpointFile {
  name: string;
  path: string;
  generation: number;
}

/** The checkpoint files of `dir`, oldest generation first; an absent directory has none. */
export async function listCheckpoints(fs: FileSystem, dir: string): Promise<CheckpointFile[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return [];
    throw ioError(err, 'list', dir);
  }
  const out: CheckpointFile[] = [];
  for (const name of names) {
    const generation = parseCheckpointName(name);
    if (generation !== undefined) out.push({ name, path: join(dir, name), generation });
  }
  return out.sort((a, b) => a.generation - b.generation);
}

/** Names of the entries of `dir`, or [] when it does not exist. */
export async function listNames(fs: FileSystem, dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT' || (err as { code?: unknown }).code === 'ENOTDIR') return [];
    throw ioError(err, 'list', dir);
  }
}
