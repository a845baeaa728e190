/**
 * MessagePack encoding of the fixed parts of an entry (map and string headers, integers, bin 32
 * headers) straight into a page buffer, in the smallest forms the spec allows.
 */

/** Writes the big-endian u32 `v` at `buf[pos]`. */
export function putU32(buf: Uint8Array, pos: number, v: number): void {
  buf[pos] = v >>> 24;
  buf[pos + 1] = (v >>> 16) & 255;
  buf[pos + 2] = (v >>> 8) & 255;
  buf[pos + 3] = v & 255;
}

/** Writes a str header for `len` UTF-8 bytes in the smallest form; returns the position after it. */
export function putStrHeader(buf: Uint8Array, pos: number, len: number): number {
  if (len < 32) {
    buf[pos] = 0xa0 | len;
    return pos + 1;
  }
  if (len < 256) {
    buf[pos] = 0xd9;
    buf[pos + 1] = len;
    return pos + 2;
  }
  if (len < 65536) {
    buf[pos] = 0xda;
    buf[pos + 1] = len >>> 8;
    buf[pos + 2] = len & 255;
    return pos + 3;
  }
  buf[pos] = 0xdb;
  putU32(buf, pos + 1, len);
  return pos + 5;
}

const TWO32 = 4294967296;

/** Writes the safe integer `v` in the smallest MessagePack int form; returns the position after it. */
export function putInt(buf: Uint8Array, pos: number, v: number): number {
  if (v >= 0) {
    if (v < 128) {
      buf[pos] = v;
      return pos + 1;
    }
    if (v < 256) {
      buf[pos] = 0xcc;
      buf[pos + 1] = v;
      return pos + 2;
    }
    if (v < 65536) {
      buf[pos] = 0xcd;
      buf[pos + 1] = v >>> 8;
      buf[pos + 2] = v & 255;
      return pos + 3;
    }
    if (v < TWO32) {
      buf[pos] = 0xce;
      putU32(buf, pos + 1, v);
      return pos + 5;
    }
    buf[pos] = 0xcf;
    putU32(buf, pos + 1, Math.floor(v / TWO32));
    putU32(buf, pos + 5, v >>> 0);
    return pos + 9;
  }
  if (v >= -32) {
    buf[pos] = v & 255;
    return pos + 1;
  }
  if (v >= -128) {
    buf[pos] = 0xd0;
    buf[pos + 1] = v & 255;
    return pos + 2;
  }
  if (v >= -32768) {
    buf[pos] = 0xd1;
    buf[pos + 1] = (v >> 8) & 255;
    buf[pos + 2] = v & 255;
    return pos + 3;
  }
  if (v >= -2147483648) {
    buf[pos] = 0xd2;
    putU32(buf, pos + 1, v >>> 0);
    return pos + 5;
  }
  // Two's complement of a negative safe integer: the high word is floor(v / 2^32) as a u32.
  buf[pos] = 0xd3;
  putU32(buf, pos + 1, Math.floor(v / TWO32) >>> 0);
  putU32(buf, pos + 5, v >>> 0);
  return pos + 9;
}
