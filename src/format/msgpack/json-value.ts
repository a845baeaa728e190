/**
 * Decodes one MessagePack value that must be plain JSON (entry metadata) straight from the window:
 * nil, booleans, ints, finite floats, strings, arrays and maps with string keys. One pass both
 * decodes and validates (no separate extent scan, unpacker call, JSON check or BigInt fix-up per
 * entry); `__proto__` keys become ordinary own properties; ints of any width within ±(2^53 − 1) are
 * numbers. Anything else (bin, ext, timestamps, NaN, non-string keys) is a WireProblem.
 */
import { MAX_METADATA_KEYS, MAX_STORED_DEPTH } from '../../util/msgpack.js';
import { NEED_MORE, WireProblem, need, u16, u32, utf8At } from './wire.js';

/** Where the value decoded by the last {@link jsonValueAt} ends. */
export let valueEnd = 0;

const TWO32 = 4294967296;
const scratch = new DataView(new ArrayBuffer(8));

function str(buf: Uint8Array, pos: number, start: number, len: number, end: number): string {
  if (start + len > end) throw NEED_MORE;
  const s = utf8At(buf, start, start + len);
  if (s === undefined) throw new WireProblem(pos, 'a string is not valid UTF-8');
  valueEnd = start + len;
  return s;
}

function int64(buf: Uint8Array, pos: number, signed: boolean): number {
  const hi = u32(buf, pos + 1);
  const v = (signed ? hi | 0 : hi) * TWO32 + u32(buf, pos + 5);
  if (!Number.isSafeInteger(v)) throw new WireProblem(pos, 'an integer is outside ±(2^53-1) (not exact as a JSON number)');
  return v;
}

function float(buf: Uint8Array, pos: number, size: 4 | 8): number {
  for (let i = 0; i < size; i++) scratch.setUint8(i, buf[pos + 1 + i]);
  const v = size === 4 ? scratch.getFloat32(0) : scratch.getFloat64(0);
  if (!Number.isFinite(v)) throw new WireProblem(pos, `a number is ${v} (only finite numbers are JSON)`);
  return v;
}

function tooDeep(pos: number, depth: number): void {
  // Containers at depth MAX_STORED_DEPTH (the top value is at 0) would be a level too many.
  if (depth >= MAX_STORED_DEPTH) throw new WireProblem(pos, `values are nested deeper than ${MAX_STORED_DEPTH} levels`);
}

function array(buf: Uint8Array, pos: number, end: number, n: number, depth: number): unknown[] {
  tooDeep(pos, depth);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    out.push(jsonValueAt(buf, pos, end, depth + 1));
    pos = valueEnd;
  }
  valueEnd = pos;
  return out;
}

function map(buf: Uint8Array, pos: number, end: number, n: number, depth: number): Record<string, unknown> {
  tooDeep(pos, depth);
  // The engine's limit (a 16-bit map header when saved): a map32 of more would be refused by the next save.
  if (n > MAX_METADATA_KEYS) throw new WireProblem(pos, `a map of ${n} members, more than the ${MAX_METADATA_KEYS} one object may have`);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    need(pos, 1, end);
    const c = buf[pos];
    if (!((c & 0xe0) === 0xa0 || c === 0xd9 || c === 0xda || c === 0xdb)) throw new WireProblem(pos, 'a map key is not a string (JSON objects have string keys)');
    const key = jsonValueAt(buf, pos, end, depth + 1) as string;
    const value = jsonValueAt(buf, valueEnd, end, depth + 1);
    pos = valueEnd;
    // A plain assignment of "__proto__" would set the prototype; keep it as data instead.
    if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  valueEnd = pos;
  return out;
}

/** Decodes the JSON value at `buf[pos]`; sets {@link valueEnd}. Throws NEED_MORE when it runs past `end`. */
export function jsonValueAt(buf: Uint8Array, pos: number, end: number, depth = 0): unknown {
  need(pos, 1, end);
  const c = buf[pos];
  if (c < 0x80) {
    valueEnd = pos + 1;
    return c;
  }
  if (c >= 0xe0) {
    valueEnd = pos + 1;
    return c - 256;
  }
  if (c < 0x90) return map(buf, pos + 1, end, c & 15, depth);
  if (c < 0xa0) return array(buf, pos + 1, end, c & 15, depth);
  if (c < 0xc0) return str(buf, pos, pos + 1, c & 31, end);
  switch (c) {
    case 0xc0:
      valueEnd = pos + 1;
      return null;
    case 0xc2:
    case 0xc3:
      valueEnd = pos + 1;
      return c === 0xc3;
    case 0xd9:
      need(pos, 2, end);
      return str(buf, pos, pos + 2, buf[pos + 1], end);
    case 0xda:
      need(pos, 3, end);
      return str(buf, pos, pos + 3, u16(buf, pos + 1), end);
    case 0xdb:
      need(pos, 5, end);
      return str(buf, pos, pos + 5, u32(buf, pos + 1), end);
    case 0xdc:
      need(pos, 3, end);
      return array(buf, pos + 3, end, u16(buf, pos + 1), depth);
    case 0xdd:
      need(pos, 5, end);
      return array(buf, pos + 5, end, u32(buf, pos + 1), depth);
    case 0xde:
      need(pos, 3, end);
      return map(buf, pos + 3, end, u16(buf, pos + 1), depth);
    case 0xdf:
      need(pos, 5, end);
      return map(buf, pos + 5, end, u32(buf, pos + 1), depth);
  }
  const size = c === 0xcc || c === 0xd0 ? 1 : c === 0xcd || c === 0xd1 ? 2 : c === 0xce || c === 0xd2 || c === 0xca ? 4 : c === 0xcf || c === 0xd3 || c === 0xcb ? 8 : 0;
  if (size === 0) {
    const what = c >= 0xc4 && c <= 0xc6 ? 'binary data (bin)' : c === 0xc1 ? 'byte 0xc1 (never used in MessagePack)' : 'an extension type (ext)';
    throw new WireProblem(pos, `${what} is not a JSON value`);
  }
  need(pos, 1 + size, end);
  valueEnd = pos + 1 + size;
  switch (c) {
    case 0xcc:
      return buf[pos + 1];
    case 0xcd:
      return u16(buf, pos + 1);
    case 0xce:
      return u32(buf, pos + 1);
    case 0xd0:
      return (buf[pos + 1] << 24) >> 24;
    case 0xd1:
      return (u16(buf, pos + 1) << 16) >> 16;
    case 0xd2:
      return u32(buf, pos + 1) | 0;
    case 0xcf:
    case 0xd3:
      return int64(buf, pos, c === 0xd3);
    default:
      return float(buf, pos, size as 4 | 8);
  }
}
