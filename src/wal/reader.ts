/**
 * Reading the log: every record in sequence order across segments, each verified. A torn final record
 * is the end of the log; damage anywhere else is a CorruptionError, or with `repair` the log is
 * truncated at the first bad record and the loss reported.
 */
import { CorruptionError, ioError } from '../errors.js';
import type { FileSystem } from '../env/fs.js';
import { SEGMENT_HEADER_SIZE } from './constants.js';
import { ScratchVectors, decodePayload, type RecordHeader } from './record-decode.js';
import { damageError, scanSegment, type RecordVisitor, type SegmentScan } from './scan.js';
import { listSegments, type SegmentFile } from './segment.js';
import type { DecodedOp, DecodedRecord, WalEntry } from './types.js';
import { ReadWindow } from './window.js';
import { CrcAhead } from './crc-ahead.js';
import { hashThreadRunning } from '../util/hash-worker.js';

/** Options of {@link readWal}. */
export interface ReadWalOptions {
  /** Yield only records with this sequence number or higher (older segments are not even opened). */
  fromSeq?: number;
  /** Truncate the log at the first bad record instead of throwing, and report what was dropped. */
  repair?: boolean;
  /** How the damage error says to repair (default: the durable store's `repair: true` option). */
  repairHint?: string;
  /** Read size in bytes, a positive integer (default 4 MiB); the reader holds about 2.5 times this, plus the largest record when that is bigger. */
  chunkBytes?: number;
}

/** What `repair` removed. */
export interface WalRepairReport {
  /** The segment truncated at the bad record (removed entirely when its header was bad). */
  segment: string;
  /** Byte offset in `segment` where the log now ends. */
  truncatedAt: number;
  /** Bytes removed: the rest of `segment` plus every later segment. */
  droppedBytes: number;
  /** Later segments deleted (file paths). */
  droppedSegments: string[];
  /** Why the record at `truncatedAt` was bad. */
  problem: string;
  /** True when the bad record was a torn tail (no acknowledged `sync` write can be in it). */
  torn: boolean;
}

/** A torn final record that was treated as the end of the log (the file is left as it is). */
export interface WalTornTail {
  segment: string;
  offset: number;
  /** Bytes after the last valid record. */
  bytes: number;
  problem: string;
}

/** What a completed read found. */
export interface WalReadSummary {
  /** Segments in the directory. */
  segments: number;
  /** Records yielded. */
  records: number;
  /** Sequence number of the last valid record of the log (0 for an empty log). */
  lastSeq: number;
  tornTail?: WalTornTail;
  repaired?: WalRepairReport;
}

/**
 * Receives the ops of {@link WalReader.replay} in log order; `seq` is the record's sequence number
 * (the ops of a batch record share it). `op`, and an upsert's `op.vector` and `op.metadataBytes`, are
 * valid only during the call: their memory is reused for the next record, so copy what you keep. An
 * upsert's metadata comes as `metadataBytes` (still encoded) when it decodes in place, else as a
 * `metadata` object. Ids and metadata objects are fresh and may be kept.
 */
export type WalOpSink = (seq: number, op: DecodedOp) => void;

function decodeProblem(err: unknown): string {
  return `the payload does not decode: ${err instanceof Error ? err.message : String(err)}`;
}

async function drain(gen: AsyncGenerator<number, SegmentScan, undefined>): Promise<SegmentScan> {
  for (;;) {
    const r = await gen.next();
    if (r.done) return r.value;
  }
}

/** Truncates `scan`'s segment at its damage and deletes every later segment; returns the report. */
async function repairAt(fs: FileSystem, dir: string, scan: SegmentScan, later: SegmentFile[]): Promise<WalRepairReport> {
  const d = scan.damage!;
  const path = scan.segment.path;
  const at = scan.validEnd;
  let dropped = scan.size - at;
  try {
    if (at < SEGMENT_HEADER_SIZE) {
      await fs.unlink(path);
    } else {
      const h = await fs.open(path, 'r+');
      try {
        await h.truncate(at);
        await h.sync();
      } finally {
        await h.close();
      }
    }
    const droppedSegments: string[] = [];
    for (const seg of later) {
      dropped += (await fs.stat(seg.path)).size;
      await fs.unlink(seg.path);
      droppedSegments.push(seg.path);
    }
    await fs.syncDir(dir);
    return { segment: path, truncatedAt: at, droppedBytes: dropped, droppedSegments, problem: d.problem, torn: d.torn };
  } catch (err) {
    throw ioError(err, 'repair write-ahead log', path);
  }
}

/**
 * An async iterable over the log in `dir` (iterate it once). After iteration `summary` tells where the
 * log ended and what, if anything, was repaired.
 */
export class WalReader implements AsyncIterable<WalEntry> {
  /** Set when iteration has finished without an error. */
  summary: WalReadSummary | undefined;
  private started = false;

  constructor(private readonly fs: FileSystem, private readonly dir: string, private readonly options: ReadWalOptions = {}) {
    const from = options.fromSeq;
    if (from !== undefined && (!Number.isSafeInteger(from) || from < 0)) throw new RangeError(`fromSeq must be a non-negative safe integer, got ${from}`);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WalEntry, void, undefined> {
    for await (const batch of this.batches()) yield* batch;
  }

  /**
   * The same records in arrays of up to a few hundred, in order: the fast way to iterate a long log
   * (per-record async iteration costs more than decoding). Every vector has memory of its own. Use
   * one of the iterator, `batches` or `replay`, once.
   */
  async *batches(): AsyncGenerator<WalEntry[], void, undefined> {
    let pending: WalEntry[] = [];
    const visit: RecordVisitor = (seq, buf, at, header) => {
      let record: DecodedRecord;
      try {
        record = decodePayload(buf, at, header);
      } catch (err) {
        return decodeProblem(err);
      }
      pending.push({ seq, record });
      return undefined;
    };
    for await (const visited of this.scanAll(visit)) {
      if (visited === 0) continue;
      const out = pending;
      pending = [];
      yield out;
    }
  }

  /**
   * Hands every op of the log to `sink`, in order, and returns the summary: the fastest way to replay
   * a log into memory. Nothing is allocated per vector (see {@link WalOpSink} for what stays valid).
   * A record is decoded completely before any of its ops reaches `sink`, so a batch record that does
   * not decode delivers none. Whatever `sink` throws ends the read (the segment is closed) and
   * propagates unchanged. `check`, when given, sees every op of a record before any reaches `sink`:
   * a problem it names makes the record damage (with `repair`, the log is cut there; none of the
   * record is applied).
   */
  async replay(sink: WalOpSink, check?: (seq: number, op: DecodedOp) => string | undefined): Promise<WalReadSummary> {
    const scratch = new ScratchVectors();
    const visit: RecordVisitor = (seq: number, buf: Buffer, at: number, header: RecordHeader) => {
      scratch.reset();
      let record: DecodedRecord;
      try {
        record = decodePayload(buf, at, header, scratch.alloc, true);
      } catch (err) {
        return decodeProblem(err);
      }
      if (check !== undefined) {
        for (const op of record.type === 'batch' ? record.ops : [record]) {
          const problem = check(seq, op);
          if (problem !== undefined) return `the record cannot be applied (${problem})`;
        }
      }
      if (record.type !== 'batch') sink(seq, record);
      else for (const op of record.ops) sink(seq, op);
      return undefined;
    };
    const it = this.scanAll(visit);
    while (!(await it.next()).done) {
      // The work happens in the visitor; the scan yields only to keep its batches bounded.
    }
    return this.summary!;
  }

  /** Scans every segment from `fromSeq`, visiting records; yields the number visited since the last yield. */
  private async *scanAll(visit: RecordVisitor): AsyncGenerator<number, void, undefined> {
    if (this.started) throw new Error('a WalReader can be iterated only once; call readWal again');
    this.started = true;
    const { fs, dir } = this;
    const { fromSeq, repair = false, chunkBytes, repairHint } = this.options;
    // A long read starts the helper thread early (recovery does): it then checks CRCs ahead of the scan.
    const window = new ReadWindow(chunkBytes, hashThreadRunning() ? new CrcAhead() : undefined);
    const segs = await listSegments(fs, dir);
    const summary: WalReadSummary = { segments: segs.length, records: 0, lastSeq: 0 };
    let i = 0;
    if (fromSeq !== undefined) {
      // Segments wholly before fromSeq: the next one starts at or before it.
      while (i + 1 < segs.length && segs[i + 1].firstSeq <= fromSeq) i++;
      if (segs.length > 0 && segs[i].firstSeq > fromSeq) {
        throw new CorruptionError({ file: segs[i].path, section: 'segment list' }, `records from sequence number ${fromSeq} were requested but the log starts at ${segs[i].firstSeq}; a segment is missing`);
      }
    }
    let expect: number | undefined;
    for (; i < segs.length; i++) {
      const isLast = i === segs.length - 1;
      const gen = scanSegment(fs, segs[i], { isLast, expectFirstSeq: expect, fromSeq, visit, window });
      let scan: SegmentScan | undefined;
      try {
        for (;;) {
          const r = await gen.next();
          if (r.done) {
            scan = r.value;
            break;
          }
          summary.records += r.value;
          yield r.value;
        }
      } finally {
        // A consumer that stops early must not leave the segment open.
        if (!scan) await gen.return(undefined as never);
      }
      summary.lastSeq = Math.max(0, scan.lastSeq);
      expect = scan.lastSeq + 1;
      const d = scan.damage;
      if (!d) continue;
      if (repair) {
        summary.repaired = await repairAt(fs, dir, scan, segs.slice(i + 1));
      } else if (d.torn) {
        summary.tornTail = { segment: scan.segment.path, offset: d.offset, bytes: scan.size - scan.validEnd, problem: d.problem };
      } else {
        throw damageError(scan, repairHint);
      }
      break;
    }
    this.summary = summary;
  }
}

/** Reads the log in `dir`: `for await (const { seq, record } of readWal(fs, dir)) ...`. */
export function readWal(fs: FileSystem, dir: string, options: ReadWalOptions = {}): WalReader {
  return new WalReader(fs, dir, options);
}

/**
 * Verifies one segment without decoding payloads (used by the writer to find where to continue).
 * Exported for the writer; not part of the public API.
 */
export function verifySegment(fs: FileSystem, seg: SegmentFile, isLast: boolean, chunkBytes?: number): Promise<SegmentScan> {
  return drain(scanSegment(fs, seg, { isLast, window: new ReadWindow(chunkBytes) }));
}
