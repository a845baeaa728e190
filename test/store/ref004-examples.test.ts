/**
 * The reference documents' examples as their users write them: these must type-check (this file is
 * compiled with the tests) and run, with only the import line changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVectorStore, SnapshotManager, VectorDB, type DbOptions, type Snapshot, type SnapshotConfig, type SnapshotType } from '../../src/index.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';

test('reference 004 "Disable Persistence": a config object literal (type widened to string) type-checks and runs', async () => {
  const config = {
    type: 'in-memory',
    collectionName: 'my_collection',
    dimension: 3,
    annPersistIndex: false,
  };
  const { manager, store } = await createVectorStore(config);
  await store.insert([[1, 2, 3], [4, 5, 6]], ['doc1', 'doc2'], [{ title: 'First' }, { title: 'Second' }]);
  const results = await store.search([1, 2, 3], 5);
  assert.deepEqual(results.map((r) => r.id), ['doc1', 'doc2']);
  await manager.disconnect();
});

test('a config whose type is another string is refused with a typed error naming the field', async () => {
  const config = { type: 'faiss', collectionName: 'c', dimension: 3, annPersistIndex: false };
  await assert.rejects(createVectorStore(config), (e: unknown) => e instanceof Error && 'code' in e && e.code === 'INVALID_ARGUMENT' && /type/.test(e.message));
});

test('reference 001/002 type names and the boolean verifySnapshot', async () => {
  const options: DbOptions = { dimension: 4 };
  const db = new VectorDB(options);
  await db.insert({ id: 'doc-1', vector: [1, 0, 0, 0] });
  const config: SnapshotConfig = { fs: new MemoryFileSystem(), snapshotDir: '/snaps' };
  const manager = new SnapshotManager(config);
  const snap: Snapshot = await manager.createSnapshot(db, 'first');
  const kind: SnapshotType = snap.type;
  assert.equal(kind, 'full');
  const ok: boolean = await manager.verifySnapshot(snap.id);
  assert.equal(ok, true);
});

test("reference 002's snake_case config names are accepted; the same option given two ways must agree", async () => {
  const fs = new MemoryFileSystem();
  const manager = new SnapshotManager({ fs, snapshot_dir: '/snaps', compression: true, compression_level: 1, verify_checksum: false, max_concurrent_io: 2 });
  assert.deepEqual(
    { level: manager.options.compressionLevel, verify: manager.options.verifyChecksum, io: manager.options.maxConcurrentIo },
    { level: 1, verify: false, io: 2 },
  );
  const db = new VectorDB({ dimension: 2 });
  await db.insert({ id: 'doc-1', vector: [1, 2] });
  const snap = await manager.createSnapshot(db, 'backup-2024-01');
  assert.ok((await fs.readdir('/snaps')).some((n) => n.includes(snap.id)), 'written under snapshot_dir');
  assert.throws(() => new SnapshotManager({ fs, snapshot_dir: '/a', snapshotDir: '/b' }), { code: 'INVALID_ARGUMENT' });
  assert.doesNotThrow(() => new SnapshotManager({ fs, snapshot_dir: '/a', snapshotDir: '/a' }));
});
