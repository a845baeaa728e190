// Metadata that log replay hands over still encoded (replayUpsert with MetadataBytes) is kept encoded
// until first read: every way of reading, replacing or dropping it must behave exactly as if it had
// been decoded up front.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VectorDB } from '../../src/engine/vector-db.js';
import { MAX_KEPT_BYTES, PackedMetadata } from '../../src/engine/packed-metadata.js';
import type { Id, Metadata } from '../../src/engine/types.js';
import { pack } from '../../src/util/msgpack.js';
import { apply, opArb } from './ops.js';
import { imageNow as imageOf, stateOf } from './helpers.js';

/** A database that replays upserts the way the durable store does, metadata still encoded. */
class ReplayingDB extends VectorDB {
  /** Hands the metadata over as bytes in a scratch buffer that is overwritten right after the call. */
  replay(id: Id, vector: number[], metadata: Metadata | undefined): void {
    if (metadata === undefined) {
      this.replayUpsert(id, Float32Array.from(vector), undefined);
      return;
    }
    const bytes = pack(metadata);
    const buf = Buffer.alloc(bytes.length + 16, 0xc1);
    buf.set(bytes, 7);
    this.replayUpsert(id, Float32Array.from(vector), undefined, { buf, start: 7, end: 7 + bytes.length });
    buf.fill(0xc1);
  }
}

const vec = (i: number): number[] => [i + 0.5, -i, i * 2];

test('encoded metadata reads back equal through get, iteration, search, images and change views', async () => {
  const db = new ReplayingDB({ dimension: 3, metric: 'euclidean' });
  const ref = new VectorDB({ dimension: 3, metric: 'euclidean' });
  for (let i = 0; i < 50; i++) {
    const md = i % 7 === 0 ? undefined : { title: `doc ${i}`, rank: i, tags: i % 2 ? ['odd'] : ['even'], nested: { ünï: 'çödé ✓', n: null } };
    db.replay(`doc-${i}`, vec(i), md);
    await ref.insert({ id: `doc-${i}`, vector: vec(i), metadata: md });
  }
  const since = db.seq;
  // An image first, while every cell is still encoded (reading entries would decode them).
  assert.deepEqual(imageOf(db), imageOf(ref));
  assert.deepEqual(db.get('doc-3'), ref.get('doc-3'));
  assert.deepEqual(Object.keys(db.get('doc-3')!.metadata!), ['title', 'rank', 'tags', 'nested']);
  const q = { vector: [3, -3, 6], k: 5, filter: { tags: { any: ['odd'] }, rank: { gte: 10 } } };
  assert.deepEqual(await db.search(q), await ref.search(q));
  assert.deepEqual(stateOf(db), stateOf(ref));
  assert.deepEqual(imageOf(db), imageOf(ref));
  db.replay('doc-60', vec(60), { late: true });
  await ref.insert({ id: 'doc-60', vector: vec(60), metadata: { late: true } });
  const changes = db.openChanges(since);
  assert.deepEqual(changes.metadata, [{ late: true }]);
  changes.release();
  assert.deepEqual(stateOf(db), stateOf(ref));
});

test('replacing, updating, deleting and clearing encoded metadata', async () => {
  const db = new ReplayingDB({ dimension: 3, metric: 'cosine' });
  for (let i = 0; i < 6; i++) db.replay(`e${i}`, vec(i + 1), { i });
  await db.insert({ id: 'e0', vector: vec(9), metadata: { i: 'new' } }); // replaced before any read
  await db.updateMetadata('e1', { i: 'updated' });
  assert.equal(await db.delete('e2'), true);
  db.replay('e3', vec(3), undefined); // replayed again without metadata
  db.replay('e4', vec(4), { i: 'again' }); // replayed again, still encoded
  assert.deepEqual(db.get('e0')?.metadata, { i: 'new' });
  assert.deepEqual(db.get('e1')?.metadata, { i: 'updated' });
  assert.equal(db.get('e2'), null);
  assert.equal(db.get('e3')?.metadata, undefined);
  assert.deepEqual(db.get('e4')?.metadata, { i: 'again' });
  assert.deepEqual(db.get('e5')?.metadata, { i: 5 });
  db.replay('e6', vec(6), { i: 6 }); // reuses e2's slot
  assert.deepEqual(db.get('e6')?.metadata, { i: 6 });
  const big = { text: 'ü'.repeat(40_000), n: [1, 2, 3] }; // 80 kB, over what is kept encoded
  db.replay('e8', vec(8), big);
  assert.deepEqual(db.get('e8')?.metadata, big);
  await db.clear();
  assert.equal(db.len(), 0);
  db.replay('e7', vec(7), { i: 7 });
  assert.deepEqual([...db].map((e) => e.metadata), [{ i: 7 }]);
});

test('an encoded entry re-replayed while an image has lent its slot moves, and reads back right', () => {
  const db = new ReplayingDB({ dimension: 3, metric: 'euclidean' });
  for (let i = 0; i < 20; i++) db.replay(`k${i}`, vec(i), { i, tag: 'first' });
  const img = db.openImage();
  const it = img.vectorChunks(100)[Symbol.iterator]();
  assert.equal((it.next().value as Float32Array).length, 60, 'all 20 slots lent');
  db.replay('k4', vec(40), { i: 4, tag: 'second' }); // its slot is lent: the entry moves to a new one
  db.replay('k5', vec(50), undefined);
  assert.deepEqual(db.get('k4'), { id: 'k4', vector: Float32Array.from(vec(40)), metadata: { i: 4, tag: 'second' } });
  assert.equal(db.get('k5')?.metadata, undefined);
  assert.deepEqual(img.metadata[4], { i: 4, tag: 'first' }, 'the image was taken before');
  it.return?.();
  img.release();
  assert.deepEqual([...db].filter((e) => e.metadata?.tag === 'first').length, 18);
});

test('a replay that keeps rewriting the same ids holds only the chunk it fills', () => {
  const db = new ReplayingDB({ dimension: 3, metric: 'euclidean' });
  const base = db.stats().memoryUsage;
  for (let round = 0; round < 200; round++) for (let i = 0; i < 10; i++) db.replay(`q${i}`, vec(i), { round, text: 'z'.repeat(2000) });
  // 4 MB of encodings passed through (four chunks' worth); only the last round's 20 kB are live.
  const held = db.stats().memoryUsage - base;
  assert.ok(held < 2.5 * (1 << 20), `estimate grew by ${held} bytes`);
  assert.deepEqual(db.get('q3')?.metadata, { round: 199, text: 'z'.repeat(2000) });
});

test('the memory estimate counts encoded metadata, and drops a chunk once none of its encodings is kept', async () => {
  const db = new ReplayingDB({ dimension: 3, metric: 'dot' });
  const empty = db.stats().memoryUsage;
  // Enough to fill more than one arena chunk (1 MiB).
  for (let i = 0; i < 200; i++) db.replay(`m${i}`, vec(i), { text: 'x'.repeat(100), i });
  for (let i = 200; i < 300; i++) db.replay(`m${i}`, vec(i), { text: 'y'.repeat(20_000), i });
  assert.deepEqual(db.get('m299')?.metadata, { text: 'y'.repeat(20_000), i: 299 });
  assert.deepEqual(db.get('m150')?.metadata, { text: 'x'.repeat(100), i: 150 });
  const held = db.stats().memoryUsage;
  assert.ok(held - empty > 200 * 100, `estimate grew by ${held - empty} bytes for 20 kB of encoded metadata`);
  for (let i = 0; i < 300; i++) if (i !== 150 && i !== 299) await db.updateMetadata(`m${i}`, { i });
  const small = db.stats().memoryUsage;
  // The first of the two 1 MiB chunks is freed (the one being filled stays for later replays), while
  // the 298 small objects that replaced the encodings add ~30 kB.
  assert.ok(small < held - 900_000, `estimate ${small} after replacing ${held}: a chunk is gone`);
});

test('spans: several encodings copied at once, each kept, taken and released on its own', () => {
  const maps = Array.from({ length: 40 }, (_, i) => (i % 9 === 4 ? { big: 'w'.repeat(3000 + i) } : { i, s: `v${i}`, nested: { ok: i % 2 === 0 } }));
  const encodings = maps.map((m) => Buffer.from(pack(m)));
  const p = new PackedMetadata(64);
  const empty = p.byteLength;
  // Frames of ten encodings, end to end behind 5 bytes of something else, as a reader sees them.
  for (let f = 0; f < 4; f++) {
    const parts = encodings.slice(f * 10, f * 10 + 10);
    const frame = Buffer.concat([Buffer.alloc(5, 0xc1), ...parts]);
    const span = p.putSpan(frame, 5, frame.length);
    assert.ok(span >= 0);
    frame.fill(0xc1); // the arena has its own copy
    let at = 0;
    for (let i = 0; i < parts.length; i++) {
      p.keepAt(f * 10 + i, span + at, parts[i].length);
      at += parts[i].length;
    }
  }
  assert.equal(p.live, 40);
  assert.ok(p.byteLength - empty >= 1 << 20, 'one arena chunk holds them');
  for (const slot of [0, 39, 4, 13, 22]) assert.deepEqual(p.take(slot), maps[slot], `slot ${slot}`);
  for (let slot = 0; slot < 40; slot++) if (![0, 39, 4, 13, 22].includes(slot)) assert.deepEqual(p.take(slot), maps[slot], `slot ${slot}`);
  assert.equal(p.live, 0);
  // Too long for a span: nothing copied, and a span that does not fit what is left of a chunk starts a new one.
  const long = Buffer.alloc(MAX_KEPT_BYTES + 1);
  assert.equal(p.putSpan(long, 0, long.length), -1);
  const before = p.byteLength;
  for (let k = 0; k < 20; k++) p.keepAt(k, p.putSpan(long, 0, MAX_KEPT_BYTES), MAX_KEPT_BYTES);
  assert.ok(p.byteLength > before, 'a second chunk was started');
  for (let k = 0; k < 20; k++) p.release(k);
  assert.equal(p.live, 0);
  assert.ok(p.byteLength < before + (1 << 20), 'the full chunk was freed once nothing in it was kept');
});

test('random interleavings with encoded replays match a database given every metadata object directly', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(opArb.map((op) => ({ replay: false, op })), opArb.map((op) => ({ replay: true, op }))), { maxLength: 40 }), fc.nat(60), (steps, readAt) => {
      const db = new ReplayingDB({ dimension: 3, metric: 'euclidean' });
      const ref = new VectorDB({ dimension: 3, metric: 'euclidean' });
      steps.forEach(({ replay, op }, n) => {
        if (replay && op.t === 'insert') db.replay(op.id, op.v.map(Math.fround), op.md);
        else apply(db, [op]);
        apply(ref, [op]);
        // Some reads in between decode part of the metadata early.
        if (n === readAt) void db.search({ vector: [0, 0, 0], k: 3, filter: { x: { gte: 0 } } });
      });
      assert.deepEqual(stateOf(db), stateOf(ref));
      assert.deepEqual(imageOf(db), imageOf(ref));
    }),
    { numRuns: 200 },
  );
});
