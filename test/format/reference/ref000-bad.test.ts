import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, constants as zc, gzipSync } from 'node:zlib';
import { CorruptionError } from '../../../src/errors.js';
import { reference000Codec } from '../../../src/format/reference/index.js';
import { fixture, memFs, ref000Doc, rejects, type RefEntry } from './helpers.js';

const P = '/r/state.json';
const read = (doc: string | Uint8Array, options = {}) => reference000Codec.read(memFs({ [P]: doc }), P, options);
const entries: RefEntry[] = [
  { id: 'a', vector: [1, 2, 3], metadata: { k: 1 } },
  { id: 'b', vector: [4, 5, 6] },
  { id: 'c', vector: [7, 8, 9], metadata: null },
];

test('every truncated prefix is an error naming the file (plain and gzip), never partial data', async () => {
  const plain = Buffer.from(ref000Doc(entries, { compact: true }));
  assert.equal((await read(plain)).columns.ids.length, 3);
  await rejects(read(plain.subarray(0, 0)), 'UNSUPPORTED_FORMAT', P, /not JSON/);
  for (let len = 1; len < plain.length; len++) {
    const err = await rejects(read(plain.subarray(0, len)), 'CORRUPT', P, /./);
    assert.ok(err instanceof CorruptionError, `prefix ${len}`);
  }
  const gz = gzipSync(plain);
  for (let len = 10; len < gz.length; len += 7) await rejects(read(gz.subarray(0, len)), 'CORRUPT', P, /./);
});

test('foreign documents, versions and shapes', async () => {
  await rejects(read('{"name": "x", "items": []}'), 'UNSUPPORTED_FORMAT', P, /neither "version" nor "vectors"/);
  await rejects(read('not json at all'), 'UNSUPPORTED_FORMAT', P, /not JSON/);
  await rejects(read(Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0)), 'UNSUPPORTED_FORMAT', P, /not JSON/);
  await rejects(read(ref000Doc(entries).replace('"1.0.0"', '"2.0.0"')), 'UNSUPPORTED_VERSION', P, /version "2.0.0"/);
  await rejects(read('{"version": "1.0.0", "options": {"dimension": 3}}'), 'CORRUPT', P, /"vectors" member is missing/);
  await rejects(read('{"version": "1.0.0", "vectors": {}}'), 'CORRUPT', P, /"vectors" must be an array/);
  await rejects(read('[{"version": "1.0.0", "vectors": []}]'), 'CORRUPT', P, /expected a JSON object/);
  await rejects(read('{"version": "1.0.0", "vectors": [], "vectors": []}'), 'CORRUPT', P, /appears twice/);
  await rejects(read('{"version": "1.0.0", "vectors": []} {}'), 'CORRUPT', P, /after the end/);
  await rejects(read('{"version": "1.0.0", "options": [], "vectors": []}'), 'CORRUPT', P, /"options" must be an object/);
  await rejects(read('{"version": "1.0.0", "vectors": [], "checksum": 5}'), 'CORRUPT', P, /section "checksum".*must be a string/);
});

test('dimension: declared versus actual, disagreeing declarations, nothing to tell it from', async () => {
  const short = ref000Doc([{ id: 'a', vector: [1, 2, 3] }, { id: 'b', vector: [1, 2] }], { dimension: 3 });
  const err = await rejects(read(short), 'CORRUPT', P, /the vector has 0 numbers|dimension mismatch/);
  assert.ok(err instanceof CorruptionError && err.section === 'vectors[1].vector', (err as CorruptionError).section);
  await rejects(read(ref000Doc([{ id: 'a', vector: [1, 2, 3] }], { dimension: 4 })), 'CORRUPT', P, /dimension mismatch/);
  await rejects(read(ref000Doc([{ id: 'a', vector: [1, 2, 3] }, { id: 'b', vector: [1, 2, 3, 4] }], { dimension: 3 })), 'CORRUPT', P, /more than 3 numbers/);
  const noDecl = JSON.stringify({ version: '1.0.0', vectors: [{ id: 'a', vector: [1, 2, 3] }, { id: 'b', vector: [1, 2] }] });
  await rejects(read(noDecl), 'CORRUPT', P, /dimension mismatch/);
  const disagree = JSON.stringify({ version: '1.0.0', options: { dimension: 3 }, stats: { dimension: 4 }, vectors: [] });
  await rejects(read(disagree), 'CORRUPT', P, /stats.dimension.*says 4 but options.dimension says 3/);
  await rejects(read('{"version": "1.0.0", "vectors": []}'), 'CORRUPT', P, /no vectors and declares no dimension/);
  await rejects(read('{"version": "1.0.0", "options": {"dimension": 0}, "vectors": []}'), 'CORRUPT', P, /options.dimension.*1\.\.65536/);
  const late = JSON.stringify({ version: '1.0.0', vectors: [{ id: 'a', vector: [1, 2] }], options: { dimension: 3 } });
  await rejects(read(late), 'CORRUPT', P, /dimension mismatch/);
  const empty = await read('{"version": "1.0.0", "options": {"dimension": 7}, "vectors": []}');
  assert.equal(empty.columns.dimension, 7);
  assert.equal(empty.columns.ids.length, 0);
});

test('NaN, Infinity and out-of-range numbers in a vector', async () => {
  // JSON.stringify writes NaN and Infinity as null, which is how they reach a reference file.
  for (const [bad, message] of [['null', /expected a number/], ['NaN', /expected a number/], ['Infinity', /expected a number/], ['1e39', /out of float32 range/], ['"1"', /expected a number/]] as [string, RegExp][]) {
    const doc = ref000Doc(entries).replace(/"vector": \[\n\s+4,/, `"vector": [${bad},`);
    const err = await rejects(read(doc, { verifyChecksum: false }), 'CORRUPT', P, message);
    assert.ok(err instanceof CorruptionError && err.section === 'vectors[1].vector[0]', `${bad}: ${(err as CorruptionError).section}`);
  }
});

test('duplicate ids are CORRUPT naming the id and both positions', async () => {
  const doc = ref000Doc([...entries, { id: 'b', vector: [0, 0, 1] }]);
  const err = await rejects(read(doc), 'CORRUPT', P, /the id "b" appears twice, at vectors\[1\] and at vectors\[3\]/);
  assert.ok(err instanceof CorruptionError && typeof err.offset === 'number');
  await rejects(read(ref000Doc([{ id: 5, vector: [1] }, { id: 5, vector: [2] }])), 'CORRUPT', P, /the id 5 \(a number\) appears twice/);
  const distinct = await read(ref000Doc([{ id: 5, vector: [1] }, { id: '5', vector: [2] }]));
  assert.deepEqual(distinct.columns.ids, [5, '5']);
});

test('metadata must be an object or null; ids must be valid; entries have id and vector only', async () => {
  for (const bad of ['[1, 2]', '"text"', '42', 'true']) {
    const doc = ref000Doc(entries).replace('"metadata": {\n        "k": 1\n      }', `"metadata": ${bad}`);
    const err = await rejects(read(doc, { verifyChecksum: false }), 'CORRUPT', P, /metadata must be a JSON object or null, not/);
    assert.equal((err as CorruptionError).section, 'vectors[0].metadata');
  }
  for (const [id, message] of [['""', /empty string/], ['1.5', /safe integer/], ['null', /string or a safe integer/], ['{"x": 1}', /string or a safe integer/]] as [string, RegExp][]) {
    await rejects(read(ref000Doc(entries).replace('"id": "b"', `"id": ${id}`), { verifyChecksum: false }), 'CORRUPT', P, message);
  }
  await rejects(read(ref000Doc(entries).replace('"id": "b",', ''), { verifyChecksum: false }), 'CORRUPT', P, /no "id"/);
  await rejects(read(ref000Doc(entries).replace('"id": "b",', '"id": "b", "extra": 1,'), { verifyChecksum: false }), 'CORRUPT', P, /unknown member "extra"/);
});

test('stats.count must match the entries (the reference lost entries it could not find)', async () => {
  const doc = JSON.stringify({ version: '1.0.0', options: { dimension: 2 }, stats: { count: 3, dimension: 2 }, vectors: [{ id: '0', vector: [1, 2] }] });
  await rejects(read(doc), 'CORRUPT', P, /stats.count.*says 3 entries but "vectors" holds 1/);
});

test('gzip and brotli bombs stop at the decompression cap with a CorruptionError', async () => {
  const doc = `{"version": "1.0.0",${' '.repeat(16 << 20)}"vectors": []}`;
  const bombs: [string, Uint8Array][] = [
    ['gzip', gzipSync(doc, { level: 9 })],
    ['brotli', brotliCompressSync(doc, { params: { [zc.BROTLI_PARAM_QUALITY]: 5 } })],
  ];
  for (const [kind, bomb] of bombs) {
    assert.ok(bomb.length < 100_000, `${kind} bomb is small (${bomb.length} bytes)`);
    const err = await rejects(read(bomb, { maxDecompressedBytes: 1 << 20 }), 'CORRUPT', P, /decompresses to more than the allowed 1048576 bytes/);
    assert.ok(err instanceof CorruptionError && err.section === `${kind} stream`);
  }
  // The same file under a cap it fits in is read (it is a bomb only relative to the cap).
  await rejects(read(bombs[0][1], { maxDecompressedBytes: 32 << 20 }), 'CORRUPT', P, /no vectors and declares no dimension/);
});

test('the fixtures are what the tests above assume', () => {
  const text = Buffer.from(fixture('ref000-pretty.json')).toString();
  assert.match(text, /^\{\n {2}"version": "1\.0\.0",\n {2}"options"/);
  assert.match(text, /"checksum": "a51c18194538e0640dd9792c9a7fb7ffa3fc0e6b5a53aa56e25aa866d4db9c16"\n\}$/);
});
