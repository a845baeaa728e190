/**
 * Walks the pages of one column chunk: thrift page headers (parsed by hyparquet), bounds checks against
 * the chunk, the optional page CRC32, and the split of a data page into repetition levels, definition
 * levels and (decompressed) values. Shared by the vector fast path and the checks run on the other
 * columns before hyparquet decodes them.
 */
import { crc32 } from 'node:zlib';
import type { CompressionCodec, PageHeader } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { CorruptionError } from '../../errors.js';
import type { ChunkWindow } from './file-source.js';
import type { ChunkRef } from './layout.js';
import type { Inflater } from './codecs.js';
import { decodeOwnFlatPage, ownPageHeader } from './strict.js';
import { checkThriftStruct } from './thrift-bounds.js';

/** One page as stored: its header, its body (as stored, maybe compressed) and the file offset of the header. */
export interface RawPage {
  header: PageHeader;
  body: Uint8Array;
  offset: number;
}

/** Options of a page walk. */
export interface WalkOptions {
  file: string;
  /** Check page CRCs where the writer recorded them. */
  verifyCrc: boolean;
  /** The file says it is a QuiverDB file: hold every page to that layout (strict.ts). */
  strict: boolean;
}

const HEADER_PEEK = 64 << 10;

function isSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The pages of `ref`, in order, each checked to lie inside the chunk (and its CRC, when asked). */
export async function* pagesOf(win: ChunkWindow, ref: ChunkRef, opts: WalkOptions): AsyncGenerator<RawPage> {
  let pos = ref.start;
  while (pos < ref.end) {
    const at = { file: opts.file, section: ref.section, offset: pos };
    let header: PageHeader | undefined;
    let headerLen = 0;
    for (const want of [HEADER_PEEK, ref.end - pos]) {
      const bytes = await win.peek(pos, want);
      const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
      try {
        // Declared lengths are checked against the bytes first: the parser sizes lists from them.
        checkThriftStruct(bytes);
        header = parquetHeader(reader);
        headerLen = reader.offset;
        break;
      } catch (err) {
        if (bytes.length >= ref.end - pos) throw new CorruptionError(at, `a page header cannot be parsed (${(err as Error).message})`, 'CORRUPT', { cause: err });
      }
    }
    if (!header || headerLen > ref.end - pos) throw new CorruptionError(at, 'a page header runs past the end of the column chunk');
    const size = header.compressed_page_size;
    if (!isSize(size) || !isSize(header.uncompressed_page_size) || pos + headerLen + size > ref.end) {
      throw new CorruptionError(at, `a page of ${String(size)} bytes does not fit in the column chunk`);
    }
    const body = await win.get(pos + headerLen, size);
    if (opts.verifyCrc && typeof header.crc === 'number' && (crc32(body) | 0) !== header.crc) {
      throw new CorruptionError(at, 'the page CRC32 checksum does not match its bytes', 'CHECKSUM_MISMATCH');
    }
    yield { header, body, offset: pos };
    pos += headerLen + size;
  }
}

/** A data page split into its parts. `values` is decompressed; the levels are the RLE/bit-packed bytes. */
export interface DataPageParts {
  numValues: number;
  encoding: string;
  /** False when a v1 page stores its levels in the deprecated BIT_PACKED encoding. */
  rleLevels: boolean;
  rep: Uint8Array;
  def: Uint8Array;
  values: Uint8Array;
}

/**
 * Splits a DATA_PAGE or DATA_PAGE_V2 of a column with the given maximum levels. Returns undefined for
 * other page types.
 */
export function splitDataPage(page: RawPage, codec: CompressionCodec, maxRep: number, maxDef: number, inflater: Inflater, ref: ChunkRef, file: string): DataPageParts | undefined {
  const { header } = page;
  const at = { file, section: ref.section, offset: page.offset };
  const bad = (problem: string): never => {
    throw new CorruptionError(at, problem);
  };
  if (header.type === 'DATA_PAGE_V2') {
    const h = header.data_page_header_v2;
    if (!h) return bad('a DATA_PAGE_V2 has no data page header');
    const rl = h.repetition_levels_byte_length;
    const dl = h.definition_levels_byte_length;
    if (!isSize(h.num_values) || !isSize(rl) || !isSize(dl) || rl + dl > page.body.length) return bad('a page header has impossible level sizes');
    let values = page.body.subarray(rl + dl);
    if (h.is_compressed !== false) values = inflater.inflate(codec, values, header.uncompressed_page_size - rl - dl, ref.section);
    return { numValues: h.num_values, encoding: h.encoding, rleLevels: true, rep: page.body.subarray(0, rl), def: page.body.subarray(rl, rl + dl), values };
  }
  if (header.type === 'DATA_PAGE') {
    const h = header.data_page_header;
    if (!h || !isSize(h.num_values)) return bad('a DATA_PAGE has no valid data page header');
    const body = inflater.inflate(codec, page.body, header.uncompressed_page_size, ref.section);
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    let pos = 0;
    const levels = (max: number): Uint8Array => {
      if (max === 0) return body.subarray(pos, pos);
      if (pos + 4 > body.length) return bad('the page ends before its levels');
      const len = view.getUint32(pos, true);
      if (pos + 4 + len > body.length) return bad('the page levels run past the end of the page');
      const out = body.subarray(pos + 4, pos + 4 + len);
      pos += 4 + len;
      return out;
    };
    const rleLevels = (maxRep === 0 || h.repetition_level_encoding === 'RLE') && (maxDef === 0 || h.definition_level_encoding === 'RLE');
    if (!rleLevels) return { numValues: h.num_values, encoding: h.encoding, rleLevels, rep: body, def: body, values: body };
    const rep = levels(maxRep);
    const def = levels(maxDef);
    return { numValues: h.num_values, encoding: h.encoding, rleLevels, rep, def, values: body.subarray(pos) };
  }
  return undefined;
}

/**
 * Checks the pages of a flat (non-repeated) column chunk before hyparquet decodes it: headers parse,
 * CRCs match, and the data pages hold exactly `rows` values, so a damaged count cannot make the
 * decoder allocate for more rows than the row group has. `optional` and `type` describe the column.
 * In strict mode (our own files) the pages are also decoded here and the values returned.
 */
export async function checkFlatChunk(win: ChunkWindow, ref: ChunkRef, rows: number, column: { optional: boolean; type: string }, opts: WalkOptions): Promise<unknown[] | undefined> {
  let seen = 0;
  const out = opts.strict ? new Array<unknown>(rows) : undefined;
  for await (const page of pagesOf(win, ref, opts)) {
    const h = page.header;
    if (out) decodeOwnFlatPage(page, ownPageHeader(page, ref, opts.file), column.optional, column.type, ref, opts.file, out, seen);
    const n = h.type === 'DATA_PAGE_V2' ? h.data_page_header_v2?.num_values : h.type === 'DATA_PAGE' ? h.data_page_header?.num_values : 0;
    const at = { file: opts.file, section: ref.section, offset: page.offset };
    if (h.type === 'DICTIONARY_PAGE' && !(isSize(h.dictionary_page_header?.num_values) && (h.dictionary_page_header?.num_values ?? 0) <= h.uncompressed_page_size)) {
      throw new CorruptionError(at, 'a dictionary page declares more entries than it has bytes');
    }
    if (!isSize(n) || seen + n > rows) throw new CorruptionError(at, `the pages hold more than the row group's ${rows} values`);
    seen += n;
  }
  if (seen !== rows) throw new CorruptionError({ file: opts.file, section: ref.section }, `the pages hold ${seen} values for the row group's ${rows} rows`);
  return out;
}
