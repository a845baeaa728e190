// Whole-content changes on a durable store (replaceAll, applyDelta, and DatabasePersistence load and
// import, which use them): they become durable through an immediate checkpoint; writes made while it
// runs are held back and resolve only once they are durable, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { QuiverError } from '../../src/errors.js';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { openVectorDB } from '../../src/store/durable-db.js';
import { digest, vecOf } from './helpers.js';

const DIR = '/r';

function columns(prefix: string, n: number) {
  const vectors = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) vectors.set(vecOf(i + 100), i * 4);
  return { dimension: 4, metric: 'cosine' as const, ids: Array.from({ length: n }, (_, i) => `${prefix}${i}`), vectors, metadata: Array.from({ length: n }, (_, i) => ({ i })) };
}

test('replaceAll then writes: reopen sees the replaced content plus the later writes', async () => {
  const mem = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs: mem, dimension: 4 });
  for (let i = 0; i < 10; i++) await db.insert({ id: `old${i}`, vector: vecOf(i) });
  db.replaceAll(columns('new', 5));
  const writes = [db.insert({ id: 'after', vector: vecOf(99) }), db.delete('new0'), db.delete('old1')];
  // Nothing resolves before the replacement is durable: a power loss now keeps the old content or all of it.
  const early = mem.snapshotDurable();
  const results = await Promise.all(writes);
  assert.deepEqual(results, ['after', true, false]);
  const d = digest(db);
  const image = mem.snapshotDurable();
  const again = await openVectorDB(DIR, { fs: image, readOnly: true });
  assert.equal(digest(again), d);
  assert.equal(again.len(), 5);
  const old = await openVectorDB(DIR, { fs: early, readOnly: true });
  assert.ok(old.len() === 10 || old.has('new1'), 'an early power loss leaves the old content or the new one');
  await db.close();
});

test('several replaceAll/applyDelta calls in a row with writes in between end in the last state', async () => {
  const fs = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs, dimension: 4 });
  const pending: Promise<unknown>[] = [];
  db.replaceAll(columns('a', 3));
  pending.push(db.insert({ id: 'x1', vector: vecOf(1) }));
  db.applyDelta({ ...columns('b', 2), cleared: false, deletedIds: ['a0'] });
  pending.push(db.insert({ id: 'x2', vector: vecOf(2) }));
  await new Promise((r) => setImmediate(r));
  db.replaceAll(columns('c', 4));
  pending.push(db.insert({ id: 'x3', vector: vecOf(3) }), db.updateMetadata('c1', { hello: 'world' }));
  await Promise.all(pending);
  await db.flush();
  const d = digest(db);
  assert.deepEqual(db.ids().sort(), ['c0', 'c1', 'c2', 'c3', 'x3']);
  const again = await openVectorDB(DIR, { fs: fs.snapshotDurable(), readOnly: true });
  assert.equal(digest(again), d);
  assert.deepEqual(again.get('c1')?.metadata, { hello: 'world' });
  await db.close();
});

test('DatabasePersistence load and import on a durable store are durable', async () => {
  const fs = new MemoryFileSystem();
  const src = new VectorDB({ dimension: 4 });
  for (let i = 0; i < 20; i++) await src.insert({ id: i, vector: vecOf(i), metadata: { i } });
  await new DatabasePersistence(src, { baseDir: '/saves', fs }).save({ path: '/saves/a.qvdb' });
  const db = await openVectorDB(DIR, { fs, dimension: 4 });
  await db.insert({ id: 'mine', vector: vecOf(5) });
  await new DatabasePersistence(db, { baseDir: '/saves', fs }).load({ path: '/saves/a.qvdb' });
  await db.flush();
  assert.equal(digest(db), digest(src));
  const again = await openVectorDB(DIR, { fs: fs.snapshotDurable(), readOnly: true });
  assert.equal(digest(again), digest(src));
  await new DatabasePersistence(db, { baseDir: '/saves', fs }).import({ path: '/saves/a.qvdb' });
  await db.insert({ id: 'extra', vector: vecOf(6) });
  const third = await openVectorDB(DIR, { fs: fs.snapshotDurable(), readOnly: true });
  assert.equal(third.len(), 21);
  await db.close();
});

test('a replaceAll whose checkpoint fails stops writes; held writes reject; the old state survives', async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  const db = await openVectorDB(DIR, { fs, dimension: 4 });
  await db.insert({ id: 'kept', vector: vecOf(1) });
  fs.addFault({ at: 1, code: 'ENOSPC', kinds: (op) => op.kind === 'write' && op.path.endsWith('.quiver-tmp') });
  db.replaceAll(columns('n', 3));
  const held = db.insert({ id: 'later', vector: vecOf(2) });
  await assert.rejects(held, (e: unknown) => e instanceof QuiverError && e.code === 'IO_ERROR' && /replaceAll/.test(e.message));
  await assert.rejects(db.insert({ id: 'more', vector: vecOf(3) }), (e: unknown) => e instanceof QuiverError);
  await db.close().catch(() => undefined);
  const again = await openVectorDB(DIR, { fs: mem.snapshotDurable() });
  assert.deepEqual(again.ids(), ['kept']);
  await again.close();
});

test('a batch too big for one log record is made durable, atomically, by a checkpoint', async () => {
  const mem = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs: mem, dimension: 4, batchRecordBytes: 2000 });
  await db.insert({ id: 'small', vector: vecOf(1) });
  const checkpointsBefore = db.storeInfo().checkpoints.written;
  const big = db.insertBatch(Array.from({ length: 60 }, (_, i) => ({ id: `big${i}`, vector: vecOf(i), metadata: { i } })));
  const after = db.insert({ id: 'after', vector: vecOf(2) });
  // Before the batch resolves, a power cut leaves none of it (never a part).
  const early = await openVectorDB(DIR, { fs: mem.snapshotDurable(), readOnly: true });
  assert.ok(early.len() === 1 || early.len() >= 61, `early image holds ${early.len()} entries`);
  assert.equal((await big).length, 60);
  await after;
  assert.equal(db.storeInfo().checkpoints.written, checkpointsBefore + 1);
  const image = await openVectorDB(DIR, { fs: mem.snapshotDurable(), readOnly: true });
  assert.equal(image.len(), 62);
  assert.equal(digest(image), digest(db));
  await db.close();
});

test('a metadata update too big for one log record is made durable by a checkpoint, not a record that breaks the log', async () => {
  const mem = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs: mem, dimension: 4, batchRecordBytes: 4096 });
  await db.insert({ id: 'a', vector: vecOf(1), metadata: { small: true } });
  const before = db.storeInfo().checkpoints.written;
  await db.updateMetadata('a', { text: 'x'.repeat(10_000) });
  assert.equal(db.storeInfo().checkpoints.written, before + 1);
  await db.insert({ id: 'b', vector: vecOf(2) });
  await db.close();
  const back = await openVectorDB(DIR, { fs: mem });
  assert.deepEqual(back.get('a')?.metadata, { text: 'x'.repeat(10_000) });
  assert.equal(back.len(), 2);
  await back.close();
});

test('the size estimate that sends a batch to a checkpoint counts ids of multi-byte characters at their UTF-8 size', async () => {
  const mem = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs: mem, dimension: 4, batchRecordBytes: 1 << 20 });
  const before = db.storeInfo().checkpoints.written;
  // 1,000 ids of 400 CJK characters: 1.2 MB of UTF-8 in the record, 400,000 UTF-16 units.
  const cjk = '\u6f22'.repeat(399);
  await db.insertBatch(Array.from({ length: 1000 }, (_, i) => ({ id: `${cjk}${String.fromCharCode(0x4e00 + i)}`, vector: vecOf(i) })));
  assert.equal(db.storeInfo().checkpoints.written, before + 1, 'over batchRecordBytes as written: a checkpoint, not a log record');
  await db.close();
  const back = await openVectorDB(DIR, { fs: mem });
  assert.equal(back.len(), 1000);
  await back.close();
});

test('a no-op write (deleting or updating an absent id) resolves only once an earlier oversized batch or replaceAll is durable', async () => {
  for (const earlier of ['batch', 'replaceAll'] as const) {
    const mem = new MemoryFileSystem();
    const db = await openVectorDB(DIR, { fs: mem, dimension: 4, batchRecordBytes: 4096 });
    await db.insert({ id: 'first', vector: vecOf(1) });
    if (earlier === 'batch') void db.insertBatch(Array.from({ length: 500 }, (_, i) => ({ id: `b${i}`, vector: vecOf(i) })));
    else db.replaceAll(columns('r', 500));
    // Before the fix these resolved with the log alone, before the checkpoint that holds the batch:
    // a power loss then (or kill -9) lost the 500 entries the no-op had seen.
    assert.equal(await db.delete('absent'), false);
    const afterDelete = await openVectorDB(DIR, { fs: mem.snapshotDurable(), readOnly: true });
    assert.equal(afterDelete.len(), db.len(), `${earlier}: durable when the no-op delete resolved`);
    assert.equal(await db.updateMetadata('also-absent', { x: 1 }), false);
    await db.close();
  }
});
