// The helper thread's prefault touches pages of shared memory ahead of a filler. It is only a speed-up:
// no value may ever change under it, it must follow the filler's front, stop when told, and the engine
// must store the same bytes with or without it (also when the slab grows or the thread dies mid-way).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { APPEND_PREFAULT_BYTES, type SlotStore } from '../../src/engine/slots.js';
import { PREFAULT_FRONT, PREFAULT_STOP, prefaultPages } from '../../src/util/prefault-pages.js';
import { hashThreadRunning, startPrefault, stopHashThreadForTests } from '../../src/util/hash-worker.js';
import { hashThreadReady } from '../support/hash-thread.js';

function control(front = 0, stop = 0): Int32Array {
  const c = new Int32Array(new SharedArrayBuffer(8));
  c[PREFAULT_FRONT] = front;
  c[PREFAULT_STOP] = stop;
  return c;
}

test('prefaultPages never changes a value, whatever was written before or where the front is', () => {
  const words = 1024 * 40 + 17;
  const memory = new Int32Array(new SharedArrayBuffer(words * 4));
  for (let i = 0; i < words; i += 7) memory[i] = (i * 2654435761) | 0;
  const before = memory.slice();
  for (const front of [0, 5, 1024 * 3 + 1, words - 1, words + 5000]) {
    prefaultPages(memory, control(front));
    assert.deepEqual(memory, before, `front ${front}`);
  }
  prefaultPages(memory, control(0, 1));
  assert.deepEqual(memory, before, 'stopped before it started');
});

test('startPrefault declines memory that is not shared, and stop() ends it', async () => {
  assert.equal(startPrefault(new Int32Array(4096)), undefined);
  assert.equal(startPrefault(new Int32Array(new SharedArrayBuffer(0))), undefined);
  await hashThreadReady();
  const memory = new Int32Array(new SharedArrayBuffer(64 << 20));
  const p = startPrefault(memory);
  assert.ok(p, 'shared memory is prefaulted when the thread is up');
  p.advance(1024);
  p.stop();
  p.stop();
});

function vectorOf(i: number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  for (let d = 0; d < dim; d++) v[d] = Math.sin(i * 0.37 + d) * (d + 1);
  return v;
}

for (const how of ['within the reserved room', 'past it (the slab grows mid-way)', 'with the thread stopped mid-way'] as const) {
  test(`withPrefault: bulk inserts ${how} store exactly the same bytes`, async () => {
    await hashThreadReady();
    const dim = 96;
    const n = 40_000; // 15 MB of vectors: a shared slab
    const db = new VectorDB({ dimension: dim, metric: 'cosine' });
    db.reserve(how === 'past it (the slab grows mid-way)' ? n / 2 : n);
    await db.withPrefault(async () => {
      for (let i = 0; i < n; i++) {
        db.insert({ id: `v${i}`, vector: vectorOf(i, dim) });
        if (i % 4096 === 0) await new Promise((r) => setImmediate(r));
        if (how === 'with the thread stopped mid-way' && i === n / 2) stopHashThreadForTests();
      }
    });
    assert.equal(db.len(), n);
    for (let i = 0; i < n; i += 1) {
      const got = db.get(`v${i}`);
      assert.ok(got, `v${i}`);
      if (!Buffer.from(got.vector.buffer, got.vector.byteOffset, got.vector.byteLength).equals(Buffer.from(vectorOf(i, dim).buffer))) assert.fail(`vector v${i} differs`);
    }
  });
}

test('one-at-a-time appends are prefaulted a bounded stretch ahead, across growth and a lost thread, with the same bytes', async () => {
  await hashThreadReady();
  const dim = 1024;
  const stretch = APPEND_PREFAULT_BYTES / (dim * 4);
  const n = Math.floor(stretch * 3.3);
  const db = new VectorDB({ dimension: dim, metric: 'euclidean' });
  const store = (db as unknown as { store: SlotStore }).store;
  const ranges = new Set<string>();
  for (let i = 0; i < n; i++) {
    db.insert({ id: i, vector: vectorOf(i, dim) });
    const r = store.prefaultRange;
    if (r) {
      ranges.add(r.join('-'));
      assert.ok(r[0] <= i && i < r[1], `append ${i} is inside the stretch ${r.join('-')}`);
      assert.ok(r[1] - r[0] <= stretch, `the stretch ${r.join('-')} is at most ${stretch} slots`);
      assert.ok(r[1] <= store.capacity);
    }
    if (i === Math.floor(n / 2)) stopHashThreadForTests();
    if (i % 2048 === 0) await new Promise((r) => setImmediate(r));
  }
  assert.ok(ranges.size >= 4, `several stretches were prefaulted: ${[...ranges].join(', ')}`);
  assert.ok([...ranges].some((r) => Number(r.split('-')[0]) > n / 2), 'after the thread was lost, a new one prefaults');
  assert.ok(hashThreadRunning());
  assert.equal(db.len(), n);
  for (let i = 0; i < n; i++) {
    const got = db.get(i)!;
    if (!Buffer.from(got.vector.buffer, got.vector.byteOffset, got.vector.byteLength).equals(Buffer.from(vectorOf(i, dim).buffer))) assert.fail(`vector ${i} differs`);
  }
});

/** A database of 3,000 vectors of 1,024 dimensions built by single inserts (a shared slab with a prefault ahead). */
async function appendedDb(): Promise<{ db: VectorDB; store: SlotStore; dim: number }> {
  await hashThreadReady();
  const dim = 1024;
  const db = new VectorDB({ dimension: dim, metric: 'dot' });
  for (let i = 0; i < 3000; i++) db.insert({ id: i, vector: vectorOf(i, dim) });
  return { db, store: (db as unknown as { store: SlotStore }).store, dim };
}

test('replacing the content stops the prefault of the old slab; appends after it prefault the new one', async () => {
  const { db, store, dim } = await appendedDb();
  assert.ok(store.prefaultRange, 'appends are prefaulted');
  const n = 100;
  const vectors = new Float32Array(new SharedArrayBuffer(20_000 * dim * 4), 0, n * dim);
  for (let i = 0; i < n; i++) vectors.set(vectorOf(i + 7, dim), i * dim);
  db.replaceAll({ dimension: dim, metric: 'dot', ids: Array.from({ length: n }, (_, i) => `r${i}`), vectors, metadata: Array(n).fill(undefined) }, { capacity: 20_000 });
  assert.equal(store.prefaultRange, undefined, 'the old slab is no longer prefaulted');
  db.insert({ id: 'next', vector: vectorOf(1, dim) });
  assert.deepEqual(store.prefaultRange?.[0], n, 'the new slab is prefaulted from the first append');
  assert.equal(db.len(), n + 1);
  assert.deepEqual([...db.get('r5')!.vector], [...vectorOf(12, dim)]);
});

test('opening an image ends the prefault ahead of appends (its writer uses the helper thread); the next append starts one', async () => {
  const { db, store, dim } = await appendedDb();
  assert.ok(store.prefaultRange);
  for (const open of [() => db.openWriterImage(), () => db.openImage()]) {
    const image = open();
    assert.equal(store.prefaultRange, undefined);
    image.release();
    db.insert({ id: `after-${store.highWater}`, vector: vectorOf(1, dim) });
    assert.ok(store.prefaultRange, 'appends prefault again');
  }
  // A bulk prefault (room reserved for a known fill) keeps running.
  db.reserve(20_000);
  await db.withPrefault(async () => {
    db.openImage().release();
    assert.ok(store.prefaultRange, 'the bulk prefault is not ended by an image');
  });
});
