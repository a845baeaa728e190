/**
 * The SQLite-style I/O error loop shared by the faults tests: fail operation N of a snapshot operation
 * (once, or from then on) for N = 1, 2, ... until it completes; after every failure the catalog holds
 * only complete snapshots that restore exactly, also after a simulated power loss.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuiverError } from '../../src/errors.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import type { FileSystem } from '../../src/env/fs.js';
import type { VectorDB } from '../../src/engine/vector-db.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { mutate, smallDb } from './helpers.js';
import { stateDigest } from './fixtures/digest.js';

const DIR = '/data/snaps';

/** Every listed snapshot of `fs` verifies and restores to the digest it recorded; returns the listed ids. */
async function checkCatalog(fs: FileSystem, label: string, verify = false): Promise<string[]> {
  const m = new SnapshotManager({ snapshotDir: DIR, fs, gcGraceMs: 0 });
  const cat = await m.catalog();
  assert.deepEqual(cat.damaged.map((d) => d.id), [], `${label}: no damaged snapshot`);
  for (const s of cat.snapshots) {
    if (verify) assert.equal(await m.verifySnapshot(s.id), true, `${label}: ${s.id} verifies`);
    assert.equal(stateDigest(await m.restoreSnapshot(s.id)), s.metadata.digest, `${label}: ${s.id} restores exactly`);
  }
  await m.collectGarbage(0);
  assert.deepEqual((await m.catalog()).incomplete, [], `${label}: garbage collected`);
  return cat.snapshots.map((s) => s.id);
}

/** A snapshot operation under test. */
export type Op = (m: SnapshotManager, db: VectorDB, ids: string[]) => Promise<unknown>;

/** The operations looped over. */
export const OPS: Record<string, Op> = Object.fromEntries([
  ['full create', (m, db) => m.createSnapshot(db, 'new', { digest: stateDigest(db) })],
  ['incremental create', (m, db, ids) => m.createIncrementalSnapshot(db, 'inc', ids[1], { metadata: { digest: stateDigest(db) } })],
  ['delete with fold', (m, _db, ids) => m.deleteSnapshot(ids[0], { dependents: 'fold' })],
  ['create then cleanup', async (m, db) => {
    await m.createSnapshot(db, 'newest', { digest: stateDigest(db) });
    return m.cleanupOldSnapshots(1);
  }],
] as [string, Op][]);

/** Registers the loop test for operation `name` with faults in `mode`. */
export function faultLoop(name: string, mode: 'once' | 'persistent'): void {
  const op = OPS[name];
  test(`I/O error loop over ${name} (${mode} EIO at every operation): the catalog holds only complete, restorable snapshots, also after power loss`, async () => {
    const template = new MemoryFileSystem();
    const setup = new SnapshotManager({ snapshotDir: DIR, fs: template, maxConcurrentIo: 2 });
    const db = smallDb(120, 8);
    const ids = [(await setup.createSnapshot(db, 'base', { digest: stateDigest(db) })).id];
    await mutate(db, 30, 1, 400);
    ids.push((await setup.createIncrementalSnapshot(db, 'inc', ids[0], { metadata: { digest: stateDigest(db) } })).id);
    await mutate(db, 30, 2, 400);
    let completed = false;
    for (let n = 1; n < 2000 && !completed; n++) {
      const mem = template.snapshotDurable();
      const fs = new FaultFileSystem(mem, { log: false }).failAt(n, 'EIO', { mode });
      const m = new SnapshotManager({ snapshotDir: DIR, fs, maxConcurrentIo: 2 });
      let acked: string | undefined;
      try {
        const r = await op(m, db, ids);
        completed = fs.faultsInjected === 0;
        acked = (r as { id?: string }).id;
      } catch (err) {
        assert.ok(err instanceof QuiverError, `op ${n}: ${String(err)}`);
        assert.equal(err.code, 'EIO', `op ${n}: the OS code is kept (${err.message})`);
      }
      fs.clearFaults();
      const listed = await checkCatalog(fs, `after EIO at op ${n}`);
      if (name.includes('create') && !name.includes('cleanup')) for (const id of ids) assert.ok(listed.includes(id), `op ${n}: existing snapshot ${id} survives`);
      const survived = await checkCatalog(mem.snapshotDurable({ seed: n }), `power loss after EIO at op ${n}`, true);
      if (acked !== undefined) assert.ok(survived.includes(acked), `op ${n}: an acknowledged snapshot survives power loss`);
    }
    assert.ok(completed, 'the operation eventually ran without faults');
  });
}
