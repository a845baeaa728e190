import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packMetadata, unpackMetadata, unpackMetadataAt } from '../../src/wal/metadata-pack.js';

function inBuffer(bytes: Uint8Array, before: number): Buffer {
  const b = Buffer.alloc(before + bytes.length + 9, 0xc7); // filler that would alias if read past the end
  b.set(bytes, before);
  return b;
}

const SAMPLES: Record<string, unknown>[] = [
  { title: 'Document 1234', category: 'tutorial', rank: 234 },
  { rank: 200, big: 70000, neg: -5, f: 1.5, z: -0, t: true, n: null },
  { nested: { a: [1, 'two', { three: 3 }], e: {} }, s: 'ünïcödé ✓ 𝄞' },
  { ['__proto__']: { polluted: true }, ok: 1 },
  { long: 'x'.repeat(70000) },
  {},
];

test('in-place metadata decoding equals the general decoder, at any offset', () => {
  for (const md of SAMPLES) {
    const bytes = packMetadata(md);
    const want = unpackMetadata(bytes);
    for (const before of [0, 1, 3, 8]) {
      const buf = inBuffer(bytes, before);
      const got = unpackMetadataAt(buf, before, before + bytes.length);
      assert.deepEqual(got, want);
      assert.deepEqual(Object.keys(got), Object.keys(want));
      assert.equal(Object.getPrototypeOf(got), Object.prototype);
    }
  }
});

test('a "__proto__" key stays data, decoded in place', () => {
  const md = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
  const bytes = packMetadata(md);
  const got = unpackMetadataAt(inBuffer(bytes, 5), 5, 5 + bytes.length);
  assert.ok(Object.hasOwn(got, '__proto__'));
  assert.deepEqual(Object.keys(got), ['__proto__', 'a']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('decoded values never alias the buffer, which the reader reuses', () => {
  // A hand-made payload with a bin value (packMetadata never writes one): map { b: bin(3) }.
  const bytes = Uint8Array.of(0x81, 0xa1, 0x62, 0xc4, 0x03, 1, 2, 3);
  const buf = inBuffer(bytes, 2);
  const got = unpackMetadataAt(buf, 2, 2 + bytes.length);
  buf.fill(0);
  assert.deepEqual(Array.from(got.b as Uint8Array), [1, 2, 3]);
});

test('bad payloads throw plain errors: truncated, trailing bytes, not a map', () => {
  const bytes = packMetadata({ a: 'hello' });
  const buf = inBuffer(bytes, 0);
  assert.throws(() => unpackMetadataAt(buf, 0, bytes.length - 1));
  assert.throws(() => unpackMetadataAt(Buffer.concat([Buffer.from(bytes), Buffer.from([0x01])]), 0, bytes.length + 1));
  const arr = Buffer.from([0x92, 0x01, 0x02]);
  assert.throws(() => unpackMetadataAt(arr, 0, 3), /not a plain JSON object/);
});
