/**
 * Checking the CRC-32 of length-prefixed records ahead of the thread that decodes them. The helper
 * thread walks a window of records in shared memory and publishes how many, from the window's first
 * record, matched their CRC; the reader then skips computing those. Nothing here decides that a record
 * is bad: the walk stops at anything it cannot vouch for, and the reader checks the rest itself.
 */
import { crc32 } from 'node:zlib';

/** Where a record's length and CRC sit (offsets from its first byte), and what the CRC covers. */
export interface RecordFraming {
  /** Header bytes before the payload. */
  headerSize: number;
  /** Offset of the little-endian u32 payload length. */
  lengthAt: number;
  /** Offset of the little-endian u32 CRC-32. */
  crcAt: number;
  /** The CRC covers [coversFrom, headerSize + length) of the record. */
  coversFrom: number;
}

/** Value of a window's progress word once the reader stopped trusting it (its bytes are about to change). */
export const WITHDRAWN = -1;

/** Records matched between two publications of progress (fewer cache-line hand-overs between the cores). */
const PUBLISH_EVERY = 8;

function u32le(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 0x100_0000;
}

/**
 * True when the CRC stored in the record at `pos` of `bytes`, whose payload is `length` bytes (the
 * caller has checked they are present), matches the bytes it covers: the one record check of the log
 * reader and of the helper thread's walk.
 */
export function recordCrcMatches(bytes: Uint8Array, pos: number, length: number, f: RecordFraming): boolean {
  // A plain Uint8Array view is cheaper to make than a Buffer one, and this runs for every record.
  const covered = new Uint8Array(bytes.buffer, bytes.byteOffset + pos + f.coversFrom, f.headerSize - f.coversFrom + length);
  return crc32(covered) === u32le(bytes, pos + f.crcAt);
}

/**
 * Walks the records of `bytes[from, end)` in order and, for each whose CRC matches, counts it into
 * `progress[word]`, the number of records from `from` known good. Stops at the first record that does
 * not fit before `end` or does not match, or once the word is WITHDRAWN. Every publication is a
 * compare-exchange from the count it published itself, so a word withdrawn meanwhile (the bytes may
 * have changed under this walk) is never written again.
 */
export function verifyRecordCrcs(bytes: Uint8Array, from: number, end: number, f: RecordFraming, progress: Int32Array, word: number): void {
  // Requests queue behind other work (a prefault): windows the reader has left are skipped at once.
  if (Atomics.load(progress, word) === WITHDRAWN) return;
  let published = 0;
  let good = 0;
  let pos = from;
  const publish = (): boolean => {
    if (good === published) return true;
    if (Atomics.compareExchange(progress, word, published, good) !== published) return false;
    published = good;
    return true;
  };
  while (end - pos >= f.headerSize) {
    if (good - published >= PUBLISH_EVERY && !publish()) return;
    const length = u32le(bytes, pos + f.lengthAt);
    if (length > end - pos - f.headerSize || !recordCrcMatches(bytes, pos, length, f)) break;
    good++;
    pos += f.headerSize + length;
  }
  publish();
}
