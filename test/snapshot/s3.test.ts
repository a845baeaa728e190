import { after, before, describe, test } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { S3SnapshotStore } from '../../src/storage/s3-store.js';
import { VectorDB } from '../../src/engine/vector-db.js';
import { startLocalS3, type LocalS3 } from '../../support/local-s3.js';
import { realDb, tempDir } from '../support/db.js';
import { assertState, mutate, stateOf } from './helpers.js';

describe('snapshots in an S3 bucket', () => {
  let srv: LocalS3;
  let client: S3Client;
  before(async () => {
    srv = await startLocalS3();
    client = srv.client({ maxAttempts: 3 });
  });
  after(async () => {
    client.destroy();
    await srv.close();
  });

  test('full and incremental snapshots: list, verify, restore exactly, fold on delete, cleanup', async () => {
    const bucket = await srv.bucket();
    // Small parts, so the vectors file goes up as a multipart upload.
    const store = new S3SnapshotStore({ bucket, prefix: 'quiver/prod', client, partSize: 5 * 1024 * 1024 });
    const m = new SnapshotManager({ store, compression: 'gzip' });
    const db = await realDb();
    for (let i = 0; i < 3; i++) await db.insertBatch(Array.from({ length: 1500 }, (_, j) => ({ id: `bulk-${i}-${j}`, vector: new Float32Array(384).map((_, k) => Math.sin(i * 7 + j + k)) })));
    const states = [stateOf(db)];
    const full = await m.createSnapshot(db, 'base', { env: 'prod' });
    await mutate(db, 300, 11);
    states.push(stateOf(db));
    const inc1 = await m.createIncrementalSnapshot(db, 'inc-1', full.id);
    await mutate(db, 300, 12);
    states.push(stateOf(db));
    const inc2 = await m.createIncrementalSnapshot(db, 'inc-2', inc1.id);
    assert.ok(inc2.sizeBytes < full.sizeBytes / 5, `an incremental holds only the changes (${inc2.sizeBytes} of ${full.sizeBytes})`);

    const listed = await m.listSnapshots();
    assert.deepEqual(listed.map((s) => s.id), [inc2.id, inc1.id, full.id]);
    assert.deepEqual(listed[2].metadata, { env: 'prod' });
    // The objects are where the layout says, under the prefix.
    const keys = (await store.list(`snapshot-${full.id}/`)).map((o) => o.key.split('/')[1]);
    assert.deepEqual(keys, ['checksum.sha256', 'metadata.bin.gz', 'metadata.json', 'vectors.bin.gz']);
    const raw = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `quiver/prod/snapshot-${full.id}/metadata.json` }));
    assert.equal(JSON.parse(await raw.Body!.transformToString()).id, full.id);

    assert.equal(await m.verifySnapshot(inc2.id), true);
    for (const [i, info] of [full, inc1, inc2].entries()) assertState(await m.restoreSnapshot(info.id), states[i], info.name);

    await m.deleteSnapshot(full.id, { dependents: 'fold' });
    assert.deepEqual((await m.listSnapshots()).map((s) => s.id).sort(), [inc1.id, inc2.id].sort());
    assertState(await m.restoreSnapshot(inc2.id), states[2], 'after folding');
    assert.equal((await store.list(`snapshot-${full.id}/`)).length, 0, 'the deleted snapshot has no objects left');
    // The newest is kept with the base it needs (inc-1, now folded into a full snapshot).
    await m.cleanupOldSnapshots(1);
    assert.deepEqual((await m.listSnapshots()).map((s) => s.id), [inc2.id, inc1.id]);
    await mutate(db, 50, 13);
    const latest = await m.createSnapshot(db, 'latest');
    await m.cleanupOldSnapshots(1);
    assert.deepEqual((await m.listSnapshots()).map((s) => s.id), [latest.id]);
    assert.deepEqual((await store.list()).map((o) => o.key.split('/')[0]).filter((k, i, a) => a.indexOf(k) === i), [`snapshot-${latest.id}`], 'only the kept snapshot has objects');
    assertState(await m.restoreSnapshot(latest.id), stateOf(db), 'after cleanup');
  });

  test('a damaged object is named by verify, and restore leaves the target as it was', async () => {
    const bucket = await srv.bucket();
    const store = new S3SnapshotStore({ bucket, client });
    const m = new SnapshotManager({ store, compression: 'none' });
    const db = await realDb(300);
    const info = await m.createSnapshot(db, 'x');
    const key = `snapshot-${info.id}/vectors.bin`;
    const bytes = Buffer.from(await store.get(key));
    bytes[1000] ^= 0x40;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    const report = await m.verifySnapshotReport(info.id);
    assert.equal(report.ok, false);
    assert.deepEqual(report.files.filter((f) => !f.ok).map((f) => f.name), [key]);
    const target = new VectorDB({ dimension: 384 });
    await target.insert({ id: 'keep-me', vector: new Float32Array(384).fill(0.5) });
    const before = stateOf(target);
    await assert.rejects(m.restoreSnapshotInto(info.id, target), { code: 'CHECKSUM_MISMATCH' });
    assertState(target, before, 'untouched');
  });

  test('garbage collection removes a folder an interrupted create left, once it is old enough', async () => {
    const bucket = await srv.bucket();
    const store = new S3SnapshotStore({ bucket, client });
    const m = new SnapshotManager({ store, gcGraceMs: 0 });
    const db = await realDb(50);
    const kept = await m.createSnapshot(db, 'kept');
    // What a process killed after its data files and before its record leaves behind.
    const orphan = `snapshot-20260101T000000000Z-0badf00d`;
    await store.put(`${orphan}/vectors.bin.gz`, new Uint8Array(100));
    assert.deepEqual((await m.catalog()).incomplete, ['20260101T000000000Z-0badf00d']);
    // S3 times are whole seconds, so an object is taken to be as new as the end of its second.
    await new Promise((r) => setTimeout(r, 1100));
    await m.collectGarbage();
    assert.equal((await store.list(`${orphan}/`)).length, 0);
    assert.deepEqual((await m.listSnapshots()).map((s) => s.id), [kept.id]);
  });

  test('DatabasePersistence keeps its snapshots in the store given as snapshotStore', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const bucket = await srv.bucket();
      const db = await realDb(200);
      const p = new DatabasePersistence(db, { baseDir: dir, snapshotStore: new S3SnapshotStore({ bucket, client, prefix: 'app' }), maxSnapshots: 2 });
      const want = stateOf(db);
      const first = await p.createSnapshot('before-change');
      await db.delete(db.get('no-metadata') ? 'no-metadata' : 42);
      await p.createSnapshot('after-change');
      await p.createSnapshot('third');
      const list = await p.listSnapshots();
      assert.equal(list.length, 2, 'maxSnapshots applies to the bucket');
      assert.ok((await new S3SnapshotStore({ bucket, client, prefix: 'app' }).list()).length > 0);
      assert.ok(!list.some((s) => s.id === first.id));
      const second = list[list.length - 1];
      // Change the database, then restore: the snapshot's state comes back from the bucket.
      await db.insert({ id: 'after-snapshots', vector: new Float32Array(384).fill(0.25) });
      await p.restoreSnapshot(second.id);
      assert.equal(db.len(), want.size - 1);
      assert.equal(db.get('after-snapshots'), null);
      assert.equal(existsSync(join(dir, 'snapshots')), false, 'nothing went to <baseDir>/snapshots');
      assert.throws(() => new DatabasePersistence(db, { baseDir: dir, snapshotStore: {} as never }), TypeError);
      await p.shutdown();
    } finally {
      cleanup();
    }
  });
});
