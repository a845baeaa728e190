/**
 * Opening a durable store: lock (unless read-only), recover, then for writers open the log after the
 * recovered sequence number, write the first checkpoint of a new store (before any log segment
 * exists, so "log present" implies "pointer present"), checkpoint at once after a repair, and remove
 * checkpoints left by interrupted checkpoints.
 */
import { basename, join } from 'node:path';
import { QuiverError } from '../errors.js';
import type { Metric } from '../engine/types.js';
import { acquireLock } from '../env/lock.js';
import { moveAside } from '../env/move-aside.js';
import { statIfExists } from '../env/stat-if-exists.js';
import { describe } from '../engine/validate.js';
import { WalWriter } from '../wal/writer.js';
import { Checkpointer } from './checkpoint.js';
import type { DurableVectorDB } from './durable-db.js';
import { Journal } from './journal.js';
import { CURRENT_FILE, WAL_DIR } from './layout.js';
import { resolveOptions, type DurableOptions, type ResolvedOptions } from './options.js';
import { recoverStore, removeCheckpoints, type DbFactory } from './recovery.js';

/** Builds an empty DurableVectorDB of the given shape. */
export type DurableFactory = (dimension: number, metric: Metric, initialCapacity: number | undefined) => DurableVectorDB;

/** How often a read-only open starts over after the writer moved the store on under it. */
const READ_ONLY_ATTEMPTS = 10;

/** The bytes of `CURRENT`, or undefined when there is none (or it cannot be read now). */
async function pointerBytes(o: ResolvedOptions, dir: string): Promise<Uint8Array | undefined> {
  return o.fs.readFile(join(dir, CURRENT_FILE)).catch(() => undefined);
}

/**
 * Recovery for a read-only open, which takes no lock: a writer may publish a checkpoint and delete the
 * log segments and checkpoint this reader was reading. A failure (missing file, "damage") while
 * `CURRENT` changed under the reader is that race, not damage: it starts over from the new pointer.
 * When `CURRENT` did not change, the failure is reported as it is.
 */
async function recoverAlongsideWriter(o: ResolvedOptions, dir: string, factory: DbFactory<DurableVectorDB>): ReturnType<typeof recoverStore<DurableVectorDB>> {
  for (let attempt = 1; ; attempt++) {
    const before = await pointerBytes(o, dir);
    try {
      return await recoverStore(o, dir, factory);
    } catch (err) {
      const after = await pointerBytes(o, dir);
      const moved = before === undefined || after === undefined ? before !== after : Buffer.compare(before, after) !== 0;
      if (!moved || attempt >= READ_ONLY_ATTEMPTS) throw err;
    }
  }
}

/** See the module comment; `DurableVectorDB.open` is the public entry point. */
export async function openStore(dir: string, options: DurableOptions, make: DurableFactory): Promise<DurableVectorDB> {
  if (typeof dir !== 'string' || dir === '') throw new QuiverError('INVALID_ARGUMENT', `the store directory must be a non-empty string, got ${describe(dir)}`);
  const o = resolveOptions(options);
  if (o.readOnly && o.repair) throw new QuiverError('INVALID_ARGUMENT', 'repair rewrites damaged files and cannot be combined with readOnly; open for writing to repair');
  if (!o.readOnly && (!o.create || o.dimension === undefined) && (await statIfExists(o.fs, dir)) === undefined) {
    // Taking the lock would create the directory (and its parents) for an open that cannot create a store.
    if (!o.create) throw new QuiverError('NOT_FOUND', `${dir} does not exist, and create is false; open it with create: true (and a dimension) to create a store there`, { dir });
    throw new QuiverError('INVALID_ARGUMENT', `${dir} does not exist: pass { dimension } to create a store there`, { dir });
  }
  const lock = await acquireLock(o.fs, dir, { readOnly: o.readOnly });
  let writer: WalWriter | undefined;
  try {
    const factory: DbFactory<DurableVectorDB> = (dimension, metric) => make(dimension, metric, o.initialCapacity);
    const rec = o.readOnly ? await recoverAlongsideWriter(o, dir, factory) : await recoverStore(o, dir, factory);
    const { db, report } = rec;
    if (o.readOnly) {
      db.attach(dir, o, lock, report, undefined);
      return db;
    }
    const checkpointer = new Checkpointer(o.fs, dir, rec.maxGeneration, rec.pointer);
    if (report.created) await checkpointer.run(() => ({ image: db.openWriterImage(), walSeq: 0 }));
    writer = await WalWriter.open(o.fs, join(dir, WAL_DIR), {
      durability: o.durability,
      intervalMs: o.intervalMs,
      maxSegmentBytes: o.maxSegmentBytes,
      startSeq: Math.max(report.checkpointSeq, report.lastSeq) + 1,
    });
    checkpointer.writer = writer;
    const journal = new Journal(writer);
    // Damaged checkpoints hold data a person may still mend (a flipped byte, say): kept, under a name no
    // open takes for a checkpoint, and named in the report; moved before the repaired state's checkpoint
    // is written, which removes the checkpoints it replaces.
    for (const f of rec.damagedCheckpoints) report.repairs.push(`moved the damaged checkpoint ${f.name} aside to ${basename(await moveAside(o.fs, f.path))}`);
    if (rec.damagedCheckpoints.length > 0) await o.fs.syncDir(dir);
    // After a repair the directory must describe the repaired state before anything is added to it.
    if (rec.repaired || !checkpointer.pointer) await checkpointer.run(() => ({ image: db.openWriterImage(), walSeq: journal.assignedSeq }));
    const current = checkpointer.pointer?.checkpoint;
    await removeCheckpoints(o, dir, rec.strayCheckpoints.filter((c) => c.name !== current));
    db.attach(dir, o, lock, report, { journal, checkpointer });
    return db;
  } catch (err) {
    await writer?.close().catch(() => undefined);
    await lock.release().catch(() => undefined);
    throw err;
  }
}
