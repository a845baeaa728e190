/**
 * Change history is kept only as far back as someone still needs it: deletion records would otherwise
 * grow without end in a database with steady deletes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';

/** Deletion records the engine holds (its change log's size). */
function tombstones(db: VectorDB): number {
  return (db as unknown as { log: { size: number } }).log.size;
}

async function churn(db: VectorDB, n: number, from: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await db.insert({ id: `doc-${i}`, vector: [i, 1] });
    await db.delete(`doc-${i}`);
  }
}

test('keepChangesSince: deletions older than what every holder needs are dropped; a holder keeps its own range', async () => {
  const db = new VectorDB({ dimension: 2 });
  await churn(db, 1000, 0);
  assert.equal(tombstones(db), 1000, 'nobody said what it needs: everything is kept');
  const saver = {};
  const snapshots = {};
  db.keepChangesSince(saver, db.seq);
  assert.equal(tombstones(db), 0, 'the only holder needs nothing older than now');
  const mark = db.seq;
  await churn(db, 500, 1000);
  db.keepChangesSince(snapshots, mark);
  db.keepChangesSince(saver, db.seq);
  assert.equal(tombstones(db), 500, 'the older holder still needs the last 500');
  const changes = db.openChanges(mark);
  assert.equal(changes.deletedIds.length, 500);
  changes.release();
  assert.throws(() => db.openChanges(mark - 1), { code: 'INVALID_ARGUMENT' });
  db.keepChangesSince(snapshots, undefined);
  db.keepChangesSince(saver, db.seq);
  assert.equal(tombstones(db), 0);
});

test('a persistence instance saving regularly keeps the deletion records bounded, and its incremental saves stay exact', async () => {
  const { DatabasePersistence } = await import('../../src/persistence/database-persistence.js');
  const { MemoryFileSystem } = await import('../../src/env/memory-fs.js');
  const fs = new MemoryFileSystem();
  const db = new VectorDB({ dimension: 2 });
  const p = new DatabasePersistence(db, { baseDir: '/d', fs });
  await p.save();
  for (let round = 0; round < 5; round++) {
    await churn(db, 2000, round * 2000);
    await db.insert({ id: `keep-${round}`, vector: [round, 2] });
    await p.saveIncremental();
    // Before the fix every deletion stayed: 2,000 more each round.
    assert.equal(tombstones(db), 0, `round ${round}`);
  }
  const back = new VectorDB({ dimension: 2 });
  await new DatabasePersistence(back, { baseDir: '/d', fs }).load();
  assert.deepEqual([...back.ids()].sort(), [...db.ids()].sort());
});
