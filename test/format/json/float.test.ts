import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { float32ToJson, writeFloat32, writeVectorText, MAX_FLOAT32_CHARS } from '../../../src/format/json/float-format.js';
import { parseFloat32, parseFloat32Array, parseFloat32At } from '../../../src/format/json/float-parse.js';
import { JsonSyntaxError, NEED_MORE } from '../../../src/format/json/tokenizer.js';

const JSON_NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function bitsOf(v: number): number {
  f32[0] = v;
  return u32[0];
}

function fromBits(b: number): number {
  u32[0] = b;
  return f32[0];
}

/** Shortest round-tripping text by brute force (the definition the formatter must meet). */
function referenceShortest(v: number): string {
  for (let p = 1; p <= 9; p++) {
    const t = v.toPrecision(p);
    if (Math.fround(parseFloat(t)) === v) return String(parseFloat(t));
  }
  throw new Error('unreachable');
}

function checkFormatted(v: number): void {
  const s = float32ToJson(v);
  assert.match(s, JSON_NUMBER, `not a JSON number: ${s}`);
  assert.ok(s.length <= MAX_FLOAT32_CHARS);
  assert.equal(bitsOf(parseFloat(s)), bitsOf(v), `${s} does not parse back to ${v}`);
  assert.equal(bitsOf(JSON.parse(s) as number), bitsOf(v));
  const ref = referenceShortest(Math.abs(v));
  assert.ok(s.replace('-', '').length <= ref.length, `${s} is longer than the shortest ${ref}`);
}

test('formatter: every float32 round-trips bit-exactly through parseFloat, as a valid and shortest JSON number', () => {
  fc.assert(
    fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (v) => checkFormatted(v)),
    { numRuns: 20000 },
  );
  // Uniform over the bit patterns too: many subnormals and huge values.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (b) => {
      const v = fromBits(b >>> 0);
      if (Number.isFinite(v)) checkFormatted(v);
    }),
    { numRuns: 20000 },
  );
});

test('formatter: edge values', () => {
  const edges = [0, -0, 3.4028234663852886e38, -3.4028234663852886e38, 1.401298464324817e-45, -1.401298464324817e-45, 1.1754943508222875e-38, 1.1754942106924411e-38, 1, -1, 2 ** 24, 2 ** -24, 1e21, 1e-7, 123456789, 0.000001, 2 ** 100, 2 ** -100];
  for (const v of edges) checkFormatted(Math.fround(v));
});

test('formatter: simple values print as people write them, -0 is preserved', () => {
  const cases: [number, string][] = [
    [0.1, '0.1'],
    [0.5, '0.5'],
    [1, '1'],
    [-2.5, '-2.5'],
    [1e-7, '1e-7'],
    [0, '0'],
    [-0, '-0'],
    [100, '100'],
    [0.3, '0.3'],
    [1 / 3, '0.33333334'],
    [1e21, '1e+21'],
    [1.5e-10, '1.5e-10'],
    [123456, '123456'],
    [3.4028234663852886e38, '3.4028235e+38'],
    [1.401298464324817e-45, '1e-45'],
  ];
  for (const [v, want] of cases) assert.equal(float32ToJson(v), want, `formatting ${v}`);
  assert.equal(Object.is(JSON.parse(float32ToJson(-0)), -0), true);
});

test('formatter: non-finite values are refused', () => {
  const out = new Uint8Array(64);
  for (const v of [NaN, Infinity, -Infinity, 1e39]) assert.equal(writeFloat32(v, out, 0), -1, String(v));
  assert.throws(() => float32ToJson(NaN), RangeError);
  const vec = new Float32Array([1, 2, NaN, 4]);
  assert.equal(writeVectorText(vec, new Uint32Array(vec.buffer), 0, 4, new Uint8Array(200), 0), -1 - 2);
});

test('formatter: vector text is a JSON array of the same float32 values', () => {
  fc.assert(
    fc.property(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 40 }), (xs) => {
      const vec = Float32Array.from(xs);
      const out = new Uint8Array(vec.length * (MAX_FLOAT32_CHARS + 1) + 2);
      const end = writeVectorText(vec, new Uint32Array(vec.buffer), 0, vec.length, out, 0);
      const back = Float32Array.from(JSON.parse(Buffer.from(out.subarray(0, end)).toString('latin1')) as number[]);
      assert.ok(Buffer.from(back.buffer).equals(Buffer.from(vec.buffer)));
    }),
  );
});

/** Arbitrary JSON number texts, including long mantissas, exponents and leading zeros in fractions. */
const jsonNumberText = fc
  .tuple(
    fc.boolean(),
    fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,25}$/)),
    fc.option(fc.stringMatching(/^[0-9]{1,30}$/), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.integer({ min: 0, max: 60 })), { nil: undefined }),
  )
  .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int}${frac === undefined ? '' : '.' + frac}${exp === undefined ? '' : exp[0] + exp[1] + exp[2]}`);

test('parser: any JSON number parses to exactly Math.fround(JSON.parse(text))', () => {
  fc.assert(
    fc.property(jsonNumberText, (s) => {
      const want = Math.fround(JSON.parse(s) as number);
      if (!Number.isFinite(want)) {
        assert.throws(() => parseFloat32(s), JsonSyntaxError);
        return;
      }
      assert.equal(bitsOf(parseFloat32(s)), bitsOf(want), s);
    }),
    { numRuns: 20000 },
  );
});

test('parser: the formatter output parses back bit-exactly (both directions agree)', () => {
  fc.assert(
    fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (v) => {
      assert.equal(bitsOf(parseFloat32(float32ToJson(v))), bitsOf(v));
    }),
    { numRuns: 10000 },
  );
});

test('parser: rejects what JSON rejects and what float32 cannot hold', () => {
  for (const bad of ['01', '1.', '.5', '+1', '1e', '1e+', '-', '--1', 'NaN', 'Infinity', '0x10', '1.2.3', '1e39', '-3.5e38', '']) {
    assert.throws(() => parseFloat32(bad), JsonSyntaxError, bad);
  }
  assert.equal(parseFloat32('1e-50'), 0);
  assert.ok(Object.is(parseFloat32('-0'), -0));
  assert.ok(Object.is(parseFloat32('-0.0e5'), -0));
  assert.equal(parseFloat32('1E-7'), Math.fround(1e-7));
  assert.equal(parseFloat32('340282346638528859811704183484516925440'), 3.4028234663852886e38);
});

test('parser: a number that reaches the end of the window asks for more input', () => {
  const bytes = new Uint8Array([...Buffer.from('1.25'), 0]);
  const dst = new Float32Array(1);
  assert.throws(() => parseFloat32At(bytes, 0, 4, dst, 0), (e) => e === NEED_MORE);
  assert.equal(parseFloat32At(new Uint8Array([...Buffer.from('1.25,'), 0]), 0, 5, dst, 0), 4);
  assert.equal(dst[0], 1.25);
});

test('parser: arrays take the fast path and the general path with identical results', () => {
  fc.assert(
    fc.property(fc.array(jsonNumberText, { minLength: 1, maxLength: 30 }), fc.constantFrom('', ' ', '\n  '), (xs, ws) => {
      const want = xs.map((s) => Math.fround(JSON.parse(s) as number));
      const text = xs.join(`${ws},${ws}`) + `${ws}]`;
      // Stale digits after the sentinel must never be read as part of a number.
      const bytes = new Uint8Array([...Buffer.from(text), 0, 0x35, 0x35, 0x35, 0x35]);
      const dst = new Float32Array(xs.length + 2);
      if (want.some((v) => !Number.isFinite(v))) {
        assert.throws(() => parseFloat32Array(bytes, 0, text.length, dst, 1, xs.length), JsonSyntaxError);
        return;
      }
      const end = parseFloat32Array(bytes, 0, text.length, dst, 1, xs.length);
      assert.equal(end, text.length);
      for (let i = 0; i < xs.length; i++) assert.equal(bitsOf(dst[1 + i]), bitsOf(want[i]), xs[i]);
    }),
    { numRuns: 3000 },
  );
});

test('parser: long fractions, many leading zeros and 10-digit mantissas in arrays', () => {
  const texts = ['0.0000000000000000000000001', '-0.00000000000000000000001234', '0.1234567891', '1234567891', '999999999', '0.999999999', '12345.6789', '0.00001234567', '1000000000.5'];
  const text = texts.join(',') + ']';
  const bytes = new Uint8Array([...Buffer.from(text), 0]);
  const dst = new Float32Array(texts.length);
  assert.equal(parseFloat32Array(bytes, 0, text.length, dst, 0, texts.length), text.length);
  texts.forEach((t, i) => assert.equal(bitsOf(dst[i]), bitsOf(Math.fround(JSON.parse(t) as number)), t));
});

test('parser: arrays with the wrong length are a dimension mismatch', () => {
  const run = (text: string, n: number) => parseFloat32Array(new Uint8Array([...Buffer.from(text), 0]), 0, text.length, new Float32Array(8), 0, n);
  assert.throws(() => run('1,2]', 3), /has 2 numbers, expected 3/);
  assert.throws(() => run('1,2,3,4]', 3), /more than 3 numbers/);
  assert.throws(() => run(']', 3), /has 0 numbers/);
  assert.throws(() => run('1,,2]', 3), JsonSyntaxError);
  assert.throws(() => run('1 2]', 2), /expected "," or "\]"/);
});

test('formatter: the vector fast path prints exactly what the per-number formatter prints', () => {
  // The fast path covers 2^-19 <= |v| < 2^-3; include its edges, neighbours and short decimals.
  const edges = [2 ** -19, 2 ** -3, 0.1, 0.12, 0.123456, 0.1234567, 0.05, 0.0625, 1e-6, 1.9e-6, 0.001, 0.0001234, 0.099999994];
  const values: number[] = [];
  for (const e of edges) for (const d of [-2, -1, 0, 1, 2]) values.push(fromBits(bitsOf(Math.fround(e)) + d), -fromBits(bitsOf(Math.fround(e)) + d));
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: 104 << 23, max: (128 << 23) - 1 }), fc.integer({ min: 0, max: 0x7f7fffff })), { minLength: 1, maxLength: 64 }), fc.boolean(), (bs, neg) => {
      const vec = new Float32Array(values.length + bs.length);
      vec.set(values);
      bs.forEach((b, i) => (vec[values.length + i] = (neg && i % 2 ? -1 : 1) * fromBits(b)));
      const out = new Uint8Array(vec.length * (MAX_FLOAT32_CHARS + 1) + 2);
      const end = writeVectorText(vec, new Uint32Array(vec.buffer), 0, vec.length, out, 0);
      const want = `[${Array.from(vec, (v) => float32ToJson(v)).join(',')}]`;
      assert.equal(Buffer.from(out.subarray(0, end)).toString('latin1'), want);
    }),
    { numRuns: 300 },
  );
});

test('parser: the "0.ddd" word-at-a-time path agrees with JSON.parse at every digit count and edge', () => {
  const texts: string[] = ['-0.0', '0.0', '0.5', '-0.5', '0.1234', '0.12345', '0.12345678', '0.123456789', '0.12345678901', '0.123456789012', '-0.00000000001', '0.5e3', '0.25E-2', '0.0022577522'];
  for (let d = 1; d <= 13; d++) texts.push(`0.${'9'.repeat(d)}`, `-0.${'0'.repeat(d - 1)}7`);
  const text = texts.join(', ') + ']';
  for (const tail of [0, 1, 5, 12]) {
    // Digits after the sentinel must not be taken as part of the last number.
    const bytes = new Uint8Array([...Buffer.from(text), 0, ...new Array<number>(tail).fill(0x37)]);
    const dst = new Float32Array(texts.length);
    assert.equal(parseFloat32Array(bytes, 0, text.length, dst, 0, texts.length), text.length);
    texts.forEach((t, i) => assert.equal(bitsOf(dst[i]), bitsOf(Math.fround(JSON.parse(t) as number)), t));
  }
  assert.equal(Object.is(parseFloat32('-0.0'), -0), true);
  // A number cut by the end of the window (more bytes may follow) asks for more input.
  const cut = Buffer.from('0.12345,0.9876543');
  assert.throws(() => parseFloat32Array(new Uint8Array([...cut, 0x35, 0x35, 0x35, 0x35, 0x35]), 0, cut.length, new Float32Array(2), 0, 2), (e) => e === NEED_MORE);
  assert.throws(() => parseFloat32Array(new Uint8Array([...Buffer.from('0.,1]'), 0]), 0, 5, new Float32Array(2), 0, 2), JsonSyntaxError);
});
