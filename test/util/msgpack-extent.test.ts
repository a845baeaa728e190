// The MessagePack value walker (valueExtent) and the check that lets log replay keep metadata encoded
// (decodesInPlace): whatever it accepts must decode in place to the same plain object as the general
// decoder, and anything the general decoder would reject or treat specially must be refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  EXTENT_INVALID, EXTENT_SHORT, EXTENT_TOO_DEEP, decodesInPlace, pack, unpackMetadata, unpackPlainMapAt, valueExtent,
} from '../../src/util/msgpack.js';

const metadataArb = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 8 });

function padded(bytes: Uint8Array, before: number): Buffer {
  const b = Buffer.alloc(before + bytes.length + 5, 0xc1); // filler that is never valid MessagePack
  b.set(bytes, before);
  return b;
}

test('valueExtent finds the end of any value, and reports every cut-short prefix as short', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 5 }), fc.nat(7), (value, before) => {
      const bytes = pack(value);
      const buf = padded(bytes, before);
      assert.equal(valueExtent(buf, before, buf.length), before + bytes.length);
      for (let cut = 0; cut < bytes.length; cut++) assert.equal(valueExtent(buf, before, before + cut), EXTENT_SHORT, `prefix of ${cut} bytes`);
    }),
    { numRuns: 300 },
  );
});

test('valueExtent: byte 0xc1 is invalid, and depth is limited only when asked', () => {
  assert.equal(valueExtent(Uint8Array.of(0x92, 0x01, 0xc1), 0, 3), EXTENT_INVALID);
  let nested: unknown = 1;
  for (let i = 0; i < 1001; i++) nested = { k: nested };
  const bytes = pack(nested);
  assert.equal(valueExtent(bytes, 0, bytes.length), bytes.length);
  assert.equal(valueExtent(bytes, 0, bytes.length, 1000), EXTENT_TOO_DEEP);
  assert.equal(valueExtent(bytes, 0, bytes.length, 1001), bytes.length);
  // Lengths of str, bin, ext, array and map headers are read only when their bytes are there.
  for (const head of [[0xd9], [0xda, 0], [0xdb, 0, 0, 0], [0xc4], [0xc7], [0xc8, 0], [0xdc, 0], [0xdf, 0, 0]]) {
    assert.equal(valueExtent(Uint8Array.from(head), 0, head.length), EXTENT_SHORT, `header ${head.map((b) => b.toString(16))}`);
  }
  // An ext value's type byte counts: fixext 1 is 3 bytes, ext 8 with 1 data byte is 4.
  assert.equal(valueExtent(Uint8Array.of(0xd4, 0x01, 0x02), 0, 3), 3);
  assert.equal(valueExtent(Uint8Array.of(0xc7, 0x01, 0x05, 0x09), 0, 4), 4);
});

test('what decodesInPlace accepts decodes in place, without the general path, to what the general decoder gives', () => {
  fc.assert(
    fc.property(metadataArb, fc.nat(9), (md, before) => {
      const bytes = pack(md);
      const buf = padded(bytes, before);
      const want = unpackMetadata(bytes);
      if (decodesInPlace(buf, before, before + bytes.length)) {
        const got = unpackPlainMapAt(buf, before, before + bytes.length);
        assert.deepEqual(got, want);
        assert.equal(Object.getPrototypeOf(got), Object.prototype);
        assert.deepEqual(Object.keys(got), Object.keys(want));
      }
    }),
    { numRuns: 300 },
  );
  // Ordinary metadata qualifies.
  const plain = pack({ title: 'Document 12', category: 'tutorial', rank: 12, tags: ['a', 'b'], nested: { x: 1.5, y: null } });
  assert.ok(decodesInPlace(padded(plain, 3), 3, 3 + plain.length));
});

test('decodesInPlace accepts plain metadata whatever bytes its numbers and strings hold', () => {
  // Bytes of bin and ext type codes inside a float64 and inside UTF-8 text are data, not types.
  const dv = new DataView(new ArrayBuffer(8));
  let x = 0.37;
  for (let i = 0; ; i++, x = i * 1.1 + 0.37) {
    dv.setFloat64(0, x);
    if (new Uint8Array(dv.buffer).some((b) => (b >= 0xc4 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8))) break;
  }
  for (const md of [{ score: x }, { word: 'Քաղաք' }, { 1: 'numeric key', t: true, n: null }]) {
    const bytes = pack(md);
    assert.ok(decodesInPlace(bytes, 0, bytes.length), JSON.stringify(md));
    assert.deepEqual(unpackPlainMapAt(Buffer.from(bytes), 0, bytes.length), unpackMetadata(bytes));
  }
  // Keys of other scalar types decode to strings, as the general decoder makes them.
  const keys = Uint8Array.of(0x83, 0x05, 0x01, 0xc3, 0x02, 0xc0, 0x03);
  assert.ok(decodesInPlace(keys, 0, keys.length));
  assert.deepEqual(unpackPlainMapAt(Buffer.from(keys), 0, keys.length), unpackMetadata(keys));
  assert.deepEqual(unpackMetadata(keys), { 5: 1, true: 2, null: 3 });
});

test('valueExtent without a depth limit walks any nesting in constant memory', () => {
  const deep = new Uint8Array(300_001).fill(0x91);
  deep[300_000] = 0x01;
  assert.equal(valueExtent(deep, 0, deep.length), deep.length);
  assert.equal(valueExtent(deep, 0, deep.length - 1), EXTENT_SHORT);
  assert.equal(valueExtent(deep, 0, deep.length, 1000), EXTENT_TOO_DEEP);
});

test('decodesInPlace refuses what must be decoded eagerly or rejected', () => {
  const ok = pack({ a: 'hello' });
  const cases: [string, Uint8Array, number, number][] = [
    ['empty', ok, 0, 0],
    ['cut short', ok, 0, ok.length - 1],
    ['trailing bytes', Uint8Array.from([...ok, 0x01]), 0, ok.length + 1],
    ['an array, not a map', pack([1, 2]), 0, 3],
    ['a string, not a map', pack('x'), 0, 2],
    ['a bin value', Uint8Array.of(0x81, 0xa1, 0x62, 0xc4, 0x01, 0x07), 0, 6],
    ['an ext value', Uint8Array.of(0x81, 0xa1, 0x62, 0xd4, 0x01, 0x07), 0, 6],
    ['a "__proto__" key', pack(JSON.parse('{"__proto__": {"polluted": true}}')), 0, -1],
    ['a "__proto__" key as str8', Uint8Array.of(0x81, 0xd9, 0x09, ...Buffer.from('__proto__'), 0x01), 0, -1],
    ['an array as a key', Uint8Array.of(0x81, 0x91, 0x01, 0x01), 0, 4],
    ['a map as a key', Uint8Array.of(0x81, 0x80, 0x01), 0, 3],
    ['a bin value nested in an array', Uint8Array.of(0x81, 0xa1, 0x62, 0x91, 0xc4, 0x01, 0x07), 0, 7],
    ['byte 0xc1', Uint8Array.of(0x81, 0xa1, 0x62, 0xc1), 0, 4],
  ];
  for (const [what, bytes, start, end] of cases) {
    assert.equal(decodesInPlace(bytes, start, end < 0 ? bytes.length : end), false, what);
  }
  let deep: unknown = 1;
  for (let i = 0; i < 1001; i++) deep = { k: deep };
  const atLimit = pack(deep);
  assert.equal(decodesInPlace(atLimit, 0, atLimit.length), true, '1,001 levels, what files may hold');
  const deepBytes = pack({ k: deep });
  assert.equal(decodesInPlace(deepBytes, 0, deepBytes.length), false, 'nested deeper than 1,001 levels');
});
