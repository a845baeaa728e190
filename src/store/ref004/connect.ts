/**
 * Connecting a collection: its durable store in `<annIndexPath>/<collectionName>/` (or a plain
 * in-memory VectorDB when persistence is off). Damaged files make connect fail with a typed error
 * naming the file and touch nothing; with `recoverCorrupted` the collection directory is renamed
 * aside (never deleted), the collection starts empty, and the event is printed and reported.
 */
import { dirname, sep } from 'node:path';
import { CorruptionError, QuiverError, ioError } from '../../errors.js';
import { VectorDB } from '../../engine/vector-db.js';
import type { FileSystem } from '../../env/fs.js';
import { statIfExists } from '../../env/stat-if-exists.js';
import { openVectorDB, type DurableVectorDB } from '../durable-db.js';
import type { ResolvedConfig } from './config.js';
import { CollectionNotFoundError, VectorDimensionError, VectorStoreConnectionError } from './errors.js';
import { IMPORTED_MARKER, REFERENCE_METADATA_FILE, REFERENCE_PAYLOADS_FILE, importReferenceOnce, moveReferenceAside } from './reference-import.js';
import { moveAside } from '../../env/move-aside.js';
import type { CorruptionRecovery, ReferenceImport } from './types.js';

/** A connected collection. */
export interface ConnectedCollection {
  db: VectorDB;
  /** The durable store, when persistence is on. */
  durable: DurableVectorDB | undefined;
  recovered: CorruptionRecovery | undefined;
  imported: ReferenceImport | undefined;
}

/** True for errors that mean "stored bytes are damaged" (as opposed to OS errors, locks, versions). */
export function isDamage(err: unknown): err is QuiverError {
  return err instanceof QuiverError && (err.code === 'CORRUPT' || err.code === 'CHECKSUM_MISMATCH');
}

function openDurable(c: ResolvedConfig): Promise<DurableVectorDB> {
  return openVectorDB(c.dir, {
    fs: c.fs, dimension: c.dimension, metric: c.metric, durability: c.durability, readOnly: c.readOnly, create: !c.readOnly,
    checkpointBytes: c.checkpointBytes, checkpointRecords: c.checkpointRecords, intervalMs: c.intervalMs,
  });
}

async function quarantine(fs: FileSystem, dir: string): Promise<string> {
  const to = await moveAside(fs, dir);
  try {
    await fs.syncDir(dirname(dir));
  } catch (err) {
    throw ioError(err, 'fsync directory', dirname(dir));
  }
  return to;
}

function connectionError(c: ResolvedConfig, err: unknown): VectorStoreConnectionError | VectorDimensionError {
  const what = err instanceof Error ? err.message : String(err);
  // A dimension that differs (the collection's files, or the reference files to import) is the
  // interface's VectorDimensionError, as everywhere else: `instanceof` and the code both tell it.
  if (err instanceof VectorDimensionError) return err;
  if (err instanceof QuiverError && err.code === 'DIMENSION_MISMATCH') {
    const stored = Number(err.details.expected);
    return new VectorDimensionError(`cannot connect collection "${c.collectionName}" in ${c.dir}: ${what}`, c.dimension, stored, err);
  }
  const hint = isDamage(err) ? ' Nothing was changed on disk; restore the collection from a snapshot, or connect with recoverCorrupted: true to move the damaged files aside and start empty.' : '';
  return new VectorStoreConnectionError(`cannot connect collection "${c.collectionName}" in ${c.dir}: ${what}${hint}`, 'in-memory', err);
}

/** Names of the reference files and the import marker beside the collections. */
const RESERVED_NAMES = [REFERENCE_METADATA_FILE, REFERENCE_PAYLOADS_FILE, IMPORTED_MARKER];

/**
 * A collection's directory is `<annIndexPath>/<collectionName>`: the reference files' names, and a name
 * that is already a file there (an index file, anything of the user's), are refused before anything is
 * read or written.
 */
async function checkNotAFile(c: ResolvedConfig): Promise<void> {
  if (RESERVED_NAMES.includes(c.collectionName)) {
    throw new QuiverError('INVALID_ARGUMENT', `the collection name "${c.collectionName}" is reserved for the reference-004 files in ${c.annIndexPath}; choose another collection name`, { path: c.dir });
  }
  const st = await statIfExists(c.fs, c.dir);
  if (st && !st.isDirectory) {
    throw new QuiverError('INVALID_ARGUMENT', `the collection name "${c.collectionName}" is the name of a file in ${c.annIndexPath} (${c.dir}), which is left as it is; choose another collection name`, { path: c.dir });
  }
}

/** Connects the collection described by `c`; see the module comment. */
export async function connectCollection(c: ResolvedConfig): Promise<ConnectedCollection> {
  if (!c.persist) {
    return { db: new VectorDB({ dimension: c.dimension, metric: c.metric }), durable: undefined, recovered: undefined, imported: undefined };
  }
  let imported: ReferenceImport | undefined;
  let recovered: CorruptionRecovery | undefined;
  try {
    await checkNotAFile(c);
    if (c.importReferenceFiles && !c.readOnly) imported = await importReferenceOnce(c);
    const durable = await openDurable(c);
    return { db: durable, durable, recovered, imported };
  } catch (err) {
    if (c.readOnly && err instanceof QuiverError && err.code === 'NOT_FOUND') {
      throw new CollectionNotFoundError(`collection "${c.collectionName}" does not exist in ${c.annIndexPath}; connect without readOnly to create it`, c.collectionName, err);
    }
    if (!isDamage(err) || !c.recoverCorrupted || c.readOnly) throw connectionError(c, err);
    const damaged = err;
    const file = typeof damaged.details.file === 'string' ? damaged.details.file : undefined;
    // Damaged reference-004 import files are moved aside (both of the pair); a damaged store moves as a whole.
    const inCollection = file !== undefined && (file === c.dir || file.startsWith(c.dir + sep));
    const movedTo = file !== undefined && !inCollection ? await moveReferenceAside(c, file) : await quarantine(c.fs, c.dir);
    // The error's own advice ("the file was not modified") no longer holds once the files moved.
    const what = damaged instanceof CorruptionError ? damaged.damage : damaged.message;
    recovered = { at: new Date().toISOString(), collectionName: c.collectionName, file, code: damaged.code, message: what, movedTo };
    console.warn(`[quiverdb] WARNING: collection "${c.collectionName}" had damaged files (${what}). They were moved to ${movedTo} (not deleted) and the collection STARTS EMPTY. Restore from a snapshot if you need that data.`);
    try {
      const durable = await openDurable(c);
      return { db: durable, durable, recovered, imported };
    } catch (again) {
      throw connectionError(c, again);
    }
  }
}
