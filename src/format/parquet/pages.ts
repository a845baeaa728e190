/**
 * Column chunk writers: uncompressed DATA_PAGE_V2 pages in PLAIN encoding, each with the CRC32 of its
 * body in the page header. Values are encoded here straight from the engine's memory (floats as their
 * bytes, strings with Buffer.write); hyparquet-writer serializes the thrift page headers and encodes the
 * definition levels of the optional columns.
 */
import { crc32 } from 'node:zlib';
import { ByteWriter } from 'hyparquet-writer';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import type { ColumnChunk, Encoding, ParquetType } from 'hyparquet';
import { vectorLevels } from './levels.js';
import type { HandleSink } from './sink.js';
import { PAGE_BYTES } from './constants.js';

const EMPTY = new Uint8Array(0);
/** Vector pages at least this large skip the sink's buffer and go straight to the file. */
const DIRECT_BYTES = 256 << 10;

/** What one page holds besides its bytes. */
interface PageCounts {
  numValues: number;
  numNulls: number;
  numRows: number;
}

/** Writes one page (header, repetition levels, definition levels, values); returns its size. */
async function writePage(sink: HandleSink, counts: PageCounts, rep: Uint8Array, def: Uint8Array, values: Uint8Array): Promise<number> {
  const bodyLength = rep.length + def.length + values.length;
  const crc = crc32(values, crc32(def, crc32(rep)));
  const start = sink.offset;
  writePageHeader(sink, {
    type: 'DATA_PAGE_V2',
    uncompressed_page_size: bodyLength,
    compressed_page_size: bodyLength,
    crc: crc | 0,
    data_page_header_v2: {
      num_values: counts.numValues,
      num_nulls: counts.numNulls,
      num_rows: counts.numRows,
      encoding: 'PLAIN',
      definition_levels_byte_length: def.length,
      repetition_levels_byte_length: rep.length,
      is_compressed: false,
    },
  });
  sink.appendBytes(rep);
  sink.appendBytes(def);
  if (values.length >= DIRECT_BYTES) await sink.writeDirect(values);
  else sink.appendBytes(values);
  await sink.maybeFlush();
  return sink.offset - start;
}

function chunkMeta(type: ParquetType, path: string[], encodings: Encoding[], start: number, end: number, numValues: number): ColumnChunk {
  return {
    file_offset: BigInt(start),
    meta_data: {
      type,
      encodings,
      path_in_schema: path,
      codec: 'UNCOMPRESSED',
      num_values: BigInt(numValues),
      total_uncompressed_size: BigInt(end - start),
      total_compressed_size: BigInt(end - start),
      data_page_offset: BigInt(start),
    },
  };
}

/** Definition levels (bit width 1) of a page of an optional flat column. */
function flatLevels(present: Uint8Array): Uint8Array {
  const w = new ByteWriter(64);
  writeRleBitPackedHybrid(w, present, 1);
  return w.getBytes().slice();
}

/** Reusable scratch for encoding PLAIN values. */
export class Scratch {
  buf = Buffer.allocUnsafe(PAGE_BYTES + (64 << 10));

  /** Makes room for `n` more bytes after `used`. */
  room(used: number, n: number): void {
    if (used + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(used + n, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, used);
    this.buf = grown;
  }
}

/**
 * Writes a BYTE_ARRAY column chunk of `texts` (one per row; undefined = null, only when `optional`).
 * Pages are cut after about PAGE_BYTES of values.
 */
export async function writeTextChunk(sink: HandleSink, scratch: Scratch, name: string, texts: readonly (string | undefined)[], optional: boolean): Promise<ColumnChunk> {
  const start = sink.offset;
  const n = texts.length;
  let row = 0;
  while (row < n) {
    const first = row;
    let used = 0;
    let nulls = 0;
    const present = optional ? new Uint8Array(Math.min(n - first, 1 << 16)) : EMPTY;
    while (row < n && used < PAGE_BYTES && (!optional || row - first < present.length)) {
      const s = texts[row];
      if (s === undefined) {
        nulls++;
      } else {
        scratch.room(used, 4 + s.length * 3);
        const len = scratch.buf.write(s, used + 4, 'utf8');
        scratch.buf.writeUInt32LE(len, used);
        used += 4 + len;
        if (optional) present[row - first] = 1;
      }
      row++;
    }
    const rows = row - first;
    const def = optional ? flatLevels(present.subarray(0, rows)) : EMPTY;
    await writePage(sink, { numValues: rows, numNulls: nulls, numRows: rows }, EMPTY, def, scratch.buf.subarray(0, used));
  }
  return chunkMeta('BYTE_ARRAY', [name], optional ? ['PLAIN', 'RLE'] : ['PLAIN'], start, sink.offset, n);
}

/** Writes an optional INT64 column chunk: one value per row, undefined = null. */
export async function writeInt64Chunk(sink: HandleSink, name: string, values: readonly (number | undefined)[]): Promise<ColumnChunk> {
  const start = sink.offset;
  const n = values.length;
  const present = new Uint8Array(n);
  const data = Buffer.allocUnsafe(n * 8);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === undefined) continue;
    present[i] = 1;
    data.writeBigInt64LE(BigInt(v), count * 8);
    count++;
  }
  await writePage(sink, { numValues: n, numNulls: n - count, numRows: n }, EMPTY, flatLevels(present), data.subarray(0, count * 8));
  return chunkMeta('INT64', [name], ['PLAIN', 'RLE'], start, sink.offset, n);
}

/** Hands out a collection's vectors row range by row range from `vectorChunks`. */
export class VectorFeed {
  private readonly it: Iterator<Float32Array>;
  private cur: Float32Array = new Float32Array(0);
  private off = 0;

  constructor(chunks: Iterable<Float32Array>, private readonly dimension: number) {
    this.it = chunks[Symbol.iterator]();
  }

  /** The next 1..maxRows vectors (a view valid until the next call), or an empty array at the end. */
  take(maxRows: number): Float32Array {
    if (this.off >= this.cur.length) {
      const r = this.it.next();
      if (r.done) return new Float32Array(0);
      this.cur = r.value;
      this.off = 0;
    }
    const n = Math.min(maxRows * this.dimension, this.cur.length - this.off);
    const out = this.cur.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }

  /** Lets the image stop lending memory (ends the chunk generator). */
  close(): void {
    this.it.return?.();
  }
}

/**
 * Writes the vector column chunk of `rows` rows taken from `feed`, `pageRows` rows per page: levels
 * from {@link vectorLevels}, values as the float32 bytes themselves.
 */
export async function writeVectorChunk(sink: HandleSink, feed: VectorFeed, path: string[], rows: number, dimension: number, pageRows: number): Promise<ColumnChunk> {
  const start = sink.offset;
  let full: { rep: Uint8Array; def: Uint8Array } | undefined;
  let done = 0;
  while (done < rows) {
    const v = feed.take(Math.min(pageRows, rows - done));
    const n = v.length / dimension;
    if (n === 0) throw new Error(`the collection image ended after ${done} of ${rows} rows of a row group`);
    let levels: { rep: Uint8Array; def: Uint8Array };
    if (n === pageRows) levels = full ??= vectorLevels(n, dimension);
    else levels = vectorLevels(n, dimension);
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    await writePage(sink, { numValues: n * dimension, numNulls: 0, numRows: n }, levels.rep, levels.def, bytes);
    done += n;
  }
  return chunkMeta('FLOAT', path, ['PLAIN', 'RLE'], start, sink.offset, rows * dimension);
}
