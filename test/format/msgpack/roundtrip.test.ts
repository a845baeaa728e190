import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unpackMultiple } from 'msgpackr';
import { QuiverError } from '../../../src/errors.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import type { ExchangeCompression } from '../../../src/format/exchange.js';
import { chunkByteSource } from '../../../src/format/stream/sources.js';
import { msgpackCodec, readMsgpackFrom, sniffMsgpack } from '../../../src/format/msgpack/index.js';
import { importFile } from '../../../src/interchange/index.js';
import { createHash } from 'node:crypto';
import { loadFioriEmbeddings } from '../../../support/datasets.js';
import { assertProgressAndAbort, chunksOf, roundTrip as sharedRoundTrip } from '../../support/exchange.js';
import { assertColumnsEqual, awkwardSpec, bytesOf, makeImage, randomVectors, readBytes, writeBytes, type ImageSpec } from './helpers.js';

const COMPRESSIONS: ExchangeCompression[] = ['none', 'gzip', 'brotli'];
const roundTrip = (spec: ImageSpec, compression?: ExchangeCompression) => sharedRoundTrip(msgpackCodec, spec, compression);

for (const compression of COMPRESSIONS) {
  test(`awkward content round-trips bit-exactly (${compression})`, async () => {
    const bytes = await roundTrip(awkwardSpec(), compression);
    assert.equal(msgpackCodec.extension(compression), { none: '.msgpack', gzip: '.msgpack.gz', brotli: '.msgpack.br' }[compression]);
    if (compression === 'gzip') assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b]);
    assert.equal(sniffMsgpack(bytes), compression === 'none');
  });
}

test('empty database and a single entry', async () => {
  await roundTrip({ dimension: 3, metric: 'dot', ids: [], vectors: new Float32Array(0) });
  const back = await readBytes(msgpackCodec, await writeBytes(msgpackCodec, makeImage({ dimension: 3, ids: [], vectors: new Float32Array(0) })));
  assert.equal(back.columns.dimension, 3);
  assert.equal(back.columns.vectors.length, 0);
  await roundTrip({ dimension: 1, metric: 'manhattan', ids: ['only'], vectors: Float32Array.of(-0), metadata: [{ k: 'v' }] });
});

test('extreme float32 values and numeric ids of every width keep their bits and types', async () => {
  const specials = [-0, 0, 1e-45, -1.401298464324817e-45, 1.1754942106924411e-38, 3.4028234663852886e38, -3.4028234663852886e38, 0.1, 1 / 3, 16777217];
  const ids = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, Number.MIN_SAFE_INTEGER, '0', '-1'];
  const vectors = new Float32Array(ids.length * specials.length);
  for (let i = 0; i < ids.length; i++) vectors.set(specials.map((v, j) => (i + j) % 2 ? v : -v), i * specials.length);
  await roundTrip({ dimension: specials.length, ids, vectors });
});

test('the real fiori embeddings round-trip bit-exactly with their metadata', async () => {
  const data = loadFioriEmbeddings();
  await roundTrip({ dimension: 384, ids: data.ids, vectors: data.vectors, metadata: data.metadata });
});

test('large metadata and long unicode ids survive, also when every read is tiny', async () => {
  const big = { text: 'ß🚀'.repeat(300_000), list: Array.from({ length: 5000 }, (_, i) => ({ i, s: `x${i}` })) };
  const spec: ImageSpec = { dimension: 8, ids: ['文'.repeat(20000), 'b', 7], vectors: randomVectors(3, 8, 3), metadata: [big, undefined, { n: null }] };
  const bytes = await roundTrip(spec);
  const r = await readMsgpackFrom(chunkByteSource(chunksOf(bytes, 4093)), { file: 'chunks', windowSize: 1024 });
  assertColumnsEqual(r.columns, spec);
});

test('values split at every byte boundary decode the same', async () => {
  const spec = awkwardSpec();
  const bytes = await writeBytes(msgpackCodec, makeImage(spec));
  for (let cut = 1; cut < bytes.length; cut++) {
    const r = await readMsgpackFrom(chunkByteSource([bytes.subarray(0, cut), bytes.subarray(cut)]), { file: 'split', windowSize: 64 });
    assertColumnsEqual(r.columns, spec);
  }
  const ones = Array.from(bytes, (b) => Uint8Array.of(b));
  assertColumnsEqual((await readMsgpackFrom(chunkByteSource(ones), { file: 'bytes', windowSize: 16 })).columns, spec);
});

test('an independent decoder (msgpackr unpackMultiple) sees plain maps with bin vectors', async () => {
  const spec = awkwardSpec();
  const bytes = await writeBytes(msgpackCodec, makeImage(spec), { user: { team: 'x' } });
  const values = unpackMultiple(Buffer.from(bytes)) as Record<string, unknown>[];
  assert.equal(values.length, spec.ids.length + 2);
  const [header, ...rest] = values;
  const trailer = rest.pop()!;
  assert.deepEqual(Object.keys(header), ['format', 'formatVersion', 'dimension', 'metric', 'count', 'user', 'createdAt']);
  assert.equal(header.format, 'quiverdb-msgpack');
  assert.equal(header.formatVersion, 1);
  assert.equal(header.dimension, spec.dimension);
  assert.equal(header.metric, 'euclidean');
  assert.equal(header.count, spec.ids.length);
  assert.deepEqual(header.user, { team: 'x' });
  assert.equal(typeof header.createdAt, 'number');
  rest.forEach((e, i) => {
    assert.equal(Object.getPrototypeOf(e), Object.prototype, 'a plain map, not a record or extension');
    assert.deepEqual(Object.keys(e), spec.metadata![i] === undefined ? ['id', 'vector'] : ['id', 'vector', 'metadata']);
    assert.equal(e.id, spec.ids[i]);
    assert.ok(e.vector instanceof Uint8Array, 'the vector is a bin');
    const floats = new Float32Array(new Uint8Array(e.vector).buffer);
    assert.ok(bytesOf(floats).equals(bytesOf(spec.vectors.subarray(i * spec.dimension, (i + 1) * spec.dimension))));
  });
  assert.deepEqual(Object.keys(trailer), ['end', 'count', 'checksum']);
  assert.equal(trailer.end, true);
  assert.equal(trailer.count, spec.ids.length);
  assert.equal((await readBytes(msgpackCodec, bytes)).checksum, trailer.checksum);
});

test('the first bytes are a fixmap whose first key is "format"; other bytes do not sniff', async () => {
  const bytes = await writeBytes(msgpackCodec, makeImage(awkwardSpec()));
  assert.equal(bytes[0], 0x87);
  assert.deepEqual([...bytes.subarray(1, 8)], [0xa6, ...Buffer.from('format')]);
  assert.equal(sniffMsgpack(bytes.subarray(0, 8)), true);
  for (const head of ['{"format":"quiverdb-msgpack"}', 'QVDB', '', '\x87', '\x80\xa6format', '\x81\xa2id', '\x87\xa6forx']) assert.equal(sniffMsgpack(Buffer.from(head, 'latin1')), false, head);
  // A truncated export still sniffs as ours (the reader then reports the truncation).
  assert.equal(sniffMsgpack(bytes.subarray(0, 3)), true);
  // map16 and map32 headers (msgpackr writes those), with "format" first, sniff too; empty ones do not.
  for (const head of ['\xde\x00\x05\xa6format', '\xdf\x00\x00\x00\x05\xa6format', '\xde\x00', '\xde\x00\x05\xa6fo']) assert.equal(sniffMsgpack(Buffer.from(head, 'latin1')), true, head);
  for (const head of ['\xde\x00\x00\xa6format', '\xde\x00\x05\xa2id', '\xdf\x00\x00\x00\x00\xa6format']) assert.equal(sniffMsgpack(Buffer.from(head, 'latin1')), false, head);
});

test('a file written by msgpackr itself (map16 headers and entries) is detected and read without naming the format', async () => {
  const { Packr } = await import('msgpackr');
  const packr = new Packr({ useRecords: false });
  const vec = Float32Array.of(1, -2.5, 0.1);
  const entry = { id: 'doc-1', vector: new Uint8Array(vec.buffer), metadata: { title: 'Grüße' } };
  const header = { format: 'quiverdb-msgpack', formatVersion: 1, dimension: 3, metric: 'cosine', count: 1 };
  const body = Buffer.concat([packr.pack(header), packr.pack(entry)]);
  const checksum = createHash('sha256').update(body).digest('hex');
  const bytes = Buffer.concat([body, packr.pack({ end: true, count: 1, checksum })]);
  assert.equal(bytes[0], 0xde, 'msgpackr writes map16');
  assert.equal(sniffMsgpack(bytes), true);
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/m.msgpack', bytes);
  const { columns } = await importFile(fs, '/m.msgpack');
  assert.deepEqual(columns.ids, ['doc-1']);
  assert.deepEqual([...columns.vectors], [...vec]);
  assert.deepEqual(columns.metadata[0], { title: 'Grüße' });
});

test('progress is monotonic and ends at 100 both ways; write and read honour abort', () => assertProgressAndAbort(msgpackCodec, readMsgpackFrom));

test('write rejects bad options and bad images with typed errors', async () => {
  const fs = new MemoryFileSystem();
  const img = makeImage({ dimension: 2, ids: ['a'], vectors: Float32Array.of(1, 2) });
  const code = (c: string) => (err: unknown) => err instanceof QuiverError && err.code === c;
  await assert.rejects(msgpackCodec.write(fs, '/x', img, { compression: 'zstd' as ExchangeCompression }), code('INVALID_ARGUMENT'));
  await assert.rejects(msgpackCodec.write(fs, '/x', img, { compression: 'gzip', level: 12 }), code('INVALID_ARGUMENT'));
  await assert.rejects(msgpackCodec.write(fs, '/x', img, { user: { d: new Date() } }), code('INVALID_ARGUMENT'));
  await assert.rejects(msgpackCodec.write(fs, '/x', makeImage({ dimension: 2, ids: ['a'], vectors: Float32Array.of(1, NaN) })), code('INVALID_VECTOR'));
  await assert.rejects(msgpackCodec.write(fs, '/x', makeImage({ dimension: 2, ids: [''], vectors: Float32Array.of(1, 2) })), code('INVALID_ID'));
  await assert.rejects(msgpackCodec.write(fs, '/x', makeImage({ dimension: 2, ids: [1.5], vectors: Float32Array.of(1, 2) })), code('INVALID_ID'));
  await assert.rejects(msgpackCodec.write(fs, '/x', makeImage({ dimension: 2, ids: ['a'], vectors: Float32Array.of(1, 2), metadata: [[1] as never] })), code('INVALID_METADATA'));
  await assert.rejects(msgpackCodec.write(fs, '/x', makeImage({ dimension: 2, ids: ['a'], vectors: Float32Array.of(1, 2), metadata: [{ u: undefined }] })), code('INVALID_METADATA'));
  assert.deepEqual(await fs.readdir('/'), [], 'nothing published, no temp file left');
});
