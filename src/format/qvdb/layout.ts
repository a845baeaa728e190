/**
 * The fixed-layout parts of a .qvdb file: header, directory and footer. Pure functions over bytes;
 * every decoder validates what it reads against the file size before anything trusts it.
 */
import { crc32 } from 'node:zlib';
import { CorruptionError, QuiverError } from '../../errors.js';
import {
  Codec, DIRECTORY_ENTRY_SIZE, DIRECTORY_HEADER_SIZE, FileKind, FOOTER_CRC_OFFSET, FOOTER_MAGIC_OFFSET, FOOTER_SIZE,
  FORMAT_VERSION, HEADER_CRC_OFFSET, HEADER_SIZE, MAGIC, MAX_DIRECTORY_ENTRIES, MAX_PADDING, SectionType,
  type FileKindCode,
} from './constants.js';

/** The decoded header. */
export interface QvdbHeader {
  version: number;
  flags: number;
  kind: FileKindCode;
}

/** The decoded footer: where the directory is and its SHA-256. */
export interface QvdbFooter {
  directoryOffset: number;
  directoryLength: number;
  directorySha256: Uint8Array;
}

/** One directory entry: where a section is, how it is coded, and the SHA-256 of its stored bytes. */
export interface DirectoryEntry {
  type: number;
  codec: number;
  level: number;
  offset: number;
  storedLength: number;
  rawLength: number;
  sha256: Uint8Array;
}

/** A run of padding bytes between sections (must be zero). */
export interface PaddingGap {
  offset: number;
  length: number;
  before: string;
}

const SECTION_NAMES: Record<number, string> = {
  [SectionType.MANIFEST]: 'manifest',
  [SectionType.IDS]: 'ids',
  [SectionType.VECTORS]: 'vectors',
  [SectionType.METADATA]: 'metadata',
  [SectionType.DELETED]: 'deleted',
  [SectionType.INDEX]: 'index',
};

/** The name a section type goes by in error messages and docs. */
export function sectionName(type: number): string {
  return SECTION_NAMES[type] ?? `section type ${type}`;
}

/** True when `bytes` starts with the full magic. */
export function hasMagic(bytes: Uint8Array, at = 0): boolean {
  if (bytes.length < at + MAGIC.length) return false;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[at + i] !== MAGIC[i]) return false;
  return true;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readU64(dv: DataView, at: number, file: string, section: string, fileOffset: number): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptionError({ file, section, offset: fileOffset + at }, `a 64-bit field holds ${v}, beyond any file size`);
  return Number(v);
}

/** Encodes the 32-byte header of a file of `kind`. */
export function encodeHeader(kind: FileKindCode): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE);
  out.set(MAGIC, 0);
  const dv = view(out);
  dv.setUint16(8, FORMAT_VERSION, true);
  dv.setUint16(10, 0, true);
  dv.setUint8(12, kind);
  dv.setUint32(HEADER_CRC_OFFSET, crc32(out.subarray(0, HEADER_CRC_OFFSET)), true);
  return out;
}

/**
 * Decodes a header whose magic was already checked. A CRC mismatch is corruption; a valid header of
 * another version, with unknown flags or an unknown kind, was written by a newer QuiverDB.
 */
export function decodeHeader(bytes: Uint8Array, file: string): QvdbHeader {
  const dv = view(bytes);
  const stored = dv.getUint32(HEADER_CRC_OFFSET, true);
  const actual = crc32(bytes.subarray(0, HEADER_CRC_OFFSET));
  if (stored !== actual) throw new CorruptionError({ file, section: 'header', offset: HEADER_CRC_OFFSET }, `header checksum mismatch (CRC32 stored ${hex32(stored)}, computed ${hex32(actual)})`, 'CHECKSUM_MISMATCH');
  const version = dv.getUint16(8, true);
  const flags = dv.getUint16(10, true);
  const kind = dv.getUint8(12);
  const newer = 'it was written by a newer QuiverDB; upgrade QuiverDB to read it';
  if (version !== FORMAT_VERSION) throw new QuiverError('UNSUPPORTED_VERSION', `${file} is .qvdb format version ${version}; this QuiverDB reads version ${FORMAT_VERSION} only: ${newer}`, { file, version });
  if (flags !== 0) throw new QuiverError('UNSUPPORTED_VERSION', `${file} uses header flags 0x${flags.toString(16)} unknown to this QuiverDB: ${newer}`, { file, flags });
  if (kind !== FileKind.FULL && kind !== FileKind.DELTA) throw new QuiverError('UNSUPPORTED_VERSION', `${file} has file kind ${kind}, unknown to this QuiverDB: ${newer}`, { file, kind });
  return { version, flags, kind };
}

/** Encodes the 64-byte footer. */
export function encodeFooter(directoryOffset: number, directoryLength: number, directorySha256: Uint8Array): Uint8Array {
  const out = new Uint8Array(FOOTER_SIZE);
  const dv = view(out);
  dv.setBigUint64(0, BigInt(directoryOffset), true);
  dv.setUint32(8, directoryLength, true);
  out.set(directorySha256, 16);
  dv.setUint32(FOOTER_CRC_OFFSET, crc32(out.subarray(0, FOOTER_CRC_OFFSET)), true);
  out.set(MAGIC, FOOTER_MAGIC_OFFSET);
  return out;
}

/** Decodes the footer (the last FOOTER_SIZE bytes of a file of `fileSize` bytes) and bounds the directory by the file. */
export function decodeFooter(bytes: Uint8Array, file: string, fileSize: number): QvdbFooter {
  const base = fileSize - FOOTER_SIZE;
  if (!hasMagic(bytes, FOOTER_MAGIC_OFFSET)) throw new CorruptionError({ file, section: 'footer', offset: base + FOOTER_MAGIC_OFFSET }, 'the trailing magic is missing (the file is truncated or was not completely written)');
  const dv = view(bytes);
  const stored = dv.getUint32(FOOTER_CRC_OFFSET, true);
  const actual = crc32(bytes.subarray(0, FOOTER_CRC_OFFSET));
  if (stored !== actual) throw new CorruptionError({ file, section: 'footer', offset: base + FOOTER_CRC_OFFSET }, `footer checksum mismatch (CRC32 stored ${hex32(stored)}, computed ${hex32(actual)})`, 'CHECKSUM_MISMATCH');
  const directoryOffset = readU64(dv, 0, file, 'footer', base);
  const directoryLength = dv.getUint32(8, true);
  if (directoryOffset < HEADER_SIZE || directoryOffset + directoryLength !== base) {
    throw new CorruptionError({ file, section: 'footer', offset: base }, `the directory (offset ${directoryOffset}, ${directoryLength} bytes) does not end where the footer starts (byte ${base}); the file was truncated or extended`);
  }
  return { directoryOffset, directoryLength, directorySha256: bytes.slice(16, 48) };
}

/** Encodes the directory of `entries`. */
export function encodeDirectory(entries: readonly DirectoryEntry[]): Uint8Array {
  const out = new Uint8Array(DIRECTORY_HEADER_SIZE + entries.length * DIRECTORY_ENTRY_SIZE);
  const dv = view(out);
  dv.setUint32(0, entries.length, true);
  dv.setUint16(4, DIRECTORY_ENTRY_SIZE, true);
  entries.forEach((e, i) => {
    const at = DIRECTORY_HEADER_SIZE + i * DIRECTORY_ENTRY_SIZE;
    dv.setUint8(at, e.type);
    dv.setUint8(at + 1, e.codec);
    dv.setUint8(at + 2, e.level);
    dv.setBigUint64(at + 8, BigInt(e.offset), true);
    dv.setBigUint64(at + 16, BigInt(e.storedLength), true);
    dv.setBigUint64(at + 24, BigInt(e.rawLength), true);
    out.set(e.sha256, at + 32);
  });
  return out;
}

/**
 * Decodes and validates a directory read from `directoryOffset`: every section lies between the header
 * and the directory, sections do not overlap, gaps are shorter than MAX_PADDING, known section types
 * appear once, codec NONE means raw length = stored length. Returns the entries and the padding gaps.
 */
export function decodeDirectory(bytes: Uint8Array, file: string, directoryOffset: number): { entries: DirectoryEntry[]; gaps: PaddingGap[] } {
  const fail = (problem: string, at = 0): never => {
    throw new CorruptionError({ file, section: 'directory', offset: directoryOffset + at }, problem);
  };
  if (bytes.length < DIRECTORY_HEADER_SIZE) fail(`it is ${bytes.length} bytes, shorter than its ${DIRECTORY_HEADER_SIZE}-byte preamble`);
  const dv = view(bytes);
  const count = dv.getUint32(0, true);
  const entrySize = dv.getUint16(4, true);
  if (count > MAX_DIRECTORY_ENTRIES) fail(`it declares ${count} sections (at most ${MAX_DIRECTORY_ENTRIES})`);
  if (entrySize < DIRECTORY_ENTRY_SIZE) fail(`its entry size ${entrySize} is below ${DIRECTORY_ENTRY_SIZE}`, 4);
  if (bytes.length !== DIRECTORY_HEADER_SIZE + count * entrySize) fail(`its length ${bytes.length} does not match ${count} entries of ${entrySize} bytes`);
  const entries: DirectoryEntry[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < count; i++) {
    const at = DIRECTORY_HEADER_SIZE + i * entrySize;
    const e: DirectoryEntry = {
      type: dv.getUint8(at),
      codec: dv.getUint8(at + 1),
      level: dv.getUint8(at + 2),
      offset: readU64(dv, at + 8, file, 'directory', directoryOffset),
      storedLength: readU64(dv, at + 16, file, 'directory', directoryOffset),
      rawLength: readU64(dv, at + 24, file, 'directory', directoryOffset),
      sha256: bytes.slice(at + 32, at + 64),
    };
    const name = sectionName(e.type);
    if (e.type === 0) fail(`entry ${i} has section type 0`, at);
    if (seen.has(e.type)) fail(`section "${name}" appears twice`, at);
    seen.add(e.type);
    if (e.codec !== Codec.NONE && e.codec !== Codec.GZIP && e.codec !== Codec.BROTLI) {
      throw new QuiverError('UNSUPPORTED_VERSION', `${file}: section "${name}" uses codec ${e.codec}, unknown to this QuiverDB; it was written by a newer version, upgrade QuiverDB to read it`, { file, codec: e.codec });
    }
    if (e.offset < HEADER_SIZE || e.offset + e.storedLength > directoryOffset) fail(`section "${name}" (offset ${e.offset}, ${e.storedLength} bytes) lies outside the data area ${HEADER_SIZE}..${directoryOffset}`, at);
    if (e.codec === Codec.NONE && e.rawLength !== e.storedLength) fail(`section "${name}" is uncompressed but declares raw length ${e.rawLength} != stored length ${e.storedLength}`, at);
    entries.push(e);
  }
  return { entries, gaps: paddingGaps(entries, file, directoryOffset) };
}

function paddingGaps(entries: readonly DirectoryEntry[], file: string, directoryOffset: number): PaddingGap[] {
  const sorted = [...entries].sort((a, b) => a.offset - b.offset);
  const gaps: PaddingGap[] = [];
  let end = HEADER_SIZE;
  const step = (start: number, before: string): void => {
    if (start < end) throw new CorruptionError({ file, section: 'directory', offset: directoryOffset }, `section "${before}" starts at ${start}, inside the previous section (which ends at ${end})`);
    if (start - end >= MAX_PADDING) throw new CorruptionError({ file, section: 'directory', offset: directoryOffset }, `${start - end} unaccounted bytes precede section "${before}" (padding is under ${MAX_PADDING})`);
    if (start > end) gaps.push({ offset: end, length: start - end, before });
  };
  for (const e of sorted) {
    step(e.offset, sectionName(e.type));
    end = e.offset + e.storedLength;
  }
  step(directoryOffset, 'directory');
  return gaps;
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}
