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
 * slower exact path through `toPrecision`. Most tests are decided by comparing the candidate's
 * distance with the rounding interval's half-width (the exact test only runs within a margin of the
 * edge), and `writeVectorText` handles the usual embedding magnitudes with no branch on the digit
 * count, which is close to random and made branches mispredict. The output is unchanged: the same
 * scale k and digits m as the plain search, bit for bit.
 */

/** Upper bound on the bytes one formatted float32 takes (`-1.17549435e-38` is 15). */
export const MAX_FLOAT32_CHARS = 24;

const POW10 = new Float64Array(23);
for (let i = 0; i <= 22; i++) POW10[i] = Number(`1e${i}`);

/** Per biased float32 exponent: the smallest k with 10^-k < ulp (a decimal step fine enough). */
const K_FINE = new Int32Array(256);
/** Per biased float32 exponent: half an ulp scaled by 10^K_FINE (the rounding interval's half-width in steps). */
const HALF_WIDTH = new Float64Array(256);
for (let b = 0; b < 256; b++) {
  const ulpExp = Math.max(b, 1) - 150; // ulp = 2^ulpExp
  let k = Math.floor(-ulpExp * Math.log10(2)) - 1;
  while (Math.pow(10, -k) >= Math.pow(2, ulpExp)) k++;
  K_FINE[b] = k;
  HALF_WIDTH[b] = k >= -22 && k <= 22 ? Math.pow(2, ulpExp - 1) * (k >= 0 ? POW10[k] : 1 / POW10[-k]) : 0;
}

/** 10^-j for j = 0..44 (approximate; only used for interval widths, with a safety margin). */
const INV_POW10 = new Float64Array(45);
for (let i = 0; i <= 44; i++) INV_POW10[i] = Math.pow(10, -i);

/**
 * Margin of the quick interval test, in decimal steps. Scaled values stay below 2^31, where a
 * double's rounding error is under 2^-21, so anything decided outside this margin is decided right.
 */
const MARGIN = 1e-5;

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

/**
 * Math.round for 0 <= x < 2^31 as an int32 (Math.round is a slow call in V8). It differs from
 * Math.round only for x just below 0.5, where neither 0 nor 1 can be a candidate that round-trips.
 */
function roundHalfUp(x: number): number {
  return (x + 0.5) | 0;
}

function roundTrips(a: number, m: number, k: number): boolean {
  return k >= 0 ? fround(m / POW10[k]) === a : fround(m * POW10[-k]) === a;
}

/**
 * Whether candidate m at scale k (j = k0 - k steps coarser than k0) round-trips: decided by the
 * distance to a·10^k against the interval half-width when that is clear by a margin, else by the
 * exact test (which is the definition: the verdict is always the exact test's).
 */
function accepts(a: number, m: number, k: number, scaled: number, half: number): boolean {
  const d = Math.abs(m - scaled);
  if (d < half - MARGIN) return true;
  if (d > half + MARGIN) return false;
  return roundTrips(a, m, k);
}

/**
 * Finds digits m and scale k (a = m·10^-k after parsing) for positive finite float32 `a` with bits
 * `bits`. Returns false when the fast window does not apply. Same answer as trying k0-1, k0-2, ...
 * with the exact test, only cheaper: most tests are a multiply and a compare.
 */
function shortest(a: number, bits: number): boolean {
  const b = (bits >>> 23) & 255;
  const k0 = K_FINE[b];
  if (b === 0 || (bits & 0x7fffff) === 0 || k0 > 22 || k0 < -20) return false;
  const w0 = HALF_WIDTH[b];
  let k = k0 - 1;
  let scaled = k >= 0 ? a * POW10[k] : a / POW10[-k];
  let m = roundHalfUp(scaled);
  if (accepts(a, m, k, scaled, w0 * 0.1)) {
    while (k > -22) {
      const k2 = k - 1;
      const s2 = k2 >= 0 ? a * POW10[k2] : a / POW10[-k2];
      const m2 = roundHalfUp(s2);
      if (!accepts(a, m2, k2, s2, w0 * INV_POW10[k0 - k2])) break;
      m = m2;
      k = k2;
    }
  } else {
    k = k0;
    scaled = k >= 0 ? a * POW10[k] : a / POW10[-k];
    m = roundHalfUp(scaled);
    if (!accepts(a, m, k, scaled, w0)) return false;
  }
  resM = m;
  resK = k;
  return true;
}

/** Writes exactly `n` digits of int32 `x` (zero-padded) ending just before `end`. */
function writeDigits(x: number, n: number, out: Uint8Array, end: number): void {
  let p = end;
  while (n >= 2) {
    const q = ((x | 0) / 100) | 0;
    const r = ((x | 0) - q * 100) << 1;
    out[--p] = DIGIT_PAIRS[r + 1];
    out[--p] = DIGIT_PAIRS[r];
    x = q;
    n -= 2;
  }
  if (n === 1) out[p - 1] = 48 + (x | 0);
}

/** "0000".."9999" as little-endian 32-bit words of ASCII digits. */
const DIGIT_QUADS = new Uint32Array(10000);
for (let i = 0; i < 10000; i++) {
  const hi = Math.floor(i / 100);
  const lo = i % 100;
  DIGIT_QUADS[i] = DIGIT_PAIRS[2 * hi] | (DIGIT_PAIRS[2 * hi + 1] << 8) | (DIGIT_PAIRS[2 * lo] << 16) | (DIGIT_PAIRS[2 * lo + 1] << 24);
}

/** "00".."99" as little-endian 16-bit words of ASCII digits. */
const DIGIT_PAIRS16 = new Uint16Array(100);
for (let i = 0; i < 100; i++) DIGIT_PAIRS16[i] = DIGIT_PAIRS[2 * i] | (DIGIT_PAIRS[2 * i + 1] << 8);

/**
 * The biased exponents the vector fast path handles: 2^-19 <= a < 2^-3, always printed as "0.ddd"
 * (decimal exponent -6..-1), with k0 - 3 >= 0.
 */
const FAST_FIRST = 127 - 19;
const FAST_COUNT = 16;
/** K_FINE inside the fast range; a harmless in-range 3 elsewhere (such values leave the fast path). */
const FAST_K = new Int32Array(256).fill(3);
for (let b = FAST_FIRST; b < FAST_FIRST + FAST_COUNT; b++) FAST_K[b] = K_FINE[b];

let viewTarget: Uint8Array | undefined;
let viewCache: DataView | undefined;

/** A DataView over `out`, reused while callers keep writing into the same buffer. */
function viewOf(out: Uint8Array): DataView {
  if (out !== viewTarget || viewCache === undefined) {
    viewTarget = out;
    viewCache = new DataView(out.buffer, out.byteOffset, out.byteLength);
  }
  return viewCache;
}

/** Writes exactly `n` digits of int32 `x` (zero-padded) at `out[at]`, four digits per store. */
function writePadded(x: number, n: number, out: Uint8Array, at: number): void {
  const view = viewOf(out);
  let end = at + n;
  while (n >= 4) {
    const q = ((x | 0) / 10000) | 0;
    view.setUint32(end - 4, DIGIT_QUADS[(x | 0) - q * 10000], true);
    x = q;
    end -= 4;
    n -= 4;
  }
  if (n > 0) writeDigits(x, n, out, end);
}

function digitCount(m: number): number {
  if (m < 10000) return m < 10 ? 1 : m < 100 ? 2 : m < 1000 ? 3 : 4;
  if (m < 100000000) return m < 100000 ? 5 : m < 1000000 ? 6 : m < 10000000 ? 7 : 8;
  return m < 1000000000 ? 9 : 10;
}

/** Writes m·10^-k (0 < m < 2^31) in JavaScript's number layout. */
function emit(mIn: number, k: number, out: Uint8Array, pos: number): number {
  let m = mIn | 0;
  // Only reachable at the ends of the search (the coarsest scale, or huge values): usually no zeros.
  while (m >= 10 && m % 10 === 0) {
    m = (m / 10) | 0;
    k--;
  }
  const n = digitCount(m);
  const e = n - 1 - k; // decimal exponent of the leading digit
  if (e < 0 && e >= -6) {
    // "0." and then exactly k digits of m, zero-padded: the common shape of embedding values.
    viewOf(out).setUint16(pos, 0x2e30, true);
    writePadded(m, k, out, pos + 2);
    return pos + 2 + k;
  }
  if (e >= 0 && e < 21) {
    if (k <= 0) {
      writeDigits(m, n, out, pos + n);
      pos += n;
      for (let i = 0; i < -k; i++) out[pos++] = 48;
      return pos;
    }
    const div = POW10[k] | 0;
    const ip = (m / div) | 0;
    const intDigits = n - k;
    writeDigits(ip, intDigits, out, pos + intDigits);
    pos += intDigits;
    out[pos++] = 46;
    writeDigits(m - ip * div, k, out, pos + k);
    return pos + k;
  }
  const div = POW10[n - 1] | 0;
  const lead = (m / div) | 0;
  out[pos++] = 48 + lead;
  if (n > 1) {
    out[pos++] = 46;
    writeDigits(m - lead * div, n - 1, out, pos + n - 1);
    pos += n - 1;
  }
  out[pos++] = 101;
  out[pos++] = e < 0 ? 45 : 43;
  const ae = e < 0 ? -e : e;
  if (ae >= 10) out[pos++] = 48 + ((ae / 10) | 0);
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
  const view = viewOf(out);
  out[pos++] = 91;
  for (let i = from; i < to; i++) {
    if (i > from) out[pos++] = 44;
    const bi = bits[i];
    const b = (bi >>> 23) & 255;
    const k0 = FAST_K[b];
    const v = vec[i];
    const a = Math.abs(v);
    // The same decisions as `shortest`, made without branches (which digit count wins is close to
    // random, so branches on it mispredict): test scales k0..k0-3 at once; the passes are monotone.
    const w0 = HALF_WIDTH[b];
    const s0 = a * POW10[k0];
    const s1 = a * POW10[k0 - 1];
    const s2 = a * POW10[k0 - 2];
    const s3 = a * POW10[k0 - 3];
    const d0 = Math.abs(((s0 + 0.5) | 0) - s0) - w0;
    const d1 = Math.abs(((s1 + 0.5) | 0) - s1) - w0 * 0.1;
    const d2 = Math.abs(((s2 + 0.5) | 0) - s2) - w0 * 0.01;
    const d3 = Math.abs(((s3 + 0.5) | 0) - s3) - w0 * 0.001;
    const j = +(d1 < 0) + +(d2 < 0);
    const k = k0 - j;
    // Leaves to the general path: other magnitudes, powers of two, verdicts within the margin, five
    // or fewer digits (d3 passes: coarser scales may pass too), and "0.1xxxxx" with under 7 decimals.
    if ((b - FAST_FIRST) >>> 0 >= FAST_COUNT || (bi & 0x7fffff) === 0 || Math.abs(d0) < MARGIN || Math.abs(d1) < MARGIN || Math.abs(d2) < MARGIN || d3 < MARGIN || d0 > 0 || k < 7) {
      pos = writeFloat32Bits(v, bi, out, pos);
      if (pos < 0) return -1 - (i - from);
      continue;
    }
    out[pos] = 45;
    pos += bi >>> 31;
    // "0." then exactly k digits of m, zero-padded (m < 10^9, 7 <= k <= 14): a run of zeros, then
    // the 9-digit field of m ending at the last digit, then "0." again over any padding it covered.
    const m = (a * POW10[k] + 0.5) | 0;
    const end = pos + 2 + k;
    view.setUint32(pos, 0x30302e30, true);
    view.setUint32(pos + 4, 0x30303030, true);
    const q = (m / 10000) | 0;
    const q2 = (q / 10000) | 0;
    view.setUint32(end - 4, DIGIT_QUADS[m - q * 10000], true);
    view.setUint32(end - 8, DIGIT_QUADS[q - q2 * 10000], true);
    out[end - 9] = 48 + q2;
    view.setUint16(pos, 0x2e30, true);
    pos = end;
  }
  out[pos++] = 93;
  return pos;
}
