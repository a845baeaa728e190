import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { VectorDB } from '../../src/engine/vector-db.js';
import type { ViewImage } from '../../src/engine/image.js';
import type { CollectionImage } from '../../src/engine/types.js';
import { apply, opArb } from './ops.js';
import { bytes, imageNow, imageState, readImage, stateOf, throwsCode } from './helpers.js';

const preserved = (img: CollectionImage): number => (img as ViewImage).preservedCount;
const vec = (i: number, dim = 4): number[] => Array.from({ length: dim }, (_, j) => i * 10 + j + 0.1);

const snapshot = imageNow;

test('an image keeps its bytes through replace, delete, slot reuse, growth and clear', async () => {
  const db = new VectorDB({ dimension: 4, metric: 'euclidean', initialCapacity: 4 });
  await db.insertBatch(['a', 'b', 'c', 'd'].map((id, i) => ({ id, vector: vec(i), metadata: { i } })));
  const want = snapshot(db);
  const img = db.openImage();
  assert.equal(img.count, 4);
  assert.equal(img.seq, db.seq);
  await db.insert({ id: 'a', vector: vec(50), metadata: { i: 50 } }); // in place
  assert.equal(preserved(img), 1);
  await db.delete('b');
  await db.updateMetadata('c', { i: 99 });
  assert.equal(preserved(img), 1, 'deletes and metadata updates copy nothing');
  await db.insert({ id: 'e', vector: vec(60) }); // reuses b's slot
  assert.equal(preserved(img), 2);
  await db.insert({ id: 'a', vector: vec(70) }); // already preserved: no second copy
  assert.equal(preserved(img), 2);
  await db.insert({ id: 'f', vector: vec(80) }); // grows: the image keeps the old slab
  await db.insert({ id: 'd', vector: vec(90) });
  assert.equal(preserved(img), 2, 'writes to a new slab need no copies');
  await db.clear();
  await db.insertBatch([0, 1, 2, 3, 4].map((i) => ({ id: `n${i}`, vector: vec(100 + i) })));
  for (const max of [1, 2, 3, 4, 100]) assert.deepEqual(imageState(readImage(img, max)), want, `maxEntries ${max}`);
  assert.deepEqual(img.metadata, [{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
  assert.equal(db.openImageCount, 1);
  img.release();
  img.release();
  assert.equal(preserved(img), 0, 'no preserved copies remain after release');
  assert.equal(db.openImageCount, 0);
  throwsCode(() => img.vectorChunks(10), 'CLOSED');
});

test('memory while an image is open is bounded by the vectors overwritten', async () => {
  const db = new VectorDB({ dimension: 8, metric: 'dot' });
  await db.insertBatch(Array.from({ length: 1000 }, (_, i) => ({ id: i, vector: vec(i, 8) })));
  const want = snapshot(db);
  const img = db.openImage();
  for (let i = 0; i < 1000; i += 100) await db.insert({ id: i, vector: vec(-i, 8) });
  assert.equal(preserved(img), 10);
  assert.deepEqual(imageState(readImage(img, 256)), want);
  const other = db.openImage();
  const third = db.openImage();
  const [a] = other.vectorChunks(50);
  const [b] = third.vectorChunks(50);
  assert.ok(a.buffer === b.buffer, 'untouched consecutive slots are lent zero-copy from the same slab');
  assert.equal(a.length, 50 * 8);
  const chunks = [...img.vectorChunks(50)].map((c) => c.buffer);
  assert.ok(chunks[0] !== a.buffer, 'a chunk holding a preserved vector is a copy');
  assert.ok(chunks[1] === a.buffer, 'the untouched run after it is zero-copy');
  third.release();
  other.release();
  img.release();
});

test('a lent zero-copy chunk is never overwritten, even by in-place replaces', async () => {
  const db = new VectorDB({ dimension: 2, metric: 'euclidean' });
  await db.insertBatch(Array.from({ length: 200 }, (_, i) => ({ id: i, vector: [i, i] })));
  const want = snapshot(db);
  const img = db.openImage();
  const it = img.vectorChunks(100)[Symbol.iterator]();
  const first = it.next().value as Float32Array;
  assert.equal(first.length, 200);
  const frozen = Buffer.from(bytes(first));
  await db.insert({ id: 5, vector: [-5, -5] }); // would overwrite a lent slot: the entry moves instead
  await db.delete(7);
  await db.insert({ id: 'new', vector: [-7, -7] }); // must not reuse lent slot 7
  assert.deepEqual(bytes(first), frozen, 'the bytes a writer may still be reading are intact');
  assert.deepEqual([...(db.get(5)?.vector ?? [])], [-5, -5]);
  assert.deepEqual(db.search({ vector: [-5, -5], k: 1 }).map((r) => r.id), [5]);
  assert.equal(db.len(), 200);
  assert.equal(new Set(db.ids()).size, 200);
  await db.insert({ id: 150, vector: [-150, -150] }); // not lent: copied aside and overwritten in place
  const rest: Float32Array[] = [];
  for (let r = it.next(); !r.done; r = it.next()) rest.push(Float32Array.from(r.value));
  const all = new Float32Array(400);
  all.set(first);
  let off = first.length;
  for (const r of rest) {
    all.set(r, off);
    off += r.length;
  }
  assert.equal(off, 400);
  assert.deepEqual(imageState({ dimension: 2, metric: 'euclidean', ids: [...img.ids], vectors: all, metadata: [...img.metadata] }), want);
  img.release();
  const after = snapshot(db);
  assert.equal(after.length, 200);
  const slotsBefore = db.ids().length;
  await db.insert({ id: 'reuse', vector: [1, 2] });
  assert.equal(db.len(), 201);
  assert.equal(db.ids().indexOf('reuse') < slotsBefore, true, 'the freed slot is reused once nothing is lent');
});

test('breaking out of a chunk loop ends the loan', async () => {
  const db = new VectorDB({ dimension: 2 });
  await db.insertBatch(Array.from({ length: 10 }, (_, i) => ({ id: i, vector: [i + 1, 1] })));
  const img = db.openImage();
  for (const chunk of img.vectorChunks(10)) {
    assert.equal(chunk.length, 20);
    break;
  }
  await db.insert({ id: 3, vector: [9, 9] });
  assert.deepEqual(db.ids(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'replaced in place once no chunk is lent');
  assert.equal(preserved(img), 1);
  img.release();
});

test('several images at once each keep their own point in time', async () => {
  const db = new VectorDB({ dimension: 3, initialCapacity: 64 });
  await db.insertBatch(Array.from({ length: 20 }, (_, i) => ({ id: `k${i}`, vector: vec(i, 3) })));
  const s1 = snapshot(db);
  const a = db.openImage();
  for (let i = 0; i < 20; i += 3) await db.insert({ id: `k${i}`, vector: vec(100 + i, 3) });
  await db.delete('k1');
  const s2 = snapshot(db);
  const b = db.openImage();
  for (let i = 0; i < 20; i += 2) await db.insert({ id: `k${i}`, vector: vec(200 + i, 3) });
  await db.insert({ id: 'fresh', vector: vec(300, 3) });
  assert.deepEqual(imageState(readImage(a, 7)), s1);
  a.release();
  await db.insert({ id: 'k4', vector: vec(400, 3) });
  assert.deepEqual(imageState(readImage(b, 5)), s2);
  b.release();
  assert.equal(db.openImageCount, 0);
});

test('a change image is copy-on-write too', async () => {
  const db = new VectorDB({ dimension: 2 });
  await db.insertBatch(Array.from({ length: 10 }, (_, i) => ({ id: i, vector: [i + 1, 1] })));
  const since = db.seq;
  await db.insert({ id: 2, vector: [20, 2] });
  await db.insert({ id: 'n', vector: [30, 3] });
  const ch = db.openChanges(since);
  assert.equal('sinceSeq' in ch, true);
  assert.equal('sinceSeq' in db.openImage(), false, 'full images carry no delta keys');
  await db.insert({ id: 2, vector: [-1, -1] });
  await db.delete('n');
  await db.insert({ id: 'm', vector: [5, 5] });
  const cols = readImage(ch, 1);
  assert.deepEqual(cols.ids, [2, 'n']);
  assert.deepEqual([...cols.vectors], [20, 2, 30, 3]);
  ch.release();
});

test('images of sparse, partly overwritten slabs yield exact bytes for every chunk size', async () => {
  const db = new VectorDB({ dimension: 3, metric: 'manhattan' });
  await db.insertBatch(Array.from({ length: 400 }, (_, i) => ({ id: i, vector: vec(i, 3) })));
  for (let i = 0; i < 400; i++) if (i % 97 < 3 || (i > 300 && i % 2)) await db.delete(i);
  const want = snapshot(db);
  const img = db.openImage();
  for (let i = 0; i < 400; i += 13) await db.insert({ id: i, vector: vec(-i, 3) });
  for (const max of [1, 2, 7, 63, 64, 65, 128, 1000]) assert.deepEqual(imageState(readImage(img, max)), want, `maxEntries ${max}`);
  img.release();
});

test('image argument checks, empty images, release during iteration', async () => {
  const db = new VectorDB({ dimension: 2 });
  const empty = db.openImage();
  assert.equal(empty.count, 0);
  assert.deepEqual([...empty.vectorChunks(5)], []);
  empty.release();
  await db.insertBatch(Array.from({ length: 6 }, (_, i) => ({ id: i, vector: [i, i] })));
  const img = db.openImage();
  for (const bad of [0, -1, 1.5, NaN, '2']) throwsCode(() => img.vectorChunks(bad as number), 'INVALID_ARGUMENT');
  const it = img.vectorChunks(2)[Symbol.iterator]();
  it.next();
  img.release();
  throwsCode(() => it.next(), 'CLOSED');
});

test('an open image always yields the state it was opened on (property)', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 30 }), fc.array(opArb, { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (before, after, max) => {
      const db = new VectorDB({ dimension: 3, initialCapacity: 1 });
      apply(db, before);
      const want = snapshot(db);
      const img = db.openImage();
      apply(db, after);
      assert.deepEqual(imageState(readImage(img, max)), want);
      img.release();
      assert.equal(preserved(img), 0);
      assert.equal(db.openImageCount, 0);
    }),
    { numRuns: 300 },
  );
});

test('a forgotten (unreachable) image stops being preserved once garbage collected', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const db = new VectorDB({ dimension: 2 });
  await db.insertBatch(Array.from({ length: 10 }, (_, i) => ({ id: i, vector: [i, i] })));
  (() => {
    db.openImage();
  })();
  assert.equal(db.openImageCount, 1);
  await new Promise((r) => setImmediate(r));
  gc();
  await db.insert({ id: 1, vector: [5, 5] });
  assert.equal(db.openImageCount, 0);
});

test('an asynchronous writer sees unchanged chunks while mutations run between its awaits', async () => {
  // Room for every insert, so the image's slab stays the live one throughout.
  const db = new VectorDB({ dimension: 4, metric: 'dot', initialCapacity: 2048 });
  await db.insertBatch(Array.from({ length: 500 }, (_, i) => ({ id: i, vector: vec(i) })));
  const want = snapshot(db);
  const img = db.openImage();
  let seed = 7;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return (seed >>> 8) % n;
  };
  const parts: Float32Array[] = [];
  for (const chunk of img.vectorChunks(64)) {
    const before = Buffer.from(bytes(chunk));
    await new Promise((r) => setImmediate(r)); // a file write would be in flight here
    for (let j = 0; j < 40; j++) {
      const op = rnd(4);
      const id = rnd(600);
      if (op === 0) await db.delete(id);
      else await db.insert({ id, vector: vec(-id - j) });
    }
    assert.ok(bytes(chunk).equals(before), 'a chunk never changes while the consumer holds it');
    parts.push(Float32Array.from(chunk));
  }
  const vectors = new Float32Array(img.count * 4);
  let off = 0;
  for (const p of parts) {
    vectors.set(p, off);
    off += p.length;
  }
  assert.deepEqual(imageState({ dimension: 4, metric: 'dot', ids: [...img.ids], vectors, metadata: [...img.metadata] }), want);
  img.release();
});

test('walks of scattered slots copy correctly when they share the kept copy buffer, one after another or interleaved', async () => {
  const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
  for (let i = 0; i < 400; i++) await db.insert({ id: `e${i}`, vector: vec(i) });
  const since = db.seq;
  // Every third entry changes: the change image's slots are scattered, so its chunks are copies.
  for (let i = 0; i < 400; i += 3) await db.insert({ id: `e${i}`, vector: vec(i + 1000) });
  const expected = (img: CollectionImage): string[] => img.ids.map((id) => bytes(Float32Array.from(db.get(id)!.vector)).toString('hex'));
  const walk = (img: CollectionImage, k: number): string[] => {
    const out: string[] = [];
    for (const chunk of img.vectorChunks(k)) for (let j = 0; j < chunk.length; j += 4) out.push(bytes(chunk.slice(j, j + 4)).toString('hex'));
    return out;
  };
  for (const k of [7, 50, 1000]) {
    const img = db.openChanges(since);
    assert.deepEqual(walk(img, k), expected(img), `sequential walk, ${k} per chunk`);
    img.release();
  }
  // Two walks at once: each must own its copy buffer while it runs.
  const a = db.openChanges(since);
  const b = db.openChanges(since);
  const ia = a.vectorChunks(5)[Symbol.iterator]();
  const ib = b.vectorChunks(9)[Symbol.iterator]();
  const ga: string[] = [];
  const gb: string[] = [];
  for (;;) {
    const ra = ia.next();
    const rb = ib.next();
    if (!ra.done) for (let j = 0; j < ra.value.length; j += 4) ga.push(bytes(ra.value.slice(j, j + 4)).toString('hex'));
    if (!rb.done) for (let j = 0; j < rb.value.length; j += 4) gb.push(bytes(rb.value.slice(j, j + 4)).toString('hex'));
    if (ra.done && rb.done) break;
  }
  assert.deepEqual(ga, expected(a));
  assert.deepEqual(gb, expected(b));
  a.release();
  b.release();
});

test('consecutive change images of about the same size gather into the same kept buffer', async () => {
  const db = new VectorDB({ dimension: 256, metric: 'euclidean' });
  for (let i = 0; i < 400; i++) await db.insert({ id: i, vector: new Float32Array(256).fill(i) });
  // 256-d: bigger than any buffer the tests before left in the pool, so the first gather allocates.
  const gatherBuffer = (count: number, offset: number): ArrayBufferLike => {
    const since = db.seq;
    // Every other slot: no run is long enough to be lent, so the chunk is a gathered copy.
    for (let k = 0; k < count; k++) void db.insert({ id: 2 * k + offset, vector: new Float32Array(256).fill(-k) });
    const img = db.openChanges(since);
    const [chunk] = img.vectorChunks(1000);
    assert.equal(chunk.length, count * 256);
    const buffer = chunk.buffer;
    img.release();
    return buffer;
  };
  const first = gatherBuffer(95, 0);
  // A few more entries than last time still fit: room is kept for a power of two of entries.
  assert.equal(gatherBuffer(100, 1), first);
  assert.equal(gatherBuffer(120, 0), first);
});

test('a released writer image hands its arrays to the next one, which shows only its own state; openImage keeps its own', async () => {
  // Bigger than any other image of this file, so its arrays are the ones kept.
  const n = 5000;
  const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await db.insertBatch(Array.from({ length: n }, (_, i) => ({ id: `a${i}`, vector: vec(i), metadata: { i } })));
  // A public image keeps its arrays after release (its caller may still read them).
  const own = db.openImage();
  const ownIds = own.ids;
  own.release();
  assert.equal(own.ids, ownIds);
  assert.equal(own.ids.length, n);
  const other = db.openWriterImage();
  assert.notEqual(other.ids, ownIds, 'never handed to another image');
  other.release();

  const first = db.openWriterImage();
  const ids = first.ids;
  first.release();
  assert.deepEqual([first.ids.length, first.metadata.length], [0, 0], 'a released writer image shows no entries');

  await db.delete('a3');
  await db.delete('a4000');
  await db.insert({ id: 'a5', vector: vec(55), metadata: { i: 55 } });
  const second = db.openWriterImage();
  assert.equal(second.ids, ids, 'the arrays were reused');
  assert.equal(second.count, n - 2);
  const want = [...stateOf(db)].map(([id, s]) => [id, s.vec, s.md]).sort();
  const got = imageState(readImage(second, 97)).sort();
  assert.deepEqual(got, want);
  // The reused bitmap was cleared: writing into the slots freed since, which this image does not
  // need, copies nothing aside (a stale bit would have it preserve them).
  await db.insert({ id: 'b1', vector: vec(70) });
  await db.insert({ id: 'b2', vector: vec(71) });
  assert.equal(preserved(second), 0);

  // While `second` is open, another full image gets arrays of its own.
  const third = db.openWriterImage();
  assert.notEqual(third.ids, second.ids);
  assert.deepEqual(imageState(readImage(second, 97)).sort(), want, 'the open image still holds its state');
  third.release();
  second.release();
});

const view = (c: Float32Array): Uint8Array => new Uint8Array(c.buffer, c.byteOffset, c.byteLength);

test('chunks kept through a hold stay unchanged until the hold is released, not only until the next chunk', async () => {
  const db = new VectorDB({ dimension: 2, metric: 'euclidean', initialCapacity: 1024 });
  await db.insertBatch(Array.from({ length: 300 }, (_, i) => ({ id: i, vector: [i, i] })));
  const want = snapshot(db);
  const img = db.openWriterImage();
  const hold = img.holdChunks?.();
  assert.ok(hold, 'engine images can hold a walk');
  const kept: { chunk: Float32Array; frozen: Buffer }[] = [];
  for (const chunk of img.vectorChunks(100, hold)) {
    assert.ok(!hold.keep(new Uint8Array(chunk.buffer, chunk.byteOffset, 8)), 'only the whole current chunk can be kept');
    assert.ok(hold.keep(view(chunk)), 'a zero-copy chunk can be kept');
    assert.ok(hold.keep(view(chunk)), 'keeping it again changes nothing');
    kept.push({ chunk, frozen: Buffer.from(bytes(chunk)) });
    // Replace every entry walked so far: none may be overwritten where a kept chunk lies.
    for (let i = 0; i < kept.length * 100; i++) await db.insert({ id: i, vector: [-i, -i] });
  }
  assert.ok(!hold.keep(view(kept[0].chunk)), 'a chunk is offered only while it is current');
  await db.delete(250);
  await db.insert({ id: 'new', vector: [7, 7] }); // must not reuse a kept slot either
  for (const { chunk, frozen } of kept) assert.ok(bytes(chunk).equals(frozen), 'kept chunks are intact after the walk ended');
  assert.equal(kept.length, 3);
  assert.deepEqual([...(db.get(5)?.vector ?? [])], [-5, -5]);
  assert.equal(db.len(), 300);
  const all = new Float32Array(600);
  kept.forEach(({ chunk }, i) => all.set(chunk, i * 200));
  assert.deepEqual(imageState({ dimension: 2, metric: 'euclidean', ids: [...img.ids], vectors: all, metadata: [...img.metadata] }), want);
  assert.ok(hold.intact);
  hold.release();
  hold.release(); // idempotent
  assert.ok(hold.intact, 'released by its owner, the hold was intact throughout');
  const slots = db.ids().length;
  await db.insert({ id: 'after', vector: [1, 1] });
  assert.ok(db.ids().indexOf('after') < slots, 'freed slots are reused once the hold is released');
  img.release();
});

test('a chunk not kept is lent only until the next, even in a walk with a hold', async () => {
  const db = new VectorDB({ dimension: 2, metric: 'euclidean', initialCapacity: 1024 });
  await db.insertBatch(Array.from({ length: 300 }, (_, i) => ({ id: i, vector: [i, i] })));
  const img = db.openWriterImage();
  const hold = img.holdChunks?.();
  assert.ok(hold);
  let n = 0;
  for (const chunk of img.vectorChunks(100, hold)) {
    if (n++ === 1) assert.ok(hold.keep(view(chunk)));
  }
  await db.insert({ id: 5, vector: [-5, -5] }); // first chunk, not kept: in place
  await db.insert({ id: 150, vector: [-1, -1] }); // second chunk, kept: moves
  await db.insert({ id: 250, vector: [-2, -2] }); // third chunk, not kept: in place
  const ids = db.ids();
  assert.equal(ids.indexOf(5), 5);
  assert.deepEqual(ids.slice(ids.indexOf(250) - 1, ids.indexOf(250) + 2), [249, 250, 251], 'replaced in its own slot');
  assert.equal(ids.at(-1), 150, 'the kept chunk\'s entry moved to a new slot');
  hold.release();
  img.release();
});

test('a hold keeps no copied chunk, nothing of another image\'s walk, and is broken when its image is released first', async () => {
  const db = new VectorDB({ dimension: 2, metric: 'euclidean', initialCapacity: 1024 });
  await db.insertBatch(Array.from({ length: 200 }, (_, i) => ({ id: i, vector: [i, 1] })));
  for (let i = 0; i < 200; i += 2) await db.delete(i); // scattered slots: walks gather copies
  const img = db.openImage();
  const hold = img.holdChunks?.();
  assert.ok(hold);
  for (const chunk of img.vectorChunks(50, hold)) assert.ok(!hold.keep(view(chunk)), 'a gathered copy cannot be kept');
  hold.release();
  await db.insertBatch(Array.from({ length: 200 }, (_, i) => ({ id: `d${i}`, vector: [i, 2] })));
  const a = db.openImage();
  const b = db.openImage();
  const foreign = a.holdChunks?.();
  assert.ok(foreign);
  for (const chunk of b.vectorChunks(400, foreign)) assert.ok(!foreign.keep(view(chunk)), 'another image\'s hold keeps nothing of this walk');
  const own = b.holdChunks?.();
  const idle = b.holdChunks?.();
  assert.ok(own && idle);
  const first = b.vectorChunks(400, own)[Symbol.iterator]().next().value as Float32Array;
  assert.ok(own.keep(view(first)));
  b.release();
  assert.ok(!own.intact, 'its image was released while it kept a chunk');
  assert.ok(idle.intact, 'a hold that kept nothing is not broken');
  foreign.release();
  a.release();
  img.release();
});
