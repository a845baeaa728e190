/**
 * Extra checks for files that say they are QuiverDB files (the CRC-protected footer holds
 * `quiverdb.format`). Page CRCs cover page bodies but not page headers, so every header field the
 * decoders rely on is cross-checked against the layout QuiverDB writes (uncompressed PLAIN
 * DATA_PAGE_V2 pages with a CRC) and against the body: a damaged header is a CorruptionError, never
 * differently decoded data.
 */
import type { PageHeader } from 'hyparquet';

type DataPageHeaderV2 = NonNullable<PageHeader['data_page_header_v2']>;
import { CorruptionError } from '../../errors.js';
import type { ChunkRef } from './layout.js';
import { forEachLevelRun, LevelProblem } from './levels.js';
import type { RawPage } from './page-reader.js';

/** Checks the header of one of our pages and returns its v2 data page header. */
export function ownPageHeader(page: RawPage, ref: ChunkRef, file: string): DataPageHeaderV2 {
  const { header } = page;
  const h = header.data_page_header_v2;
  const bad = (problem: string): never => {
    throw new CorruptionError({ file, section: ref.section, offset: page.offset }, `${problem} (QuiverDB writes only uncompressed PLAIN DATA_PAGE_V2 pages with a CRC; the page header is damaged)`);
  };
  if (header.type !== 'DATA_PAGE_V2' || !h) return bad(`a page has type ${String(header.type)}`);
  if (typeof header.crc !== 'number') return bad('a page has no CRC');
  if (ref.meta.codec !== 'UNCOMPRESSED' || h.is_compressed !== false || header.uncompressed_page_size !== header.compressed_page_size) return bad('a page is marked compressed');
  if (h.encoding !== 'PLAIN') return bad(`a page is in ${String(h.encoding)} encoding`);
  if (!(Number.isSafeInteger(h.num_rows) && Number.isSafeInteger(h.num_nulls) && h.num_nulls >= 0)) return bad('a page has impossible row or null counts');
  return h;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Checks one page of a flat column of ours against its body and decodes it into `out[at..]`: no
 * repetition levels, definition levels that consume exactly their bytes and count exactly `num_nulls`
 * nulls, one row per value, and values that fill the rest of the page exactly. BYTE_ARRAY values become
 * strings (strict UTF-8), INT64 values bigints, nulls null.
 */
export function decodeOwnFlatPage(page: RawPage, h: DataPageHeaderV2, optional: boolean, type: string, ref: ChunkRef, file: string, out: unknown[], at: number): void {
  const bad = (problem: string): never => {
    throw new CorruptionError({ file, section: ref.section, offset: page.offset }, problem);
  };
  const rl = h.repetition_levels_byte_length;
  const dl = h.definition_levels_byte_length;
  const n = h.num_values;
  if (rl !== 0 || h.num_rows !== n || at + n > out.length) bad('a page header has impossible row counts');
  // present[i] = 1 when row i has a value; all ones for a required column.
  const present = new Uint8Array(n).fill(1);
  let nulls = 0;
  if (optional) {
    if (!(Number.isSafeInteger(dl) && dl >= 0 && dl <= page.body.length)) bad('a page header has an impossible level size');
    let i = 0;
    try {
      const used = forEachLevelRun(page.body.subarray(0, dl), 1, n, (v, c) => {
        if (v === 0) {
          present.fill(0, i, i + c);
          nulls += c;
        } else if (v !== 1) throw new LevelProblem(`definition level ${v} is not allowed here`);
        i += c;
      });
      if (used !== dl) bad('the definition levels do not fill their bytes');
    } catch (err) {
      if (err instanceof LevelProblem) bad(err.message);
      throw err;
    }
  } else if (dl !== 0) {
    bad('a required column has definition levels');
  }
  if (nulls !== h.num_nulls) bad(`the page header says ${h.num_nulls} nulls but the levels hold ${nulls}`);
  const values = page.body.subarray(dl);
  const view = new DataView(values.buffer, values.byteOffset, values.byteLength);
  if (type === 'INT64') {
    if (values.length !== (n - nulls) * 8) bad(`${n - nulls} INT64 values need ${(n - nulls) * 8} bytes, the page has ${values.length}`);
    for (let i = 0, pos = 0; i < n; i++) {
      if (!present[i]) out[at + i] = null;
      else {
        out[at + i] = view.getBigInt64(pos, true);
        pos += 8;
      }
    }
    return;
  }
  const buf = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    if (!present[i]) {
      out[at + i] = null;
      continue;
    }
    if (pos + 4 > values.length) bad('the page ends inside its values');
    const len = view.getUint32(pos, true);
    if (pos + 4 + len > values.length) bad('a value runs past the end of the page');
    // The lossy decoder is the fast one; it marks every invalid sequence with U+FFFD, so only text
    // holding that character needs the strict decoder to tell real U+FFFD from damage.
    const text = buf.toString('utf8', pos + 4, pos + 4 + len);
    if (text.includes('\uFFFD')) {
      try {
        utf8.decode(values.subarray(pos + 4, pos + 4 + len));
      } catch {
        bad(`the value of row ${i} of the page is not valid UTF-8`);
      }
    }
    out[at + i] = text;
    pos += 4 + len;
  }
  if (pos !== values.length) bad('the values do not fill the page exactly');
}
