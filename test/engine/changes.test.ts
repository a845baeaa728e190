import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VectorDB } from '../../src/engine/vector-db.js';
import type { Columns, DeltaColumns, Id, Metadata } from '../../src/engine/types.js';
import { apply, opArb } from './ops.js';
import { readImage, stateOf, throwsCode } from './helpers.js';

const key = (id: Id) => `${typeof id}:${id}`;
const sorted = (db: VectorDB) => [...stateOf(db)].sort((x, y) => (key(x[0]) < key(y[0]) ? -1 : 1));

test('openChanges(s) applied to the state at s reproduces the current state (property, with clear)', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), fc.array(opArb, { maxLength: 40 }), fc.array(opArb, { maxLength: 10 }), fc.nat(), (before, after, later, trimPick) => {
      const db = new VectorDB({ dimension: 3, metric: 'euclidean', initialCapacity: 2 });
      apply(db, before);
      const seqAtS = db.seq;
      const base = db.openImage();
      const replica = new VectorDB({ dimension: 3, metric: 'euclidean' });
      replica.replaceAll(readImage(base, 2));
      base.release();
      assert.deepEqual(sorted(replica), sorted(db), 'an image restores the state at s');

      apply(db, after);
      const trimAt = seqAtS === 0 ? 0 : trimPick % (seqAtS + 1);
      db.trimChangesBefore(trimAt);
      const changes = db.openChanges(seqAtS);
      const expected = sorted(db);
      const expectedIds = new Set(db.ids());
      apply(db, later); // copy-on-write: the change image must not see these

      assert.equal(changes.sinceSeq, seqAtS);
      assert.equal(changes.cleared, after.some((o) => o.t === 'clear'));
      for (const id of changes.deletedIds) assert.ok(!expectedIds.has(id), 'deleted ids are absent now');
      for (const id of changes.ids) assert.ok(expectedIds.has(id), 'upserted ids are present now');
      const upserts = after.reduce((n, o) => n + (o.t === 'batch' ? o.items.length : o.t === 'clear' ? 0 : 1), 0);
      assert.ok(changes.count <= upserts, 'the delta holds only touched entries');

      const delta: DeltaColumns = { ...readImage(changes, 3), cleared: changes.cleared, deletedIds: [...changes.deletedIds] };
      changes.release();
      replica.applyDelta(delta);
      assert.deepEqual(sorted(replica), expected);
      assert.equal(replica.openChanges(replica.seq).count, 0, 'a loaded state has no pending changes');
    }),
    { numRuns: 300 },
  );
});

test('seq bounds and the trimmed horizon', async () => {
  const db = new VectorDB({ dimension: 1 });
  for (let i = 0; i < 6; i++) await db.insert({ id: i, vector: [i] });
  await db.delete(0);
  await db.delete(1);
  assert.equal(db.seq, 8);
  assert.deepEqual(db.openChanges(6).deletedIds, [0, 1]);
  assert.deepEqual(db.openChanges(7).deletedIds, [1]);
  assert.equal(db.openChanges(8).count, 0);
  assert.deepEqual([...db.openChanges(4).ids], [4, 5]);
  for (const bad of [-1, 9, 1.5, NaN, '3']) throwsCode(() => db.openChanges(bad as number), 'INVALID_ARGUMENT');
  db.trimChangesBefore(7);
  throwsCode(() => db.openChanges(6), 'INVALID_ARGUMENT', /full save/);
  assert.deepEqual(db.openChanges(7).deletedIds, [1]);
  throwsCode(() => db.trimChangesBefore(99), 'INVALID_ARGUMENT');
  db.trimChangesBefore(3);
  throwsCode(() => db.openChanges(6), 'INVALID_ARGUMENT'); // the horizon never moves back
  await db.insert({ id: 0, vector: [9] });
  const c = db.openChanges(8);
  assert.deepEqual([c.ids, c.deletedIds, c.cleared], [[0], [], false], 'a re-inserted id is an upsert, not a deletion');
  await db.clear();
  await db.insert({ id: 'z', vector: [1] });
  const d = db.openChanges(8);
  assert.deepEqual([d.ids, d.deletedIds, d.cleared], [['z'], [], true]);
});

test('many trimmed tombstones are compacted', async () => {
  const db = new VectorDB({ dimension: 1 });
  for (let i = 0; i < 3000; i++) await db.insert({ id: i, vector: [i] });
  for (let i = 0; i < 3000; i++) {
    await db.delete(i);
    if (i % 500 === 0) db.trimChangesBefore(db.seq - 1);
  }
  db.trimChangesBefore(db.seq - 10);
  assert.deepEqual(db.openChanges(db.seq - 10).deletedIds, [2990, 2991, 2992, 2993, 2994, 2995, 2996, 2997, 2998, 2999]);
});

function cols(ids: Id[], dim: number, md?: (Metadata | undefined)[]): Columns {
  return { dimension: dim, metric: 'cosine', ids, vectors: Float32Array.from({ length: ids.length * dim }, (_, i) => i + 1), metadata: md ?? ids.map(() => undefined) };
}

test('replaceAll adopts the columns without copying and starts change tracking afresh', async () => {
  const db = new VectorDB({ dimension: 2, metric: 'dot' });
  await db.insert({ id: 'old', vector: [1, 1] });
  const img = db.openImage();
  const c = cols(['a', 1, 'b'], 2, [{ k: 1 }, null as unknown as undefined, undefined]);
  const seq = db.seq;
  db.replaceAll(c);
  assert.equal(db.seq, seq + 1);
  assert.equal(db.metric, 'dot', 'metric kept');
  assert.deepEqual(db.ids(), ['a', 1, 'b']);
  assert.deepEqual(db.get(1), { id: 1, vector: new Float32Array([3, 4]) });
  assert.deepEqual(db.get('a')?.metadata, { k: 1 });
  assert.equal(db.openChanges(db.seq).count, 0);
  throwsCode(() => db.openChanges(seq), 'INVALID_ARGUMENT', /full save/);
  const view = db.openImage();
  const [chunk] = view.vectorChunks(10);
  assert.equal(chunk.buffer, c.vectors.buffer, 'the slab is the adopted array');
  view.release();
  assert.deepEqual(readImage(img).ids, ['old'], 'an open image keeps its view across replaceAll');
  img.release();
  await db.insert({ id: 'c', vector: [7, 8] });
  assert.equal(db.len(), 4);
  assert.deepEqual([...db.openChanges(seq + 1).ids], ['c']);
  assert.equal(db.search({ vector: [1, 0], k: 1 })[0].id, 'c');
  assert.deepEqual([...(db.get('b')?.vector ?? [])], [5, 6], 'data survives growth away from the adopted array');
  assert.ok(db.stats().memoryUsage > 0);
  const cos = new VectorDB({ dimension: 2 });
  cos.replaceAll(cols(['p', 'q'], 2));
  assert.ok(Math.abs(cos.search({ vector: [1, 2], k: 1 })[0].score - 1) < 1e-12, 'norms computed on adoption');
  cos.replaceAll(cols([], 2));
  assert.equal(cos.len(), 0);
  await cos.insert({ id: 'x', vector: [1, 0] });
  assert.equal(cos.len(), 1);
});

test('replaceAll and applyDelta validate everything before touching the database', async () => {
  const db = new VectorDB({ dimension: 2 });
  await db.insert({ id: 'keep', vector: [1, 2] });
  const seq = db.seq;
  const bad: [unknown, string][] = [
    [null, 'INVALID_ARGUMENT'],
    [{ ...cols(['a'], 3) }, 'DIMENSION_MISMATCH'],
    [{ ...cols(['a', 'b'], 2), vectors: new Float32Array(3) }, 'INVALID_ARGUMENT'],
    [{ ...cols(['a', 'b'], 2), vectors: [1, 2, 3, 4] }, 'INVALID_ARGUMENT'],
    [{ ...cols(['a', 'b'], 2), metadata: [undefined] }, 'INVALID_ARGUMENT'],
    [cols(['a', 'a'], 2), 'INVALID_ARGUMENT'],
    [cols(['a', ''], 2), 'INVALID_ID'],
    [{ ...cols(['a', 'b'], 2), vectors: new Float32Array([1, 2, NaN, 4]) }, 'INVALID_VECTOR'],
    [{ ...cols(['a'], 2), metadata: [[1]] }, 'INVALID_METADATA'],
    [{ ...cols(['a'], 2), metadata: ['x'] }, 'INVALID_METADATA'],
  ];
  for (const [c, code] of bad) {
    throwsCode(() => db.replaceAll(c as Columns), code as 'INVALID_ARGUMENT');
    const delta = c === null ? null : { ...(c as object), cleared: false, deletedIds: [] };
    throwsCode(() => db.applyDelta(delta as unknown as DeltaColumns), code as 'INVALID_ARGUMENT');
  }
  throwsCode(() => db.applyDelta({ ...cols(['a'], 2), cleared: false, deletedIds: ['x', ''] }), 'INVALID_ID');
  throwsCode(() => db.applyDelta({ ...cols(['a'], 2), cleared: 'yes' as unknown as boolean, deletedIds: [] }), 'INVALID_ARGUMENT');
  throwsCode(() => db.applyDelta({ ...cols(['a'], 2), cleared: true, deletedIds: 'x' as unknown as Id[] }), 'INVALID_ARGUMENT');
  assert.equal(db.seq, seq);
  assert.deepEqual(db.ids(), ['keep']);
});

test('applyDelta: clear, then deletes, then upserts', async () => {
  const db = new VectorDB({ dimension: 2 });
  await db.insertBatch([{ id: 'a', vector: [1, 0] }, { id: 'b', vector: [0, 1] }, { id: 'c', vector: [1, 1] }]);
  db.applyDelta({ ...cols(['c', 'd'], 2, [{ v: 1 }, undefined]), cleared: false, deletedIds: ['a', 'zz'] });
  assert.deepEqual(db.ids().sort(), ['b', 'c', 'd']);
  assert.deepEqual(db.get('c'), { id: 'c', vector: new Float32Array([1, 2]), metadata: { v: 1 } });
  assert.equal(db.openChanges(db.seq).count, 0);
  db.applyDelta({ ...cols(['e'], 2), cleared: true, deletedIds: ['e'] });
  assert.deepEqual(db.ids(), ['e'], 'deletes apply before upserts');
});

test('change images say their ids and metadata are checked; full images, which may hold adopted metadata, do not', async () => {
  const db = new VectorDB({ dimension: 2, metric: 'dot' });
  await db.insert({ id: 'a', vector: [1, 2], metadata: { k: 1 } });
  const since = db.seq;
  await db.insert({ id: 'b', vector: [3, 4], metadata: { k: 2 } });
  const changes = db.openChanges(since);
  assert.equal(changes.checked, true);
  assert.deepEqual(changes.ids, ['b']);
  changes.release();
  const full = db.openImage();
  assert.notEqual(full.checked, true);
  full.release();
  // What replaceAll adopted can only ever be in a full image: change tracking restarts there.
  const before = db.seq;
  db.replaceAll(cols(['x'], 2, [{ k: 3 }]));
  throwsCode(() => db.openChanges(before), 'INVALID_ARGUMENT', /full save/);
});
