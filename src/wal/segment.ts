/**
 * Segment files: the 32-byte header that makes a renamed or foreign file detectable, and the listing
 * of a log directory's segments in sequence order.
 */
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { QuiverError, ioError } from '../errors.js';
import type { FileSystem } from '../env/fs.js';
import { MAX_SEQ, SEGMENT_HEADER_CRC_OFFSET, SEGMENT_HEADER_SIZE, WAL_MAGIC, WAL_VERSION, parseSegmentName } from './constants.js';

/** A segment file found in a log directory. */
export interface SegmentFile {
  name: string;
  path: string;
  /** The first sequence number, from the file name (the header must agree). */
  firstSeq: number;
}

/** The header of a new segment whose first record will have sequence number `firstSeq`. */
export function encodeSegmentHeader(firstSeq: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_SIZE);
  b.set(WAL_MAGIC, 0);
  b.writeUInt16LE(WAL_VERSION, 8);
  b.writeUInt32LE(firstSeq % 0x1_0000_0000, 16);
  b.writeUInt32LE(Math.floor(firstSeq / 0x1_0000_0000), 20);
  b.writeUInt32LE(crc32(b.subarray(0, SEGMENT_HEADER_CRC_OFFSET)), SEGMENT_HEADER_CRC_OFFSET);
  return b;
}

/** What is wrong with a segment header; `checksum` when its CRC does not match. */
export interface HeaderProblem {
  problem: string;
  checksum: boolean;
}

/**
 * Checks a complete segment header against the file's name: returns what is wrong with it, or undefined
 * when it is valid. A valid header of another format version throws UNSUPPORTED_VERSION instead, since
 * that is no damage and no repair applies.
 */
export function segmentHeaderProblem(b: Buffer, seg: SegmentFile): HeaderProblem | undefined {
  const bad = (problem: string, checksum = false): HeaderProblem => ({ problem, checksum });
  if (!b.subarray(0, WAL_MAGIC.length).equals(WAL_MAGIC)) return bad('the magic bytes are wrong: this is not a QuiverDB write-ahead log segment');
  if (crc32(b.subarray(0, SEGMENT_HEADER_CRC_OFFSET)) !== b.readUInt32LE(SEGMENT_HEADER_CRC_OFFSET)) return bad('the header CRC32 does not match', true);
  const version = b.readUInt16LE(8);
  if (version !== WAL_VERSION) {
    throw new QuiverError('UNSUPPORTED_VERSION', `${seg.path} is a write-ahead log segment of format version ${version}; this QuiverDB reads version ${WAL_VERSION}. Upgrade QuiverDB to open it.`, { file: seg.path, version });
  }
  const firstSeq = b.readUInt32LE(20) * 0x1_0000_0000 + b.readUInt32LE(16);
  if (b.readUInt16LE(10) !== 0 || b.readUInt32LE(12) !== 0 || b.readUInt32LE(24) !== 0 || firstSeq > MAX_SEQ) return bad('reserved header fields are not zero');
  if (firstSeq !== seg.firstSeq) return bad(`the header's first sequence number ${firstSeq} does not match the file name (${seg.firstSeq}); the file was renamed or copied from another log`);
  return undefined;
}

/** The segments of the log in `dir`, oldest first. A missing directory is an empty log. */
export async function listSegments(fs: FileSystem, dir: string): Promise<SegmentFile[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return [];
    throw ioError(err, 'list write-ahead log directory', dir);
  }
  const out: SegmentFile[] = [];
  for (const name of names) {
    const firstSeq = parseSegmentName(name);
    if (firstSeq !== undefined) out.push({ name, path: join(dir, name), firstSeq });
  }
  out.sort((a, b) => a.firstSeq - b.firstSeq);
  return out;
}
