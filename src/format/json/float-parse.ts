/**
 * Strict JSON number text → float32, parsed straight from bytes into a destination Float32Array; the
 * one number reader of the JSON format and of the reference systems' files. The result is defined as
 * `Math.fround(Number(text))`: what parsing the JSON and storing it as float32 gives.
 *
 * The mantissa digits are gathered as a double m and the decimal point/exponent as a power k. When m
 * has at most 15 significant digits (so m < 2^53 is exact) and |k| ≤ 22 (10^k is exact), one division
 * or multiplication is correctly rounded: it is the double `Number(text)` returns (QuiverDB's own
 * shortest float32 text always takes this path). Longer digit strings (the reference files hold full
 * double precision text such as `0.10000000149011612`) are scaled by at most two exact powers of ten,
 * which is within about 2^-47 (relative) of the true double: rounding that to float32 is right unless
 * a float32 rounding boundary lies within the error, which is checked by rounding it nudged both ways
 * (2^-46); only then, or beyond these ranges, is the text handed to `Number`.
 */
import { JsonSyntaxError, NEED_MORE, expected } from './tokenizer.js';

const POW10 = new Float64Array(23);
for (let i = 0; i <= 22; i++) POW10[i] = Number(`1e${i}`);

const fround = Math.fround;
/** Relative nudge for the boundary check (well above the approximation's error). */
const NUDGE = 2 ** -46;
/** Digits kept in `m` for the scaled path: beyond this the accumulated error is no longer tiny. */
const MAX_FAST_DIGITS = 40;
/** Exponent digits beyond this cannot change the outcome (the value is 0 or out of range anyway). */
const EXP_CAP = 100000;

function slowValue(buf: Uint8Array, start: number, end: number): number {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
  return Number(s);
}

/** `v` rounded to float32 when no float32 rounding boundary lies within the approximation error, else NaN. */
function safeRound(v: number): number {
  const f = fround(v);
  return fround(v * (1 - NUDGE)) === f && fround(v * (1 + NUDGE)) === f ? f : NaN;
}

/**
 * Parses the JSON number at `buf[pos]` (the window ends at `end`, a 0 sentinel after it) into
 * `dst[di]` as float32 and returns the position after it. Throws JsonSyntaxError for text that is not
 * a JSON number or is out of float32 range, NEED_MORE when the number may continue past `end`.
 */
export function parseFloat32At(buf: Uint8Array, pos: number, end: number, dst: Float32Array, di: number): number {
  const start = pos;
  let c = buf[pos];
  let neg = false;
  if (c === 45 /* - */) {
    neg = true;
    c = buf[++pos];
  }
  let m = 0;
  let sig = 0;
  let frac = 0;
  if (c === 48 /* 0 */) {
    c = buf[++pos];
    if (c >= 48 && c <= 57) throw new JsonSyntaxError(pos, 'leading zero in number');
  } else if (c >= 49 && c <= 57) {
    do {
      m = m * 10 + (c - 48);
      sig++;
      c = buf[++pos];
    } while (c >= 48 && c <= 57);
  } else {
    expected(buf, pos, end, 'a number');
  }
  if (c === 46 /* . */) {
    c = buf[++pos];
    if (!(c >= 48 && c <= 57)) expected(buf, pos, end, 'a digit after the decimal point');
    do {
      m = m * 10 + (c - 48);
      if (m !== 0) sig++;
      frac++;
      c = buf[++pos];
    } while (c >= 48 && c <= 57);
  }
  let exp = 0;
  if (c === 101 || c === 69 /* e E */) {
    c = buf[++pos];
    let expNeg = false;
    if (c === 45 || c === 43 /* - + */) {
      expNeg = c === 45;
      c = buf[++pos];
    }
    if (!(c >= 48 && c <= 57)) expected(buf, pos, end, 'a digit in the exponent');
    do {
      if (exp < EXP_CAP) exp = exp * 10 + (c - 48);
      c = buf[++pos];
    } while (c >= 48 && c <= 57);
    if (expNeg) exp = -exp;
  }
  if (pos >= end) throw NEED_MORE;
  const k = frac - exp;
  let f: number;
  if (m === 0) f = 0;
  else if (sig <= 15 && k >= 0 && k <= 22) f = fround(m / POW10[k]);
  else if (sig <= 15 && k < 0 && k >= -22) f = fround(m * POW10[-k]);
  else if (sig <= MAX_FAST_DIGITS && k > 22 && k <= 44) f = safeRound(m / POW10[22] / POW10[k - 22]);
  else if (sig <= MAX_FAST_DIGITS && k >= 0 && k <= 22) f = safeRound(m / POW10[k]);
  else if (sig <= MAX_FAST_DIGITS && k < 0 && k >= -22) f = safeRound(m * POW10[-k]);
  else f = NaN;
  if (f !== f) f = fround(slowValue(buf, neg ? start + 1 : start, pos));
  if (f - f !== 0) throw new JsonSyntaxError(start, 'number is out of float32 range');
  dst[di] = neg ? -f : f;
  return pos;
}

const one = new Float32Array(1);

/** Parses a complete JSON number text to float32 (convenience for tests and callers with strings). */
export function parseFloat32(text: string): number {
  const bytes = new Uint8Array(text.length + 1);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    bytes[i] = c < 128 ? c : 0x80;
  }
  // The zero byte after the text ends the number, so it is never reported as incomplete.
  const end = parseFloat32At(bytes, 0, text.length + 1, one, 0);
  if (end !== text.length) throw new JsonSyntaxError(end, 'trailing characters after number');
  return one[0];
}

let viewBuf: Uint8Array | undefined;
let viewCache: DataView | undefined;

/** A DataView over `buf`, reused while the caller keeps passing the same window. */
function viewOf(buf: Uint8Array): DataView {
  if (buf !== viewBuf || !viewCache) {
    viewBuf = buf;
    viewCache = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  return viewCache;
}

/** How many of the 4 bytes of little-endian word `w` are ASCII digits before the first non-digit. */
function digitRun(w: number): number {
  // Non-digit bytes get a nonzero mask byte; a carry out of a non-digit byte only disturbs later bytes.
  const t = ((w & 0xf0f0f0f0) ^ 0x30303030) | (((w + 0x06060606) & 0xf0f0f0f0) ^ 0x30303030);
  // Index of the lowest flagged byte; t === 0 gives a huge unsigned value, clamped to 4.
  return Math.min((31 - Math.clz32(t & -t)) >>> 3, 4);
}

/** The value of the first `n` (0..4) ASCII digits of little-endian word `w`. */
function wordValue(w: number, n: number): number {
  // Digits shifted to the high bytes; the vacated low bytes read as leading zeros.
  let x = ((w - 0x30303030) << ((32 - 8 * n) & 31)) & -(+(n !== 0));
  x = (Math.imul(x, 10) + (x >>> 8)) & 0x00ff00ff;
  return Math.imul(x & 0xffff, 100) + (x >>> 16);
}

/** Index of the element being read when the last {@link parseFloat32Array} call failed (-1: the array as a whole). */
export let failedElement = -1;

/**
 * Parses the numbers of a JSON array whose "[" and following whitespace were consumed (`buf[pos]` is
 * the first number) into `dst[base..base+count)`, requiring exactly `count` numbers, and returns the
 * position after the closing "]". The common shape (at most 9 significant digits, no exponent) is
 * handled inline with int32 arithmetic, fraction digits four at a time; everything else goes through
 * {@link parseFloat32At}. Bytes after `end` may be read (never used) when `buf` extends past it.
 */
export function parseFloat32Array(buf: Uint8Array, pos: number, end: number, dst: Float32Array, base: number, count: number): number {
  const view = viewOf(buf);
  const len = buf.length;
  const stop = base + count;
  let di = base;
  let c = buf[pos];
  if (c === 93 /* ] */) {
    failedElement = -1;
    throw new JsonSyntaxError(pos, `the vector has 0 numbers, expected ${count} (dimension mismatch)`);
  }
  for (;;) {
    if (di === stop) {
      failedElement = -1;
      throw new JsonSyntaxError(pos, `the vector has more than ${count} numbers (dimension mismatch)`);
    }
    // Fastest path, the usual shape of embedding values: -?0.d{1,11}, read 4 digits per word with
    // no branch on the digit count (counts vary at random, so such branches mispredict).
    const negBit = +(c === 45);
    const p = pos + negBit + 2;
    let handled = false;
    if (buf[p - 2] === 48 && buf[p - 1] === 46 && p + 12 <= len) {
      const w1 = view.getUint32(p, true);
      const w2 = view.getUint32(p + 4, true);
      const w3 = view.getUint32(p + 8, true);
      const n1 = digitRun(w1);
      const n2 = digitRun(w2);
      const n3 = digitRun(w3);
      const full1 = +(n1 === 4);
      const full12 = full1 & +(n2 === 4);
      const e2 = n2 * full1;
      const e3 = n3 * full12;
      const digits = n1 + e2 + e3;
      const q = p + digits;
      c = buf[q];
      if (digits !== 0 && n3 * full12 !== 4 && q < end && c !== 101 && c !== 69) {
        const m = (wordValue(w1, n1) * POW10[e2] + wordValue(w2, e2)) * POW10[e3] + wordValue(w3, e3);
        dst[di] = (m / POW10[digits]) * (1 - 2 * negBit);
        pos = q;
        handled = true;
      } else {
        c = buf[pos];
      }
    }
    if (!handled) {
      // Inline fast path: -?(0|[1-9][0-9]*)(.[0-9]+)? whose digits form an integer below 10^9.
      const start = pos;
      let neg = false;
      if (c === 45 /* - */) {
        neg = true;
        c = buf[++pos];
      }
      let mi = 0;
      let fr = 0;
      let ok = true;
      if (c === 48 /* 0 */) {
        c = buf[++pos];
      } else {
        ok = c >= 49 && c <= 57;
        while (c >= 48 && c <= 57) {
          if (mi >= 100000000) ok = false; // a 10th significant digit: too long for int32
          mi = (mi * 10 + (c - 48)) | 0;
          c = buf[++pos];
        }
      }
      if (c === 46 /* . */) {
        const first = ++pos;
        // Four digits per step: a little-endian 32-bit read, all-digits test and conversion in int32.
        while (mi < 100000 && pos + 4 <= len) {
          const w = view.getUint32(pos, true);
          if ((((w & 0xf0f0f0f0) ^ 0x30303030) | (((w + 0x06060606) & 0xf0f0f0f0) ^ 0x30303030)) !== 0) break;
          let x = (w - 0x30303030) | 0;
          x = (Math.imul(x, 10) + (x >>> 8)) & 0x00ff00ff;
          x = Math.imul(x & 0xffff, 100) + (x >>> 16);
          mi = Math.imul(mi, 10000) + x;
          pos += 4;
        }
        c = buf[pos];
        while (c >= 48 && c <= 57) {
          if (mi >= 100000000) ok = false;
          mi = (mi * 10 + (c - 48)) | 0;
          c = buf[++pos];
        }
        fr = pos - first;
        ok = ok && fr > 0 && fr <= 22;
      }
      if (ok && pos < end && c !== 101 && c !== 69 && !(c >= 48 && c <= 57)) {
        const v = mi / POW10[fr];
        dst[di] = neg ? -v : v;
      } else {
        try {
          pos = parseFloat32At(buf, start, end, dst, di);
        } catch (err) {
          failedElement = di - base;
          throw err;
        }
        c = buf[pos];
      }
    }
    di++;
    if (c <= 32) {
      while (c === 32 || c === 10 || c === 13 || c === 9) c = buf[++pos];
    }
    if (c === 44 /* , */) {
      c = buf[++pos];
      while (c === 32 || c === 10 || c === 13 || c === 9) c = buf[++pos];
      continue;
    }
    if (c === 93 /* ] */) break;
    failedElement = di - base;
    expected(buf, pos, end, '"," or "]" in a vector');
  }
  if (di !== stop) {
    failedElement = -1;
    throw new JsonSyntaxError(pos, `the vector has ${di - base} numbers, expected ${count} (dimension mismatch)`);
  }
  return pos + 1;
}
