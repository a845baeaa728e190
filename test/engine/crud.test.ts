import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import type { Columns } from '../../src/index.js';
import { bytes } from './helpers.js';

const v = (...xs: number[]): number[] => xs;

test('insert, get, has, len, isEmpty, delete, clear', async () => {
  const db = new VectorDB({ dimension: 3 });
  assert.equal(db.isEmpty(), true);
  assert.equal(await db.insert({ id: 'a', vector: v(1, 2, 3), metadata: { t: 'x' } }), 'a');
  assert.equal(db.len(), 1);
  assert.equal(db.isEmpty(), false);
  assert.equal(db.has('a'), true);
  assert.equal(db.has('b'), false);
  const e = db.get('a');
  assert.ok(e);
  assert.deepEqual([...e.vector], [1, 2, 3]);
  assert.ok(e.vector instanceof Float32Array);
  assert.deepEqual(e.metadata, { t: 'x' });
  assert.equal(db.get('missing'), null);
  assert.equal(await db.delete('a'), true);
  assert.equal(await db.delete('a'), false);
  assert.equal(db.get('a'), null);
  assert.equal(db.len(), 0);
  await db.insertBatch([{ id: 1, vector: v(1, 0, 0) }, { id: 2, vector: v(0, 1, 0) }]);
  assert.equal(db.len(), 2);
  await db.clear();
  assert.equal(db.len(), 0);
  assert.deepEqual(db.ids(), []);
  assert.deepEqual(db.search({ vector: v(1, 0, 0) }), []);
  await db.insert({ id: 'after-clear', vector: v(1, 1, 1) });
  assert.deepEqual(db.ids(), ['after-clear']);
});

test('mutations apply synchronously; the returned promise only reports the result', () => {
  const db = new VectorDB({ dimension: 2 });
  for (let i = 0; i < 100; i++) void db.insert({ id: i, vector: [i, 1] });
  assert.equal(db.len(), 100);
  const p = db.delete(5);
  assert.equal(db.has(5), false);
  assert.ok(p instanceof Promise);
  void db.updateMetadata(6, { x: 1 });
  assert.deepEqual(db.get(6)?.metadata, { x: 1 });
  void db.clear();
  assert.equal(db.len(), 0);
});

test('re-inserting an id replaces vector and metadata in place', async () => {
  const db = new VectorDB({ dimension: 2, metric: 'euclidean' });
  await db.insert({ id: 'a', vector: [0, 0], metadata: { v: 1 } });
  await db.insert({ id: 'b', vector: [5, 5] });
  await db.insert({ id: 'a', vector: [9, 9], metadata: { v: 2 } });
  assert.equal(db.len(), 2);
  assert.deepEqual(db.ids(), ['a', 'b'], 'same slot, order unchanged');
  assert.deepEqual([...(db.get('a')?.vector ?? [])], [9, 9]);
  assert.deepEqual(db.get('a')?.metadata, { v: 2 });
  const res = db.search({ vector: [9, 9], k: 10 });
  assert.deepEqual(res.map((r) => r.id), ['a', 'b'], 'no duplicate results');
  await db.insert({ id: 'a', vector: [1, 1] });
  assert.equal(db.get('a')?.metadata, undefined, 'metadata replaced by absence');
  await db.insertBatch([{ id: 'c', vector: [1, 2] }, { id: 'c', vector: [3, 4], metadata: { last: true } }]);
  assert.deepEqual([...(db.get('c')?.vector ?? [])], [3, 4], 'within a batch the later entry wins');
  assert.equal(db.len(), 3);
});

test('numeric and string ids are distinct and keep their type', async () => {
  const db = new VectorDB({ dimension: 1 });
  await db.insert({ id: 1, vector: [1] });
  await db.insert({ id: '1', vector: [2] });
  await db.insert({ id: -0, vector: [3] });
  assert.equal(db.len(), 3);
  assert.equal(db.get(1)?.vector[0], 1);
  assert.equal(db.get('1')?.vector[0], 2);
  assert.equal(typeof db.get(1)?.id, 'number');
  assert.equal(typeof db.get('1')?.id, 'string');
  assert.ok(Object.is(db.get(0)?.id, 0), '-0 is normalised to 0');
  assert.deepEqual(db.ids(), [1, '1', 0]);
  const hits = db.search({ vector: [1], k: 3 });
  assert.deepEqual(new Set(hits.map((h) => typeof h.id)), new Set(['number', 'string']));
  await db.insert({ id: Number.MAX_SAFE_INTEGER, vector: [1] });
  assert.equal(db.has(Number.MAX_SAFE_INTEGER), true);
});

test('missing ids get distinct random UUIDs', async () => {
  const db = new VectorDB({ dimension: 2 });
  const a = await db.insert({ vector: [1, 2] });
  const batch = await db.insertBatch([{ vector: [1, 2] }, { vector: [3, 4] }]);
  const all = [a, ...batch];
  for (const id of all) assert.match(String(id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(all).size, 3);
  assert.equal(db.len(), 3);
});

test('freed slots are reused by later inserts', async () => {
  const db = new VectorDB({ dimension: 2, initialCapacity: 4 });
  await db.insertBatch(['a', 'b', 'c', 'd'].map((id, i) => ({ id, vector: [i, i] })));
  const before = db.stats().memoryUsage;
  await db.delete('b');
  await db.insert({ id: 'e', vector: [7, 7] });
  assert.deepEqual(db.ids(), ['a', 'e', 'c', 'd'], 'e took b\'s slot');
  assert.ok(db.stats().memoryUsage <= before + 64, 'no growth when a free slot exists');
  assert.deepEqual([...(db.get('e')?.vector ?? [])], [7, 7]);
  await db.insert({ id: 'f', vector: [8, 8] });
  assert.deepEqual(db.ids(), ['a', 'e', 'c', 'd', 'f']);
});

test('vectors are stored as float32, bit-exact, and copied both ways', async () => {
  const db = new VectorDB({ dimension: 4, metric: 'dot' });
  const input = [0.1, 1 / 3, -0, 3.4028234663852886e38];
  await db.insert({ id: 'x', vector: input });
  const got = db.get('x');
  assert.ok(got);
  const want = Float32Array.from(input);
  assert.equal(got.vector[0], Math.fround(0.1));
  assert.ok(Object.is(got.vector[2], -0), '-0 survives');
  assert.deepEqual(bytes(got.vector), bytes(want));
  got.vector[0] = 42;
  assert.equal(db.get('x')?.vector[0], Math.fround(0.1), 'returned vectors are copies');
  const f = new Float32Array([1, 2, 3, 4]);
  await db.insert({ id: 'f', vector: f });
  f[0] = 99;
  assert.equal(db.get('f')?.vector[0], 1, 'inputs are copied');
  await db.insert({ id: 'sub', vector: new Float32Array([9, 9, 5, 6, 7, 8, 9, 9]).subarray(2, 6) });
  assert.deepEqual([...(db.get('sub')?.vector ?? [])], [5, 6, 7, 8], 'subarray offsets respected');
  await db.insert({ id: 'f64', vector: new Float64Array([0.1, 0.2, 0.3, 0.4]) });
  assert.deepEqual(bytes(db.get('f64')?.vector ?? new Float32Array()), bytes(new Float32Array([0.1, 0.2, 0.3, 0.4])));
  const [hit] = db.search({ vector: [1, 0, 0, 0], k: 1 });
  assert.ok(hit.vector instanceof Float32Array);
});

test('iteration yields copies in slot order; ids(), entries() and stats()', async () => {
  const db = new VectorDB({ dimensions: 2, distanceMetric: 'manhattan' });
  assert.equal(db.metric, 'manhattan');
  assert.equal(db.dimension, 2);
  await db.insertBatch([{ id: 'a', vector: [1, 1], metadata: { n: 1 } }, { id: 'b', vector: [2, 2] }, { id: 'c', vector: [3, 3] }]);
  await db.delete('b');
  const seen = [...db];
  assert.deepEqual(seen.map((e) => e.id), ['a', 'c']);
  assert.deepEqual([...db.entries()].map((e) => e.id), ['a', 'c']);
  (seen[0].metadata as { n: number }).n = 5;
  assert.deepEqual(db.get('a')?.metadata, { n: 1 });
  assert.equal('metadata' in seen[1], false, 'no metadata key when none was given');
  const s = db.stats();
  assert.equal(s.count, 2);
  assert.equal(s.dimension, 2);
  assert.equal(s.metric, 'manhattan');
  assert.equal(s.indexType, 'flat');
  assert.ok(s.memoryUsage >= 2 * 2 * 4);
  assert.equal(new VectorDB({ dimension: 3 }).metric, 'cosine', 'cosine is the default');
});

test('the slab grows past its initial capacity without losing data', async () => {
  const db = new VectorDB({ dimension: 3, metric: 'euclidean', initialCapacity: 1 });
  for (let i = 0; i < 300; i++) await db.insert({ id: i, vector: [i, -i, i / 7] });
  assert.equal(db.len(), 300);
  for (let i = 0; i < 300; i += 37) assert.deepEqual(bytes(db.get(i)?.vector ?? new Float32Array()), bytes(Float32Array.from([i, -i, i / 7])));
  assert.equal(db.search({ vector: [299, -299, 299 / 7], k: 1 })[0].id, 299);
});

test('seq counts every mutation', async () => {
  const db = new VectorDB({ dimension: 1 });
  assert.equal(db.seq, 0);
  await db.insert({ id: 'a', vector: [1] });
  assert.equal(db.seq, 1);
  await db.insertBatch([{ id: 'b', vector: [1] }, { id: 'c', vector: [1] }, { id: 'a', vector: [2] }]);
  assert.equal(db.seq, 4, 'one per batch entry');
  await db.delete('a');
  assert.equal(db.seq, 5);
  await db.delete('a');
  assert.equal(db.seq, 5, 'a no-op delete is not a mutation');
  await db.updateMetadata('b', { x: 1 });
  assert.equal(db.seq, 6);
  assert.equal(await db.updateMetadata('zzz', { x: 1 }), false);
  assert.equal(db.seq, 6);
  await db.clear();
  assert.equal(db.seq, 7);
});

test('insertBatch is all-or-nothing', async () => {
  const db = new VectorDB({ dimension: 2 });
  await db.insert({ id: 'keep', vector: [1, 1] });
  const seq = db.seq;
  assert.throws(() => db.insertBatch([{ id: 'n1', vector: [1, 2] }, { id: 'keep', vector: [5, 5] }, { id: 'bad', vector: [1, NaN] }]), /entries\[2\]\.vector\[1\]/);
  assert.equal(db.len(), 1);
  assert.equal(db.has('n1'), false);
  assert.deepEqual([...(db.get('keep')?.vector ?? [])], [1, 1]);
  assert.equal(db.seq, seq);
  assert.deepEqual(await db.insertBatch([]), []);
});

test('an id repeated in one insertBatch takes one slot: the slab does not grow per occurrence', async () => {
  const db = new VectorDB({ dimension: 256 });
  await db.insert({ id: 'first', vector: new Float32Array(256).fill(2) });
  const before = db.stats().memoryUsage;
  const v = new Float32Array(256).fill(1);
  const ids = await db.insertBatch(Array.from({ length: 20_000 }, (_, i) => ({ id: 'same', vector: v, metadata: { i } })));
  assert.equal(ids.length, 20_000);
  assert.equal(db.len(), 2);
  assert.deepEqual(db.get('same')?.metadata, { i: 19_999 }, 'the last occurrence wins');
  // Room for 20,000 vectors of 256 floats would be ~20 MB more.
  assert.ok(db.stats().memoryUsage < before + (1 << 20), `memoryUsage ${before} -> ${db.stats().memoryUsage}`);
});

test('iteration across clear(), replaceAll() or applyDelta(): entries gone by the time they are reached are not yielded', async () => {
  const fill = async (): Promise<VectorDB> => {
    const db = new VectorDB({ dimension: 2, metric: 'euclidean' });
    for (let i = 0; i < 4; i++) await db.insert({ id: `doc-${i}`, vector: [i + 1, i + 1], metadata: { n: i } });
    return db;
  };
  const run = async (change: (db: VectorDB) => Promise<unknown>): Promise<[string, number[], unknown][]> => {
    const db = await fill();
    const seen: [string, number[], unknown][] = [];
    for (const e of db) {
      seen.push([String(e.id), [...e.vector], e.metadata]);
      if (seen.length === 1) await change(db);
    }
    return seen;
  };
  assert.deepEqual(await run((db) => db.clear()), [['doc-0', [1, 1], { n: 0 }]]);
  // A new entry in a reused slot is not an old one.
  assert.deepEqual(await run(async (db) => (await db.clear(), db.insert({ id: 'y', vector: [8, 8] }))), [['doc-0', [1, 1], { n: 0 }]]);
  const cols = { dimension: 2, metric: 'euclidean' as const, ids: ['doc-2', 'z'], vectors: new Float32Array([7, 7, 9, 9]), metadata: [{ n: 7 }, undefined] };
  assert.deepEqual(await run(async (db) => db.replaceAll(cols)), [['doc-0', [1, 1], { n: 0 }], ['doc-2', [7, 7], { n: 7 }]]);
  assert.deepEqual(await run(async (db) => db.applyDelta({ ...cols, ids: ['doc-3'], vectors: new Float32Array([5, 5]), metadata: [undefined], deletedIds: ['doc-1'], cleared: true })), [['doc-0', [1, 1], { n: 0 }], ['doc-3', [5, 5], undefined]]);
});

test('iteration while a save reads the database: an entry replaced during it (moved to another slot) is yielded once, as it is then', async () => {
  const db = new VectorDB({ dimension: 4 });
  for (let i = 0; i < 200; i++) await db.insert({ id: `e${i}`, vector: [i, 1, 2, 3] });
  // A writer holding its first chunk (zero-copy, all 200 slots) has them lent: replacing an id then
  // moves it to another slot.
  const image = db.openWriterImage();
  const chunks = image.vectorChunks(1000)[Symbol.iterator]();
  assert.equal(chunks.next().value?.length, 800);
  try {
    const seen = new Map<string, number>();
    let k = 0;
    for (const e of db) {
      seen.set(String(e.id), (seen.get(String(e.id)) ?? 0) + 1);
      // Replace what was just seen (it moves behind or ahead), and one entry far ahead.
      await db.insert({ id: e.id, vector: [-1, 1, 2, 3] });
      if (k++ === 10) await db.insert({ id: 'e150', vector: [150, 9, 9, 9] });
    }
    assert.equal(seen.size, 200);
    assert.ok([...seen.values()].every((n) => n === 1), 'every entry exactly once');
    assert.equal(db.get('e150')?.vector[1], 1, 'e150 was reached after its replacement ahead, and replaced again');
  } finally {
    chunks.return?.(undefined);
    image.release();
  }
});

test('the public types name what replaceAll takes (Columns), as README does', async () => {
  const columns: Columns = { dimension: 2, metric: 'cosine', ids: ['a', 7], vectors: Float32Array.from([1, 0, 0, 1]), metadata: [{ k: 1 }, undefined] };
  const db = new VectorDB({ dimension: 2 });
  db.replaceAll(columns);
  assert.deepEqual(db.ids(), ['a', 7]);
});
