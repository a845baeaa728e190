/**
 * Reads one segment record by record, verifying each, and classifies the first bad record it meets:
 * a torn tail (the end of the log) or corruption. Reads go through a bounded window; no length read
 * from the file is trusted before it is checked against the bytes actually present.
 */
import { CorruptionError, ioError } from '../errors.js';
import type { FileHandle, FileSystem } from '../env/fs.js';
import { MAX_RECORD_PAYLOAD, RECORD_HEADER_SIZE, RecordType, SEGMENT_HEADER_SIZE } from './constants.js';
import { crcMatches, plausibleHeader, readRecordHeader, type RecordHeader } from './record-decode.js';
import { segmentHeaderProblem, type SegmentFile } from './segment.js';
import { ReadWindow, readExactly } from './window.js';

/** The first bad spot of a segment. */
export interface ScanDamage {
  /** Byte offset of the bad record (0: the segment header). */
  offset: number;
  /** 1-based index of the bad record in the segment; 0 for the header. */
  record: number;
  problem: string;
  /** A checksum mismatch (CHECKSUM_MISMATCH) rather than malformed content (CORRUPT). */
  checksum: boolean;
  /**
   * True for a torn tail: the last segment, nothing valid follows the bad record, and the record is
   * cut short or part of it never reached the disk (see {@link TORN_SECTOR_BYTES}).
   */
  torn: boolean;
}

/** What scanning a segment found. */
export interface SegmentScan {
  segment: SegmentFile;
  size: number;
  /** Sequence number of the last valid record; `firstSeq - 1` when there is none. */
  lastSeq: number;
  records: number;
  /** Offset just after the last valid record (0 when the header itself is bad or incomplete). */
  validEnd: number;
  damage?: ScanDamage;
}

/**
 * Called with each verified record at or after `fromSeq` while its bytes are in `buf` at `at` (`buf`
 * and `header` are valid only during the call). Returns what is wrong with a record that passed its CRC
 * (its payload does not decode, or cannot be applied): the record is then damage, described by that
 * text. Anything it throws ends the scan and propagates.
 */
export type RecordVisitor = (seq: number, buf: Buffer, at: number, header: RecordHeader) => string | undefined;

/** How to scan a segment. */
export interface ScanOptions {
  /** The newest segment: only there can a bad record be a torn tail. */
  isLast: boolean;
  /** The first sequence number the previous segment implies, when there is one. */
  expectFirstSeq?: number;
  /** Records below this are verified but not visited. */
  fromSeq?: number;
  /** Visits records (absent: verify CRCs only). */
  visit?: RecordVisitor;
  /** The read window, shared by the segments of one read. */
  window: ReadWindow;
}

/**
 * Sector size for telling a torn write from damage. A write that a crash or power loss cut short leaves
 * its record short (the file ends inside it) or, where the file had already grown past it, with whole
 * sectors that were never written and read as zeros: a disk writes a sector entirely or not at all. A
 * final record whose bytes are all present and none of whose 512-byte sectors (counted from the start
 * of the file, the first and last clipped to the record) is all zeros was written completely; a CRC
 * mismatch there is damage to a record that may have been acknowledged, reported rather than dropped.
 */
export const TORN_SECTOR_BYTES = 512;

/**
 * Shortest piece that counts: a record's first and last pieces can be a few bytes long, and a record
 * often ends in zeros of its own (an upsert without metadata ends with a 4-byte zero length), which
 * must not make a whole record look torn. A tear that left only such a sliver unwritten reads as
 * damage, which `repair: true` cuts (a record not written whole was never acknowledged).
 */
export const TORN_PIECE_MIN_BYTES = 16;

/** True when some TORN_SECTOR_BYTES-aligned piece of [from, to) of the file, at least TORN_PIECE_MIN_BYTES long, is all zeros. */
async function hasZeroSector(h: FileHandle, from: number, to: number, path: string): Promise<boolean> {
  const STEP = 1 << 20;
  // Pieces end at sector boundaries (absolute file offsets) and at `to`; one may span two reads.
  let zero = true;
  let start = from;
  for (let base = from; base < to; base += STEP) {
    const buf = Buffer.allocUnsafe(Math.min(to, base + STEP) - base);
    await readExactly(h, buf, base, path);
    for (let i = 0; i < buf.length; i++) {
      if (buf[i] !== 0) zero = false;
      const next = base + i + 1;
      if (next % TORN_SECTOR_BYTES === 0 || next === to) {
        if (zero && next - start >= TORN_PIECE_MIN_BYTES) return true;
        zero = true;
        start = next;
      }
    }
  }
  return false;
}

/** Visited records between two yields of {@link scanSegment}. */
export const VISITS_PER_YIELD = 256;

/** True when some valid record (plausible header, CRC match) starts anywhere in [from, size). */
async function validRecordAfter(h: FileHandle, size: number, from: number, path: string): Promise<boolean> {
  const STEP = 1 << 20;
  for (let base = from; base + RECORD_HEADER_SIZE <= size; base += STEP) {
    const buf = Buffer.allocUnsafe(Math.min(size - base, STEP + RECORD_HEADER_SIZE - 1));
    await readExactly(h, buf, base, path);
    for (let i = 0; i < STEP && i + RECORD_HEADER_SIZE <= buf.length; i++) {
      const t = buf[i + 16];
      if (t < RecordType.UPSERT || t > RecordType.BATCH || buf[i + 17] !== 0 || buf[i + 18] !== 0 || buf[i + 19] !== 0) continue;
      const hdr = readRecordHeader(buf, i);
      if (!plausibleHeader(hdr) || hdr.length > MAX_RECORD_PAYLOAD || hdr.length > size - (base + i) - RECORD_HEADER_SIZE) continue;
      const total = RECORD_HEADER_SIZE + hdr.length;
      let rec = buf;
      let at = i;
      if (i + total > buf.length) {
        rec = Buffer.allocUnsafe(total);
        await readExactly(h, rec, base + i, path);
        at = 0;
      }
      if (crcMatches(rec, at, hdr.length)) return true;
    }
  }
  return false;
}

/**
 * Scans `segment`, visiting its valid records and yielding the number visited every
 * VISITS_PER_YIELD of them (and once at the end when some are pending), then returns what it found.
 * Damage is reported in the result, not thrown, so callers can choose between an error and a repair;
 * a record with a valid CRC but a wrong sequence number or content is always corruption, never a torn
 * tail.
 */
export async function* scanSegment(fs: FileSystem, segment: SegmentFile, opts: ScanOptions): AsyncGenerator<number, SegmentScan, undefined> {
  const path = segment.path;
  let h: FileHandle;
  try {
    h = await fs.open(path, 'r');
  } catch (err) {
    throw ioError(err, 'open write-ahead log segment', path);
  }
  try {
    const size = await h.size();
    const result: SegmentScan = { segment, size, lastSeq: segment.firstSeq - 1, records: 0, validEnd: 0 };
    // `whole`: the bad record's bytes all lie before the end of the file, up to that offset (a short
    // record is a torn write; a whole one only when a sector of it reads as zeros).
    const damaged = async (offset: number, record: number, problem: string, maybeTorn: boolean, checksum = false, whole?: number): Promise<SegmentScan> => {
      let torn = maybeTorn && opts.isLast && !(await validRecordAfter(h, size, offset + 1, path));
      if (torn && whole !== undefined) torn = await hasZeroSector(h, offset, whole, path);
      result.damage = { offset, record, problem, checksum, torn };
      return result;
    };
    if (size < SEGMENT_HEADER_SIZE) return await damaged(0, 0, `the segment header is incomplete (${size} of ${SEGMENT_HEADER_SIZE} bytes)`, true);
    const win = opts.window;
    win.attach(h, size, path);
    // Record k of the window (from its first record) may have had its CRC checked ahead (see crc-ahead.ts).
    let k = 0;
    const slide = async (pos: number, n: number, firstRecord: number): Promise<number> => {
      const at = await win.ensure(pos, n);
      win.crc?.begin(win.buf, at + firstRecord);
      k = 0;
      return at;
    };
    const hAt = await slide(0, SEGMENT_HEADER_SIZE, SEGMENT_HEADER_SIZE);
    const headerBad = segmentHeaderProblem(win.buf.subarray(hAt, hAt + SEGMENT_HEADER_SIZE), segment);
    if (headerBad) return await damaged(0, 0, headerBad.problem, false, headerBad.checksum);
    if (opts.expectFirstSeq !== undefined && segment.firstSeq !== opts.expectFirstSeq) {
      const what = segment.firstSeq > opts.expectFirstSeq ? `records ${opts.expectFirstSeq}..${segment.firstSeq - 1} are missing` : `it overlaps the previous segment, which ends at ${opts.expectFirstSeq - 1}`;
      return await damaged(0, 0, `the segment starts at sequence number ${segment.firstSeq}, but ${what}`, false);
    }
    result.validEnd = SEGMENT_HEADER_SIZE;
    const fromSeq = opts.fromSeq ?? 0;
    const visit = opts.visit;
    let visited = 0;
    let bad: { problem: string; maybeTorn: boolean; checksum?: boolean; whole?: number } | undefined;
    let pos = SEGMENT_HEADER_SIZE;
    const hdr: RecordHeader = { crc: 0, length: 0, seq: 0, type: 0, flags: 0, reserved: 0 };
    while (pos < size) {
      const left = size - pos;
      if (left < RECORD_HEADER_SIZE) {
        bad = { problem: `only ${left} bytes remain, less than a record header`, maybeTorn: true };
        break;
      }
      let at = win.at(pos, RECORD_HEADER_SIZE);
      if (at < 0) at = await slide(pos, RECORD_HEADER_SIZE, 0);
      readRecordHeader(win.buf, at, hdr);
      // A header that cannot be one, with the bytes after it present: torn only if unwritten sectors
      // (zeros) are among the rest of the file, which a torn write would have been writing.
      if (!plausibleHeader(hdr)) {
        bad = { problem: 'the record header is invalid', maybeTorn: true, whole: size };
        break;
      }
      if (hdr.length > MAX_RECORD_PAYLOAD) {
        bad = { problem: `the record length ${hdr.length} exceeds the ${MAX_RECORD_PAYLOAD}-byte limit`, maybeTorn: true, whole: size };
        break;
      }
      if (hdr.length > left - RECORD_HEADER_SIZE) {
        bad = { problem: `the record length ${hdr.length} exceeds the ${left - RECORD_HEADER_SIZE} bytes present`, maybeTorn: true };
        break;
      }
      at = win.at(pos, RECORD_HEADER_SIZE + hdr.length);
      if (at < 0) at = await slide(pos, RECORD_HEADER_SIZE + hdr.length, 0);
      const checked = win.crc?.good(k) === true;
      k++;
      if (!checked && !crcMatches(win.buf, at, hdr.length)) {
        bad = { problem: 'the record CRC32 checksum does not match its bytes', maybeTorn: true, checksum: true, whole: pos + RECORD_HEADER_SIZE + hdr.length };
        break;
      }
      const expected = result.lastSeq + 1;
      if (hdr.seq !== expected) {
        bad = { problem: `the record has sequence number ${hdr.seq} where ${expected} was expected`, maybeTorn: false };
        break;
      }
      if (visit && hdr.seq >= fromSeq) {
        const problem = visit(hdr.seq, win.buf, at, hdr);
        if (problem !== undefined) {
          bad = { problem, maybeTorn: false };
          break;
        }
        if (++visited >= VISITS_PER_YIELD) {
          yield visited;
          visited = 0;
        }
      }
      result.records++;
      result.lastSeq = hdr.seq;
      pos += RECORD_HEADER_SIZE + hdr.length;
      result.validEnd = pos;
    }
    // Records before the damage are valid: let them be handed out before reporting it.
    if (visited > 0) yield visited;
    if (bad) return await damaged(pos, result.records + 1, bad.problem, bad.maybeTorn, bad.checksum, bad.whole);
    return result;
  } finally {
    await opts.window.detach();
    await h.close().catch(() => undefined);
  }
}

/** The durable store's way to cut a damaged log (see ReadWalOptions.repairHint). */
export const STORE_REPAIR_HINT = 'open with repair: true to truncate the log there (later records are dropped)';

/** The CorruptionError for damage found by a scan (file, offset, "record N"), with how to repair it. */
export function damageError(scan: SegmentScan, repairHint = STORE_REPAIR_HINT): CorruptionError {
  const d = scan.damage;
  if (!d) throw new Error('internal: no damage to report');
  const section = d.record === 0 ? 'segment header' : `record ${d.record}`;
  const hint = d.torn ? '' : `; ${repairHint}`;
  return new CorruptionError({ file: scan.segment.path, section, offset: d.offset }, `${d.problem}${hint}`, d.checksum ? 'CHECKSUM_MISMATCH' : 'CORRUPT');
}
