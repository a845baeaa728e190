/**
 * Decodes the vector column. Fast path: PLAIN FLOAT pages (any supported page compression) are copied
 * byte for byte into the output Float32Array (or moved within it, for a chunk read in place by
 * vector-source.ts) while their levels are checked run by run: every row must be a present list of
 * exactly `dimension` present elements. Pages in any other encoding (dictionary,
 * byte-stream-split, DOUBLE elements) go through hyparquet's generic decoder instead (slow, but only
 * foreign files use them).
 */
import type { CompressionCodec, DecodedArray } from 'hyparquet';
import { CorruptionError } from '../../errors.js';
import { findNonFinite } from '../../engine/load.js';
import type { ChunkWindow } from './file-source.js';
import type { ChunkRef } from './layout.js';
import type { Inflater } from './codecs.js';
import { forEachLevelRun, levelBitWidth, LevelProblem } from './levels.js';
import { pagesOf, splitDataPage, type WalkOptions } from './page-reader.js';
import { ownPageHeader } from './strict.js';

/** Where one row group's vectors go. */
export interface VectorTarget {
  out: Float32Array;
  dimension: number;
  /** Index of the row group's first row in the file. */
  firstRow: number;
  rows: number;
  maxDef: number;
}

/** Signals that a chunk needs the generic decoder. */
const FALLBACK = Symbol('fallback');

/**
 * Decodes the chunk into `t.out[firstRow*dim ..]`. Returns false (having checked nothing conclusive)
 * when a page is not PLAIN FLOAT, so the caller decodes the chunk generically.
 */
export async function readVectorChunk(win: ChunkWindow, ref: ChunkRef, t: VectorTarget, inflater: Inflater, opts: WalkOptions): Promise<boolean> {
  const { out, dimension: dim, maxDef } = t;
  const codec = ref.meta.codec as CompressionCodec;
  const limit = (t.firstRow + t.rows) * dim;
  const defWidth = levelBitWidth(maxDef);
  let floatPos = t.firstRow * dim;
  let rowLen = -1;
  let rows = 0;
  let rowStarts = 0;
  let at = { file: opts.file, section: ref.section, offset: ref.start };
  const closeRow = (): void => {
    if (rowLen < 0) return;
    if (rowLen !== dim) throw new CorruptionError(at, `the vector of row ${t.firstRow + rows} has ${rowLen} elements; every vector must have ${dim}`);
    rows++;
  };
  const onRep = (v: number, c: number): void => {
    if (v === 0) {
      rowStarts += c;
      closeRow();
      if (c > 1) {
        if (dim !== 1) throw new CorruptionError(at, `the vector of row ${t.firstRow + rows} has 1 element; every vector must have ${dim}`);
        rows += c - 1;
      }
      rowLen = 1;
    } else if (v === 1 && rowLen >= 0) {
      rowLen += c;
      if (rowLen > dim) throw new CorruptionError(at, `the vector of row ${t.firstRow + rows} has more than ${dim} elements`);
    } else {
      throw new LevelProblem(`repetition level ${v} is not allowed here`);
    }
  };
  const onDef = (v: number): void => {
    if (v !== maxDef) throw new CorruptionError(at, `a vector near row ${t.firstRow + rows} is null, empty or has a null element; every row needs ${dim} floats`);
  };
  for await (const page of pagesOf(win, ref, opts)) {
    at = { file: opts.file, section: ref.section, offset: page.offset };
    const own = opts.strict ? ownPageHeader(page, ref, opts.file) : undefined;
    if (page.header.type === 'DICTIONARY_PAGE') return false;
    const parts = splitDataPage(page, codec, 1, maxDef, inflater, ref, opts.file);
    if (!parts) continue;
    if (parts.encoding !== 'PLAIN' || !parts.rleLevels || ref.meta.type !== 'FLOAT') return false;
    const n = parts.numValues;
    rowStarts = 0;
    try {
      const defUsed = forEachLevelRun(parts.def, defWidth, n, onDef);
      const repUsed = forEachLevelRun(parts.rep, 1, n, onRep);
      if (own && (defUsed !== parts.def.length || repUsed !== parts.rep.length || rowStarts !== own.num_rows || own.num_nulls !== 0)) {
        throw new CorruptionError(at, 'the page header does not match its levels (the page header is damaged)');
      }
    } catch (err) {
      if (err instanceof LevelProblem) throw new CorruptionError(at, err.message);
      throw err;
    }
    if (parts.values.length !== n * 4) throw new CorruptionError(at, `a page of ${n} floats has ${parts.values.length} bytes of values`);
    if (floatPos + n > limit) throw new CorruptionError(at, `the column holds more than ${t.rows} vectors of ${dim} floats`);
    const to = out.byteOffset + floatPos * 4;
    const v = parts.values;
    // A chunk read in place moves its floats down within the same memory (copyWithin is a memmove).
    if (v.buffer === out.buffer) new Uint8Array(out.buffer).copyWithin(to, v.byteOffset, v.byteOffset + v.length);
    else new Uint8Array(out.buffer, to, n * 4).set(v);
    // Checked while the page is still in cache.
    checkFinite(out, floatPos, floatPos + n, dim, opts.file);
    floatPos += n;
  }
  closeRow();
  if (rows !== t.rows || floatPos !== limit) {
    throw new CorruptionError({ file: opts.file, section: ref.section }, `the column holds ${rows} vectors but the row group has ${t.rows} rows`);
  }
  return true;
}

/** Throws naming the row when out[from, to) holds a NaN or an infinity. */
export function checkFinite(out: Float32Array, from: number, to: number, dim: number, file: string): void {
  const bad = findNonFinite(out, from, to);
  if (bad < 0) return;
  const row = Math.floor(bad / dim);
  throw new CorruptionError({ file, section: `row ${row} vector` }, `element ${bad - row * dim} is ${out[bad]}; vectors must hold finite numbers`);
}

/** The length of the first vector in the chunk (files that do not declare their dimension). */
export async function probeDimension(win: ChunkWindow, ref: ChunkRef, maxDef: number, inflater: Inflater, opts: WalkOptions): Promise<number> {
  let len = -1;
  try {
    for await (const page of pagesOf(win, ref, opts)) {
      const parts = splitDataPage(page, ref.meta.codec as CompressionCodec, 1, maxDef, inflater, ref, opts.file);
      if (!parts) continue;
      if (!parts.rleLevels) break;
      forEachLevelRun(parts.rep, 1, parts.numValues, (v, c) => {
        if (v === 0) {
          // A second row starts (or the first row has a single element): the first row is complete.
          if (len >= 0 || c > 1) {
            if (len < 0) len = 1;
            throw FALLBACK;
          }
          len = 1;
        } else {
          if (len < 0) throw new LevelProblem('the first level of the column continues a row that never started');
          len += c;
        }
      });
    }
  } catch (err) {
    if (err instanceof LevelProblem) throw new CorruptionError({ file: opts.file, section: ref.section }, err.message);
    if (err !== FALLBACK) throw err;
  }
  return Math.max(0, len);
}

/**
 * Copies generically decoded vectors (arrays of numbers, one per row) into the output, checking each
 * is a list of `dimension` numbers that are finite in float32.
 */
export function copyDecodedVectors(rows: DecodedArray, t: VectorTarget, file: string, section: string): void {
  const { out, dimension: dim } = t;
  if (rows.length !== t.rows) throw new CorruptionError({ file, section }, `the column holds ${rows.length} vectors but the row group has ${t.rows} rows`);
  for (let r = 0; r < rows.length; r++) {
    const v = rows[r] as unknown;
    const row = t.firstRow + r;
    if (!Array.isArray(v)) throw new CorruptionError({ file, section }, `the vector of row ${row} is ${v === null || v === undefined ? 'null' : 'not a list'}; every row needs ${dim} floats`);
    if (v.length !== dim) throw new CorruptionError({ file, section }, `the vector of row ${row} has ${v.length} elements; every vector must have ${dim}`);
    const base = row * dim;
    for (let j = 0; j < dim; j++) {
      const x = v[j] as unknown;
      const f = typeof x === 'number' ? Math.fround(x) : NaN;
      if (f - f !== 0) throw new CorruptionError({ file, section }, `element ${j} of the vector of row ${row} is ${String(x)}; vectors must hold finite float32 numbers`);
      out[base + j] = f;
    }
  }
}
