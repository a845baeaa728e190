/**
 * Float32 → JSON number text, written as ASCII bytes straight into a reusable buffer (no string per
 * number). The text is the shortest decimal that parses back (parseFloat / JSON.parse, then
 * Math.fround) to the same float32, laid out the way JavaScript prints numbers: plain decimal when the
 * leading digit's exponent is in [-6, 20], exponent form (`1.5e-7`, `1e+21`) otherwise; -0 prints `-0`.
 *
 * Search: for a float32 `a` with unit in the last place `u`, a decimal step 10^-k0 < u always has a
 * multiple inside a's rounding interval, so the answer uses k0 or fewer fraction digits. We try k0-1,
 * k0-2, ... while the candidate round(a·10^k) / 10^k still round-trips, else take k0. Each candidate
 * is accepted only by the exact test `Math.fround(m / 10^k) === a`, which computes what parseFloat
 * does (both are correctly rounded when m < 2^53 and 10^k is exact, |k| ≤ 22). Values outside that
 * window (tiny, huge, subnormal) and powers of two (their rounding interval is lopsided) take a
 * slower exact path through `toPrecision`.
 */

/** Upper bound on the bytes one formatted float32 takes (`-1.17549435e-38` is 15). */
export const MAX_FLOAT32_CHARS = 24;

const POW10 = new Float64Array(23);
for (let i = 0; i <= 22; i++) POW10[i] = Number(`1e${i}`);

/** Per biased float32 exponent: the smallest k with 10^-k < ulp (a decimal step fine enough). */
const K_FINE = new Int32Array(256);
for (let b = 0; b < 256; b++) {
  const ulpExp = Math.max(b, 1) - 150; // ulp = 2^ulpExp
  let k = Math.floor(-ulpExp * Math.log10(2)) - 1;
  while (Math.pow(10, -k) >= Math.pow(2, ulpExp)) k++;
  K_FINE[b] = k;
}

/** "00".."99" as byte pairs. */
const DIGIT_PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  DIGIT_PAIRS[2 * i] = 48 + Math.floor(i / 10);
  DIGIT_PAIRS[2 * i + 1] = 48 + (i % 10);
}

const fround = Math.fround;
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

// Result slots of `shortest` (module-level to avoid allocating a pair per number).
let resM = 0;
let resK = 0;

function candidate(a: number, k: number): number {
  return k >= 0 ? Math.round(a * POW10[k]) : Math.round(a / POW10[-k]);
}

function roundTrips(a: number, m: number, k: number): boolean {
  return k >= 0 ? fround(m / POW10[k]) === a : fround(m * POW10[-k]) === a;
}

/**
 * Finds digits m and scale k (a = m·10^-k after parsing) for positive finite float32 `a` with bits
 * `bits`. Returns false when the fast window does not apply.
 */
function shortest(a: number, bits: number): boolean {
  const b = (bits >>> 23) & 255;
  const k0 = K_FINE[b];
  if (b === 0 || (bits & 0x7fffff) === 0 || k0 > 22 || k0 < -20) return false;
  let k = k0 - 1;
  let m = candidate(a, k);
  if (roundTrips(a, m, k)) {
    while (k > -22) {
      const m2 = candidate(a, k - 1);
      if (!roundTrips(a, m2, k - 1)) break;
      m = m2;
      k--;
    }
  } else {
    k = k0;
    m = candidate(a, k);
    if (!roundTrips(a, m, k)) return false;
  }
  resM = m;
  resK = k;
  return true;
}

/** Writes exactly `n` digits of `x` (zero-padded) ending just before `end`. */
function writeDigits(x: number, n: number, out: Uint8Array, end: number): void {
  let p = end;
  while (n >= 2) {
    const q = (x / 100) | 0;
    const r = (x - q * 100) << 1;
    out[--p] = DIGIT_PAIRS[r + 1];
    out[--p] = DIGIT_PAIRS[r];
    x = q;
    n -= 2;
  }
  if (n === 1) out[p - 1] = 48 + x;
}

function digitCount(m: number): number {
  if (m < 10000) return m < 10 ? 1 : m < 100 ? 2 : m < 1000 ? 3 : 4;
  if (m < 100000000) return m < 100000 ? 5 : m < 1000000 ? 6 : m < 10000000 ? 7 : 8;
  return m < 1000000000 ? 9 : 10;
}

/** Writes m·10^-k (m < 10^10, no trailing zeros needed) in JavaScript's number layout. */
function emit(m: number, k: number, out: Uint8Array, pos: number): number {
  while (m >= 10 && m % 10 === 0) {
    m /= 10;
    k--;
  }
  const n = digitCount(m);
  const e = n - 1 - k; // decimal exponent of the leading digit
  if (e >= 0 && e < 21) {
    if (k <= 0) {
      writeDigits(m, n, out, pos + n);
      pos += n;
      for (let i = 0; i < -k; i++) out[pos++] = 48;
      return pos;
    }
    const div = POW10[k];
    const ip = Math.floor(m / div);
    const intDigits = n - k;
    writeDigits(ip, intDigits, out, pos + intDigits);
    pos += intDigits;
    out[pos++] = 46;
    writeDigits(m - ip * div, k, out, pos + k);
    return pos + k;
  }
  if (e < 0 && e >= -6) {
    out[pos++] = 48;
    out[pos++] = 46;
    for (let i = -1; i > e; i--) out[pos++] = 48;
    writeDigits(m, n, out, pos + n);
    return pos + n;
  }
  const div = POW10[n - 1];
  const lead = Math.floor(m / div);
  out[pos++] = 48 + lead;
  if (n > 1) {
    out[pos++] = 46;
    writeDigits(m - lead * div, n - 1, out, pos + n - 1);
    pos += n - 1;
  }
  out[pos++] = 101;
  out[pos++] = e < 0 ? 45 : 43;
  const ae = e < 0 ? -e : e;
  if (ae >= 10) out[pos++] = 48 + Math.floor(ae / 10);
  out[pos++] = 48 + (ae % 10);
  return pos;
}

/** The exact slow path: shortest `toPrecision` that round-trips, printed as JavaScript would. */
function slowText(a: number): string {
  for (let p = 1; p < 9; p++) {
    const t = a.toPrecision(p);
    if (fround(parseFloat(t)) === a) return String(parseFloat(t));
  }
  return String(parseFloat(a.toPrecision(9)));
}

function writeAscii(s: string, out: Uint8Array, pos: number): number {
  for (let i = 0; i < s.length; i++) out[pos++] = s.charCodeAt(i);
  return pos;
}

/**
 * Writes float32 `v` (given with its IEEE bits) at `out[pos]` and returns the new position, or -1
 * when `v` is NaN or infinite. `out` needs MAX_FLOAT32_CHARS bytes of room.
 */
export function writeFloat32Bits(v: number, bits: number, out: Uint8Array, pos: number): number {
  const a = Math.abs(v);
  if (bits >>> 31) out[pos++] = 45;
  if (a === 0) {
    out[pos] = 48;
    return pos + 1;
  }
  if (((bits >>> 23) & 255) === 255) return -1;
  if (shortest(a, bits)) return emit(resM, resK, out, pos);
  return writeAscii(slowText(a), out, pos);
}

/**
 * Writes `v` rounded to float32 at `out[pos]` and returns the new position, or -1 when it is not
 * finite as a float32. `out` needs MAX_FLOAT32_CHARS bytes of room.
 */
export function writeFloat32(v: number, out: Uint8Array, pos: number): number {
  scratchF32[0] = v;
  return writeFloat32Bits(scratchF32[0], scratchU32[0], out, pos);
}

/** The shortest round-tripping JSON text of `v` as a float32 (convenience for tests and small values). */
export function float32ToJson(v: number): string {
  const out = new Uint8Array(MAX_FLOAT32_CHARS);
  const end = writeFloat32(v, out, 0);
  if (end < 0) throw new RangeError(`${v} is not a finite float32`);
  return String.fromCharCode(...out.subarray(0, end));
}

/**
 * Writes `[v0,v1,...]` for `vec[from..to)` at `out[pos]` and returns the new position, or
 * -1 - index of the first non-finite element. `bits` views the same memory as `vec`. Needs
 * (to - from) * (MAX_FLOAT32_CHARS + 1) + 2 bytes of room.
 */
export function writeVectorText(vec: Float32Array, bits: Uint32Array, from: number, to: number, out: Uint8Array, pos: number): number {
  out[pos++] = 91;
  for (let i = from; i < to; i++) {
    if (i > from) out[pos++] = 44;
    pos = writeFloat32Bits(vec[i], bits[i], out, pos);
    if (pos < 0) return -1 - (i - from);
  }
  out[pos++] = 93;
  return pos;
}
