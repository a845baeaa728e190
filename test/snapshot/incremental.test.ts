import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { assertState, memoryManager, mutate, smallDb, stateOf } from './helpers.js';

test('fast path: an incremental stores only what changed (bytes proportional to the change) and restores exactly', async () => {
  const { manager } = memoryManager({ compression: 'none' });
  const db = smallDb(4000, 32);
  const full = await manager.createSnapshot(db, 'base');
  for (let i = 0; i < 40; i++) await db.insert({ id: `doc-${i * 7}`, vector: new Float32Array(32).fill(i), metadata: { changed: i } });
  await db.delete('doc-1');
  await db.delete('doc-2');
  await db.insert({ id: 'brand-new', vector: new Float32Array(32).fill(-1) });
  const want = stateOf(db);
  const inc = await manager.createIncrementalSnapshot(db, 'inc', full.id);
  assert.equal(inc.type, 'incremental');
  assert.equal(inc.baseId, full.id);
  assert.equal(inc.chainDepth, 1);
  assert.equal(inc.changedCount, 41);
  assert.equal(inc.deletedCount, 2);
  assert.equal(inc.vectorCount, db.len());
  assert.ok(inc.sizeBytes < full.sizeBytes * 0.03, `incremental ${inc.sizeBytes} B vs full ${full.sizeBytes} B`);
  assertState(await manager.restoreSnapshot(inc.id), want);
});

test('slow path: a new manager (or another process) diffs by content hashes and finds exactly the changes', async () => {
  const { manager, store } = memoryManager();
  const db = smallDb(2000, 16);
  const base = await manager.createSnapshot(db, 'base');
  await mutate(db, 150, 3, 2500);
  const want = stateOf(db);
  const other = new SnapshotManager({ store });
  const inc = await other.createIncrementalSnapshot(db, 'inc', base.id);
  // The content diff must agree with the engine's own change tracking.
  const fast = await manager.createIncrementalSnapshot(db, 'fast', base.id);
  assert.equal(inc.changedCount, fast.changedCount);
  assert.equal(inc.deletedCount, fast.deletedCount);
  assert.ok(inc.changedCount > 0 && inc.changedCount < 200);
  assertState(await other.restoreSnapshot(inc.id), want);
  // A database restored from a snapshot and then changed takes fast incrementals on that snapshot.
  const restored = await other.restoreSnapshot(inc.id);
  await restored.insert({ id: 'after-restore', vector: new Float32Array(16).fill(3) });
  const next = await other.createIncrementalSnapshot(restored, 'next', inc.id);
  assert.equal(next.changedCount, 1);
  assert.equal(next.chainDepth, 2);
  const want2 = stateOf(restored);
  assertState(await new SnapshotManager({ store }).restoreSnapshot(next.id), want2);
  // A different database with identical content diffs to nothing.
  const twin = await other.restoreSnapshot(next.id);
  const empty = await new SnapshotManager({ store }).createIncrementalSnapshot(twin, 'none changed', next.id);
  assert.equal(empty.changedCount, 0);
  assert.equal(empty.deletedCount, 0);
});

test('content diff catches metadata-only edits, key reordering and -0 vs 0', async () => {
  const { manager, store } = memoryManager();
  const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await db.insert({ id: 'a', vector: [0, 1, 2, 3], metadata: { x: 1, y: 2 } });
  await db.insert({ id: 'b', vector: [0, 1, 2, 3], metadata: { x: 1 } });
  await db.insert({ id: 'c', vector: [0, 1, 2, 3] });
  await db.insert({ id: 'd', vector: [5, 5, 5, 5] });
  const base = await manager.createSnapshot(db, 'base');
  await db.updateMetadata('a', { y: 2, x: 1 });
  await db.insert({ id: 'b', vector: [-0, 1, 2, 3], metadata: { x: 1 } });
  await db.updateMetadata('c', {});
  const want = stateOf(db);
  const inc = await new SnapshotManager({ store }).createIncrementalSnapshot(db, 'inc', base.id);
  assert.equal(inc.changedCount, 3);
  assertState(await manager.restoreSnapshot(inc.id), want);
});

test('chains restore in order; past maxChainDepth a full snapshot is taken and says why', async () => {
  const { manager, store } = memoryManager({ maxChainDepth: 3 });
  const db = smallDb(500, 8);
  const states = [stateOf(db)];
  const ids = [(await manager.createSnapshot(db, 's0')).id];
  for (let i = 1; i <= 5; i++) {
    await mutate(db, 30, 100 + i, 600);
    const info = await manager.createIncrementalSnapshot(db, `s${i}`, ids[i - 1]);
    ids.push(info.id);
    states.push(stateOf(db));
    if (i <= 3) {
      assert.equal(info.type, 'incremental');
      assert.equal(info.chainDepth, i);
    } else if (i === 4) {
      assert.equal(info.type, 'full');
      assert.match(info.note ?? '', /limit 3/);
    } else {
      assert.equal(info.type, 'incremental');
      assert.equal(info.baseId, ids[4]);
    }
  }
  const fresh = new SnapshotManager({ store });
  for (let i = 0; i < ids.length; i++) assertState(await fresh.restoreSnapshot(ids[i]), states[i], `snapshot ${i}`);
  // The slow path honours the limit too.
  const other = new SnapshotManager({ store, maxChainDepth: 3 });
  const deep = await other.createIncrementalSnapshot(db, 'deep', ids[3]);
  assert.equal(deep.type, 'full');
});

test('clear() between snapshots, and incrementals on a base of another shape are refused', async () => {
  const { manager } = memoryManager();
  const db = smallDb(100, 8);
  const base = await manager.createSnapshot(db, 'base');
  await db.clear();
  await db.insert({ id: 'only', vector: new Float32Array(8).fill(2) });
  const want = stateOf(db);
  const inc = await manager.createIncrementalSnapshot(db, 'after clear', base.id);
  assert.equal(inc.vectorCount, 1);
  assertState(await manager.restoreSnapshot(inc.id), want);
  await assert.rejects(manager.createIncrementalSnapshot(smallDb(3, 16), 'x', base.id), { code: 'DIMENSION_MISMATCH' });
  await assert.rejects(manager.createIncrementalSnapshot(smallDb(3, 8, 'dot'), 'x', base.id), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(manager.createIncrementalSnapshot(db, 'x', '20990101T000000000Z-00000000'), { code: 'NOT_FOUND' });
});
