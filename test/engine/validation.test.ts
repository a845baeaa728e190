import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { checkVector } from '../../src/engine/validate.js';
import type { Metadata, VectorDBOptions, VectorEntry } from '../../src/engine/types.js';
import { throwsCode } from './helpers.js';
import { MAX_METADATA_KEYS } from '../../src/engine/metadata.js';

const mk = (o: unknown): VectorDB => new VectorDB(o as VectorDBOptions);

test('constructor options are validated', () => {
  for (const bad of [undefined, null, 3, 'x', [], {}, { dimension: 0 }, { dimension: -1 }, { dimension: 1.5 }, { dimension: 65537 },
    { dimension: '3' }, { dimension: NaN }, { dimension: 3, dimensions: 4 }, { dimension: 3, metric: 'hamming' },
    { dimension: 3, metric: 'cosine', distanceMetric: 'dot' }, { dimension: 3, metric: 5 }, { dimension: 3, initialCapacity: -1 },
    { dimension: 3, metric: null }, { dimension: null }]) {
    throwsCode(() => mk(bad), 'INVALID_ARGUMENT');
  }
  assert.equal(mk({ dimension: 65536 }).dimension, 65536);
  assert.equal(mk({ dimensions: 7 }).dimension, 7);
  assert.equal(mk({ dimension: 7, dimensions: 7, metric: 'Euclidean' }).metric, 'euclidean');
  // Any letter case, so two spellings of one metric agree.
  assert.equal(mk({ dimension: 2, metric: 'dot', distanceMetric: 'DOT' }).metric, 'dot');
  assert.equal(mk({ dimension: 2, hnswConfig: { m: 16 }, storagePath: './x' }).len(), 0, 'compatibility options are accepted');
});

test('bad ids throw INVALID_ID synchronously from every method', () => {
  const db = new VectorDB({ dimension: 2 });
  const bad: unknown[] = ['', null, {}, [], 1.5, NaN, Infinity, 2 ** 53, true, '\uD800x', 'a\uDC00', 'x'.repeat(65536), '€'.repeat(21846), 10n];
  for (const id of bad) {
    throwsCode(() => db.insert({ id, vector: [1, 2] } as VectorEntry), 'INVALID_ID');
    throwsCode(() => db.delete(id as string), 'INVALID_ID');
    throwsCode(() => db.get(id as string), 'INVALID_ID');
    throwsCode(() => db.has(id as string), 'INVALID_ID');
    throwsCode(() => db.updateMetadata(id as string, {}), 'INVALID_ID');
  }
  assert.equal(db.len(), 0);
  void db.insert({ id: 'x'.repeat(65535), vector: [1, 2] });
  void db.insert({ id: '😀'.repeat(16383), vector: [1, 2] });
  void db.insert({ id: -(2 ** 53 - 1), vector: [1, 2] });
  assert.equal(db.len(), 3);
});

test('vectors: dimension mismatch, empty, non-finite, overflow, wrong types', () => {
  const db = new VectorDB({ dimension: 3 });
  const e = throwsCode(() => db.insert({ vector: [1, 2] }), 'DIMENSION_MISMATCH', /2 dimensions.*3-dimensional/);
  assert.deepEqual([e.details.expected, e.details.actual], [3, 2]);
  throwsCode(() => db.insert({ vector: new Float32Array(4) }), 'DIMENSION_MISMATCH', /4.*3/);
  throwsCode(() => db.insert({ vector: [] }), 'INVALID_VECTOR', /empty/);
  throwsCode(() => db.insert({ vector: [1, 2, NaN] }), 'INVALID_VECTOR', /vector\[2\] is NaN/);
  throwsCode(() => db.insert({ vector: [Infinity, 2, 3] }), 'INVALID_VECTOR', /vector\[0\] is Infinity/);
  throwsCode(() => db.insert({ vector: [1, -Infinity, 3] }), 'INVALID_VECTOR', /vector\[1\] is -Infinity/);
  throwsCode(() => db.insert({ vector: [1, 1e39, 3] }), 'INVALID_VECTOR', /vector\[1\].*overflows float32/);
  throwsCode(() => db.insert({ vector: new Float64Array([1, 2, -1e300]) }), 'INVALID_VECTOR', /vector\[2\]/);
  throwsCode(() => db.insert({ vector: new Float32Array([1, NaN, 3]) }), 'INVALID_VECTOR', /vector\[1\]/);
  throwsCode(() => db.insert({ vector: [1, '2', 3] as unknown as number[] }), 'INVALID_VECTOR', /vector\[1\].*string/);
  // eslint-disable-next-line no-sparse-arrays
  throwsCode(() => db.insert({ vector: [1, , 3] as unknown as number[] }), 'INVALID_VECTOR', /vector\[1\]/);
  for (const bad of [undefined, null, 'abc', 5, {}, new DataView(new ArrayBuffer(12)), new BigInt64Array(3)]) {
    throwsCode(() => db.insert({ vector: bad } as unknown as VectorEntry), 'INVALID_VECTOR');
  }
  throwsCode(() => db.insert({ vector: { length: 3, 0: 1, 1: 2, 2: 'x' } as unknown as number[] }), 'INVALID_VECTOR');
  void db.insert({ id: 'max', vector: [3.4028234663852886e38, -3.4028234663852886e38, 1e-45] });
  void db.insert({ id: 'al', vector: { length: 3, 0: 1, 1: 2, 2: 3 } as ArrayLike<number> });
  void db.insert({ id: 'i8', vector: new Int8Array([1, -2, 3]) });
  assert.equal(db.len(), 3);
});

test('entries and batches must be objects; errors name the batch index', () => {
  const db = new VectorDB({ dimension: 2 });
  throwsCode(() => db.insert(null as unknown as VectorEntry), 'INVALID_ARGUMENT');
  throwsCode(() => db.insert([1, 2] as unknown as VectorEntry), 'INVALID_ARGUMENT');
  throwsCode(() => db.insertBatch('x' as unknown as VectorEntry[]), 'INVALID_ARGUMENT');
  throwsCode(() => db.insertBatch([{ vector: [1, 2] }, 7 as unknown as VectorEntry]), 'INVALID_ARGUMENT', /entries\[1\]/);
  throwsCode(() => db.insertBatch([{ vector: [1, 2] }, { vector: [1] }]), 'DIMENSION_MISMATCH', /entries\[1\]\.vector/);
  throwsCode(() => db.insertBatch([{ id: '', vector: [1, 2] }]), 'INVALID_ID', /entries\[0\]\.id/);
  throwsCode(() => db.insertBatch([{ id: 'a', vector: [1, 2] }, { id: 'b', vector: [1, 2] }, { id: 1.5, vector: [1, 2] }]), 'INVALID_ID', /entries\[2\]\.id 1\.5 is not a safe integer/);
  throwsCode(() => db.replaceAll({ dimension: 2, metric: 'cosine', ids: ['a', 'b', 'c', ''], vectors: new Float32Array(8).fill(1), metadata: [{}, {}, {}, {}] }), 'INVALID_ID', /columns\.ids\[3\] is an empty string/);
  throwsCode(() => db.applyDelta({ dimension: 2, metric: 'cosine', ids: [], vectors: new Float32Array(0), metadata: [], deletedIds: ['x', {} as unknown as string], cleared: false }), 'INVALID_ID', /delta\.deletedIds\[1\] must be/);
  throwsCode(() => db.insertBatch([{ vector: [1, 2], metadata: { a: [1, undefined] } as Metadata }]), 'INVALID_METADATA', /entries\[0\]\.metadata\.a\[1\]/);
  assert.equal(db.len(), 0);
});

class Thing {
  x = 1;
}

test('metadata must be plain JSON; errors carry the path', () => {
  const db = new VectorDB({ dimension: 1 });
  const ins = (metadata: unknown) => () => db.insert({ vector: [1], metadata: metadata as Metadata });
  for (const top of [null, [], 'str', 5, true, new Date(), new Map(), new Thing(), () => 1]) {
    throwsCode(ins(top), 'INVALID_METADATA', /^entry\.metadata must be a plain object|^entry\.metadata is/);
  }
  const cyc: Record<string, unknown> = { a: { b: {} } };
  (cyc.a as { b: Record<string, unknown> }).b.back = cyc;
  const cases: [unknown, RegExp][] = [
    [{ a: { b: [1, 2, () => 3] } }, /entry\.metadata\.a\.b\[2\] is function/],
    [{ a: Symbol('s') }, /entry\.metadata\.a is symbol/],
    [{ a: 10n }, /entry\.metadata\.a is bigint/],
    [{ a: [1, undefined] }, /entry\.metadata\.a\[1\] is undefined/],
    [{ a: { n: NaN } }, /entry\.metadata\.a\.n is NaN/],
    [{ a: Infinity }, /entry\.metadata\.a is Infinity/],
    [{ 'odd key': new Date(0) }, /entry\.metadata\["odd key"\] is a Date/],
    [{ m: new Map() }, /entry\.metadata\.m is a Map/],
    [{ t: new Thing() }, /entry\.metadata\.t is a Thing/],
    [cyc, /entry\.metadata\.a\.b\.back is a circular reference/],
    [{ [Symbol('k')]: 1 }, /symbol key/],
    [{ s: 'bad \uD800 surrogate' }, /unpaired/],
    [{ '\uDC00': 1 }, /unpaired/],
  ];
  for (const [md, re] of cases) throwsCode(ins(md), 'INVALID_METADATA', re);
  let deep: Record<string, unknown> = {};
  const root = deep;
  for (let i = 0; i < 300; i++) deep = (deep.n = {}) as Record<string, unknown>;
  throwsCode(ins(root), 'INVALID_METADATA', /nested deeper/);
  // The codec writes every map with a 16-bit member count: a wider object is refused at the call, at any level.
  const wide = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
  throwsCode(ins(wide(MAX_METADATA_KEYS + 1)), 'INVALID_METADATA', /65536 members, more than the 65535/);
  throwsCode(ins({ inner: [wide(MAX_METADATA_KEYS + 1)] }), 'INVALID_METADATA', /metadata\.inner\[0\] has 65536 members/);
  throwsCode(() => db.updateMetadata('x', [] as unknown as Metadata), 'INVALID_METADATA');
  throwsCode(() => db.updateMetadata('x', undefined as unknown as Metadata), 'INVALID_METADATA');
  assert.equal(db.len(), 0);
});

test('search parameters are validated synchronously', () => {
  const db = new VectorDB({ dimension: 2 });
  void db.insert({ id: 'a', vector: [1, 2] });
  for (const k of [0, -1, 1.5, '3', NaN, null]) throwsCode(() => db.search({ vector: [1, 2], k: k as number }), 'INVALID_ARGUMENT', /k must be/);
  for (const t of [NaN, Infinity, '0.5']) throwsCode(() => db.search({ vector: [1, 2], threshold: t as number }), 'INVALID_ARGUMENT', /threshold/);
  throwsCode(() => db.search({ vector: [1] }), 'DIMENSION_MISMATCH');
  throwsCode(() => db.search({ vector: [1, NaN] }), 'INVALID_VECTOR', /query vector\[1\]/);
  throwsCode(() => db.search(undefined as unknown as { vector: number[] }), 'INVALID_ARGUMENT');
  throwsCode(() => db.search({ vector: [1, 2], filter: [] as unknown as Record<string, unknown> }), 'INVALID_ARGUMENT', /filter/);
  throwsCode(() => db.search({ vector: [1, 2], filter: { a: { gte: {} } } }), 'INVALID_ARGUMENT', /filter\.a\.gte/);
  assert.equal(db.search({ vector: [1, 2], threshold: null as unknown as number }).length, 1, 'null threshold = none');
  assert.equal(db.search({ vector: [1, 2], k: 10, efSearch: 5 }).length, 1, 'efSearch accepted and ignored');
});

/** An array-like whose first element reads as 1 once and as NaN every time after (a getter, as a Proxy could). */
function shifty(dim: number): ArrayLike<number> {
  let reads = 0;
  const v: Record<number, number> & { length: number } = { length: dim };
  for (let i = 1; i < dim; i++) v[i] = i;
  Object.defineProperty(v, 0, { get: () => (reads++ === 0 ? 1 : NaN), enumerable: true });
  return v;
}

test('a vector is read once: an element that reads differently later never gets past the check', async () => {
  const db = new VectorDB({ dimension: 3 });
  await db.insert({ id: 'a', vector: shifty(3) });
  assert.deepEqual(Array.from(db.get('a')!.vector), [1, 1, 2]);
  await db.insertBatch([{ id: 'b', vector: shifty(3) }, { id: 'c', vector: [4, 5, 6] }, { id: 'd', vector: Float32Array.from([7, 8, 9]) }]);
  assert.deepEqual(Array.from(db.get('b')!.vector), [1, 1, 2]);
  assert.deepEqual(Array.from(db.get('c')!.vector), [4, 5, 6]);
  assert.deepEqual(Array.from(db.get('d')!.vector), [7, 8, 9]);
  // A Proxy over a Float32Array is not a typed array: it is copied too.
  let n = 0;
  const proxy = new Proxy(Float32Array.from([1, 2, 3]), { get: (t, k) => (k === '0' && n++ > 0 ? NaN : Reflect.get(t, k)) });
  await db.insert({ id: 'e', vector: proxy });
  assert.deepEqual(Array.from(db.get('e')!.vector), [1, 2, 3]);
  for (const e of db) assert.ok(Array.from(e.vector).every(Number.isFinite), String(e.id));
});

test('a vector over shared memory is copied at the check (another thread may change it before it is stored); an unshared one is used in place', () => {
  const shared = new Float32Array(new SharedArrayBuffer(12));
  shared.set([1, 2, 3]);
  const checked = checkVector(shared, 3);
  assert.notEqual(checked, shared);
  shared[0] = NaN;
  assert.deepEqual(Array.from(checked), [1, 2, 3], 'what was checked is what is kept');
  const own = Float32Array.from([1, 2, 3]);
  assert.equal(checkVector(own, 3), own);
});
