import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuiverError } from '../../../src/errors.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import type { ExchangeCompression } from '../../../src/format/exchange.js';
import { parseFloat32 } from '../../../src/format/json/float-parse.js';
import { chunkByteSource } from '../../../src/format/stream/sources.js';
import { jsonlCodec, readJsonlFrom, sniffJsonl, writeJsonl } from '../../../src/format/jsonl/index.js';
import { loadFioriEmbeddings } from '../../../support/datasets.js';
import { tempDir } from '../../support/db.js';
import { assertProgressAndAbort, chunksOf, readBytes, roundTrip as sharedRoundTrip, writeBytes } from '../../support/exchange.js';
import { assertColumnsEqual, awkwardSpec, makeImage, randomVectors, type ImageSpec } from '../msgpack/helpers.js';

const codec = jsonlCodec;
const COMPRESSIONS: ExchangeCompression[] = ['none', 'gzip', 'brotli'];
const roundTrip = (spec: ImageSpec, compression?: ExchangeCompression) => sharedRoundTrip(codec, spec, compression);

for (const compression of COMPRESSIONS) {
  test(`awkward content round-trips bit-exactly (${compression})`, async () => {
    const bytes = await roundTrip(awkwardSpec(), compression);
    assert.equal(codec.extension(compression), { none: '.jsonl', gzip: '.jsonl.gz', brotli: '.jsonl.br' }[compression]);
    assert.equal(sniffJsonl(bytes), compression === 'none');
  });
}

test('the layout: header line, one entry per line, trailer line', async () => {
  const spec = awkwardSpec();
  const text = Buffer.from(await writeBytes(codec, makeImage(spec), { user: { u: 1 } })).toString('utf8');
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'the file ends with a newline');
  assert.equal(lines.length, spec.ids.length + 2);
  const header = JSON.parse(lines[0]);
  assert.deepEqual(Object.keys(header), ['format', 'formatVersion', 'dimension', 'metric', 'count', 'user', 'createdAt']);
  assert.deepEqual([header.format, header.formatVersion, header.dimension, header.metric, header.count, header.user], ['quiverdb-jsonl', 1, 6, 'euclidean', spec.ids.length, { u: 1 }]);
  lines.slice(1, -1).forEach((line, i) => {
    const e = JSON.parse(line);
    assert.deepEqual(Object.keys(e), spec.metadata![i] === undefined ? ['id', 'vector'] : ['id', 'vector', 'metadata']);
    assert.equal(e.id, spec.ids[i]);
    // The text of each number is the shortest that parses back to the same float32.
    assert.deepEqual(e.vector.map((v: number) => Math.fround(v)), Array.from(spec.vectors.subarray(i * 6, i * 6 + 6)));
  });
  const trailer = JSON.parse(lines.at(-1)!);
  assert.deepEqual(Object.keys(trailer), ['end', 'count', 'checksum']);
  assert.equal(trailer.count, spec.ids.length);
});

test('empty database and a single entry', async () => {
  await roundTrip({ dimension: 3, metric: 'dot', ids: [], vectors: new Float32Array(0) });
  await roundTrip({ dimension: 1, metric: 'manhattan', ids: ['only'], vectors: Float32Array.of(-0), metadata: [{ k: 'v' }] });
});

test('extreme float32 values and numeric ids keep their bits and types', async () => {
  const specials = [-0, 0, 1e-45, -1.401298464324817e-45, 1.1754942106924411e-38, 3.4028234663852886e38, -3.4028234663852886e38, 0.1, 1 / 3, 16777217, 1e21, 1.5e-7];
  const ids = [0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, Number.MIN_SAFE_INTEGER, '0', '-1', '1e3'];
  const vectors = new Float32Array(ids.length * specials.length);
  for (let i = 0; i < ids.length; i++) vectors.set(specials.map((v, j) => ((i + j) % 2 ? v : -v)), i * specials.length);
  await roundTrip({ dimension: specials.length, ids, vectors });
});

test('the real fiori embeddings round-trip bit-exactly, with and without formatting threads', async () => {
  const data = loadFioriEmbeddings();
  const spec: ImageSpec = { dimension: 384, ids: data.ids, vectors: data.vectors, metadata: data.metadata };
  await roundTrip(spec);
  for (const workers of [0, 2]) {
    const fs = new MemoryFileSystem();
    await writeJsonl(fs, '/w.jsonl', makeImage(spec), { workers });
    assertColumnsEqual((await codec.read(fs, '/w.jsonl')).columns, spec);
  }
});

test('long lines (large metadata) split over many reads, and values split at every byte', async () => {
  const big = { text: 'ß🚀"\\'.repeat(200_000), list: Array.from({ length: 5000 }, (_, i) => ({ i, s: `x${i}` })) };
  const spec: ImageSpec = { dimension: 8, ids: ['文'.repeat(20000), 'b', 7], vectors: randomVectors(3, 8, 3), metadata: [big, undefined, { n: null }] };
  const bytes = await roundTrip(spec);
  assertColumnsEqual((await readJsonlFrom(chunkByteSource(chunksOf(bytes, 4093)), { file: 'chunks', windowSize: 1024 })).columns, spec);
  const small = awkwardSpec();
  const sb = await writeBytes(codec, makeImage(small));
  for (let cut = 1; cut < sb.length; cut++) {
    const r = await readJsonlFrom(chunkByteSource([sb.subarray(0, cut), sb.subarray(cut)]), { file: 'split', windowSize: 64 });
    assertColumnsEqual(r.columns, small);
  }
  assertColumnsEqual((await readJsonlFrom(chunkByteSource(Array.from(sb, (b) => Uint8Array.of(b))), { file: 'bytes', windowSize: 16 })).columns, small);
});

test('foreign JSONL: no header or trailer, blank lines, CRLF, BOM, metadata null; dimension from the first vector', async () => {
  const text = '\ufeff{"id":"a","vector":[1,2.5,-0],"metadata":{"k":1}}\r\n\n  {"vector":[0.1,1e-45,3],"id":7,"metadata":null}\n{"id":"c","vector":[4,5,6]}';
  const r = await readBytes(codec, Buffer.from(text));
  assert.equal(r.metricKnown, false);
  assert.equal(r.columns.metric, 'cosine');
  assert.deepEqual(r.user, {});
  assert.equal(r.checksum, undefined);
  assert.equal(r.columns.dimension, 3);
  assert.deepEqual(r.columns.ids, ['a', 7, 'c']);
  assert.deepEqual(r.columns.metadata, [{ k: 1 }, undefined, undefined]);
  assert.deepEqual(Array.from(r.columns.vectors), [1, 2.5, -0, Math.fround(0.1), parseFloat32('1e-45'), 3, 4, 5, 6]);
  assert.ok(Object.is(r.columns.vectors[2], -0));
  assert.equal(sniffJsonl(Buffer.from(text)), true);
  for (const head of ['{"vector":[1]}', ' {"id":1,"vector":[1]}', '{"format":"quiverdb-jsonl","formatVersion":1']) assert.equal(sniffJsonl(Buffer.from(head)), true, head);
  for (const head of ['{"format":"quiverdb","formatVersion":1', '{\n  "id": 1', '[1,2]', 'id,vector', '']) assert.equal(sniffJsonl(Buffer.from(head)), false, head);
});

test('jq reads the export line by line', { skip: spawnSync('jq', ['--version']).status !== 0 ? 'jq is not installed' : false }, async () => {
  const spec = awkwardSpec();
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'x.jsonl');
    writeFileSync(path, await writeBytes(codec, makeImage(spec)));
    const out = spawnSync('jq', ['-c', 'select(.id != null) | [.id, (.vector | length)]', path], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.deepEqual(out.stdout.trim().split('\n').map((l) => JSON.parse(l)), spec.ids.map((id) => [id, 6]));
  } finally {
    cleanup();
  }
});

test('progress is monotonic and ends at 100 both ways; write and read honour abort', () => assertProgressAndAbort(codec, readJsonlFrom));

test('write rejects bad options and bad images with typed errors', async () => {
  const fs = new MemoryFileSystem();
  const img = makeImage({ dimension: 2, ids: ['a'], vectors: Float32Array.of(1, 2) });
  const code = (c: string) => (err: unknown) => err instanceof QuiverError && err.code === c;
  await assert.rejects(codec.write(fs, '/x', img, { compression: 'zstd' as ExchangeCompression }), code('INVALID_ARGUMENT'));
  await assert.rejects(codec.write(fs, '/x', img, { compression: 'brotli', level: 12 }), code('INVALID_ARGUMENT'));
  await assert.rejects(codec.write(fs, '/x', img, { user: [] as never }), code('INVALID_ARGUMENT'));
  await assert.rejects(codec.write(fs, '/x', makeImage({ dimension: 2, ids: ['a'], vectors: Float32Array.of(Infinity, 2) })), code('INVALID_VECTOR'));
  await assert.rejects(codec.write(fs, '/x', makeImage({ dimension: 2, ids: [''], vectors: Float32Array.of(1, 2) })), code('INVALID_ID'));
  await assert.rejects(codec.write(fs, '/x', makeImage({ dimension: 2, ids: ['a'], vectors: Float32Array.of(1, 2), metadata: ['x' as never] })), code('INVALID_METADATA'));
  assert.deepEqual(await fs.readdir('/'), [], 'nothing published, no temp file left');
});
