import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VectorDB } from '../../src/engine/vector-db.js';
import type { Id, Metadata, Metric } from '../../src/engine/types.js';
import { naiveScore, naiveSearch } from './helpers.js';

const METRICS: Metric[] = ['cosine', 'euclidean', 'dot', 'manhattan'];

const vecArb = (dim: number): fc.Arbitrary<number[]> =>
  fc.oneof(
    fc.array(fc.integer({ min: -3, max: 3 }), { minLength: dim, maxLength: dim }),
    fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: dim, maxLength: dim }),
  );

const caseArb = fc.integer({ min: 1, max: 6 }).chain((dim) =>
  fc.record({
    dim: fc.constant(dim),
    metric: fc.constantFrom(...METRICS),
    vecs: fc.array(vecArb(dim), { maxLength: 30 }),
    query: vecArb(dim),
    k: fc.integer({ min: 1, max: 40 }),
    threshold: fc.option(fc.double({ min: -50, max: 50, noNaN: true }), { nil: undefined }),
    filtered: fc.boolean(),
    deleteEvery: fc.integer({ min: 0, max: 4 }),
  }),
);

test('search matches a naive reference for every metric (property)', () => {
  fc.assert(
    fc.property(caseArb, (c) => {
      const db = new VectorDB({ dimension: c.dim, metric: c.metric });
      c.vecs.forEach((v, i) => void db.insert({ id: i % 2 ? i : `s${i}`, vector: v, metadata: { c: i % 3, n: i } }));
      if (c.deleteEvery > 0) c.vecs.forEach((_, i) => i % (c.deleteEvery + 1) === 0 && void db.delete(i % 2 ? i : `s${i}`));
      const entries = [...db];
      const q = Float32Array.from(c.query);
      const pred = c.filtered ? (m: Metadata | undefined) => m?.c === 1 : undefined;
      const ref = naiveSearch(entries, c.metric, q, c.k, c.threshold, pred);
      const res = db.search({ vector: c.query, k: c.k, threshold: c.threshold, filter: c.filtered ? { c: 1 } : undefined });
      const tol = (s: number) => 1e-9 * (1 + Math.abs(s));
      assert.equal(res.length, ref.length);
      assert.equal(new Set(res.map((r) => r.id)).size, res.length, 'ids are unique');
      const byId = new Map<Id, { vector: Float32Array; metadata?: Metadata; order: number }>(entries.map((e, order) => [e.id, { ...e, order }]));
      const all = entries.map((e) => naiveScore(c.metric, e.vector, q));
      for (let i = 0; i < res.length; i++) {
        const r = res[i];
        const e = byId.get(r.id);
        assert.ok(e, 'result id exists');
        assert.ok(Math.abs(r.score - ref[i].score) <= tol(ref[i].score), `rank ${i}: ${r.score} vs ${ref[i].score}`);
        assert.ok(Math.abs(r.score - naiveScore(c.metric, e.vector, q)) <= tol(r.score), 'score belongs to the id');
        assert.deepEqual(r.vector, e.vector);
        assert.deepEqual(r.metadata, e.metadata);
        if (pred) assert.ok(pred(r.metadata));
        const isolated = all.filter((s) => Math.abs(s - ref[i].score) <= tol(s)).length === 1;
        if (isolated) assert.equal(r.id, ref[i].id);
        if (i > 0 && r.score === res[i - 1].score) {
          const prev = byId.get(res[i - 1].id);
          assert.ok(prev && prev.order < e.order, 'exact ties keep slot order');
        }
      }
    }),
    { numRuns: 400 },
  );
});

test('scores per metric and best-first ordering', () => {
  const data: [Id, number[]][] = [['o', [0, 0]], ['x', [3, 4]], ['y', [1, 0]], ['neg', [-1, 0]], ['up', [0, 1]]];
  const dbFor = (metric: Metric) => {
    const db = new VectorDB({ dimension: 2, metric });
    for (const [id, vector] of data) void db.insert({ id, vector });
    return db;
  };
  const scores = (metric: Metric, q: number[]) => Object.fromEntries(dbFor(metric).search({ vector: q, k: 10 }).map((r) => [r.id, r.score]));
  assert.deepEqual(scores('euclidean', [0, 0]), { o: 0, x: 5, y: 1, neg: 1, up: 1 });
  assert.deepEqual(scores('manhattan', [0, 0]), { o: 0, x: 7, y: 1, neg: 1, up: 1 });
  assert.deepEqual(scores('dot', [1, 2]), { o: 0, x: 11, y: 1, neg: -1, up: 2 });
  const cos = scores('cosine', [1, 0]);
  assert.equal(cos.y, 1);
  assert.equal(cos.neg, -1);
  assert.equal(cos.up, 0);
  assert.equal(cos.o, 0, 'a zero vector scores 0 under cosine');
  assert.ok(Math.abs(cos.x - 0.6) < 1e-12);
  assert.deepEqual(dbFor('euclidean').search({ vector: [3, 4], k: 2 }).map((r) => r.id), ['x', 'up']);
  assert.deepEqual(dbFor('dot').search({ vector: [1, 2], k: 2 }).map((r) => r.id), ['x', 'up']);
  assert.deepEqual(dbFor('cosine').search({ vector: [0, 0], k: 10 }).map((r) => r.score), [0, 0, 0, 0, 0], 'zero query: all 0');
});

test('k larger than the collection, default k, threshold per metric', () => {
  const db = new VectorDB({ dimension: 1, metric: 'euclidean' });
  for (let i = 0; i < 15; i++) void db.insert({ id: i, vector: [i] });
  assert.equal(db.search({ vector: [0], k: 1000 }).length, 15);
  assert.equal(db.search({ vector: [0] }).length, 10, 'k defaults to 10');
  assert.deepEqual(db.search({ vector: [0], k: 100, threshold: 3 }).map((r) => r.id), [0, 1, 2, 3], 'euclidean: max distance, inclusive');
  const dot = new VectorDB({ dimension: 1, metric: 'dot' });
  for (let i = -3; i <= 3; i++) void dot.insert({ id: i, vector: [i] });
  assert.deepEqual(dot.search({ vector: [1], threshold: 2 }).map((r) => r.id), [3, 2], 'dot: min score, inclusive');
  const man = new VectorDB({ dimension: 2, metric: 'manhattan' });
  void man.insert({ id: 'a', vector: [1, 1] });
  void man.insert({ id: 'b', vector: [2, 2] });
  assert.deepEqual(man.search({ vector: [0, 0], threshold: 2 }).map((r) => r.id), ['a']);
  const cos = new VectorDB({ dimension: 2 });
  void cos.insert({ id: 'same', vector: [2, 0] });
  void cos.insert({ id: 'diag', vector: [1, 1] });
  void cos.insert({ id: 'orth', vector: [0, 1] });
  assert.deepEqual(cos.search({ vector: [1, 0], threshold: 0.5 }).map((r) => r.id), ['same', 'diag']);
  assert.deepEqual(new VectorDB({ dimension: 2 }).search({ vector: [1, 0] }), [], 'empty database');
});

test('ties are broken by slot order, including reused slots', () => {
  const db = new VectorDB({ dimension: 2, metric: 'dot' });
  for (const id of ['a', 'b', 'c', 'd']) void db.insert({ id, vector: [1, 1] });
  assert.deepEqual(db.search({ vector: [1, 1], k: 3 }).map((r) => r.id), ['a', 'b', 'c']);
  void db.delete('a');
  void db.insert({ id: 'e', vector: [1, 1] });
  assert.deepEqual(db.search({ vector: [1, 1], k: 4 }).map((r) => r.id), ['e', 'b', 'c', 'd'], 'e reused slot 0');
});

test('filtered search returns k results when k matches exist, however far down the ranking', () => {
  const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
  const n = 2000;
  for (let i = 0; i < n; i++) void db.insert({ id: i, vector: [i, 0, 0, 0], metadata: { rare: i >= n - 7, group: { g: i % 10 }, tags: i % 2 ? ['odd'] : ['even'] } });
  const res = db.search({ vector: [0, 0, 0, 0], k: 5, filter: { rare: true } });
  assert.deepEqual(res.map((r) => r.id), [n - 7, n - 6, n - 5, n - 4, n - 3]);
  assert.equal(db.search({ vector: [0, 0, 0, 0], k: 50, filter: { rare: true } }).length, 7);
  assert.deepEqual(db.search({ vector: [0, 0, 0, 0], k: 3, filter: { 'group.g': 7 } }).map((r) => r.id), [7, 17, 27]);
  assert.deepEqual(db.search({ vector: [0, 0, 0, 0], k: 3, filter: { tags: 'odd', 'group.g': { gte: 8 } } }).map((r) => r.id), [9, 19, 29]);
  assert.deepEqual(db.search({ vector: [0, 0, 0, 0], k: 2, filter: { 'group.g': { any: [3, 4] } } }).map((r) => r.id), [3, 4]);
  assert.deepEqual(db.search({ vector: [0, 0, 0, 0], k: 2, filter: { tags: { all: ['even'] } } }).map((r) => r.id), [0, 2]);
  assert.deepEqual(db.search({ vector: [1000, 0, 0, 0], k: 2, threshold: 10, filter: { rare: true } }), [], 'threshold and filter combine');
  assert.deepEqual(db.search({ vector: [0, 0, 0, 0], k: 2, filter: { nothing: 1 } }), []);
});

test('search sees updates: replaced vectors, deletes and metadata changes', async () => {
  const db = new VectorDB({ dimension: 2, metric: 'euclidean' });
  await db.insertBatch([{ id: 'a', vector: [0, 0], metadata: { c: 'x' } }, { id: 'b', vector: [10, 10] }]);
  await db.insert({ id: 'b', vector: [0, 1] });
  assert.deepEqual(db.search({ vector: [0, 1], k: 1 }).map((r) => r.id), ['b']);
  await db.updateMetadata('a', { c: 'y' });
  assert.deepEqual(db.search({ vector: [0, 0], filter: { c: 'y' } }).map((r) => r.id), ['a']);
  assert.deepEqual(db.search({ vector: [0, 0], filter: { c: 'x' } }), []);
  await db.delete('a');
  assert.deepEqual(db.search({ vector: [0, 0] }).map((r) => r.id), ['b']);
});
