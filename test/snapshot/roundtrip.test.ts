import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { VectorDB } from '../../src/engine/vector-db.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import type { Progress } from '../../src/util/progress.js';
import { realDb, tempDir } from '../support/db.js';
import { assertState, memoryManager, smallDb, stateOf } from './helpers.js';

for (const compression of ['gzip', 'none'] as const) {
  test(`full snapshot (${compression}) on disk: reference layout, sha256sum-compatible checksums, exact restore`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const db = await realDb(200);
      const want = stateOf(db);
      const m = new SnapshotManager({ snapshotDir: dir, compression });
      const info = await m.createSnapshot(db, 'first backup', { purpose: 'test', n: [1, 2] });
      assert.equal(info.type, 'full');
      assert.equal(info.name, 'first backup');
      assert.equal(info.vectorCount, db.len());
      assert.equal(info.dimension, 384);
      assert.equal(info.metric, 'cosine');
      assert.deepEqual(info.metadata, { purpose: 'test', n: [1, 2] });
      assert.match(info.id, /^\d{8}T\d{9}Z-[0-9a-f]{8}$/);
      const folder = join(dir, `snapshot-${info.id}`);
      const ext = compression === 'gzip' ? '.gz' : '';
      assert.deepEqual(readdirSync(folder).sort(), ['checksum.sha256', 'metadata.json', `metadata.bin${ext}`, `vectors.bin${ext}`].sort());
      // checksum.sha256 is `sha256sum -c` input; metadata.json holds its hash.
      const sums = readFileSync(join(folder, 'checksum.sha256'), 'utf8');
      for (const line of sums.trim().split('\n')) {
        const [hex, name] = line.split('  ');
        assert.equal(createHash('sha256').update(readFileSync(join(folder, name))).digest('hex'), hex, name);
      }
      assert.equal(createHash('sha256').update(sums).digest('hex'), info.checksum);
      const manifest = JSON.parse(readFileSync(join(folder, 'metadata.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(manifest.id, info.id);
      assert.equal(manifest.vectorCount, db.len());
      // vectors.bin is raw little-endian float32 in record order.
      let raw = readFileSync(join(folder, `vectors.bin${ext}`));
      if (compression === 'gzip') raw = gunzipSync(raw);
      assert.equal(raw.length, db.len() * 384 * 4);
      const sizes = readdirSync(folder).filter((f) => f !== 'metadata.json').reduce((s, f) => s + readFileSync(join(folder, f)).length, 0);
      assert.equal(info.sizeBytes, sizes);

      const restored = await m.restoreSnapshot(info.id);
      assert.equal(restored.metric, 'cosine');
      assertState(restored, want);
      // A fresh manager on the same directory sees and restores it too.
      const again = new SnapshotManager({ snapshotDir: dir });
      assert.deepEqual((await again.listSnapshots()).map((s) => s.id), [info.id]);
      assertState(await again.restoreSnapshot(info.id), want);
      assert.deepEqual(await again.getSnapshot(info.id), info);
      assert.equal(await again.totalSize(), sizes + readFileSync(join(folder, 'metadata.json')).length);
    } finally {
      cleanup();
    }
  });
}

test('restoreSnapshotInto replaces the contents of an existing database; checks dimension and metric first', async () => {
  const { manager } = memoryManager();
  const db = smallDb(300, 16, 'euclidean');
  const want = stateOf(db);
  const info = await manager.createSnapshot(db, 'x');
  const target = smallDb(50, 16, 'euclidean', 99);
  await target.insert({ id: 'extra', vector: new Float32Array(16).fill(1) });
  const got = await manager.restoreSnapshotInto(info.id, target);
  assert.equal(got.id, info.id);
  assertState(target, want);
  const wrongDim = new VectorDB({ dimension: 8, metric: 'euclidean' });
  await assert.rejects(manager.restoreSnapshotInto(info.id, wrongDim), { code: 'DIMENSION_MISMATCH' });
  const wrongMetric = smallDb(3, 16, 'cosine');
  const before = stateOf(wrongMetric);
  await assert.rejects(manager.restoreSnapshotInto(info.id, wrongMetric), { code: 'INVALID_ARGUMENT' });
  assertState(wrongMetric, before);
});

test('empty databases, numeric ids and awkward metadata survive; listSnapshots is newest first', async () => {
  const { manager } = memoryManager({ compression: 'none' });
  const empty = new VectorDB({ dimension: 4, metric: 'dot' });
  const a = await manager.createSnapshot(empty, 'empty');
  assert.equal((await manager.restoreSnapshot(a.id)).len(), 0);
  const db = await realDb(20, 'manhattan');
  const want = stateOf(db);
  const b = await manager.createSnapshot(db, 'awkward ünïcødé 🚀 "name"');
  assertState(await manager.restoreSnapshot(b.id), want);
  assert.deepEqual((await manager.listSnapshots()).map((s) => s.id), [b.id, a.id]);
  assert.equal(await manager.getSnapshot('20990101T000000000Z-00000000'), null);
  await assert.rejects(manager.restoreSnapshot('20990101T000000000Z-00000000'), { code: 'NOT_FOUND' });
});

test('progress is monotonic and ends at 100 for create and restore; an aborted create leaves nothing visible', async () => {
  const { manager, store } = memoryManager({ maxConcurrentIo: 2 });
  const db = smallDb(3000, 64);
  const seen: Progress[] = [];
  const info = await manager.createSnapshot(db, 'p', undefined, { onProgress: (p) => seen.push(p) });
  assert.ok(seen.length >= 3, `${seen.length} reports`);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i].percentage >= seen[i - 1].percentage);
  assert.equal(seen.at(-1)?.percentage, 100);
  const rs: Progress[] = [];
  await manager.restoreSnapshot(info.id, { onProgress: (p) => rs.push(p) });
  assert.equal(rs.at(-1)?.percentage, 100);
  assert.equal(rs.at(-1)?.operation, 'restore');

  const before = store.size;
  const ac = new AbortController();
  const p = manager.createSnapshot(db, 'aborted', undefined, { signal: ac.signal, onProgress: (x) => x.percentage > 20 && ac.abort() });
  await assert.rejects(p, { code: 'ABORTED' });
  assert.deepEqual((await manager.listSnapshots()).map((s) => s.id), [info.id]);
  assert.equal(store.size, before, 'the aborted snapshot left no objects');
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(manager.createSnapshot(db, 'x', undefined, { signal: pre.signal }), { code: 'ABORTED' });
  await assert.rejects(manager.restoreSnapshot(info.id, { signal: pre.signal }), { code: 'ABORTED' });
});
