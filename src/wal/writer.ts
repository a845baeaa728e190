/**
 * The log writer. Appends are encoded synchronously (the sequence number order is the call order) and
 * queued; one I/O loop writes everything queued with one write, which in `sync` mode is durable when it
 * resolves (the segment is opened O_DSYNC: one round trip per group where write + fsync took two):
 * group commit, the next group collecting while a write is in flight. A failed write or fsync fails the
 * writer for good: pending and later appends reject and nothing is acknowledged after the error
 * (retrying an fsync after a failure can report success for data the kernel already dropped).
 */
import { QuiverError, ioError } from '../errors.js';
import { ensureDirDurable } from '../env/durable-dir.js';
import type { FileSystem } from '../env/fs.js';
import { DEFAULT_SEGMENT_BYTES, MAX_SEQ } from './constants.js';
import { encodeRecord } from './record-encode.js';
import { createSegment, deleteSegmentsBefore, openLogTail, type ActiveSegment } from './segment-files.js';
import type { Durability, WalRecord } from './types.js';

/** Options of {@link WalWriter.open}. */
export interface WalWriterOptions {
  /** `sync` (default): resolve once durable (O_DSYNC writes); `interval`: fsync at most every `intervalMs`; `none`: never fsync on its own. */
  durability?: Durability;
  /** For `interval`: the longest time written records stay unsynced (default 100 ms). */
  intervalMs?: number;
  /** Start a new segment before writing to one that has reached this size (default 64 MiB). */
  maxSegmentBytes?: number;
  /**
   * The lowest sequence number the next record may get. The store passes its checkpoint's seq + 1, so
   * numbers are never reused even if the log lost records the checkpoint already holds.
   */
  startSeq?: number;
}

interface Waiter {
  resolve: (seq: number) => void;
  reject: (err: unknown) => void;
  seq: number;
}

/** Work the I/O loop does in one pass. */
interface Group {
  parts: Buffer[];
  bytes: number;
  records: number;
  lastSeq: number;
  waiters: Waiter[];
  /** Force an fsync after this group (sync(), close(), the interval timer). */
  sync: boolean;
  /** Start a new segment after this group; later appends go to the next group. */
  rotate: boolean;
}

const WRITE_CHUNK = 4 * 1024 * 1024;

function newGroup(): Group {
  return { parts: [], bytes: 0, records: 0, lastSeq: 0, waiters: [], sync: false, rotate: false };
}

/** Appends records to the log in a directory. Create with {@link WalWriter.open}. */
export class WalWriter {
  private queue: Group[] = [];
  private pumping = false;
  private next: number;
  private written: number;
  private durable: number;
  private dirty = false;
  private failed: QuiverError | undefined;
  private closing: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly mode: Durability;
  private readonly intervalMs: number;
  private readonly maxSegmentBytes: number;

  private constructor(private readonly fs: FileSystem, readonly dir: string, private seg: ActiveSegment, nextSeq: number, options: WalWriterOptions) {
    this.mode = options.durability ?? 'sync';
    this.intervalMs = options.intervalMs ?? 100;
    this.maxSegmentBytes = options.maxSegmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.next = nextSeq;
    this.written = nextSeq - 1;
    this.durable = nextSeq - 1;
  }

  /**
   * Opens the log in `dir` (created durably when missing) for appending after its last valid record.
   * A torn tail is cut off; damage before it is a CorruptionError (read the log with `repair: true`
   * first). The caller must hold the directory lock.
   */
  static async open(fs: FileSystem, dir: string, options: WalWriterOptions = {}): Promise<WalWriter> {
    const mode = options.durability ?? 'sync';
    if (mode !== 'sync' && mode !== 'interval' && mode !== 'none') throw new QuiverError('INVALID_ARGUMENT', `durability must be 'sync', 'interval' or 'none', got ${String(mode)}`);
    const interval = options.intervalMs ?? 100;
    if (!(Number.isFinite(interval) && interval > 0)) throw new QuiverError('INVALID_ARGUMENT', `intervalMs must be a positive number, got ${interval}`);
    const maxBytes = options.maxSegmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0)) throw new QuiverError('INVALID_ARGUMENT', `maxSegmentBytes must be a positive integer, got ${maxBytes}`);
    const start = options.startSeq ?? 1;
    if (!Number.isSafeInteger(start) || start < 1 || start > MAX_SEQ) throw new QuiverError('INVALID_ARGUMENT', `startSeq must be a positive safe integer, got ${start}`);
    await ensureDirDurable(fs, dir);
    const dsync = mode === 'sync';
    const tail = await openLogTail(fs, dir, start, dsync);
    const seg = tail.active ?? (await createSegment(fs, dir, tail.nextSeq, dsync));
    return new WalWriter(fs, dir, seg, tail.nextSeq, options);
  }

  /** The sequence number the next appended record will get. */
  get nextSeq(): number {
    return this.next;
  }

  /** The last sequence number written to the file (not necessarily durable). */
  get writtenSeq(): number {
    return this.written;
  }

  /** The last sequence number known to be durable (written in `sync` mode, fsynced in the others). */
  get durableSeq(): number {
    return this.durable;
  }

  /** The error that stopped the writer, if any. */
  get failure(): QuiverError | undefined {
    return this.failed;
  }

  /** Path of the segment being appended to. */
  get segmentPath(): string {
    return this.seg.path;
  }

  /**
   * Appends one record or several (each gets the next sequence number, in order) and resolves with the
   * last one's number: in `sync` mode once the records are durable, otherwise once they are written.
   * Records are encoded before this returns. Rejects with INVALID_* for records that cannot be logged
   * (no number is used), CLOSED after close(), or the writer's failure.
   */
  append(records: WalRecord | readonly WalRecord[]): Promise<number> {
    const blocked = this.blocked();
    if (blocked) return Promise.reject(blocked);
    const list: readonly WalRecord[] = Array.isArray(records) ? records : [records as WalRecord];
    if (list.length === 0) return Promise.reject(new QuiverError('INVALID_ARGUMENT', 'append needs at least one record'));
    const bufs: Buffer[] = [];
    try {
      for (let i = 0; i < list.length; i++) bufs.push(encodeRecord(list[i], this.next + i));
    } catch (err) {
      return Promise.reject(err);
    }
    this.next += list.length;
    const g = this.tailGroup();
    for (const b of bufs) {
      g.parts.push(b);
      g.bytes += b.length;
    }
    g.records += list.length;
    g.lastSeq = this.next - 1;
    return this.enqueue(g, g.lastSeq);
  }

  /** Resolves once everything appended so far is durable (fsynced unless already written in `sync` mode). */
  async sync(): Promise<void> {
    const blocked = this.blocked();
    if (blocked) throw blocked;
    const g = this.tailGroup();
    g.sync = true;
    await this.enqueue(g, 0);
  }

  /** Finishes the current segment (durable) and starts a new one, unless the current one is empty. */
  async rotate(): Promise<void> {
    const blocked = this.blocked();
    if (blocked) throw blocked;
    const g = this.tailGroup();
    g.rotate = true;
    await this.enqueue(g, 0);
  }

  /** Deletes segments whose records are all ≤ `seq` (see {@link deleteSegmentsBefore}); call after a checkpoint. */
  deleteSegmentsBefore(seq: number): Promise<string[]> {
    return deleteSegmentsBefore(this.fs, this.dir, seq);
  }

  /**
   * Writes everything appended and makes it durable, then closes the file. Later appends reject with CLOSED.
   * Rejects with the writer's failure if it failed (the file is closed all the same). Idempotent.
   */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (!this.failed) {
      const g = this.tailGroup();
      g.sync = true;
      await this.enqueue(g, 0).catch(() => undefined);
    }
    this.clearTimer();
    await this.seg.handle.close().catch(() => undefined);
    if (this.failed) throw this.failed;
  }

  private blocked(): QuiverError | undefined {
    if (this.failed) return this.failed;
    if (this.closing) return new QuiverError('CLOSED', `the write-ahead log in ${this.dir} is closed; reopen the store to write again`);
    return undefined;
  }

  /** The group new work joins: the last queued one, unless it ends with a rotation. */
  private tailGroup(): Group {
    const last = this.queue[this.queue.length - 1];
    if (last && !last.rotate) return last;
    const g = newGroup();
    this.queue.push(g);
    return g;
  }

  private enqueue(g: Group, seq: number): Promise<number> {
    const p = new Promise<number>((resolve, reject) => g.waiters.push({ resolve, reject, seq }));
    if (!this.pumping) {
      this.pumping = true;
      void this.pump();
    }
    return p;
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.failed) {
        const g = this.queue.shift()!;
        try {
          await this.run(g);
        } catch (err) {
          this.fail(err, g);
          break;
        }
        for (const w of g.waiters) w.resolve(w.seq);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async run(g: Group): Promise<void> {
    if (g.bytes > 0) {
      if (this.seg.size >= this.maxSegmentBytes && this.seg.records > 0) await this.startSegment();
      await this.writeParts(g.parts);
      this.seg.size += g.bytes;
      this.seg.records += g.records;
      this.written = g.lastSeq;
      if (this.mode === 'sync') this.durable = g.lastSeq;
      else this.dirty = true;
    }
    if (this.dirty && (g.sync || g.rotate)) await this.fsync();
    if (g.rotate && this.seg.records > 0) await this.startSegment();
    if (this.mode === 'interval' && this.dirty && !this.timer) {
      this.timer = setTimeout(() => this.onTimer(), this.intervalMs);
      this.timer.unref?.();
    }
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.failed || this.closing || !this.dirty) return;
    const g = this.tailGroup();
    g.sync = true;
    // A failure here fails the writer; the next append or close reports it.
    this.enqueue(g, 0).catch(() => undefined);
  }

  private async writeParts(parts: Buffer[]): Promise<void> {
    let pos = this.seg.size;
    let i = 0;
    while (i < parts.length) {
      let n = parts[i].length;
      let j = i + 1;
      while (j < parts.length && n + parts[j].length <= WRITE_CHUNK) n += parts[j++].length;
      const chunk = j === i + 1 ? parts[i] : Buffer.concat(parts.slice(i, j), n);
      await this.seg.handle.write(chunk, pos);
      pos += n;
      i = j;
    }
  }

  private async fsync(): Promise<void> {
    await this.seg.handle.sync();
    this.dirty = false;
    this.durable = this.written;
  }

  /** Seals the current segment (durable, closed) and creates the next one at the next unwritten number. */
  private async startSegment(): Promise<void> {
    if (this.dirty) await this.fsync();
    await this.seg.handle.close();
    this.seg = await createSegment(this.fs, this.dir, this.written + 1, this.mode === 'sync');
  }

  private fail(err: unknown, current: Group): void {
    const base = ioError(err, 'write to the write-ahead log', this.seg.path);
    this.failed = new QuiverError(
      base.code,
      `${base.message}. The log accepts no more writes; records after sequence number ${this.durable} may not be durable and were not acknowledged in sync mode. Close and reopen the store.`,
      { ...base.details, durableSeq: this.durable },
      { cause: err },
    );
    this.clearTimer();
    const groups = [current, ...this.queue];
    this.queue = [];
    for (const g of groups) for (const w of g.waiters) w.reject(this.failed);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
