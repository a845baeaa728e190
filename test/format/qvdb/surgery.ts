/**
 * Test helper: take .qvdb bytes apart into sections and put (possibly altered) sections back together
 * with fresh hashes, directory and footer, to craft files a writer would never produce.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Codec, FOOTER_SIZE, HEADER_CRC_OFFSET, SectionType, VECTORS_ALIGNMENT, type FileKindCode } from '../../../src/format/qvdb/constants.js';
import { decodeDirectory, decodeFooter, encodeDirectory, encodeFooter, encodeHeader, type DirectoryEntry } from '../../../src/format/qvdb/layout.js';

/** A section as stored. */
export interface RawSection {
  type: number;
  codec: number;
  level: number;
  stored: Uint8Array;
  rawLength: number;
}

/** Splits a valid file into its kind and sections (directory order). */
export function parseFile(bytes: Uint8Array): { kind: FileKindCode; sections: RawSection[] } {
  const footer = decodeFooter(bytes.subarray(bytes.length - FOOTER_SIZE), 'test', bytes.length);
  const dir = bytes.subarray(footer.directoryOffset, footer.directoryOffset + footer.directoryLength);
  const { entries } = decodeDirectory(dir, 'test', footer.directoryOffset);
  return {
    kind: bytes[12] as FileKindCode,
    sections: entries.map((e) => ({ type: e.type, codec: e.codec, level: e.level, stored: bytes.slice(e.offset, e.offset + e.storedLength), rawLength: e.rawLength })),
  };
}

/** Lays sections out as a writer would (VECTORS/NONE aligned), with correct hashes and checksums. */
export function assembleFile(kind: FileKindCode, sections: RawSection[]): Uint8Array {
  const parts: Uint8Array[] = [encodeHeader(kind)];
  let pos = parts[0].length;
  const entries: DirectoryEntry[] = [];
  for (const s of sections) {
    if (s.type === SectionType.VECTORS && s.codec === Codec.NONE && pos % VECTORS_ALIGNMENT !== 0) {
      const pad = VECTORS_ALIGNMENT - (pos % VECTORS_ALIGNMENT);
      parts.push(new Uint8Array(pad));
      pos += pad;
    }
    entries.push({ type: s.type, codec: s.codec, level: s.level, offset: pos, storedLength: s.stored.length, rawLength: s.rawLength, sha256: createHash('sha256').update(s.stored).digest() });
    parts.push(s.stored);
    pos += s.stored.length;
  }
  const dir = encodeDirectory(entries);
  parts.push(dir, encodeFooter(pos, dir.length, createHash('sha256').update(dir).digest()));
  return Buffer.concat(parts);
}

/** Sets header field bytes (e.g. the version at 8) and recomputes the header CRC so only the field differs. */
export function patchHeader(bytes: Uint8Array, at: number, values: number[]): Uint8Array {
  const out = Uint8Array.from(bytes);
  values.forEach((v, i) => (out[at + i] = v));
  new DataView(out.buffer).setUint32(HEADER_CRC_OFFSET, crc32(out.subarray(0, HEADER_CRC_OFFSET)), true);
  return out;
}
