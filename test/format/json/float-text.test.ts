// parseFloat32At must equal Math.fround(Number(text)) bit for bit, including the hard cases: values at
// and next to float32 rounding boundaries, long digit strings, exponents, subnormals, overflow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JsonSyntaxError } from '../../../src/format/json/tokenizer.js';
import { parseFloat32At } from '../../../src/format/json/float-parse.js';

const out = new Float32Array(1);

function parse(text: string): number {
  const bytes = Buffer.alloc(text.length + 2);
  bytes.write(`${text},`, 'latin1');
  const end = parseFloat32At(bytes, 0, text.length + 1, out, 0);
  assert.equal(end, text.length, `${text}: consumed`);
  return out[0];
}

function check(text: string): void {
  const want = Math.fround(Number(text));
  if (!Number.isFinite(want)) {
    assert.throws(() => parse(text), (e: unknown) => e instanceof JsonSyntaxError && /out of float32 range/.test(e.message), text);
    return;
  }
  const got = parse(text);
  assert.ok(Object.is(got, want), `${text}: got ${got}, want ${want}`);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function fromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

test('fixed cases: boundaries, long mantissas, exponents, signs, zeros', () => {
  const cases = [
    '0', '-0', '0.0', '-0.0e5', '1', '-1', '0.1', '0.10000000149011612', '0.30000001192092896', '3.4028234663852886e+38',
    '3.4028235677973366e38', '3.4028235677973362e38', '1.401298464324817e-45', '7.006492321624085e-46', '7.006492321624087e-46',
    '1.1754943508222875e-38', '1.1754942106924411e-38', '16777217', '16777219', '0.333333333333333314829616256247390992939472198486328125',
    '123456789012345678901234567890', '1e-7', '1E+2', '9.999999e-39', '2.5e-44', '100000000000000000000000000000000000000',
  ];
  for (const c of cases) check(c);
  // Exact midpoints between neighbouring float32 values (ties go to even) and the doubles next to them.
  for (const bits of [0x3f800000, 0x3dcccccd, 0x00000001, 0x007fffff, 0x7f7ffffe, 0x4b800000, 0x33d6bf95]) {
    const a = fromBits(bits);
    const b = fromBits(bits + 1);
    const mid = (a + b) / 2;
    for (const v of [mid, mid * (1 + 2 ** -52), mid * (1 - 2 ** -52), a, b]) {
      check(String(v));
      check(v.toPrecision(17));
      check(v.toPrecision(25));
      check(v.toExponential(20));
    }
  }
});

test('random doubles, float32 values and decimal strings', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -3.4e38, max: 3.4e38 }), (d) => {
      check(String(d));
      check(d.toExponential(18));
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0x7f7fffff }), fc.boolean(), (bits, neg) => {
      const v = fromBits(bits) * (neg ? -1 : 1);
      check(String(v));
    }),
    { numRuns: 3000 },
  );
  const digits = fc.stringMatching(/^[0-9]{1,45}$/);
  fc.assert(
    fc.property(digits, digits, fc.integer({ min: -60, max: 40 }), (int, frac, exp) => {
      const i = int.replace(/^0+(?=\d)/, '');
      check(`${i}.${frac}e${exp}`);
      check(`-${i}.${frac}`);
    }),
    { numRuns: 3000 },
  );
});

test('not a number or out of float32 range is a syntax error at the number', () => {
  for (const bad of ['1e39', '-3.5e38', '3.4028235677973367e38', '1e400']) assert.throws(() => parse(bad), (e: unknown) => e instanceof JsonSyntaxError && /out of float32 range/.test(e.message), bad);
  for (const bad of ['01', '.5', '-', '1.', '1e', 'x']) assert.throws(() => parse(bad), JsonSyntaxError, bad);
});
