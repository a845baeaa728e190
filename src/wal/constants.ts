/**
 * Constants of the write-ahead log format (docs/FORMAT.md, "Write-ahead log", version 1). The names
 * here are the names used in the document; changing any value is a new format version.
 */

/** Segment magic: `\x89 Q W L \r \n ^Z \n` (PNG-style: catches 7-bit and line-ending damage). */
export const WAL_MAGIC = Uint8Array.of(0x89, 0x51, 0x57, 0x4c, 0x0d, 0x0a, 0x1a, 0x0a);

/** The segment format version this code writes and reads. */
export const WAL_VERSION = 1;

/** Size of the segment header; records start right after it. */
export const SEGMENT_HEADER_SIZE = 32;

/** Offset of the header CRC32, which covers bytes 0 .. SEGMENT_HEADER_CRC_OFFSET - 1. */
export const SEGMENT_HEADER_CRC_OFFSET = 28;

/** Size of a record header: CRC32, payload length, sequence number, type, flags, reserved. */
export const RECORD_HEADER_SIZE = 20;

/** The record CRC covers every byte of the record after this offset (length, seq, type, ..., payload). */
export const RECORD_CRC_COVERS_FROM = 4;

/**
 * Largest payload a record may carry. A length field above it is damage, never an allocation: readers
 * also bound every length by the bytes actually present in the file.
 */
export const MAX_RECORD_PAYLOAD = 256 * 1024 * 1024;

/** Record type codes (u8). 0 and codes above BATCH are invalid in version 1. */
export const RecordType = {
  UPSERT: 1,
  DELETE: 2,
  UPDATE_METADATA: 3,
  CLEAR: 4,
  BATCH: 5,
} as const;

/** Id tags (u8) inside payloads. */
export const IdTag = {
  STRING: 1,
  NUMBER: 2,
} as const;

/** Largest sequence number: sequence numbers are u64 on disk but never exceed 2^53 - 1. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** Default segment rotation threshold. */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

const SEGMENT_NAME = /^wal-(\d{16})\.log$/;

/** The file name of the segment whose first record has sequence number `firstSeq`. */
export function segmentName(firstSeq: number): string {
  return `wal-${String(firstSeq).padStart(16, '0')}.log`;
}

/** The first sequence number encoded in a segment file name, or undefined for any other name. */
export function parseSegmentName(name: string): number | undefined {
  const m = SEGMENT_NAME.exec(name);
  if (!m) return undefined;
  const seq = Number(m[1]);
  return seq >= 1 && seq <= MAX_SEQ ? seq : undefined;
}
