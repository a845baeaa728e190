import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkSnapshotId, newSnapshotId, timeOfId } from '../../src/snapshot/ids.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { decodeManifest, encodeManifest, type SnapshotManifest } from '../../src/snapshot/manifest.js';
import { MANIFEST_NAME, snapshotKey } from '../../src/snapshot/layout.js';
import { tempDir } from '../support/db.js';
import { memoryManager, smallDb } from './helpers.js';

const BAD_IDS: unknown[] = ['../x', '..', '.', '../../etc/passwd', '/etc/passwd', '/abs', 'C:\\x', 'a/b', 'a\\b', '..\\x', 'a\0b', '\0', '', ' ', 'a b', '.hidden', '-flag', 'x'.repeat(129), 'ü', 'a.b', 42, null, undefined, {}, ['a']];

test('snapshot ids: generated ones are unique and time-sortable; odd ones are rejected everywhere before any I/O', async () => {
  const ids = Array.from({ length: 2000 }, () => newSnapshotId().id);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids, 'string order is creation order');
  const { id, createdAt } = newSnapshotId(Date.UTC(2024, 1, 29, 23, 59, 59, 999) + 10 ** 9);
  assert.equal(timeOfId(id), createdAt);
  assert.equal(checkSnapshotId('x'.repeat(128)), 'x'.repeat(128));
  for (const bad of BAD_IDS) assert.throws(() => checkSnapshotId(bad), { code: 'INVALID_ARGUMENT' }, String(bad));

  const { manager, store } = memoryManager();
  const db = smallDb(5, 4);
  for (const bad of BAD_IDS as string[]) {
    const label = JSON.stringify(bad);
    await assert.rejects(manager.getSnapshot(bad), { code: 'INVALID_ARGUMENT' }, label);
    await assert.rejects(manager.restoreSnapshot(bad), { code: 'INVALID_ARGUMENT' }, label);
    await assert.rejects(manager.restoreSnapshotInto(bad, db), { code: 'INVALID_ARGUMENT' }, label);
    await assert.rejects(manager.verifySnapshot(bad), { code: 'INVALID_ARGUMENT' }, label);
    await assert.rejects(manager.deleteSnapshot(bad), { code: 'INVALID_ARGUMENT' }, label);
    await assert.rejects(manager.createIncrementalSnapshot(db, 'n', bad), { code: 'INVALID_ARGUMENT' }, label);
    await assert.rejects(manager.updateSnapshot(bad, { pinned: true }), { code: 'INVALID_ARGUMENT' }, label);
  }
  assert.equal(store.size, 0);
});

test('names are free text but bounded and NUL-free; they never reach a path', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const m = new SnapshotManager({ snapshotDir: `${dir}/snaps` });
    const db = smallDb(5, 4);
    for (const name of ['../../evil', '/etc/passwd', 'C:\\Windows', 'ünïcødé 🚀', 'a/b/c', '.', 'x'.repeat(256)]) {
      const info = await m.createSnapshot(db, name);
      assert.equal((await m.getSnapshot(info.id))?.name, name);
    }
    assert.deepEqual(readdirSync(dir), ['snaps'], 'nothing was written outside the snapshot root');
    assert.equal(readdirSync(`${dir}/snaps`).filter((n) => !/^snapshot-\d{8}T\d{9}Z-[0-9a-f]{8}$/.test(n)).length, 0);
    for (const bad of ['', 'a\0b', 'x'.repeat(257), 7, null]) {
      await assert.rejects(m.createSnapshot(db, bad as string), { code: 'INVALID_ARGUMENT' }, String(bad));
    }
    await assert.rejects(m.createSnapshot(db, 'ok', { fn: () => 1 } as unknown as Record<string, unknown>), { code: 'INVALID_METADATA' });
    await assert.rejects(m.createSnapshot(db, 'ok', undefined, { tags: ['a\0'] }), { code: 'INVALID_ARGUMENT' });
    assert.equal(dirname(`${dir}/snaps`), dir);
  } finally {
    cleanup();
  }
});

test('a metadata.json naming a traversal id, or another folder\'s id, is rejected as corrupt', () => {
  const base: SnapshotManifest = {
    format: 'quiver-snapshot', formatVersion: 1, id: 'abc', name: 'n', createdAt: 1, type: 'incremental', baseId: '../x', chainDepth: 1,
    vectorCount: 0, changedCount: 0, deletedCount: 0, cleared: false, dimension: 2, metric: 'cosine', compression: 'none', compressionLevel: 0,
    generation: 1, files: [{ name: 'vectors.bin', role: 'vectors', bytes: 0, rawBytes: 0 }, { name: 'metadata.bin', role: 'metadata', bytes: 1, rawBytes: 1 }],
    checksumFile: 'checksum.sha256', sizeBytes: 1, checksum: '0'.repeat(64), metadata: {}, pinned: false, tags: [], library: 'x',
  };
  assert.throws(() => decodeManifest(encodeManifest(base), 'f'), { code: 'CORRUPT', section: 'baseId' });
  const ok = { ...base, baseId: 'good' };
  assert.equal(decodeManifest(encodeManifest(ok), 'f', 'abc').baseId, 'good');
  assert.throws(() => decodeManifest(encodeManifest(ok), 'f', 'other'), { code: 'CORRUPT', section: 'id' });
  assert.throws(() => decodeManifest(encodeManifest({ ...ok, files: [{ name: '../vectors.bin', role: 'vectors', bytes: 0, rawBytes: 0 }, ok.files[1]] }), 'f'), { section: 'files' });
  assert.throws(() => decodeManifest(encodeManifest({ ...ok, checksumFile: '../checksum.sha256' }), 'f'), { section: 'checksumFile' });
  assert.throws(() => decodeManifest(encodeManifest({ ...ok, formatVersion: 2 }), 'f'), /newer than this QuiverDB reads/);
});

test('a self-consistent manifest declaring far more entries than its files hold is refused before anything is allocated', async () => {
  for (const compression of ['none', 'gzip'] as const) {
    const { manager, store } = memoryManager({ compression });
    const info = await manager.createSnapshot(smallDb(20), 'small');
    const key = snapshotKey(info.id, MANIFEST_NAME);
    const m = decodeManifest(await store.get(key), key);
    // A billion entries of dimension 16: 64 GB to allocate. The manifest's own checksum is recomputed.
    const huge = 1_000_000_000;
    const crafted: SnapshotManifest = {
      ...m,
      changedCount: huge,
      vectorCount: huge,
      files: m.files.map((f) => (f.role === 'vectors' ? { ...f, rawBytes: huge * 16 * 4, bytes: compression === 'none' ? huge * 16 * 4 : f.bytes } : f)),
    };
    await store.put(key, encodeManifest(crafted));
    const before = process.memoryUsage().arrayBuffers;
    await assert.rejects(manager.restoreSnapshot(info.id), (e: unknown) => (e as { code?: string }).code === 'CORRUPT', compression);
    assert.ok(process.memoryUsage().arrayBuffers - before < 100 * 1024 * 1024, 'no allocation sized from the manifest');
  }
});
