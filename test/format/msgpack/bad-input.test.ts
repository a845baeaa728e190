import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pack } from 'msgpackr';
import { QuiverError } from '../../../src/errors.js';
import type { ExchangeCompression } from '../../../src/format/exchange.js';
import { msgpackCodec, readMsgpackFrom } from '../../../src/format/msgpack/index.js';
import { packFixmap } from '../../../src/format/msgpack/header.js';
import { assertBombsCapped, assertFlipsSafe, assertPrefixesCorrupt } from '../../support/exchange.js';
import { awkwardSpec, bombs, corruption, craftMsgpack, f32, failure, makeImage, rawHeader, readBytes, withTrailer, writeBytes } from './helpers.js';

const codec = msgpackCodec;
const sample = (compression: ExchangeCompression = 'none') => writeBytes(codec, makeImage(awkwardSpec()), { compression });

for (const compression of ['none', 'gzip', 'brotli'] as ExchangeCompression[]) {
  test(`every truncated prefix is a CorruptionError (${compression})`, async () => {
    const bytes = await sample(compression);
    await readBytes(codec, bytes);
    await assertPrefixesCorrupt(codec, readMsgpackFrom, bytes, compression);
  });
}

test('random byte flips never return different data: a typed error or the same columns', async () => assertFlipsSafe(codec, await sample()));

test('not our format: JSON text, other MessagePack, another format name, a newer version', async () => {
  let err = await failure(codec, Buffer.from('{"format":"quiverdb"}'));
  assert.equal(err.code, 'UNSUPPORTED_FORMAT');
  err = await failure(codec, Buffer.from(pack([1, 2, 3])));
  assert.equal(err.code, 'UNSUPPORTED_FORMAT');
  assert.match(err.message, /not a QuiverDB MessagePack export/);
  err = await failure(codec, craftMsgpack(rawHeader(2, 0, { format: 'something-else' }), []));
  assert.equal(err.code, 'UNSUPPORTED_FORMAT');
  assert.match(err.message, /"something-else"/);
  err = await failure(codec, craftMsgpack(rawHeader(2, 0, { formatVersion: 2 }), []));
  assert.equal(err.code, 'UNSUPPORTED_VERSION');
  for (const [key, value] of [['dimension', 0], ['dimension', 1.5], ['dimension', 70000], ['metric', 'hamming'], ['count', -1], ['user', [1]], ['createdAt', 'today'], ['formatVersion', '1']] as const) {
    const e = await corruption(codec, craftMsgpack(rawHeader(2, 0, { [key]: value }), []));
    assert.equal(e.section, `header.${key}`, `${key}=${String(value)}`);
  }
});

const A = { id: 'a', vector: f32([1, 2]) };

test('wrong dimension and wrong vector length name the entry', async () => {
  let err = await corruption(codec, craftMsgpack(rawHeader(3, 1), [A]));
  assert.equal(err.section, 'entry 0.vector');
  assert.match(err.message, /has 2 floats, expected 3 \(dimension mismatch\)/);
  err = await corruption(codec, craftMsgpack(rawHeader(2, 2), [A, { id: 'b', vector: f32([1, 2, 3]) }]));
  assert.equal(err.section, 'entry 1.vector');
  err = await corruption(codec, craftMsgpack(rawHeader(2, 1), [{ id: 'a', vector: Buffer.alloc(7) }]));
  assert.match(err.message, /7 bytes, not whole float32s/);
  err = await corruption(codec, craftMsgpack(rawHeader(2, 1), [{ id: 'a', vector: [1, 2] }]));
  assert.match(err.message, /must be a bin of 8 bytes/);
});

test('NaN and Infinity in a vector are rejected even with a valid checksum', async () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const err = await corruption(codec, craftMsgpack(rawHeader(2, 2), [A, { id: 'b', vector: f32([0, bad]) }]));
    assert.equal(err.section, 'entry 1.vector');
    assert.match(err.message, new RegExp(`element 1 of the vector of id "b" is ${String(bad)}`));
  }
});

test('a duplicate id is a CorruptionError naming the id and both positions', async () => {
  const err = await corruption(codec, craftMsgpack(rawHeader(2, 3), [A, { id: 7, vector: f32([3, 4]) }, { id: 'a', vector: f32([5, 6]) }]));
  assert.match(err.message, /duplicate id "a" \(string\): entries 0 \(byte \d+\) and 2 \(byte \d+\)/);
  // "7" and 7 are different ids.
  const ok = await readBytes(codec, craftMsgpack(rawHeader(2, 2), [{ id: '7', vector: f32([1, 2]) }, { id: 7, vector: f32([3, 4]) }]));
  assert.deepEqual(ok.columns.ids, ['7', 7]);
});

test('ids: empty, non-integer, unsafe and non-scalar ids are rejected; float-coded safe integers are numbers', async () => {
  for (const id of ['', 1.5, 2 ** 53, null, true, [1], { x: 1 }]) {
    const err = await corruption(codec, craftMsgpack(rawHeader(2, 1), [{ id, vector: f32([1, 2]) }]));
    assert.equal(err.section, 'entry 0.id', String(id));
  }
  const big = await readBytes(codec, craftMsgpack(rawHeader(2, 1), [{ id: 2 ** 40, vector: f32([1, 2]) }]));
  assert.deepEqual(big.columns.ids, [2 ** 40]);
  const bad = Buffer.concat([packFixmap(rawHeader(2, 1)), Uint8Array.of(0x82, 0xa2, 0x69, 0x64, 0xa2, 0xc3, 0x28)]);
  assert.match((await corruption(codec, bad)).message, /not valid UTF-8/);
});

test('metadata: map or nil only, plain JSON only; __proto__ stays data', async () => {
  for (const metadata of [[1, 2], 'text', 5, true]) {
    const err = await corruption(codec, craftMsgpack(rawHeader(2, 1), [{ ...A, metadata }]));
    assert.equal(err.section, 'entry 0.metadata', JSON.stringify(metadata));
  }
  for (const metadata of [{ b: Buffer.from('x') }, { d: new Date(0) }, { n: NaN }]) {
    const err = await corruption(codec, craftMsgpack(rawHeader(2, 1), [{ ...A, metadata }]));
    assert.match(err.message, /not plain JSON/);
  }
  const intKey = Buffer.concat([packFixmap(rawHeader(2, 1)), Uint8Array.of(0x83), pack('id'), pack('a'), pack('vector'), pack(f32([1, 2])), pack('metadata'), Uint8Array.of(0x81, 0x01, 0xc0)]);
  assert.match((await corruption(codec, withTrailer(intKey, 1))).message, /map key is not a string/);
  let deep: unknown = 1;
  // The metadata object is level 1: 1001 arrays inside it make 1002 levels, one more than files may hold.
  for (let i = 0; i < 1001; i++) deep = [deep];
  assert.match((await corruption(codec, craftMsgpack(rawHeader(2, 1), [{ ...A, metadata: { deep } }]))).message, /nested deeper than 1001 levels/);
  const nil = await readBytes(codec, craftMsgpack(rawHeader(2, 1), [{ ...A, metadata: null }]));
  assert.deepEqual(nil.columns.metadata, [undefined]);
  // Some writers use int64 for every integer: safe ones are plain numbers.
  const i64 = Buffer.concat([packFixmap(rawHeader(2, 1)), Uint8Array.of(0x83), pack('id'), pack('a'), pack('vector'), pack(f32([1, 2])), pack('metadata'), Uint8Array.of(0x81), pack('t'), Uint8Array.of(0xd3, 0, 0, 1, 0, 0, 0, 0, 5)]);
  assert.deepEqual((await readBytes(codec, withTrailer(i64, 1))).columns.metadata, [{ t: 2 ** 40 + 5 }]);
  const huge = Buffer.concat([i64.subarray(0, i64.length - 9), Uint8Array.of(0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0)]);
  assert.match((await corruption(codec, withTrailer(huge, 1))).message, /outside ±\(2\^53-1\)/);
  const r = await readBytes(codec, craftMsgpack(rawHeader(2, 1), [{ ...A, metadata: JSON.parse('{"__proto__":{"polluted":true},"ok":1}') }]));
  const meta = r.columns.metadata[0]!;
  assert.deepEqual(Object.keys(meta), ['__proto__', 'ok']);
  assert.deepEqual(Object.getOwnPropertyDescriptor(meta, '__proto__')?.value, { polluted: true });
  assert.equal(Object.getPrototypeOf(meta), Object.prototype);
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
});

test('entry shape: unknown, repeated and missing keys', async () => {
  assert.match((await corruption(codec, craftMsgpack(rawHeader(2, 1), [{ ...A, extra: 1 }]))).message, /unknown key "extra"/);
  assert.match((await corruption(codec, craftMsgpack(rawHeader(2, 1), [{ vector: f32([1, 2]) }]))).message, /no "id"/);
  assert.match((await corruption(codec, craftMsgpack(rawHeader(2, 1), [{ id: 'a' }]))).message, /no "vector"/);
  const twice = Buffer.concat([packFixmap(rawHeader(2, 1)), Uint8Array.of(0x83), pack('id'), pack('a'), pack('id'), pack('b'), pack('vector'), pack(f32([1, 2]))]);
  assert.match((await corruption(codec, twice)).message, /key "id" appears twice/);
  assert.match((await corruption(codec, craftMsgpack(rawHeader(2, 1), [5 as never]))).message, /expected an entry map/);
});

test('64-bit integers where text or a count belongs are typed errors, not a failure to print them', async () => {
  // MessagePack int64 decodes as a BigInt, which JSON.stringify cannot print (found by the byte-flip property).
  const err = await failure(codec, craftMsgpack(rawHeader(2, 1, { format: 2n ** 60n }), [A]));
  assert.equal(err.code, 'UNSUPPORTED_FORMAT');
  assert.match(err.message, /bigint 1152921504606846976/);
  const trailer = await corruption(codec, craftMsgpack(rawHeader(2, 1), [A], { count: 2n ** 60n }));
  assert.equal(trailer.section, 'trailer.count');
});

test('trailer rules: count mismatches, checksum, bytes after it, missing', async () => {
  let err = await corruption(codec, craftMsgpack(rawHeader(2, 2), [A]));
  assert.match(err.message, /trailer comes after 1 entries but the header says 2/);
  err = await corruption(codec, craftMsgpack(rawHeader(2, 1), [A, { id: 'b', vector: f32([1, 2]) }]));
  assert.match(err.message, /an entry follows the 1 entries/);
  err = await corruption(codec, craftMsgpack(rawHeader(2, 1), [A], { count: 3 }));
  assert.equal(err.section, 'trailer.count');
  err = await corruption(codec, craftMsgpack(rawHeader(2, 1), [A], { checksum: 'ab' }));
  assert.equal(err.section, 'trailer.checksum');
  const wrong = craftMsgpack(rawHeader(2, 1), [A], { checksum: '0'.repeat(64) });
  err = await corruption(codec, wrong, undefined, 'CHECKSUM_MISMATCH');
  assert.match(err.message, /checksum mismatch/);
  assert.deepEqual((await readBytes(codec, wrong, { verifyChecksum: false })).columns.ids, ['a']);
  err = await corruption(codec, Buffer.concat([craftMsgpack(rawHeader(2, 1), [A]), Uint8Array.of(0xc0)]));
  assert.match(err.message, /1 bytes follow the trailer/);
  err = await corruption(codec, craftMsgpack(rawHeader(2, 1), [A], false));
  assert.match(err.message, /truncated/);
  err = await corruption(codec, craftMsgpack(rawHeader(2, 1), [A], { end: false }));
  assert.equal(err.section, 'trailer.end');
});

test('a bit flipped inside a vector is a checksum mismatch', async () => {
  const bytes = Buffer.from(craftMsgpack(rawHeader(2, 1), [A]));
  const at = bytes.indexOf(f32([1, 2]));
  bytes[at] ^= 1;
  await corruption(codec, bytes, undefined, 'CHECKSUM_MISMATCH');
});

// Header, then an entry whose metadata holds a string of ~96 MiB of zeros: the reader keeps asking for
// bytes, so only the decompression cap stops it.
function bomb() {
  const prefix = Buffer.concat([packFixmap(rawHeader(2, 1)), Uint8Array.of(0x83), pack('id'), pack('a'), pack('vector'), pack(f32([1, 2])), pack('metadata'), Uint8Array.of(0x81, 0xa1, 0x78, 0xdb, 0x7f, 0xff, 0xff, 0xff)]);
  return bombs(prefix, new Uint8Array(4096));
}

test('gzip and brotli bombs stop at an explicit decompression cap, and at the end of their bytes without one', async () => {
  const b = bomb();
  await assertBombsCapped(codec, b);
  await assert.rejects(readBytes(codec, b.gzip, { maxDecompressedBytes: -1 }), (err: unknown) => err instanceof QuiverError && err.code === 'INVALID_ARGUMENT');
});
