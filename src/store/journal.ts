/**
 * The store's side of the write-ahead log: appends each mutation's record as the mutation is applied,
 * counts what was logged since the last checkpoint, and can hold records back while a whole-content
 * change (replaceAll, applyDelta) is being checkpointed, so that no record is logged on top of a
 * state the log cannot reproduce.
 */
import { QuiverError } from '../errors.js';
import type { WalOp, WalRecord } from '../wal/types.js';
import type { WalWriter } from '../wal/writer.js';

/** A record waiting for a rebase checkpoint; settled when it is durable (or can never be). */
export interface HeldRecord {
  record: WalRecord;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const noop = (): void => undefined;

// Held records must not alias caller arrays: the caller may reuse them once the call returns.
function copyOp(op: WalOp): WalOp {
  return op.type === 'upsert' ? { ...op, vector: Float32Array.from(op.vector) } : op;
}

function copyRecord(r: WalRecord): WalRecord {
  return r.type === 'batch' ? { type: 'batch', ops: r.ops.map(copyOp) } : copyOp(r);
}

/** Appends records through a WalWriter; see the module comment. */
export class Journal {
  /** Records logged (or held) since open. */
  records = 0;
  /** Estimated log bytes written (or held) since open. */
  bytes = 0;
  private last: Promise<void> | undefined;
  private held: HeldRecord[] | undefined;
  private broken: QuiverError | undefined;

  constructor(readonly writer: WalWriter) {}

  /** Sequence number of the last record handed to the writer (held records have none yet). */
  get assignedSeq(): number {
    return this.writer.nextSeq - 1;
  }

  /** True while records are held back. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Why the journal cannot log any more: the writer's failure or a record that could not be encoded. */
  get failure(): QuiverError | undefined {
    return this.broken ?? this.writer.failure;
  }

  /** Logs `record` (or holds a copy of it); resolves when it is as durable as the mode promises. */
  append(record: WalRecord, bytes: number): Promise<void> {
    this.records++;
    this.bytes += bytes;
    let p: Promise<void>;
    if (this.held) {
      const held = this.held;
      p = new Promise<void>((resolve, reject) => held.push({ record: copyRecord(record), resolve, reject }));
    } else {
      p = this.log(record);
    }
    this.last = p;
    p.catch(noop);
    return p;
  }

  /**
   * Appends `record` to the log. A record that cannot even be encoded (the writer assigns it no
   * sequence number) is a change applied in memory that the log will never hold: the store breaks.
   */
  private log(record: WalRecord): Promise<void> {
    const before = this.writer.nextSeq;
    const p = this.writer.append(record).then(noop);
    if (this.writer.nextSeq === before && !this.writer.failure) {
      this.broken ??= new QuiverError('IO_ERROR', 'a change was applied in memory but could not be written to the log (see the rejected write); the store accepts no more writes: close and reopen it');
    }
    return p;
  }

  /** Resolves once every record appended so far is acknowledged (rejects if one failed). */
  barrier(): Promise<void> {
    return this.last ?? Promise.resolve();
  }

  /** Starts holding records back (idempotent). */
  hold(): void {
    this.held ??= [];
  }

  /** Removes and returns the records held so far (they stay held-mode). */
  takeHeld(): HeldRecord[] {
    const h = this.held ?? [];
    if (this.held) this.held = [];
    return h;
  }

  /** Stops holding: the held records are logged in order and settle with their appends. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const h of held) this.log(h.record).then(() => h.resolve(), h.reject);
  }

  /** Stops holding and rejects every held record with `err`. */
  rejectHeld(err: unknown): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const h of held) h.reject(err);
  }
}
