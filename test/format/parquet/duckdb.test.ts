import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { nodeFs } from '../../../src/env/node-fs.js';
import { CorruptionError, QuiverError } from '../../../src/errors.js';
import type { Id, Metadata } from '../../../src/engine/types.js';
import { readParquet, writeParquet } from '../../../src/format/parquet/index.js';
import { loadFioriEmbeddings } from '../../../support/datasets.js';
import { awkwardSpec, bytesOf, makeImage, openDuck, sqlString, tempDir, type Duck, type ImageSpec } from './helpers.js';

const { dir, cleanup } = tempDir();
after(cleanup);
let duckPromise: Promise<Duck | undefined> | undefined;
after(async () => (await duckPromise)?.close());

/** The shared DuckDB, or undefined when it cannot load (the test then passes with a skip message). */
function duck(): Promise<Duck | undefined> {
  duckPromise ??= openDuck();
  return duckPromise;
}

/** What DuckDB reads from a file, in file order. */
interface DuckRows {
  ids: unknown[];
  idNums: unknown[];
  vectors: Float32Array;
  metadata: (string | null)[];
}

async function duckRead(db: Duck, path: string, dim: number, columns?: string): Promise<DuckRows> {
  if (columns === undefined) {
    const names = (await db.rows(`select name from parquet_schema(${sqlString(path)})`)).map((r) => r.name);
    columns = names.includes('metadata') ? 'id, vector, metadata' : 'id, vector';
  }
  const rows = await db.rows(`select ${columns} from read_parquet(${sqlString(path)}, file_row_number = true) order by file_row_number`);
  const vectors = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    const items = (r.vector as { items: number[] }).items;
    assert.equal(items.length, dim, `DuckDB sees row ${i} with ${items.length} elements`);
    vectors.set(items, i * dim);
  });
  return {
    ids: rows.map((r) => r.id),
    idNums: rows.map((r) => r.id_num),
    vectors,
    metadata: rows.map((r) => (r.metadata === undefined ? null : (r.metadata as string | null))),
  };
}

async function exportSpec(spec: ImageSpec, name: string, user?: Record<string, unknown>): Promise<string> {
  const path = join(dir, name);
  await writeParquet(nodeFs, path, makeImage(spec), { user });
  return path;
}

test('DuckDB reads our file: string ids, id_num for numeric ids, FLOAT[] vectors bit-exact, JSON metadata, key-value entries', async (t) => {
  const db = await duck();
  if (!db) return t.skip('DuckDB unavailable');
  const spec = awkwardSpec();
  const path = await exportSpec(spec, 'awkward.parquet', { owner: 'tests' });
  const got = await duckRead(db, path, spec.dimension, 'id, id_num, vector, metadata');
  // Compared as UTF-8 bytes: the Node client drops a leading U+FEFF when it decodes strings.
  const hex = (await db.rows(`select hex(encode(id)) h from read_parquet(${sqlString(path)}, file_row_number = true) order by file_row_number`)).map((r) => r.h);
  assert.deepEqual(hex, spec.ids.map((id) => Buffer.from(String(id), 'utf8').toString('hex').toUpperCase()));
  assert.deepEqual(got.idNums, spec.ids.map((id) => (typeof id === 'number' ? BigInt(id) : null)));
  assert.ok(bytesOf(got.vectors).equals(bytesOf(spec.vectors)), 'DuckDB sees different float32 bits');
  const meta = spec.metadata as (Metadata | undefined)[];
  got.metadata.forEach((m, i) => assert.deepEqual(m === null ? undefined : JSON.parse(m), meta[i], `metadata of row ${i}`));
  const [types] = await db.rows(`select typeof(id) i, typeof(vector) v, typeof(metadata) m, typeof(id_num) n from read_parquet(${sqlString(path)}) limit 1`);
  assert.deepEqual(types, { i: 'VARCHAR', v: 'FLOAT[]', m: 'JSON', n: 'BIGINT' });
  const kv = await db.rows(`select decode(key) k, decode(value) v from parquet_kv_metadata(${sqlString(path)})`);
  const map = Object.fromEntries(kv.map((r) => [r.k, r.v]));
  assert.equal(map['quiverdb.format'], 'quiverdb');
  assert.equal(map['quiverdb.formatVersion'], '1');
  assert.equal(map['quiverdb.dimension'], '8');
  assert.equal(map['quiverdb.metric'], 'euclidean');
  assert.equal(map['quiverdb.count'], String(spec.ids.length));
  assert.deepEqual(JSON.parse(map['quiverdb.user'] as string), { owner: 'tests' });
  assert.match(map['quiverdb.footerCrc32'] as string, /^[0-9a-f]{8}$/);
  // A fixed-size array is one cast away.
  const [cast] = await db.rows(`select vector::FLOAT[8] a from read_parquet(${sqlString(path)}) limit 1`);
  assert.equal((cast.a as { items: number[] }).items.length, 8);
});

test('DuckDB reads the fiori embeddings we export (several row groups) bit-exact', async (t) => {
  const db = await duck();
  if (!db) return t.skip('DuckDB unavailable');
  const data = loadFioriEmbeddings();
  const spec: ImageSpec = { dimension: 384, ids: data.ids, vectors: data.vectors, metadata: data.metadata };
  const path = join(dir, 'fiori.parquet');
  await writeParquet(nodeFs, path, makeImage(spec), {}, { groupRows: 200, pageRows: 50 });
  const got = await duckRead(db, path, 384);
  assert.deepEqual(got.ids, data.ids);
  assert.ok(bytesOf(got.vectors).equals(bytesOf(data.vectors)));
  assert.deepEqual(got.metadata.map((m) => JSON.parse(m as string) as unknown), data.metadata);
  const [{ n }] = await db.rows(`select count(*) n from parquet_metadata(${sqlString(path)}) where path_in_schema = 'vector, list, element'`);
  assert.equal(n, 4n);
});

/** Writes `select` to a Parquet file with DuckDB and returns its path. */
async function duckWrite(db: Duck, name: string, select: string, options = ''): Promise<string> {
  const path = join(dir, name);
  await db.rows(`COPY (${select}) TO ${sqlString(path)} (FORMAT parquet${options ? `, ${options}` : ''})`);
  return path;
}

/** Reads a DuckDB-written file with both readers and compares ids, vector bits and metadata. */
async function sameAsDuck(db: Duck, path: string, dim: number, idKind: 'string' | 'number'): Promise<void> {
  const ours = await readParquet(nodeFs, path);
  const truth = await duckRead(db, path, dim);
  assert.equal(ours.columns.dimension, dim);
  assert.equal(ours.metricKnown, false);
  assert.equal(ours.columns.metric, 'cosine');
  assert.deepEqual(ours.user, {});
  const ids = truth.ids.map((id): Id => (idKind === 'number' ? Number(id) : (id as string)));
  assert.deepEqual(ours.columns.ids, ids);
  assert.ok(bytesOf(ours.columns.vectors).equals(bytesOf(truth.vectors)), 'vector bits differ from what DuckDB reads');
  assert.deepEqual(
    ours.columns.metadata,
    truth.metadata.map((m) => (m === null ? undefined : (JSON.parse(m) as Metadata))),
  );
}

const RANDOM_ROWS = `select 'doc-' || i as id, list_transform(range(16), j -> (random() * 2 - 1)::FLOAT) as vector,
  case when i % 4 = 0 then null else json_object('i', i, 'name', 'n' || i, 'tags', ['a', 'ü']) end as metadata
  from range(700) t(i)`;

for (const compression of ['uncompressed', 'snappy', 'gzip', 'brotli']) {
  test(`we read a DuckDB file with ${compression} pages (random floats: PLAIN fast path) bit-exact`, async (t) => {
    const db = await duck();
    if (!db) return t.skip('DuckDB unavailable');
    await db.rows('select setseed(0.25)');
    const path = await duckWrite(db, `random-${compression}.parquet`, RANDOM_ROWS, `COMPRESSION ${compression}, ROW_GROUP_SIZE 256`);
    await sameAsDuck(db, path, 16, 'string');
  });
}

for (const compression of ['zstd', 'lz4']) {
  test(`a DuckDB file with ${compression} pages is read, or refused with a clear UNSUPPORTED_FORMAT`, async (t) => {
    const db = await duck();
    if (!db) return t.skip('DuckDB unavailable');
    const path = await duckWrite(db, `random-${compression}.parquet`, RANDOM_ROWS, `COMPRESSION ${compression}`);
    try {
      await sameAsDuck(db, path, 16, 'string');
    } catch (err) {
      assert.ok(err instanceof QuiverError && err.code === 'UNSUPPORTED_FORMAT', String(err));
      assert.match(err.message, /page compression/);
      assert.match(err.message, new RegExp(path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    }
  });
}

test('DuckDB dictionary-encoded and V2 (byte-stream-split / delta) files go through the generic decoder', async (t) => {
  const db = await duck();
  if (!db) return t.skip('DuckDB unavailable');
  const few = await duckWrite(db, 'dict.parquet', `select i as id, [(i % 3)::FLOAT, 1.5, -0.0, 3.4028235e38::FLOAT] as vector from range(500) t(i)`);
  const [enc] = await db.rows(`select encodings from parquet_metadata(${sqlString(few)}) where path_in_schema = 'vector, list, element' limit 1`);
  assert.match(String(enc.encodings), /DICTIONARY/);
  await sameAsDuck(db, few, 4, 'number');
  // Uncompressed: the chunk is first read in place, then handed to the generic decoder.
  const plainDict = await duckWrite(db, 'dict-plain.parquet', `select i as id, [(i % 3)::FLOAT, 1.5] as vector from range(900) t(i)`, 'COMPRESSION uncompressed, ROW_GROUP_SIZE 200');
  await sameAsDuck(db, plainDict, 2, 'number');
  await db.rows('select setseed(0.5)');
  const v2 = await duckWrite(db, 'v2.parquet', RANDOM_ROWS, 'PARQUET_VERSION V2, ROW_GROUP_SIZE 300');
  await sameAsDuck(db, v2, 16, 'string');
});

test('DuckDB integer ids, DOUBLE[] and fixed FLOAT[n] vectors, VARCHAR metadata, no metadata column', async (t) => {
  const db = await duck();
  if (!db) return t.skip('DuckDB unavailable');
  const ints = await duckWrite(db, 'int32.parquet', `select (i * 7 - 100)::INTEGER as id, [i::FLOAT / 3, -i::FLOAT]::FLOAT[2] as vector, '{"k":' || i || '}' as metadata from range(50) t(i)`);
  await sameAsDuck(db, ints, 2, 'number');
  const dbl = await duckWrite(db, 'double.parquet', `select i::BIGINT * 1000000000000 as id, [i / 7.0, 1e-3]::DOUBLE[] as vector from range(40) t(i)`);
  const r = await readParquet(nodeFs, dbl);
  assert.deepEqual(r.columns.ids.slice(0, 3), [0, 1e12, 2e12]);
  assert.equal(r.columns.vectors[2], Math.fround(1 / 7));
  assert.deepEqual(r.columns.metadata, new Array(40).fill(undefined));
  const huge = await duckWrite(db, 'huge.parquet', `select 1 as id, [1e39::DOUBLE] as vector`);
  await assert.rejects(readParquet(nodeFs, huge), (e: unknown) => e instanceof CorruptionError && /finite float32/.test(e.message));
});

test('DuckDB files with bad entries are refused naming the file and row', async (t) => {
  const db = await duck();
  if (!db) return t.skip('DuckDB unavailable');
  const cases: [string, string, RegExp][] = [
    ['dup.parquet', `select (i % 5)::VARCHAR as id, [1::FLOAT] as vector from range(8) t(i)`, /id "0" appears twice \(rows 0 and 5\)/],
    ['short.parquet', `select i::VARCHAR as id, case when i = 3 then [1::FLOAT] else [1::FLOAT, 2] end as vector from range(8) t(i)`, /row 3 has 1 elements; every vector must have 2/],
    ['nullvec.parquet', `select i::VARCHAR as id, case when i = 2 then null else [1::FLOAT, 2] end as vector from range(8) t(i)`, /null/],
    ['nullelem.parquet', `select i::VARCHAR as id, [1::FLOAT, case when i = 2 then null else 2 end] as vector from range(8) t(i)`, /null/],
    ['nan.parquet', `select i::VARCHAR as id, [1::FLOAT, case when i = 6 then 'nan'::FLOAT else 2 end] as vector from range(8) t(i)`, /row 6.*NaN/],
    ['inf.parquet', `select i::VARCHAR as id, [1::FLOAT, case when i = 1 then 'inf'::FLOAT else 2 end] as vector from range(8) t(i)`, /row 1.*Infinity/],
    ['nullid.parquet', `select case when i = 4 then null else i::VARCHAR end as id, [1::FLOAT] as vector from range(8) t(i)`, /row 4 id.*null/],
    ['emptyid.parquet', `select case when i = 4 then '' else i::VARCHAR end as id, [1::FLOAT] as vector from range(8) t(i)`, /row 4 id.*empty/],
    ['arraymeta.parquet', `select i::VARCHAR as id, [1::FLOAT] as vector, case when i = 5 then '[1,2]' else '{}' end as metadata from range(8) t(i)`, /row 5 metadata.*JSON object, got an array/],
    ['strmeta.parquet', `select i::VARCHAR as id, [1::FLOAT] as vector, case when i = 5 then '"s"' else '{}' end as metadata from range(8) t(i)`, /row 5 metadata.*got string/],
    ['nummeta.parquet', `select i::VARCHAR as id, [1::FLOAT] as vector, case when i = 5 then '12' else '{}' end as metadata from range(8) t(i)`, /row 5 metadata.*got number/],
    ['badjson.parquet', `select i::VARCHAR as id, [1::FLOAT] as vector, case when i = 5 then '{oops' else '{}' end as metadata from range(8) t(i)`, /row 5 metadata.*not valid JSON/],
    ['surrogate.parquet', `select i::VARCHAR as id, [1::FLOAT] as vector, '{"s":"\\ud800"}' as metadata from range(2) t(i)`, /unpaired surrogate/],
  ];
  for (const [name, select, pattern] of cases) {
    const path = await duckWrite(db, name, select);
    await assert.rejects(readParquet(nodeFs, path), (e: unknown) => {
      assert.ok(e instanceof CorruptionError, `${name}: ${String(e)}`);
      assert.ok(e.message.includes(path), `${name}: ${e.message}`);
      assert.match(e.message, pattern, name);
      return true;
    });
  }
  // JSON null metadata means "no metadata", like a NULL cell.
  const nulls = await duckWrite(db, 'nullmeta.parquet', `select i::VARCHAR as id, [1::FLOAT] as vector, case when i = 1 then 'null' when i = 2 then null else '{"a":1}' end as metadata from range(3) t(i)`);
  assert.deepEqual((await readParquet(nodeFs, nulls)).columns.metadata, [{ a: 1 }, undefined, undefined]);
});

test('files without the QuiverDB columns are refused with UNSUPPORTED_FORMAT naming what is missing', async (t) => {
  const db = await duck();
  if (!db) return t.skip('DuckDB unavailable');
  const cases: [string, string, RegExp][] = [
    ['noid.parquet', `select [1::FLOAT] as vector`, /no "id" column/],
    ['novec.parquet', `select 'a' as id, [1::FLOAT] as embedding`, /no "vector" column/],
    ['scalarvec.parquet', `select 'a' as id, 1::FLOAT as vector`, /"vector" must be a list of FLOAT/],
    ['strvec.parquet', `select 'a' as id, ['x'] as vector`, /"vector" must be a list of FLOAT \(found a list of OPTIONAL BYTE_ARRAY/],
    ['nested.parquet', `select 'a' as id, [[1::FLOAT]] as vector`, /"vector" must be a list of FLOAT/],
    ['structmeta.parquet', `select 'a' as id, [1::FLOAT] as vector, {'k': 1} as metadata`, /"metadata" must hold JSON text/],
    ['boolid.parquet', `select true as id, [1::FLOAT] as vector`, /"id" must be a string or integer/],
  ];
  for (const [name, select, pattern] of cases) {
    const path = await duckWrite(db, name, select);
    await assert.rejects(readParquet(nodeFs, path), (e: unknown) => {
      assert.ok(e instanceof QuiverError && e.code === 'UNSUPPORTED_FORMAT', `${name}: ${String(e)}`);
      assert.ok(e.message.includes(path), e.message);
      assert.match(e.message, pattern, name);
      return true;
    });
  }
  const empty = await duckWrite(db, 'empty.parquet', `select 'a' as id, [1::FLOAT] as vector limit 0`);
  await assert.rejects(readParquet(nodeFs, empty), (e: unknown) => e instanceof QuiverError && e.code === 'UNSUPPORTED_FORMAT' && /dimension/.test(e.message));
});
