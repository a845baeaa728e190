/**
 * JSON number text → float32, with the result defined as `Math.fround(Number(text))` (what the
 * reference systems did when they inserted parsed JSON into float32 storage).
 *
 * The reference files hold full double precision text (`0.10000000149011612`, 17 digits), which the
 * JSON format's parser (tuned for QuiverDB's own shortest float32 text) sends to `parseFloat`. Here
 * the digits are gathered into a double `m` (exact up to 15 digits, a few ulps off beyond) and scaled
 * by at most two exact powers of ten, so `v` is within about 2^-50 (relative) of the true double.
 * Rounding `v` to float32 gives the right answer unless a float32 rounding boundary lies within that
 * error; that is checked by rounding `v` nudged both ways (2^-46), and only then is the text handed to
 * `parseFloat`. Real data essentially never takes that path.
 */
import { JsonSyntaxError, NEED_MORE, expected } from '../json/tokenizer.js';

const POW10 = new Float64Array(23);
for (let i = 0; i <= 22; i++) POW10[i] = Number(`1e${i}`);

const fround = Math.fround;
/** Relative nudge for the boundary check (well above the approximation's error). */
const NUDGE = 2 ** -46;
/** Digits kept in `m` for the fast path: beyond this the accumulated error is no longer tiny. */
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
export function readFloat32(buf: Uint8Array, pos: number, end: number, dst: Float32Array, di: number): number {
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
