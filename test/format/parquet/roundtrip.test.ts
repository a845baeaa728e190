import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeFs } from '../../../src/env/node-fs.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { QuiverError } from '../../../src/errors.js';
import type { Id, Metadata } from '../../../src/engine/types.js';
import { parquetCodec, readParquet, writeParquet, groupShape } from '../../../src/format/parquet/index.js';
import { loadFioriEmbeddings } from '../../../support/datasets.js';
import { VectorDB } from '../../../src/engine/vector-db.js';
import { assertSameDb, assertSameSearch, realDb } from '../../support/db.js';
import { assertColumnsEqual, awkwardSpec, makeImage, randomVectors, tempDir, type ImageSpec } from './helpers.js';

async function roundTrip(spec: ImageSpec, shape?: { groupRows: number; pageRows: number }, user?: Record<string, unknown>) {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'x.parquet');
    const w = await writeParquet(nodeFs, path, makeImage(spec), { user }, shape);
    assert.equal(w.path, path);
    assert.deepEqual(w.files, [path]);
    assert.equal(w.count, spec.ids.length);
    assert.equal(w.bytes, readFileSync(path).length);
    const r = await readParquet(nodeFs, path);
    return { w, r, bytes: new Uint8Array(readFileSync(path)) };
  } finally {
    cleanup();
  }
}

test('awkward content round-trips bit-exact: numeric ids stay numbers, unicode, nesting, key order, metric, user', async () => {
  const spec = awkwardSpec();
  const { r } = await roundTrip(spec, undefined, { note: 'ü', nested: { a: [1, 2] } });
  assertColumnsEqual(r.columns, spec);
  assert.equal(typeof r.columns.ids[1], 'number');
  assert.equal(typeof r.columns.ids[9], 'string'); // "42x" stays a string
  assert.equal(r.metricKnown, true);
  assert.equal(r.columns.metric, 'euclidean');
  assert.deepEqual(r.user, { note: 'ü', nested: { a: [1, 2] } });
  assert.equal(r.checksum, undefined);
  // The __proto__ key came back as plain data and polluted nothing.
  const proto = r.columns.metadata[3] as Metadata;
  assert.ok(Object.prototype.hasOwnProperty.call(proto, '__proto__'));
  assert.deepEqual(Object.getPrototypeOf(proto), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('every row-group and page boundary: tiny shapes with vectors, ids and metadata crossing them', async () => {
  const ids: Id[] = Array.from({ length: 23 }, (_, i) => (i % 4 === 0 ? i * 1000 : `id-${i}`));
  const metadata = ids.map((_, i): Metadata | undefined => (i % 3 === 1 ? undefined : { i, s: 'x'.repeat(i) }));
  for (const dim of [1, 2, 5]) {
    const spec: ImageSpec = { dimension: dim, ids, vectors: randomVectors(ids.length, dim, dim), metadata };
    for (const shape of [{ groupRows: 1, pageRows: 1 }, { groupRows: 7, pageRows: 3 }, { groupRows: 23, pageRows: 23 }, { groupRows: 10, pageRows: 4 }]) {
      const { r } = await roundTrip(spec, shape);
      assertColumnsEqual(r.columns, spec);
    }
  }
});

test('an empty collection keeps its dimension and metric', async () => {
  const spec: ImageSpec = { dimension: 384, metric: 'dot', ids: [], vectors: new Float32Array(0) };
  const { r, w } = await roundTrip(spec);
  assert.equal(w.count, 0);
  assertColumnsEqual(r.columns, spec);
});

test('a single entry without metadata', async () => {
  const spec: ImageSpec = { dimension: 3, metric: 'manhattan', ids: ['only'], vectors: Float32Array.from([1, -0, 2.5]) };
  const { r } = await roundTrip(spec);
  assertColumnsEqual(r.columns, spec);
});

test('the 778 real fiori embeddings round-trip bit-exact with their metadata', async () => {
  const data = loadFioriEmbeddings('cosine');
  const spec: ImageSpec = { dimension: 384, ids: data.ids, vectors: data.vectors, metadata: data.metadata };
  const { r } = await roundTrip(spec, { groupRows: 300, pageRows: 64 });
  assertColumnsEqual(r.columns, spec);
});

test('a real database (fiori embeddings + awkward entries) exports from an image and imports into an equal database', async () => {
  const db = await realDb(300, 'dot');
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'db.parquet');
    const image = db.openImage();
    try {
      await writeParquet(nodeFs, path, image, {}, { groupRows: 64, pageRows: 10 });
    } finally {
      image.release();
    }
    const r = await readParquet(nodeFs, path);
    const back = new VectorDB({ dimension: r.columns.dimension, metric: r.columns.metric });
    back.replaceAll(r.columns);
    assert.equal(back.metric, 'dot');
    assertSameDb(back, db);
    assertSameSearch(back, db);
  } finally {
    cleanup();
  }
});

test('large metadata (a 3 MB string, deep nesting) and long ids survive', async () => {
  let deep: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < 200; i++) deep = { d: deep, i };
  const ids: Id[] = ['a'.repeat(60000), 'b', 'c'];
  const metadata: Metadata[] = [{ big: 'é'.repeat(1_500_000) }, deep, { arr: Array.from({ length: 5000 }, (_, i) => ({ i })) }];
  const spec: ImageSpec = { dimension: 4, ids, vectors: randomVectors(3, 4, 9), metadata };
  const { r } = await roundTrip(spec);
  assertColumnsEqual(r.columns, spec);
});

test('the file is a Parquet file through the codec object, and it sniffs as one', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d', { recursive: true });
  const spec = awkwardSpec();
  await parquetCodec.write(fs, '/d/a.parquet', makeImage(spec));
  const bytes = await fs.readFile('/d/a.parquet');
  assert.equal(Buffer.from(bytes.subarray(0, 4)).toString('latin1'), 'PAR1');
  assert.equal(Buffer.from(bytes.subarray(bytes.length - 4)).toString('latin1'), 'PAR1');
  assert.equal(parquetCodec.sniff(bytes.subarray(0, 4096)), true);
  assert.equal(parquetCodec.sniff(new TextEncoder().encode('{"format":"quiverdb"}')), false);
  assert.equal(parquetCodec.sniff(new Uint8Array([0x50, 0x41])), false);
  assert.equal(parquetCodec.extension('none'), '.parquet');
  assert.deepEqual(parquetCodec.compressions, ['none']);
  assert.equal(parquetCodec.format, 'parquet');
  assert.equal(parquetCodec.canWrite, true);
  const r = await parquetCodec.read(fs, '/d/a.parquet');
  assertColumnsEqual(r.columns, spec);
  // Published atomically: no temp file left behind.
  assert.deepEqual(await fs.readdir('/d'), ['a.parquet']);
});

test('write options: only compression "none"; user must be plain JSON', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d', { recursive: true });
  const image = makeImage(awkwardSpec());
  await assert.rejects(writeParquet(fs, '/d/a.parquet', image, { compression: 'gzip' }), (e: unknown) => e instanceof QuiverError && e.code === 'UNSUPPORTED_FORMAT');
  await assert.rejects(writeParquet(fs, '/d/a.parquet', image, { user: { f: () => 1 } as unknown as Record<string, unknown> }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT');
  await assert.rejects(writeParquet(fs, '/d/a.parquet', image, { user: { n: NaN } }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT');
  assert.deepEqual(await fs.readdir('/d'), []);
});

test('row groups and pages are sized by dimension', () => {
  assert.deepEqual(groupShape(384), { groupRows: 8192, pageRows: 682 });
  assert.deepEqual(groupShape(1), { groupRows: 8192, pageRows: 8192 });
  assert.deepEqual(groupShape(65536), { groupRows: 64, pageRows: 4 });
});
