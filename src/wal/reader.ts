/**
 * Reading the log: every record in sequence order across segments, each verified. A torn final record
 * is the end of the log; damage anywhere else is a CorruptionError, or with `repair` the log is
 * truncated at the first bad record and the loss reported.
 */
import { CorruptionError, ioError } from '../errors.js';
import type { FileSystem } from '../env/fs.js';
import { SEGMENT_HEADER_SIZE } from './constants.js';
import { damageError, scanSegment, type SegmentScan } from './scan.js';
import { listSegments, type SegmentFile } from './segment.js';
import type { WalEntry } from './types.js';

/** Options of {@link readWal}. */
export interface ReadWalOptions {
  /** Yield only records with this sequence number or higher (older segments are not even opened). */
  fromSeq?: number;
  /** Truncate the log at the first bad record instead of throwing, and report what was dropped. */
  repair?: boolean;
  /** Read window in bytes (default 4 MiB). */
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

async function drain(gen: AsyncGenerator<WalEntry[], SegmentScan, undefined>): Promise<SegmentScan> {
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
   * The same records in arrays of up to a few hundred, in order: the fast way to replay a long log
   * (per-record async iteration costs more than decoding). Use either this or the iterator, once.
   */
  async *batches(): AsyncGenerator<WalEntry[], void, undefined> {
    if (this.started) throw new Error('a WalReader can be iterated only once; call readWal again');
    this.started = true;
    const { fs, dir } = this;
    const { fromSeq, repair = false, chunkBytes } = this.options;
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
      const gen = scanSegment(fs, segs[i], { isLast, expectFirstSeq: expect, fromSeq, decode: true, chunkBytes });
      let scan: SegmentScan | undefined;
      try {
        for (;;) {
          const r = await gen.next();
          if (r.done) {
            scan = r.value;
            break;
          }
          summary.records += r.value.length;
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
        throw damageError(scan);
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
  return drain(scanSegment(fs, seg, { isLast, decode: false, chunkBytes }));
}
