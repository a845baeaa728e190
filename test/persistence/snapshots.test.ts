import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { QuiverError, formatFileSize } from '../../src/index.js';
import { tempDir, realDb, assertSameDb } from '../support/db.js';
import { digestDb } from '../fixtures/digest.js';

test('the reference snapshot workflow: create, change, create, list newest first, roll back', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(100);
    const persistence = new DatabasePersistence(db, { baseDir: dir });
    const v1 = await persistence.createSnapshot('version-1.0', { version: '1.0', user: 'admin' });
    const before = digestDb(db);
    await db.insert({ id: 'new-doc', vector: new Float32Array(384).fill(0.1) });
    const v2 = await persistence.createSnapshot('version-1.1');
    assert.equal(v1.vectorCount + 1, v2.vectorCount);
    assert.equal(v1.dimension, 384);
    assert.match(v1.checksum, /^[0-9a-f]{64}$/);
    assert.ok(v1.fileSize > 0 && typeof formatFileSize(v1.fileSize) === 'string');
    assert.deepEqual(v1.metadata, { version: '1.0', user: 'admin' });
    const list = await persistence.listSnapshots();
    assert.deepEqual(list.map((s) => s.name), ['version-1.1', 'version-1.0']);
    await persistence.restoreSnapshot(v1.id, { verifyChecksum: true, onProgress: () => undefined });
    assert.equal(db.get('new-doc'), null);
    assert.equal(digestDb(db), before);
    await persistence.deleteSnapshot(v2.id);
    assert.deepEqual((await persistence.listSnapshots()).map((s) => s.id), [v1.id]);
  } finally {
    cleanup();
  }
});

test('incremental snapshots chain on the newest one; maxSnapshots keeps exactly that many, folding orphaned links', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(50);
    const p = new DatabasePersistence(db, { baseDir: dir, incremental: true, maxSnapshots: 2 });
    const states: string[] = [];
    const snaps = [];
    for (let i = 0; i < 4; i++) {
      await db.insert({ id: `step-${i}`, vector: new Float32Array(384).fill(i + 1) });
      snaps.push(await p.createSnapshot(`s${i}`));
      states.push(digestDb(db));
    }
    assert.equal(snaps[0].type, 'full');
    assert.equal(snaps[1].type, 'incremental');
    assert.equal(snaps[1].baseId, snaps[0].id);
    const kept = await p.listSnapshots();
    assert.deepEqual(kept.map((s) => s.name), ['s3', 's2']);
    assert.equal(kept[1].type, 'full', 'the oldest kept link was folded into a full snapshot');
    // Every kept snapshot still restores to the state it captured.
    for (const s of kept) {
      const target = new VectorDB({ dimension: 384 });
      await new DatabasePersistence(target, { baseDir: dir }).restoreSnapshot(s.id);
      assert.equal(digestDb(target), states[snaps.findIndex((x) => x.id === s.id)]);
    }
    assert.equal(kept[0].baseId, kept[1].id);
    await assert.rejects(p.deleteSnapshot(kept[1].id, { dependents: 'refuse' }), (e: unknown) => e instanceof QuiverError && e.code === 'BUSY');
    // The reference's call deletes it; the snapshot on top of it becomes full and still restores.
    await p.deleteSnapshot(kept[1].id);
    const left = await p.listSnapshots();
    assert.deepEqual(left.map((s) => [s.name, s.type]), [['s3', 'full']]);
    const target = new VectorDB({ dimension: 384 });
    await new DatabasePersistence(target, { baseDir: dir }).restoreSnapshot(left[0].id);
    assert.equal(digestDb(target), states[3]);
  } finally {
    cleanup();
  }
});

test('a damaged snapshot is refused and the database is left as it was', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(30);
    const p = new DatabasePersistence(db, { baseDir: dir, compression: 'none' });
    const snap = await p.createSnapshot('x');
    const sdir = join(dir, 'snapshots', readdirSync(join(dir, 'snapshots')).find((n) => n.includes(snap.id))!);
    const file = join(sdir, readdirSync(sdir).find((n) => n.startsWith('vectors'))!);
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0x40;
    writeFileSync(file, bytes);
    const target = await realDb(5);
    const copy = await realDb(5);
    await assert.rejects(new DatabasePersistence(target, { baseDir: dir }).restoreSnapshot(snap.id), (e: unknown) => e instanceof QuiverError && /checksum/i.test(e.message));
    assertSameDb(target, copy);
  } finally {
    cleanup();
  }
});

test('maxSnapshots never removes a pinned snapshot', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(20);
    const p = new DatabasePersistence(db, { baseDir: dir, maxSnapshots: 2 });
    const first = await p.createSnapshot('keep-me');
    await p.snapshots.updateSnapshot(first.id, { pinned: true });
    for (let i = 0; i < 4; i++) {
      await db.insert({ id: `step-${i}`, vector: new Float32Array(384).fill(i + 1) });
      await p.createSnapshot(`s${i}`);
    }
    assert.deepEqual((await p.listSnapshots()).map((s) => s.name), ['s3', 's2', 'keep-me']);
  } finally {
    cleanup();
  }
});

test('createSnapshot keeps the snapshot it took even when others list as newer (another process\'s clock ran ahead)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { execFileSync } = await import('node:child_process');
    const modules = new URL('../../src/', import.meta.url).href;
    // A process whose clock is an hour ahead takes two snapshots.
    const script = `Date.now = ((now) => () => now() + 3600000)(Date.now);
      const { VectorDB } = await import('${modules}engine/vector-db.js');
      const { DatabasePersistence } = await import('${modules}persistence/database-persistence.js');
      const db = new VectorDB({ dimension: 2 });
      await db.insert({ id: 'x', vector: [1, 2] });
      const p = new DatabasePersistence(db, { baseDir: ${JSON.stringify(dir)}, maxSnapshots: 2 });
      await p.createSnapshot('a');
      await p.createSnapshot('b');`;
    execFileSync(process.execPath, ['--input-type=module', '-e', script]);
    const db = new VectorDB({ dimension: 2 });
    await db.insert({ id: 'mine', vector: [3, 4] });
    const p = new DatabasePersistence(db, { baseDir: dir, maxSnapshots: 2 });
    const taken = await p.createSnapshot('important');
    const names = (await p.listSnapshots()).map((s) => s.name);
    assert.ok(names.includes('important'), `${names.join()}`);
    assert.equal(names.length, 2, 'maxSnapshots still holds: the oldest other one went');
    await p.restoreSnapshot(taken.id);
    assert.deepEqual(db.ids(), ['mine']);
  } finally {
    cleanup();
  }
});

test('a retention pass that fails after createSnapshot committed its snapshot resolves with a warning; the snapshot is there', async () => {
  const { MemoryFileSystem } = await import('../../src/env/memory-fs.js');
  const { FaultFileSystem } = await import('../../src/env/fault-fs.js');
  const mem = new MemoryFileSystem();
  await mem.mkdir('/d', { recursive: true });
  const fs = new FaultFileSystem(mem);
  const db = new VectorDB({ dimension: 2 });
  await db.insert({ id: 'x', vector: [1, 2] });
  const p = new DatabasePersistence(db, { baseDir: '/d', fs, maxSnapshots: 1 });
  const one = await p.createSnapshot('one');
  fs.addFault({ at: 1, code: 'EIO', mode: 'persistent', kinds: (op) => op.path.includes(one.id) && (op.kind === 'rm' || op.kind === 'unlink' || op.kind === 'rename') });
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  let two: { id: string } | undefined;
  try {
    two = await p.createSnapshot('two');
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  assert.ok(warnings.includes('QuiverCleanupWarning'));
  assert.ok((await p.listSnapshots()).some((s) => s.id === two?.id));
  fs.clearFaults();
  await p.createSnapshot('three');
  assert.deepEqual((await p.listSnapshots()).map((s) => s.name), ['three'], 'the next pass removes what the failed one left');
});
