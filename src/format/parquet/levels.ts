/**
 * Repetition and definition levels in Parquet's RLE / bit-packed hybrid encoding, for the vector column.
 * A list column whose every row holds exactly `dimension` present floats has perfectly regular levels,
 * so the writer emits two RLE runs per row and the reader checks them run by run instead of expanding
 * 38 million level values into arrays.
 */

/** Bytes of the unsigned LEB128 varint of `v` (v < 2^35). */
function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes an RLE run header + its one-byte value (bit width 1..8) at `at`; returns the next offset. */
export function putRleRun(out: Uint8Array, at: number, value: number, count: number): number {
  let header = count * 2;
  while (header >= 0x80) {
    out[at++] = (header & 0x7f) | 0x80;
    header = Math.floor(header / 128);
  }
  out[at++] = header;
  out[at++] = value;
  return at;
}

/** Bytes of one RLE run of `count` values. */
export function rleRunLength(count: number): number {
  return varintLength(count * 2) + 1;
}

/** The repetition and definition levels of `rows` lists of `dimension` present elements (max levels 1). */
export function vectorLevels(rows: number, dimension: number): { rep: Uint8Array; def: Uint8Array } {
  // One row's repetition levels: a 0 starting the list, then dimension-1 ones.
  const rowBytes = rleRunLength(1) + (dimension > 1 ? rleRunLength(dimension - 1) : 0);
  let rep: Uint8Array;
  if (dimension === 1) {
    rep = new Uint8Array(rleRunLength(rows));
    putRleRun(rep, 0, 0, rows);
  } else {
    rep = new Uint8Array(rowBytes * rows);
    const end = putRleRun(rep, putRleRun(rep, 0, 0, 1), 1, dimension - 1);
    // Double the filled prefix until every row's copy is in place.
    for (let filled = end; filled < rep.length; filled *= 2) rep.copyWithin(filled, 0, Math.min(filled, rep.length - filled));
  }
  const def = new Uint8Array(rleRunLength(rows * dimension));
  putRleRun(def, 0, 1, rows * dimension);
  return { rep, def };
}

/** Why a level stream is unusable; the caller turns it into a CorruptionError with the location. */
export class LevelProblem extends Error {}

/**
 * Calls `run(value, count)` for the first `numValues` levels of a hybrid-encoded stream. RLE runs come
 * as one call; bit-packed groups come value by value (foreign writers use them for irregular data).
 * Throws LevelProblem when the stream ends early or holds a run header that cannot be right. Returns
 * the bytes consumed.
 */
export function forEachLevelRun(bytes: Uint8Array, bitWidth: number, numValues: number, run: (value: number, count: number) => void): number {
  const valueBytes = (bitWidth + 7) >> 3;
  const mask = (1 << bitWidth) - 1;
  let pos = 0;
  let left = numValues;
  while (left > 0) {
    let header = 0;
    let mul = 1;
    for (let k = 0; ; k++) {
      if (pos >= bytes.length) throw new LevelProblem(`the level data ends with ${left} levels missing`);
      if (k === 5) throw new LevelProblem('a level run header is longer than 5 bytes');
      const b = bytes[pos++];
      header += (b & 0x7f) * mul;
      mul *= 128;
      if (!(b & 0x80)) break;
    }
    if (header % 2 === 0) {
      const count = header / 2;
      if (count === 0) throw new LevelProblem('a level run has length 0');
      if (pos + valueBytes > bytes.length) throw new LevelProblem('the level data ends inside a run');
      let value = 0;
      for (let j = 0; j < valueBytes; j++) value |= bytes[pos++] << (8 * j);
      const take = Math.min(count, left);
      run(value, take);
      left -= take;
    } else {
      const groups = (header - 1) / 2;
      const byteLen = groups * bitWidth;
      if (groups === 0) throw new LevelProblem('a bit-packed level run has no groups');
      if (pos + byteLen > bytes.length) throw new LevelProblem('the level data ends inside a bit-packed run');
      const take = Math.min(groups * 8, left);
      let acc = 0;
      let bits = 0;
      let p = pos;
      for (let i = 0; i < take; i++) {
        while (bits < bitWidth) {
          acc |= bytes[p++] << bits;
          bits += 8;
        }
        run(acc & mask, 1);
        acc >>>= bitWidth;
        bits -= bitWidth;
      }
      pos += byteLen;
      left -= take;
    }
  }
  return pos;
}

/** Bit width of levels whose maximum is `max`. */
export function levelBitWidth(max: number): number {
  return max === 0 ? 0 : 32 - Math.clz32(max);
}
