/**
 * The footer checksum: Parquet protects pages with CRCs but not the footer, so QuiverDB stores the CRC32
 * of the serialized FileMetaData in the footer itself, under `quiverdb.footerCrc32`, as 8 hex digits.
 * The CRC is computed with those 8 digits set to "00000000" and then written over them; a reader finds
 * the entry in the raw bytes (key, then thrift field 2 of binary type and length 8), zeroes it again and
 * recomputes.
 */
import { crc32 } from 'node:zlib';
import { CorruptionError } from '../../errors.js';
import { KV } from './constants.js';

/** The value written before sealing. */
export const FOOTER_CRC_PLACEHOLDER = '00000000';

// Thrift compact: field 2 (delta 1) of type BINARY (8) is the byte 0x18; then the varint length 8.
const MARKER = new Uint8Array([...Buffer.from(KV.footerCrc, 'utf8'), 0x18, 0x08]);

/** Offset of the 8 digits in the serialized metadata, -1 when absent, -2 when present more than once. */
function locate(meta: Uint8Array): number {
  const buf = Buffer.from(meta.buffer, meta.byteOffset, meta.byteLength);
  const first = buf.indexOf(MARKER);
  if (first < 0) return -1;
  if (buf.indexOf(MARKER, first + 1) >= 0) return -2;
  const at = first + MARKER.length;
  return at + 8 <= meta.length ? at : -1;
}

function crcWithZeros(meta: Uint8Array, at: number): string {
  const zeros = Buffer.from(FOOTER_CRC_PLACEHOLDER, 'latin1');
  let c = crc32(meta.subarray(0, at));
  c = crc32(zeros, c);
  c = crc32(meta.subarray(at + 8), c);
  return (c >>> 0).toString(16).padStart(8, '0');
}

/** Writes the CRC into serialized metadata that holds the placeholder entry (exactly once). */
export function sealFooter(meta: Uint8Array): void {
  const at = locate(meta);
  if (at < 0) throw new Error('the footer has no single quiverdb.footerCrc32 entry to seal');
  meta.set(Buffer.from(crcWithZeros(meta, at), 'latin1'), at);
}

/**
 * Checks the footer CRC in the raw serialized metadata, before it is parsed (so damage to the thrift
 * structure itself is caught too). Returns false when the bytes hold no CRC entry (a foreign file, or
 * damage to the entry itself: the caller then checks whether the file otherwise looks like ours).
 */
export function verifyFooter(meta: Uint8Array, file: string, offset: number): boolean {
  const at = locate(meta);
  const where = { file, section: 'footer', offset };
  if (at === -1) return false;
  if (at === -2) throw new CorruptionError(where, `the "${KV.footerCrc}" entry appears more than once`);
  const stored = Buffer.from(meta.buffer, meta.byteOffset + at, 8).toString('latin1');
  const expected = crcWithZeros(meta, at);
  if (stored !== expected) throw new CorruptionError(where, `the footer CRC32 is ${expected} but the file records ${JSON.stringify(stored)}`, 'CHECKSUM_MISMATCH');
  return true;
}
