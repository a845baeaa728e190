// I/O failures: a failed log write or fsync rejects the writes it covers and every later one (never
// acknowledging what is not durable); a failed background checkpoint costs nothing but disk space and
// is retried; close still releases the directory; every acknowledged write survives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { QuiverError } from '../../src/errors.js';
import { openVectorDB } from '../../src/store/durable-db.js';
import { vecOf } from './helpers.js';

const DIR = '/f';

// In sync mode a log write is durable by itself (O_DSYNC); an fsync of the log is what interval mode
// (and flush) rely on.
for (const [durability, kind] of [['sync', 'write'], ['sync', 'dsync'], ['interval', 'write'], ['interval', 'sync']] as const) {
  test(`${durability} mode: a failing log ${kind} rejects the pending writes and all later ones; acknowledged ones survive`, async () => {
    const mem = new MemoryFileSystem();
    const fs = new FaultFileSystem(mem);
    const db = await openVectorDB(DIR, { fs, dimension: 4, durability, intervalMs: 60_000 });
    const acked: number[] = [];
    for (let i = 0; i < 10; i++) acked.push(Number(await db.insert({ id: i, vector: vecOf(i) })));
    await db.flush();
    fs.addFault({ at: 1, code: 'EIO', mode: 'persistent', kinds: (op) => op.kind === kind && op.path.includes('/wal/') });
    const results = await Promise.allSettled([...Array.from({ length: 5 }, (_, i) => db.insert({ id: 100 + i, vector: vecOf(i) })), db.flush()]);
    // An interval-mode write resolves once written; only a failed write rejects it, and flush reports a failed fsync.
    const rejected = results.map((r) => r.status === 'rejected' && (r.reason as QuiverError).code === 'EIO');
    assert.deepEqual(rejected, kind === 'sync' ? [false, false, false, false, false, true] : Array(6).fill(true));
    await assert.rejects(db.insert({ id: 200, vector: vecOf(1) }), (e: unknown) => e instanceof QuiverError && e.code === 'EIO');
    await assert.rejects(db.delete(1), (e: unknown) => e instanceof QuiverError && e.code === 'EIO');
    assert.equal(db.storeInfo().failure?.code, 'EIO');
    await assert.rejects(db.close(), (e: unknown) => e instanceof QuiverError && e.code === 'EIO');
    assert.equal(mem.listAll().includes(`${DIR}/LOCK`), false, 'the lock is released');
    const again = await openVectorDB(DIR, { fs: mem.snapshotDurable() });
    for (const id of acked) assert.ok(again.has(id), `acknowledged ${id} is present`);
    await again.close();
  });
}

test('a replaceAll whose checkpoint fails: flush and close reject with the failure, and reopening gives the state before it', async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  const db = await openVectorDB(DIR, { fs, dimension: 2, metric: 'euclidean' });
  await db.insert({ id: 'ok', vector: [1, 1] });
  await db.flush();
  // Every write into a new checkpoint file fails: the replaced content cannot be made durable.
  fs.addFault({ at: 1, code: 'ENOSPC', mode: 'persistent', kinds: (op) => op.kind === 'write' && op.path.includes('checkpoint-') });
  db.replaceAll({ dimension: 2, metric: 'euclidean', ids: ['a', 'b'], vectors: new Float32Array([1, 0, 0, 1]), metadata: [{ v: 1 }, undefined] });
  await assert.rejects(db.flush(), (e: unknown) => e instanceof QuiverError && e.code === 'IO_ERROR' && /could not be made durable/.test(e.message));
  assert.equal(db.storeInfo().failure?.code, 'IO_ERROR');
  await assert.rejects(db.close(), (e: unknown) => e instanceof QuiverError && e.code === 'IO_ERROR');
  const again = await openVectorDB(DIR, { fs: mem });
  assert.deepEqual(again.ids(), ['ok'], 'what flush never confirmed is not there, and nothing else is lost');
  await again.close();
});

test('a failing background checkpoint leaves writes working and is retried later', async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  const db = await openVectorDB(DIR, { fs, dimension: 4, checkpointRecords: 5 });
  fs.addFault({ at: 1, code: 'ENOSPC', kinds: (op) => op.kind === 'write' && op.path.includes('checkpoint') });
  for (let i = 0; i < 6; i++) await db.insert({ id: i, vector: vecOf(i) });
  await db.flush();
  await new Promise((r) => setTimeout(r, 10));
  const info = db.storeInfo();
  assert.equal(info.checkpoints.failed, 1);
  assert.equal((info.checkpoints.lastError as QuiverError).code, 'ENOSPC');
  assert.equal(info.failure, undefined);
  for (let i = 6; i < 14; i++) await db.insert({ id: i, vector: vecOf(i) });
  await db.checkpoint();
  assert.ok(db.storeInfo().checkpoints.written >= 1);
  await db.close();
  assert.deepEqual(mem.listAll().filter((p) => p.includes('quiver-tmp')), [], 'no temp file is left behind');
  const again = await openVectorDB(DIR, { fs: mem.snapshotDurable() });
  assert.equal(again.len(), 14);
  await again.close();
});

test('I/O-error loop: fail the Nth operation of a workload once, for every N; the store never acknowledges a lost write', async () => {
  let n = 1;
  for (;; n++) {
    const mem = new MemoryFileSystem();
    const fs = new FaultFileSystem(mem, { faults: [{ at: n, code: 'EIO' }], log: false });
    const acked = new Set<number>();
    // A write that was rejected may still have reached the disk (an O_DSYNC write whose flush reported
    // EIO after the bytes landed): then the rejected delete of 0 may have taken effect.
    let deleteTried = false;
    let opened = false;
    try {
      const db = await openVectorDB(DIR, { fs, dimension: 4, checkpointRecords: 4 });
      opened = true;
      try {
        await Promise.all(Array.from({ length: 12 }, async (_, i) => {
          await db.insert({ id: i, vector: vecOf(i) });
          acked.add(i);
        })).catch(() => undefined);
        if (acked.size === 12) {
          deleteTried = true;
          await db.delete(0).then(() => acked.delete(0)).catch(() => undefined);
        }
      } finally {
        await db.close().catch(() => undefined);
      }
    } catch (e) {
      assert.ok(e instanceof QuiverError, `op ${n}: ${String(e)}`);
    }
    const done = fs.faultsInjected === 0;
    const again = await openVectorDB(DIR, { fs: mem.snapshotDurable(), dimension: 4 }).catch((e: unknown) => {
      // A failed creation can leave nothing; anything else must open.
      assert.ok(!opened, `op ${n}: reopen failed: ${String(e)}`);
      return undefined;
    });
    if (again) {
      for (const id of acked) assert.ok(again.has(id) || (id === 0 && deleteTried), `op ${n}: acknowledged ${id} lost`);
      await again.close();
    }
    if (done) break;
  }
  assert.ok(n > 30, `the workload has ${n} operations`);
});

test('metadata the log cannot encode (an object of more than 65,535 members) is refused at the call; the store keeps working', async () => {
  const mem = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs: mem, dimension: 4, durability: 'sync' });
  await db.insert({ id: 'a', vector: vecOf(1) });
  const edge = Object.fromEntries(Array.from({ length: 65_535 }, (_, i) => [`k${i}`, i]));
  await db.insert({ id: 'edge', vector: vecOf(2), metadata: edge });
  const wide = { ...edge, one: 'more' };
  await assert.rejects(async () => db.insert({ id: 'w', vector: vecOf(3), metadata: wide }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_METADATA');
  await assert.rejects(async () => db.updateMetadata('a', wide), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_METADATA');
  assert.equal(db.get('w'), null, 'nothing was applied');
  await db.insert({ id: 'b', vector: vecOf(4), metadata: { ok: true } });
  await db.checkpoint();
  await db.close();
  const again = await openVectorDB(DIR, { fs: mem });
  assert.deepEqual(again.ids().sort(), ['a', 'b', 'edge']);
  assert.equal(Object.keys(again.get('edge')?.metadata ?? {}).length, 65_535);
  await again.close();
});

test('a store whose directory is removed, or whose LOCK another process took over, stops accepting writes within a second (LOCKED); close reports it', async () => {
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  for (const how of ['removed', 'taken'] as const) {
    const mem = new MemoryFileSystem();
    const db = await openVectorDB(DIR, { fs: mem, dimension: 4 });
    await db.insert({ id: 1, vector: vecOf(1) });
    await sleep(1100);
    await db.insert({ id: 2, vector: vecOf(2) }); // the lock is still ours: writes go on
    if (how === 'removed') await mem.rm(DIR, { recursive: true });
    else mem.writeFileSync(`${DIR}/LOCK`, new TextEncoder().encode('{"pid":1,"hostname":"elsewhere","token":"someone-else"}'));
    // Before the fix writes went on being acknowledged into a directory no reopen would find.
    const deadline = Date.now() + 3000;
    let refused: unknown;
    while (refused === undefined && Date.now() < deadline) {
      await db.insert({ id: 3, vector: vecOf(3) }).catch((e: unknown) => (refused = e));
      await sleep(50);
    }
    assert.ok(refused instanceof QuiverError && refused.code === 'LOCKED' && /LOCK is gone or names another process/.test(refused.message), `${how}: ${String(refused)}`);
    assert.equal(db.storeInfo().failure?.code, 'LOCKED');
    await assert.rejects(db.close(), (e: unknown) => e instanceof QuiverError && e.code === 'LOCKED');
    if (how === 'taken') assert.match(new TextDecoder().decode(await mem.readFile(`${DIR}/LOCK`)), /someone-else/, 'the other holder\'s lock is left alone');
  }
});
