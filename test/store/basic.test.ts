// The durable store on the in-memory file system: create, write, reopen, checkpoints, options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { QuiverError } from '../../src/errors.js';
import { DurableVectorDB, openVectorDB } from '../../src/store/durable-db.js';
import { contents, digest, filesUnder, vecOf } from './helpers.js';

const DIR = '/data/store';

test('create, write, close, reopen: same content; the close checkpoint leaves nothing to replay', async () => {
  const fs = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs, dimension: 4 });
  assert.equal(db.recovery.created, true);
  await db.insert({ id: 'a', vector: vecOf(1), metadata: { n: 1 } });
  await db.insertBatch([{ id: 7, vector: vecOf(2) }, { id: 'b', vector: vecOf(3), metadata: { tags: ['x'] } }]);
  assert.equal(await db.delete('a'), true);
  assert.equal(await db.delete('zzz'), false);
  assert.equal(await db.updateMetadata('b', { tags: ['y'], ok: true }), true);
  const before = digest(db);
  await db.close();
  const again = await DurableVectorDB.open(DIR, { fs });
  assert.equal(digest(again), before);
  assert.equal(again.recovery.replayedRecords, 0);
  assert.equal(again.recovery.checkpointEntries, 2);
  assert.deepEqual(contents(again).map((e) => e.id), [7, 'b']);
  await again.close();
});

test('without the close checkpoint the log is replayed', async () => {
  const fs = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs, dimension: 4, checkpointOnClose: false });
  for (let i = 0; i < 20; i++) await db.insert({ id: `k${i}`, vector: vecOf(i) });
  await db.clear();
  for (let i = 0; i < 5; i++) await db.insert({ id: i, vector: vecOf(i), metadata: { i } });
  const d = digest(db);
  await db.close();
  const again = await openVectorDB(DIR, { fs });
  assert.equal(again.recovery.replayedRecords, 26);
  assert.equal(digest(again), d);
  assert.equal(again.len(), 5);
  await again.close();
});

test('options are checked against the store: dimension, metric, missing store, read-only', async () => {
  const fs = new MemoryFileSystem();
  await assert.rejects(openVectorDB(DIR, { fs }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT' && /dimension/.test(e.message));
  await assert.rejects(openVectorDB('/nothing', { fs, readOnly: true }), (e: unknown) => e instanceof QuiverError && e.code === 'NOT_FOUND');
  await assert.rejects(openVectorDB('/nothing', { fs, create: false, dimension: 3 }), (e: unknown) => e instanceof QuiverError && e.code === 'NOT_FOUND');
  await assert.rejects(openVectorDB('/nothing/a/b', { fs }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT' && /dimension/.test(e.message));
  await assert.rejects(fs.stat('/nothing'), { code: 'ENOENT' }, 'an open that cannot create a store creates no directory');
  const db = await openVectorDB(DIR, { fs, dimension: 4, metric: 'EUCLIDEAN' as never });
  assert.equal(db.metric, 'euclidean', 'metric names are case-insensitive, as for VectorDB');
  await db.insert({ id: 'x', vector: vecOf(1) });
  await db.close();
  await assert.rejects(openVectorDB(DIR, { fs, dimension: 5 }), (e: unknown) => e instanceof QuiverError && e.code === 'DIMENSION_MISMATCH' && /holds 4-dimensional/.test(e.message));
  await assert.rejects(openVectorDB(DIR, { fs, metric: 'cosine' }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT' && /euclidean/.test(e.message));
  await assert.rejects(openVectorDB(DIR, { fs, durability: 'always' as never }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT');
  await assert.rejects(openVectorDB(DIR, { fs, durability: 'interval', intervalMs: 2 ** 31 }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT');
  await assert.rejects(openVectorDB(DIR, { fs, readOnly: true, repair: true }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT');
  const again = await openVectorDB(DIR, { fs, dimension: 4, metric: 'euclidean' });
  assert.equal(again.metric, 'euclidean');
  assert.equal(again.len(), 1);
  await again.close();
});

test('read-only open replays the log without the lock and writes nothing; writes fail with EROFS', async () => {
  const fs = new MemoryFileSystem();
  const writer = await openVectorDB(DIR, { fs, dimension: 4 });
  await writer.insert({ id: 'a', vector: vecOf(1) });
  await writer.insert({ id: 'b', vector: vecOf(2) });
  const files = fs.listAll();
  const ro = await openVectorDB(DIR, { fs, readOnly: true });
  assert.deepEqual(fs.listAll(), files, 'a read-only open writes nothing');
  assert.equal(ro.readOnly, true);
  assert.equal(ro.recovery.replayedRecords, 2);
  assert.equal(digest(ro), digest(writer));
  await assert.rejects(ro.insert({ id: 'c', vector: vecOf(3) }), (e: unknown) => e instanceof QuiverError && e.code === 'EROFS');
  assert.throws(() => ro.replaceAll({ dimension: 4, metric: 'cosine', ids: [], vectors: new Float32Array(0), metadata: [] }), (e: unknown) => e instanceof QuiverError && e.code === 'EROFS');
  await ro.close();
  assert.deepEqual(fs.listAll(), files);
  await writer.close();
});

test('after close, writes fail with CLOSED and reads still work; close is idempotent', async () => {
  const fs = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs, dimension: 4 });
  await db.insert({ id: 'a', vector: vecOf(1) });
  await Promise.all([db.close(), db.close()]);
  assert.equal(db.closed, true);
  await assert.rejects(db.insert({ id: 'b', vector: vecOf(2) }), (e: unknown) => e instanceof QuiverError && e.code === 'CLOSED');
  await assert.rejects(db.delete('a'), (e: unknown) => e instanceof QuiverError && e.code === 'CLOSED');
  assert.equal(db.get('a')?.id, 'a');
  assert.equal(filesUnder(fs, DIR).includes(`${DIR}/LOCK`), false, 'the lock is released');
});

test('a second open of the same directory in this process gets LOCKED', async () => {
  const fs = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs, dimension: 4 });
  await assert.rejects(openVectorDB(DIR, { fs, dimension: 4 }), (e: unknown) => e instanceof QuiverError && e.code === 'LOCKED');
  const ro = await openVectorDB(DIR, { fs, readOnly: true });
  await ro.close();
  await db.close();
  const again = await openVectorDB(DIR, { fs });
  await again.close();
});

test('checkpoints run in the background past the record threshold; old segments and checkpoints are deleted', async () => {
  const fs = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs, dimension: 4, checkpointRecords: 10, maxSegmentBytes: 4096 });
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 95; i++) pending.push(db.insert({ id: `k${i % 30}`, vector: vecOf(i), metadata: { i } }));
  pending.push(db.delete('k3'));
  await Promise.all(pending);
  await db.flush();
  await db.checkpoint();
  const info = db.storeInfo();
  assert.ok(info.checkpoints.written >= 3, `checkpoints written: ${info.checkpoints.written}`);
  assert.equal(info.pointer?.walSeq, info.walSeq);
  const ckpts = filesUnder(fs, DIR).filter((p) => p.endsWith('.qvdb'));
  assert.deepEqual(ckpts, [`${DIR}/${info.pointer?.checkpoint}`], 'only the current checkpoint is kept');
  const segs = filesUnder(fs, `${DIR}/wal/`);
  assert.equal(segs.length, 1, `obsolete segments deleted: ${segs.join(', ')}`);
  const d = digest(db);
  await db.close();
  const again = await openVectorDB(DIR, { fs });
  assert.equal(again.recovery.replayedRecords, 0);
  assert.equal(digest(again), d);
  assert.equal(again.len(), 29);
  await again.close();
});

test('sync mode: 32 concurrent writers share durable log writes (group commit) and all are durable', async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  const db = await openVectorDB(DIR, { fs, dimension: 4 });
  fs.reset();
  await Promise.all(Array.from({ length: 32 }, (_, i) => db.insert({ id: i, vector: vecOf(i) })));
  const writes = fs.ops.filter((op) => op.kind === 'write' && op.path.includes('/wal/')).length;
  assert.ok(writes >= 1 && writes < 8, `32 concurrent inserts took ${writes} log writes`);
  assert.equal(fs.ops.filter((op) => op.kind === 'sync').length, 0, 'a log segment opened with dsync needs no fsync');
  const image = mem.snapshotDurable();
  const again = await openVectorDB(DIR, { fs: image, readOnly: true });
  assert.equal(again.len(), 32, 'every acknowledged insert is durable');
  await db.close();
});

test('temp files of interrupted publishes are removed at open; an interrupted creation is finished', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync(`${DIR}/.CURRENT.abcdef012345.quiver-tmp`, Buffer.from('junk'));
  fs.writeFileSync(`${DIR}/wal/.x.quiver-tmp`, Buffer.from('junk'));
  // A creation that stopped after its first checkpoint, before CURRENT: generation 1 alone.
  const seed = await openVectorDB('/seed', { fs, dimension: 4 });
  await seed.close();
  fs.writeFileSync(`${DIR}/checkpoint-0000000000000001.qvdb`, fs.readFileSync('/seed/checkpoint-0000000000000001.qvdb'));
  const db = await openVectorDB(DIR, { fs, dimension: 4 });
  assert.equal(db.recovery.created, true);
  assert.deepEqual(db.recovery.tempFilesRemoved.sort(), ['.CURRENT.abcdef012345.quiver-tmp', '.x.quiver-tmp']);
  await db.insert({ id: 1, vector: vecOf(1) });
  await db.close();
  assert.deepEqual(filesUnder(fs, DIR).filter((p) => p.includes('quiver-tmp')), []);
  const again = await openVectorDB(DIR, { fs });
  assert.equal(again.len(), 1);
  await again.close();
});

test('interval and none modes: acknowledged writes survive a clean close; none fsyncs only at checkpoints', async () => {
  for (const durability of ['interval', 'none'] as const) {
    const mem = new MemoryFileSystem();
    const fs = new FaultFileSystem(mem);
    const db = await openVectorDB(DIR, { fs, dimension: 4, durability, intervalMs: 5 });
    fs.reset();
    for (let i = 0; i < 50; i++) await db.insert({ id: i, vector: vecOf(i) });
    const syncs = fs.ops.filter((op) => op.kind === 'sync').length;
    if (durability === 'none') assert.equal(syncs, 0, 'none mode does not fsync on writes');
    else assert.ok(syncs < 50, `interval mode fsynced ${syncs} times for 50 sequential writes`);
    await db.close();
    const again = await openVectorDB(DIR, { fs: mem.snapshotDurable() });
    assert.equal(again.len(), 50, durability);
    await again.close();
  }
});

test('a vector whose element reads differently on a second read is logged as stored, and the store reopens', async () => {
  const fs = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs, dimension: 2, checkpointOnClose: false });
  let reads = 0;
  const v = { length: 2, 1: 2 } as Record<number, number> & { length: number };
  Object.defineProperty(v, 0, { get: () => (reads++ === 0 ? 1 : NaN) });
  await db.insert({ id: 'x', vector: v });
  await db.close();
  const again = await openVectorDB(DIR, { fs });
  assert.deepEqual(Array.from(again.get('x')!.vector), [1, 2]);
  await again.close();
});
