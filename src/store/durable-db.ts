/**
 * DurableVectorDB: a VectorDB whose every mutation is logged to a write-ahead log in its directory
 * and checkpointed in the background, so nothing ever needs saving. Mutations validate and apply
 * synchronously like VectorDB's; their promise resolves when the change is as durable as the
 * `durability` mode promises. Open with `DurableVectorDB.open(dir, options)` or `openVectorDB`.
 */
import { QuiverError } from '../errors.js';
import type { Columns, DeltaColumns, Id, Metadata, MetadataBytes, VectorDBOptions, VectorEntry } from '../engine/types.js';
import { VectorDB, type MutationEvent, type ReplaceAllOptions } from '../engine/vector-db.js';
import { estimateJsonBytes } from '../engine/metadata.js';
import { join } from 'node:path';
import { LOCK_FILE, type DirLock } from '../env/lock.js';
import type { Durability, WalOp, WalRecord } from '../wal/types.js';
import type { Checkpointer, CheckpointStats } from './checkpoint.js';
import type { Journal } from './journal.js';
import { openStore } from './open.js';
import type { DurableOptions, ResolvedOptions } from './options.js';
import type { StorePointer } from './pointer.js';
import type { RecoveryReport } from './recovery.js';

/** How often a writable store checks that its directory's LOCK is still its own (see watchLock). */
const LOCK_CHECK_MS = 1000;

/** A snapshot of the store's state, for monitoring and tests. */
export interface StoreInfo {
  dir: string;
  durability: Durability;
  readOnly: boolean;
  closed: boolean;
  /** The error that stopped writes, if any. */
  failure: QuiverError | undefined;
  /** The current checkpoint, as CURRENT names it. */
  pointer: StorePointer | undefined;
  /** Sequence number of the last log record issued. */
  walSeq: number;
  /** Sequence number of the last log record known to be fsynced. */
  durableSeq: number;
  /** Log records / estimated bytes since the last checkpoint was taken. */
  recordsSinceCheckpoint: number;
  bytesSinceCheckpoint: number;
  checkpoints: CheckpointStats;
}

/** Parts of an open writable store, handed over by `openStore`. */
export interface WritableParts {
  journal: Journal;
  checkpointer: Checkpointer;
}

const OP_OVERHEAD = 32;
// The id's exact UTF-8 length, as the log stores it. (Metadata sizes are estimates at 2 bytes a
// character, at most 1.5 times under; so a batch estimated within batchRecordBytes, 128 MiB at most,
// stays well inside the log's 256 MiB record limit.)
const idBytes = (id: Id): number => (typeof id === 'string' ? Buffer.byteLength(id, 'utf8') : 8);

/** A VectorDB persisted in a directory by a write-ahead log and checkpoints. */
export class DurableVectorDB extends VectorDB {
  /** What opening found and did (checkpoint loaded, records replayed, torn tail, repairs). */
  recovery!: RecoveryReport;
  private opts!: ResolvedOptions;
  private dirPath = '';
  private lock: DirLock | undefined;
  private io: WritableParts | undefined;
  private failed: QuiverError | undefined;
  private closing: Promise<void> | undefined;
  private closedFlag = false;
  private ack: Promise<void> | undefined;
  private rebaseQueued = false;
  private rebaseJob: Promise<void> | undefined;
  private rebaseDone: Promise<void> | undefined;
  private baseRecords = 0;
  private baseBytes = 0;
  private autoQueued = false;
  /** The timer that checks the directory's lock (see watchLock). */
  private lockWatch: ReturnType<typeof setInterval> | undefined;
  private lockChecking = false;

  // Only `open` makes instances: a DurableVectorDB that is not attached to a directory would not log.
  private constructor(options: VectorDBOptions) {
    super(options);
  }

  /**
   * Opens (or creates) the store in `dir`: recovers the checkpoint and log, then logs every change.
   * Throws CorruptionError naming the damaged file (unless `repair`), LOCKED when another writer has
   * the directory, DIMENSION_MISMATCH / INVALID_ARGUMENT when the options contradict the store.
   */
  static open(dir: string, options: DurableOptions = {}): Promise<DurableVectorDB> {
    return openStore(dir, options, (dimension, metric, initialCapacity) => new DurableVectorDB({ dimension, metric, initialCapacity }));
  }

  /** @internal Called by openStore once recovery is done. */
  attach(dir: string, opts: ResolvedOptions, lock: DirLock, report: RecoveryReport, parts: WritableParts | undefined): void {
    this.dirPath = dir;
    this.opts = opts;
    this.lock = lock;
    this.recovery = report;
    this.io = parts;
    if (parts) {
      this.baseRecords = parts.journal.records;
      this.mutationListener = (m) => this.onMutation(m, parts);
      this.lockWatch = setInterval(() => void this.watchLock(), LOCK_CHECK_MS);
      this.lockWatch.unref();
    }
  }

  /** @internal Recovery only: applies a logged upsert (see VectorDB.replayUpsert); refused once open. */
  upsertLogged(id: Id, vector: Float32Array, metadata: Metadata | undefined, encoded?: MetadataBytes): void {
    if (this.opts) throw new QuiverError('INVALID_ARGUMENT', 'upsertLogged is for log replay during open; use insert');
    this.replayUpsert(id, vector, metadata, encoded);
  }

  /** The store directory. */
  get directory(): string {
    return this.dirPath;
  }

  /** The durability mode. */
  get durability(): Durability {
    return this.opts.durability;
  }

  /** True for a read-only open. */
  get readOnly(): boolean {
    return this.io === undefined;
  }

  /** True once `close()` has finished. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** State of the log and checkpoints. */
  storeInfo(): StoreInfo {
    const p = this.io;
    return {
      dir: this.dirPath,
      durability: this.opts.durability,
      readOnly: this.readOnly,
      closed: this.closedFlag,
      failure: this.failure(),
      pointer: p?.checkpointer.pointer,
      walSeq: p ? p.journal.assignedSeq : this.recovery.lastSeq,
      durableSeq: p ? p.journal.writer.durableSeq : this.recovery.lastSeq,
      recordsSinceCheckpoint: p ? p.journal.records - this.baseRecords : 0,
      bytesSinceCheckpoint: p ? p.journal.bytes - this.baseBytes : 0,
      checkpoints: p ? { ...p.checkpointer.stats } : { written: 0, failed: 0, lastMs: 0, lastBytes: 0, lastError: undefined },
    };
  }

  // ---- mutations: apply (VectorDB), log (listener), resolve when durable ------------------------

  override insert(entry: VectorEntry): Promise<Id> {
    const blocked = this.blocked();
    if (blocked) return Promise.reject(blocked);
    return this.settle(super.insert(entry));
  }

  override insertBatch(entries: VectorEntry[]): Promise<Id[]> {
    const blocked = this.blocked();
    if (blocked) return Promise.reject(blocked);
    return this.settle(super.insertBatch(entries));
  }

  override delete(id: Id): Promise<boolean> {
    const blocked = this.blocked();
    if (blocked) return Promise.reject(blocked);
    return this.settle(super.delete(id));
  }

  override updateMetadata(id: Id, metadata: Metadata): Promise<boolean> {
    const blocked = this.blocked();
    if (blocked) return Promise.reject(blocked);
    return this.settle(super.updateMetadata(id, metadata));
  }

  override clear(): Promise<void> {
    const blocked = this.blocked();
    if (blocked) return Promise.reject(blocked);
    return this.settle(super.clear());
  }

  /** Replaces the whole content; it becomes durable through an immediate checkpoint (`flush()` waits for it). */
  override replaceAll(columns: Columns, options?: ReplaceAllOptions): void {
    const blocked = this.blocked();
    if (blocked) throw blocked;
    super.replaceAll(columns, options);
  }

  /** Applies a delta; it becomes durable through an immediate checkpoint (`flush()` waits for it). */
  override applyDelta(delta: DeltaColumns): void {
    const blocked = this.blocked();
    if (blocked) throw blocked;
    super.applyDelta(delta);
  }

  /**
   * Resolves once everything done so far is durable, in every mode (fsync included); rejects with the
   * store's failure when something done so far could not be made durable (a replaceAll whose
   * checkpoint failed, a failed log write).
   */
  async flush(): Promise<void> {
    const p = this.writable();
    while (this.rebaseJob) await this.rebaseJob;
    this.throwIfFailed();
    await p.journal.barrier();
    await p.journal.writer.sync();
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    const failed = this.failure();
    if (failed) throw failed;
  }

  /** Writes a checkpoint now (waiting for any running one), so the next open replays nothing. */
  async checkpoint(): Promise<void> {
    const p = this.writable();
    while (this.rebaseJob) await this.rebaseJob;
    await p.checkpointer.run(() => this.takeSource(p));
  }

  /**
   * Waits for pending writes and checkpoints, writes a final checkpoint (unless `checkpointOnClose`
   * is false or nothing changed), closes the log and releases the lock. Later writes fail with
   * CLOSED; reads keep working. Rejects with the first failure, after releasing everything.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const p = this.io;
    let error: unknown;
    clearInterval(this.lockWatch);
    if (p) {
      while (this.rebaseJob) await this.rebaseJob;
      await p.journal.barrier().catch(() => undefined);
      await p.checkpointer.idle();
      const dirty = p.journal.assignedSeq > (p.checkpointer.pointer?.walSeq ?? -1);
      if (!this.failure() && this.opts.checkpointOnClose && dirty) {
        await p.checkpointer.run(() => this.takeSource(p)).catch((err: unknown) => {
          error ??= err;
        });
      }
      await p.journal.writer.close().catch((err: unknown) => {
        error ??= err;
      });
    }
    await this.lock?.release().catch((err: unknown) => {
      error ??= err;
    });
    this.mutationListener = undefined;
    this.closedFlag = true;
    // A failure that stopped writes earlier means something acknowledged to this process was not made
    // durable: close reports it too, so the last await of a program does not hide it.
    error ??= this.failure();
    if (error !== undefined) throw error;
  }

  // ---- internals --------------------------------------------------------------------------------

  private failure(): QuiverError | undefined {
    return this.failed ?? this.io?.journal.failure;
  }

  /**
   * A writer that lost its directory (removed, say by `rm -rf` of the data folder) would go on
   * acknowledging writes into files no reopen will find; one whose lock another process took over would
   * write beside that process. SQLite refuses writes to a database file that was unlinked for the same
   * reason. Checked every LOCK_CHECK_MS: from then on writes fail with LOCKED.
   */
  private async watchLock(): Promise<void> {
    if (this.lockChecking || this.closing || this.failed || !this.lock) return;
    this.lockChecking = true;
    const since = new Date(Date.now() - LOCK_CHECK_MS).toISOString();
    try {
      if (await this.lock.stillHeld()) return;
      if (this.closing) return;
      const lockFile = join(this.dirPath, LOCK_FILE);
      this.failed ??= new QuiverError(
        'LOCKED',
        `${lockFile} is gone or names another process (the directory was removed, or another process took the lock over): the store in ${this.dirPath} stopped accepting writes, and writes acknowledged since about ${since} may not be in that directory. Close it, and reopen the directory (or restore it) to go on.`,
        { dir: this.dirPath, lockFile },
      );
    } finally {
      this.lockChecking = false;
    }
  }

  /** Why a write cannot be accepted now, or undefined. During recovery (no listener yet) writes pass. */
  private blocked(): QuiverError | undefined {
    if (!this.opts) return undefined;
    if (this.closing) return new QuiverError('CLOSED', `the store in ${this.dirPath} is closed; reopen it to write`, { dir: this.dirPath });
    if (!this.io) return new QuiverError('EROFS', `the store in ${this.dirPath} was opened read-only; reopen it without readOnly to write`, { dir: this.dirPath });
    return this.failure();
  }

  private writable(): WritableParts {
    const blocked = this.blocked();
    if (blocked) throw blocked;
    return this.io!;
  }

  private settle<T>(result: Promise<T>): Promise<T> {
    const ack = this.ack;
    this.ack = undefined;
    // A no-op (deleting an absent id) still waits for earlier writes: what it observed must be durable.
    const wait = ack ?? this.earlierDurable();
    return wait ? wait.then(() => result) : result;
  }

  /**
   * Settles once every write made so far is durable: the log's last record, and first any replaceAll,
   * applyDelta or oversized batch, which a checkpoint makes durable instead of a record (a no-op that
   * waited for the log alone resolved before such a batch, and kill -9 then lost it). Rejects with the
   * store's failure when one of those could not be made durable.
   */
  private earlierDurable(): Promise<void> | undefined {
    const p = this.io;
    if (!p) return undefined;
    const rebase = this.rebaseDone;
    return rebase ? rebase.then(() => p.journal.barrier()) : p.journal.barrier();
  }

  private onMutation(m: MutationEvent, p: WritableParts): void {
    let record: WalRecord;
    let bytes = OP_OVERHEAD;
    switch (m.type) {
      case 'upsert': {
        const ops: WalOp[] = new Array<WalOp>(m.ids.length);
        for (let i = 0; i < m.ids.length; i++) {
          const md = m.metadata[i];
          ops[i] = md === undefined ? { type: 'upsert', id: m.ids[i], vector: m.vectors[i] } : { type: 'upsert', id: m.ids[i], vector: m.vectors[i], metadata: md };
          bytes += OP_OVERHEAD + idBytes(m.ids[i]) + this.dimension * 4;
        }
        bytes += m.metadataBytes;
        record = ops.length === 1 ? ops[0] : { type: 'batch', ops };
        break;
      }
      case 'delete':
        record = { type: 'delete', id: m.id };
        bytes += idBytes(m.id);
        break;
      case 'updateMetadata':
        bytes += idBytes(m.id) + estimateJsonBytes(m.metadata);
        record = { type: 'updateMetadata', id: m.id, metadata: m.metadata };
        break;
      case 'clear':
        record = { type: 'clear' };
        break;
      case 'replace':
        void this.onReplace(p).catch(() => undefined);
        return;
    }
    if (bytes > this.opts.batchRecordBytes) {
      // Too big for one log record (a huge batch, or metadata): made durable, still atomically, by a checkpoint.
      this.ack = this.onReplace(p);
      return;
    }
    this.ack = p.journal.append(record, bytes);
    this.maybeCheckpoint(p);
  }

  /** What a checkpoint writes: an image of now and the last log record it reflects. */
  private takeSource(p: WritableParts): { image: ReturnType<VectorDB['openImage']>; walSeq: number } {
    this.baseRecords = p.journal.records;
    this.baseBytes = p.journal.bytes;
    // The store itself needs no change history (a checkpoint is a whole image): deletions older than
    // now are kept only for other holders (a snapshot manager, a persistence instance on this database).
    this.keepChangesSince(this, this.seq);
    return { image: this.openWriterImage(), walSeq: p.journal.assignedSeq };
  }

  private maybeCheckpoint(p: WritableParts): void {
    if (this.autoQueued) return;
    const o = this.opts;
    if (p.journal.records - this.baseRecords < o.checkpointRecords && p.journal.bytes - this.baseBytes < o.checkpointBytes) return;
    this.autoQueued = true;
    p.checkpointer
      .run(() => {
        this.autoQueued = false;
        // While records are held for a rebase, the rebase's checkpoint covers this one.
        return p.journal.holding || this.failure() ? undefined : this.takeSource(p);
      })
      .catch(() => undefined); // recorded in checkpointer.stats; the log still holds everything
  }

  /**
   * replaceAll/applyDelta (and batches too big for one record): the log cannot express them, so later
   * records are held back until a checkpoint of the new content is published; records held until that
   * checkpoint's image was taken are inside it and resolve with it, later ones are then logged in
   * order. Returns a promise settled when the checkpoint covering the current state is durable.
   */
  private onReplace(p: WritableParts): Promise<void> {
    p.journal.hold();
    if (this.rebaseQueued && this.rebaseDone) return this.rebaseDone;
    this.rebaseQueued = true;
    let included: { resolve: () => void; reject: (e: unknown) => void }[] = [];
    const done = p.checkpointer
      .run(() => {
        this.rebaseQueued = false;
        included = p.journal.takeHeld();
        return this.takeSource(p);
      })
      .then(
        () => {
          for (const h of included) h.resolve();
          if (!this.rebaseQueued) p.journal.release();
        },
        (err: unknown) => {
          this.failed ??= new QuiverError('IO_ERROR', `a replaceAll, applyDelta or very large batch could not be made durable (${err instanceof Error ? err.message : String(err)}); the store accepts no more writes: close and reopen it`, { dir: this.dirPath }, { cause: err });
          for (const h of included) h.reject(this.failed);
          p.journal.rejectHeld(this.failed);
          throw this.failed;
        },
      );
    const job: Promise<void> = done
      .catch(() => undefined)
      .finally(() => {
        if (this.rebaseJob === job) this.rebaseJob = undefined;
      });
    this.rebaseJob = job;
    this.rebaseDone = done;
    done.catch(() => undefined);
    return done;
  }
}

/** Opens (or creates) a durable store in `dir`; the same as `DurableVectorDB.open(dir, options)`. */
export function openVectorDB(dir: string, options: DurableOptions = {}): Promise<DurableVectorDB> {
  return DurableVectorDB.open(dir, options);
}
