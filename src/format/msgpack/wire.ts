/**
 * MessagePack decoding primitives for the streaming reader, over a window `buf[0..end)` whose values
 * may be cut off at `end` (then NEED_MORE is thrown and the caller reads more and retries). Lengths
 * are only trusted as far as the bytes are actually there. Encoding is in encode.ts.
 */
import { NEED_MORE } from '../json/tokenizer.js';
import { EXTENT_INVALID, EXTENT_SHORT, u16, u32, valueExtent } from '../../util/msgpack.js';

export { NEED_MORE };

/** Bad MessagePack bytes at window offset `pos`; the reader turns it into a CorruptionError. */
export class WireProblem extends Error {
  constructor(readonly pos: number, readonly problem: string, readonly field = '') {
    super(problem);
    this.name = 'WireProblem';
  }
}

const TWO32 = 4294967296;

export { u16, u32 } from '../../util/msgpack.js';

/** Throws NEED_MORE unless `n` bytes from `pos` are in the window. */
export function need(pos: number, n: number, end: number): void {
  if (pos + n > end) throw NEED_MORE;
}

/** Number of entries of the map at `pos`, or -1 when the value there is not a map. Sets {@link headerEnd}. */
export function mapSizeAt(buf: Uint8Array, pos: number, end: number): number {
  need(pos, 1, end);
  const c = buf[pos];
  if ((c & 0xf0) === 0x80) {
    headerEnd = pos + 1;
    return c & 15;
  }
  if (c === 0xde) {
    need(pos, 3, end);
    headerEnd = pos + 3;
    return u16(buf, pos + 1);
  }
  if (c === 0xdf) {
    need(pos, 5, end);
    headerEnd = pos + 5;
    return u32(buf, pos + 1);
  }
  return -1;
}

/** Where the last header read by {@link mapSizeAt} / {@link strAt} / {@link binAt} ends (its payload start). */
export let headerEnd = 0;

/** Byte length of the str at `pos` (payload from {@link headerEnd}), or -1 when it is not a str. */
export function strAt(buf: Uint8Array, pos: number, end: number): number {
  need(pos, 1, end);
  const c = buf[pos];
  let len: number;
  if ((c & 0xe0) === 0xa0) {
    len = c & 31;
    headerEnd = pos + 1;
  } else if (c === 0xd9) {
    need(pos, 2, end);
    len = buf[pos + 1];
    headerEnd = pos + 2;
  } else if (c === 0xda) {
    need(pos, 3, end);
    len = u16(buf, pos + 1);
    headerEnd = pos + 3;
  } else if (c === 0xdb) {
    need(pos, 5, end);
    len = u32(buf, pos + 1);
    headerEnd = pos + 5;
  } else return -1;
  return len;
}

/** Byte length of the bin at `pos` (payload from {@link headerEnd}), or -1 when it is not a bin. */
export function binAt(buf: Uint8Array, pos: number, end: number): number {
  need(pos, 1, end);
  const c = buf[pos];
  if (c === 0xc6) {
    need(pos, 5, end);
    headerEnd = pos + 5;
    return u32(buf, pos + 1);
  }
  if (c === 0xc5) {
    need(pos, 3, end);
    headerEnd = pos + 3;
    return u16(buf, pos + 1);
  }
  if (c === 0xc4) {
    need(pos, 2, end);
    headerEnd = pos + 2;
    return buf[pos + 1];
  }
  return -1;
}

const scratch = new DataView(new ArrayBuffer(8));

/**
 * The number at `pos` if it is a MessagePack int or float (64-bit ints become doubles, so callers
 * check they are safe integers); NaN when the value there is not a number. Sets {@link numberEnd}.
 */
export function numberAt(buf: Uint8Array, pos: number, end: number): number {
  need(pos, 1, end);
  const c = buf[pos];
  if (c < 0x80) {
    numberEnd = pos + 1;
    return c;
  }
  if (c >= 0xe0) {
    numberEnd = pos + 1;
    return c - 256;
  }
  const size = c === 0xcc || c === 0xd0 ? 1 : c === 0xcd || c === 0xd1 ? 2 : c === 0xce || c === 0xd2 || c === 0xca ? 4 : c === 0xcf || c === 0xd3 || c === 0xcb ? 8 : 0;
  if (size === 0) return NaN;
  need(pos, 1 + size, end);
  numberEnd = pos + 1 + size;
  const p = pos + 1;
  switch (c) {
    case 0xcc:
      return buf[p];
    case 0xcd:
      return u16(buf, p);
    case 0xce:
      return u32(buf, p);
    case 0xcf:
      return u32(buf, p) * TWO32 + u32(buf, p + 4);
    case 0xd0:
      return (buf[p] << 24) >> 24;
    case 0xd1:
      return (u16(buf, p) << 16) >> 16;
    case 0xd2:
      return u32(buf, p) | 0;
    case 0xd3:
      return (u32(buf, p) | 0) * TWO32 + u32(buf, p + 4);
    default:
      for (let i = 0; i < size; i++) scratch.setUint8(i, buf[p + i]);
      return size === 4 ? scratch.getFloat32(0) : scratch.getFloat64(0);
  }
}

/** Where the number read by {@link numberAt} ends. */
export let numberEnd = 0;

/**
 * Returns the position just after the (possibly nested) value at `pos` (the shared walker
 * {@link valueExtent}); throws NEED_MORE when the value runs past `end`, WireProblem on byte 0xc1.
 */
export function skipValue(buf: Uint8Array, pos: number, end: number): number {
  const e = valueExtent(buf, pos, end);
  if (e === EXTENT_SHORT) throw NEED_MORE;
  if (e === EXTENT_INVALID) throw new WireProblem(pos, 'the value here holds byte 0xc1, which is not valid MessagePack');
  return e;
}

export { utf8At } from '../../util/utf8.js';
