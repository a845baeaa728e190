/**
 * What a caller may store in a snapshot's record must leave it readable: metadata that the API accepts
 * never makes metadata.json too large to read back, and folders that are not snapshots are ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { QuiverError } from '../../src/errors.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { encodeManifest, MAX_MANIFEST_BYTES, type SnapshotManifest } from '../../src/snapshot/manifest.js';
import { MAX_USER_METADATA_BYTES } from '../../src/snapshot/options.js';
import { assertState, memoryManager, smallDb, stateOf } from './helpers.js';

/** Arrays nested `depth` deep around a small object, in a few members. */
function deepMetadata(depth: number, members: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let m = 0; m < members; m++) {
    let v: unknown = { leaf: m };
    for (let d = 0; d < depth; d++) v = [v];
    out[`k${m}`] = v;
  }
  return out;
}

/** Members of a dozen nested objects each, adding up to about `bytes` of compact JSON. */
function bulkyMetadata(bytes: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; JSON.stringify(out).length < bytes; i++) {
    let v: unknown = [i, i + 1, i + 2];
    for (let d = 0; d < 12; d++) v = { n: v };
    out[`g${i}`] = v;
  }
  return out;
}

test('metadata the API accepts (deeply nested, or near the 1 MiB limit) leaves a snapshot that lists, restores and updates', async () => {
  for (const metadata of [deepMetadata(990, 3), bulkyMetadata(MAX_USER_METADATA_BYTES - 4096)]) {
    assert.ok(Buffer.byteLength(JSON.stringify(metadata)) <= MAX_USER_METADATA_BYTES);
    // Indented two spaces a level, this record was over the readers' 4 MiB (the bug this guards against).
    assert.ok(Buffer.byteLength(JSON.stringify(metadata, null, 2)) > MAX_MANIFEST_BYTES);
    const { manager } = memoryManager();
    const db = smallDb(20, 8);
    const state = stateOf(db);
    const base = await manager.createSnapshot(db, 'with metadata', metadata);
    const top = await manager.createIncrementalSnapshot(db, 'on top', base.id);
    assert.deepEqual((await manager.listSnapshots()).map((s) => s.id).sort(), [base.id, top.id].sort());
    assert.deepEqual((await manager.getSnapshot(base.id))?.metadata, metadata);
    assertState(await manager.restoreSnapshot(top.id), state, 'restored through the base');
    // A rewrite of the record (as pins and folds make) with the same metadata stays readable too.
    await manager.updateSnapshot(base.id, { pinned: true, metadata });
    assert.equal((await manager.getSnapshot(base.id))?.pinned, true);
    assertState(await manager.restoreSnapshot(top.id), state, 'after the update');
    assert.equal((await manager.catalog()).damaged.length, 0);
  }
});

test('a record that would still be over the readers\' limit is refused before anything is written', async () => {
  const { manager } = memoryManager();
  const db = smallDb(5, 4);
  const s = await manager.createSnapshot(db, 'small');
  const m = { ...(await manager.getSnapshot(s.id)) } as unknown as SnapshotManifest;
  // Only reachable by a caller bypassing the 1 MiB metadata check: the encoder's own guard.
  m.metadata = { big: 'x'.repeat(MAX_MANIFEST_BYTES) };
  assert.throws(() => encodeManifest(m), (e: unknown) => e instanceof QuiverError && e.code === 'LIMIT_EXCEEDED');
});

test('a folder whose name is no snapshot id (a copy such as snapshot-<id>.bak) is neither listed, nor collected, nor an error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-stray-'));
  try {
    const manager = new SnapshotManager({ snapshotDir: dir, gcGraceMs: 0 });
    const db = smallDb(10, 4);
    const a = await manager.createSnapshot(db, 'a');
    const b = await manager.createSnapshot(db, 'b');
    const copy = join(dir, `snapshot-${a.id}.bak`);
    cpSync(join(dir, `snapshot-${a.id}`), copy, { recursive: true });
    assert.deepEqual((await manager.listSnapshots()).map((s) => s.id).sort(), [a.id, b.id].sort());
    const cat = await manager.catalog();
    assert.deepEqual([cat.damaged.length, cat.incomplete.length], [0, 0]);
    await manager.collectGarbage(0);
    assert.equal(await manager.cleanupOldSnapshots(1), 1);
    assert.deepEqual((await manager.listSnapshots()).map((s) => s.id), [b.id]);
    assert.ok(existsSync(join(copy, 'metadata.json')), 'the foreign folder is left alone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('snapshot metadata drops undefined members as entry metadata does (reference 000: { user: process.env.USER } with the variable unset); undefined in an array is refused', async () => {
  const { manager } = memoryManager();
  const db = smallDb(5, 8);
  const info = await manager.createSnapshot(db, 'pre-migration', { version: '2.0', user: undefined, nested: { a: 1, b: undefined } });
  assert.deepEqual(info.metadata, { version: '2.0', nested: { a: 1 } });
  assert.deepEqual((await manager.getSnapshot(info.id))?.metadata, { version: '2.0', nested: { a: 1 } });
  await assert.rejects(manager.createSnapshot(db, 'x', { list: [1, undefined] }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_METADATA');
});
