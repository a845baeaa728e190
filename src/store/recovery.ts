/**
 * Opening a store directory: pointer → checkpoint (verified against the pointer) → replay of the log
 * after the checkpoint's sequence number. Damage is a CorruptionError naming the file; with `repair`
 * the newest valid checkpoint and the log's valid prefix are used instead and every loss is reported.
 */
import { join } from 'node:path';
import { CorruptionError, QuiverError, ioError } from '../errors.js';
import type { Columns, Metric } from '../engine/types.js';
import { cleanTempFiles } from '../env/temp-files.js';
import { readQvdb } from '../format/qvdb/reader.js';
import { readWal, type WalRepairReport, type WalTornTail } from '../wal/reader.js';
import { listSegments } from '../wal/segment.js';
import { CURRENT_FILE, WAL_DIR, listCheckpoints, type CheckpointFile } from './layout.js';
import type { ResolvedOptions } from './options.js';
import { readPointer, type StorePointer } from './pointer.js';
import { logApplier, opProblem, type ReplayTarget } from './replay.js';
import { warmHashThread } from '../util/hash-worker.js';

/** What opening a store found and did; `db.recovery`. */
export interface RecoveryReport {
  /** True when the directory held no store and a new one was created. */
  created: boolean;
  /** File name of the checkpoint loaded (undefined: none, the store started empty). */
  checkpoint: string | undefined;
  /** Log sequence number the checkpoint holds; replay started after it. */
  checkpointSeq: number;
  /** Entries loaded from the checkpoint. */
  checkpointEntries: number;
  /** Log records replayed on top of the checkpoint. */
  replayedRecords: number;
  /** Sequence number of the last record applied (the checkpoint's when none were). */
  lastSeq: number;
  /** A torn final log record treated as the end of the log (an interrupted append; nothing acknowledged in sync mode). */
  tornTail?: WalTornTail;
  /** What `repair` truncated from the log. */
  logRepair?: WalRepairReport;
  /** Everything `repair` had to give up, in words (empty when nothing was damaged). */
  repairs: string[];
  /** Temp files of interrupted publishes removed at open. */
  tempFilesRemoved: string[];
  /** Wall time of the open, ms. */
  ms: number;
}

/** A recovered store, ready to be opened for writing or reading. */
export interface Recovered<T extends ReplayTarget> {
  db: T;
  /** The pointer describing the loaded checkpoint; undefined for a new store or after a repair without one. */
  pointer: StorePointer | undefined;
  /** Highest checkpoint generation present in the directory (new checkpoints go above it). */
  maxGeneration: number;
  report: RecoveryReport;
  /** Checkpoint files other than the current one (leftovers of interrupted checkpoints): removable. */
  strayCheckpoints: CheckpointFile[];
  /** True when repair dropped something: a new checkpoint should be written at once. */
  repaired: boolean;
  /** Checkpoint files a repair found damaged: moved aside (never deleted) by a writable open. */
  damagedCheckpoints: CheckpointFile[];
}

/** Builds the engine for a store of this shape (the durable subclass, listener not yet attached). */
export type DbFactory<T extends ReplayTarget> = (dimension: number, metric: Metric) => T;

interface LoadedCheckpoint {
  file: CheckpointFile;
  columns: Columns;
  /** Entries the vectors' buffer has room for (the checkpoint's plus the room asked for the log). */
  capacity: number;
  walSeq: number;
  checksum: string;
  createdAt: number;
}

async function loadCheckpoint(o: ResolvedOptions, file: CheckpointFile, expect: StorePointer | undefined, spareEntries: number): Promise<LoadedCheckpoint> {
  const fail: (problem: string) => never = (problem) => {
    throw new CorruptionError({ file: file.path, section: 'checkpoint' }, problem);
  };
  let r;
  try {
    // The columns go straight into replaceAll: metadata may stay encoded until read.
    r = await readQvdb(o.fs, file.path, { spareEntries, keepMetadataEncoded: true });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') fail(`the checkpoint named by ${CURRENT_FILE} is missing`);
    if (err instanceof QuiverError && err.code === 'UNSUPPORTED_FORMAT') fail(`it is not a .qvdb file (${err.message})`);
    throw err instanceof QuiverError ? err : ioError(err, 'read checkpoint', file.path);
  }
  if (r.kind !== 'full') fail('it is a delta file, not a full checkpoint');
  const m = r.manifest;
  const walSeq = m.user?.walSeq;
  if (typeof walSeq !== 'number' || !Number.isSafeInteger(walSeq) || walSeq < 0) fail('its manifest lacks the log sequence number (user.walSeq) of a store checkpoint');
  if (m.user?.generation !== file.generation) fail(`its manifest says generation ${String(m.user?.generation)} but its name says ${file.generation}`);
  if (expect) {
    if (r.checksum !== expect.checksum) fail(`its checksum ${r.checksum.slice(0, 16)}… is not the ${expect.checksum.slice(0, 16)}… that ${CURRENT_FILE} names (the file was replaced)`);
    if (walSeq !== expect.walSeq) fail(`it holds the log up to ${walSeq as number} but ${CURRENT_FILE} says ${expect.walSeq}`);
    if (m.dimension !== expect.dimension || m.metric !== expect.metric) fail(`it is ${m.dimension}-d ${m.metric} but ${CURRENT_FILE} says ${expect.dimension}-d ${expect.metric}`);
  }
  return { file, columns: r.columns, capacity: r.vectorCapacity, walSeq: walSeq as number, checksum: r.checksum, createdAt: m.createdAt };
}

function checkShape(o: ResolvedOptions, dir: string, dimension: number, metric: Metric): void {
  if (o.dimension !== undefined && o.dimension !== dimension) {
    throw new QuiverError('DIMENSION_MISMATCH', `the store in ${dir} holds ${dimension}-dimensional vectors, not ${o.dimension}; open it with dimension ${dimension} (or omit it) or use another directory`, { expected: dimension, actual: o.dimension, dir });
  }
  if (o.metric !== undefined && o.metric !== metric) {
    throw new QuiverError('INVALID_ARGUMENT', `the store in ${dir} uses the ${metric} metric, not ${o.metric}; open it with metric '${metric}' (or omit it)`, { expected: metric, actual: o.metric, dir });
  }
}

function emptyReport(): RecoveryReport {
  return { created: false, checkpoint: undefined, checkpointSeq: 0, checkpointEntries: 0, replayedRecords: 0, lastSeq: 0, repairs: [], tempFilesRemoved: [], ms: 0 };
}

/** Picks the checkpoint to load: the pointer's, or with `repair` the newest one that verifies. */
async function chooseCheckpoint(o: ResolvedOptions, dir: string, pointer: StorePointer | undefined, all: CheckpointFile[], report: RecoveryReport, spare: number, damaged: CheckpointFile[]): Promise<LoadedCheckpoint | undefined> {
  if (pointer) {
    const file = all.find((c) => c.name === pointer.checkpoint) ?? { name: pointer.checkpoint, path: join(dir, pointer.checkpoint), generation: pointer.generation };
    try {
      return await loadCheckpoint(o, file, pointer, spare);
    } catch (err) {
      if (!o.repair || !(err instanceof CorruptionError)) throw err;
      report.repairs.push(`checkpoint ${pointer.checkpoint} is unusable (${err.message}); falling back to an older one`);
      if (all.includes(file)) damaged.push(file);
    }
  }
  for (const file of [...all].reverse()) {
    if (pointer && file.name === pointer.checkpoint) continue;
    try {
      const c = await loadCheckpoint(o, file, undefined, spare);
      report.repairs.push(`using checkpoint ${file.name} (log sequence number ${c.walSeq})`);
      return c;
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
      report.repairs.push(`checkpoint ${file.name} is unusable too (${err.message})`);
      damaged.push(file);
    }
  }
  return undefined;
}

/** Largest checkpoint file read to see whether it is empty (an empty store's checkpoint is far smaller). */
const EMPTY_CHECKPOINT_MAX_BYTES = 64 * 1024;

/**
 * True when every checkpoint holds no entries: what interrupted creations leave. A file too large to be
 * empty, or one that does not read, is not.
 */
async function onlyEmptyCheckpoints(o: ResolvedOptions, checkpoints: readonly CheckpointFile[]): Promise<boolean> {
  for (const c of checkpoints) {
    try {
      if ((await o.fs.stat(c.path)).size > EMPTY_CHECKPOINT_MAX_BYTES) return false;
      const r = await readQvdb(o.fs, c.path);
      if (r.kind !== 'full' || r.columns.ids.length > 0) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Recovers the store in `dir` (see the module comment). A directory without a store yields a new,
 * empty one (`report.created`) unless `create` is false or the open is read-only (NOT_FOUND).
 */
export async function recoverStore<T extends ReplayTarget>(o: ResolvedOptions, dir: string, make: DbFactory<T>): Promise<Recovered<T>> {
  const t0 = performance.now();
  const { fs } = o;
  const walDir = join(dir, WAL_DIR);
  const report = emptyReport();
  if (!o.readOnly) report.tempFilesRemoved = [...(await cleanTempFiles(fs, dir)), ...(await cleanTempFiles(fs, walDir))];

  let pointer: StorePointer | undefined;
  let pointerBroken = false;
  try {
    pointer = await readPointer(fs, dir);
  } catch (err) {
    if (!o.repair || !(err instanceof CorruptionError)) throw err;
    pointerBroken = true;
    report.repairs.push(`${CURRENT_FILE} is damaged (${err.message}); looking for the newest valid checkpoint`);
  }
  const checkpoints = await listCheckpoints(fs, dir);
  const maxGeneration = checkpoints.reduce((g, c) => Math.max(g, c.generation), pointer?.generation ?? 0);

  if (!pointer && !pointerBroken) {
    const segments = await listSegments(fs, walDir);
    // A creation interrupted between its first checkpoint and the pointer leaves empty checkpoints and no
    // log (one per attempt: a retried creation writes the next generation). Nothing was ever acknowledged.
    const interruptedCreate = segments.length === 0 && (await onlyEmptyCheckpoints(o, checkpoints));
    if (interruptedCreate) {
      if (o.readOnly || !o.create) throw new QuiverError('NOT_FOUND', `${dir} holds no QuiverDB store (no ${CURRENT_FILE} file); open it for writing to create one`, { dir });
      if (o.dimension === undefined) throw new QuiverError('INVALID_ARGUMENT', `${dir} holds no store yet: pass { dimension } to create one`, { dir });
      report.created = true;
      report.ms = performance.now() - t0;
      const db = make(o.dimension, o.metric ?? 'cosine');
      return { db, pointer: undefined, maxGeneration, report, strayCheckpoints: checkpoints, repaired: false, damagedCheckpoints: [] };
    }
    if (!o.repair) {
      throw new CorruptionError({ file: join(dir, CURRENT_FILE), section: 'pointer' }, `the file is missing but the directory holds ${checkpoints.length} checkpoint(s) and ${segments.length} log segment(s); open with { repair: true } to recover from the newest valid checkpoint`);
    }
    report.repairs.push(`${CURRENT_FILE} is missing; looking for the newest valid checkpoint`);
  }

  const logBytes = await logSize(o, walDir);
  // A long replay fills fresh memory with the helper thread's help (withPrefault): start it now.
  if (logBytes >= PREFAULT_MIN_LOG_BYTES) warmHashThread();
  const dimGuess = pointer?.dimension ?? o.dimension;
  const spare = dimGuess === undefined ? 0 : upsertsBound(logBytes, dimGuess);
  const damaged: CheckpointFile[] = [];
  const ckpt = await chooseCheckpoint(o, dir, pointer, checkpoints, report, spare, damaged);
  const dimension = ckpt?.columns.dimension ?? pointer?.dimension ?? o.dimension;
  const metric = ckpt?.columns.metric ?? pointer?.metric ?? o.metric ?? 'cosine';
  if (dimension === undefined) {
    throw new QuiverError('INVALID_ARGUMENT', `${dir}: no checkpoint could be recovered and the dimension is unknown; pass { dimension } to repair into an empty store`, { dir });
  }
  checkShape(o, dir, dimension, metric);
  if (!ckpt) report.repairs.push('no valid checkpoint: starting from an empty store and replaying whatever log there is');
  const db = make(dimension, metric);
  if (ckpt) {
    // The checkpoint's buffer may have room for the log's upserts too (read that way: no slab copy).
    db.replaceAll(ckpt.columns, { capacity: ckpt.capacity });
    report.checkpoint = ckpt.file.name;
    report.checkpointSeq = ckpt.walSeq;
    report.checkpointEntries = ckpt.columns.ids.length;
  }
  const upserts = upsertsBound(logBytes, dimension);
  if (upserts > 0) {
    db.reserve(report.checkpointEntries + upserts);
    await db.withPrefault(() => replayLog(o, walDir, db, report, ckpt !== undefined));
  } else {
    await replayLog(o, walDir, db, report, ckpt !== undefined);
  }
  report.ms = performance.now() - t0;
  const used = ckpt ? ckpt.file.name : undefined;
  const validPointer = pointer && used === pointer.checkpoint ? pointer : undefined;
  return {
    db,
    pointer: validPointer,
    maxGeneration,
    report,
    strayCheckpoints: checkpoints.filter((c) => c.name !== used && !damaged.includes(c)),
    repaired: report.repairs.length > 0 || report.logRepair !== undefined,
    damagedCheckpoints: damaged,
  };
}

/** Logs at least this long get the helper thread started early for the replay's prefault. */
const PREFAULT_MIN_LOG_BYTES = 4 << 20;

/** Total bytes of the log segments. */
async function logSize(o: ResolvedOptions, walDir: string): Promise<number> {
  let bytes = 0;
  for (const seg of await listSegments(o.fs, walDir)) bytes += (await o.fs.stat(seg.path).catch(() => ({ size: 0 }))).size;
  return bytes;
}

/**
 * Most upserts `logBytes` of log can hold. The engine is sized once for the checkpoint plus these (the
 * checkpoint is read into a buffer with that room), so a replay never reallocates and copies the vectors.
 */
function upsertsBound(logBytes: number, dimension: number): number {
  return Math.floor(logBytes / (dimension * 4 + 30));
}

async function replayLog(o: ResolvedOptions, walDir: string, db: ReplayTarget, report: RecoveryReport, fromCheckpoint: boolean): Promise<void> {
  const from = report.checkpointSeq + 1;
  report.lastSeq = report.checkpointSeq;
  const run = async (fromSeq: number | undefined): Promise<void> => {
    const reader = readWal(o.fs, walDir, { fromSeq, repair: o.repair });
    const s = await reader.replay(logApplier(db, walDir), o.repair ? (_seq, op) => opProblem(db, op) : undefined);
    report.replayedRecords += s.records;
    if (s.records > 0) report.lastSeq = s.lastSeq;
    if (s.tornTail) report.tornTail = s.tornTail;
    noteCut(s.repaired);
  };
  const noteCut = (cut: WalRepairReport | undefined): void => {
    if (!cut) return;
    report.logRepair = cut;
    report.repairs.push(`the log was cut at ${cut.segment} byte ${cut.truncatedAt} (${cut.problem}); ${cut.droppedBytes} bytes and ${cut.droppedSegments.length} later segment(s) dropped`);
  };
  try {
    await run(fromCheckpoint ? from : undefined);
  } catch (err) {
    // With repair, a log that no longer reaches back to the checkpoint (its start was deleted by a
    // later checkpoint that is now unusable) cannot be applied on top of it: keep the checkpoint alone.
    if (!o.repair || !(err instanceof CorruptionError) || err.section !== 'segment list' || report.replayedRecords > 0) throw err;
    report.repairs.push(`the log does not continue checkpoint ${report.checkpoint ?? '(none)'} (${err.message}); its records were not applied`);
    // The writer continues that log's tail: it is still read through, and cut at its first damage.
    noteCut((await readWal(o.fs, walDir, { repair: true }).replay(() => undefined)).repaired);
  }
}

/** Removes checkpoint files that are not current (best effort; the directory is fsynced once). */
export async function removeCheckpoints(o: ResolvedOptions, dir: string, files: readonly CheckpointFile[]): Promise<void> {
  if (files.length === 0) return;
  for (const f of files) await o.fs.rm(f.path).catch(() => undefined);
  await o.fs.syncDir(dir).catch(() => undefined);
}
