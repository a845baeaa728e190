import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnapshotDependencyError } from '../../src/snapshot/manager.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { assertState, memoryManager, mutate, smallDb, stateOf, type State } from './helpers.js';
import { join } from 'node:path';
import { utimesSync, writeFileSync } from 'node:fs';
import type { SnapshotInfo } from '../../src/snapshot/types.js';
import { tempDir } from '../support/db.js';
import { capturing } from '../support/warnings.js';
import { decodeManifest, encodeManifest } from '../../src/snapshot/manifest.js';
import { MANIFEST_NAME, snapshotKey } from '../../src/snapshot/layout.js';
import { MemorySnapshotStore } from '../../src/storage/memory-store.js';
import type { StoreReadOptions } from '../../src/storage/store.js';

async function chain(manager: SnapshotManager, length: number): Promise<{ ids: string[]; states: State[] }> {
  const db = smallDb(200, 8);
  const ids = [(await manager.createSnapshot(db, 'c0')).id];
  const states = [stateOf(db)];
  for (let i = 1; i < length; i++) {
    await mutate(db, 20, 40 + i, 300);
    ids.push((await manager.createIncrementalSnapshot(db, `c${i}`, ids[i - 1])).id);
    states.push(stateOf(db));
  }
  return { ids, states };
}

test('deleting a base is refused with a typed error naming its dependents', async () => {
  const { manager } = memoryManager();
  const { ids } = await chain(manager, 3);
  await assert.rejects(manager.deleteSnapshot(ids[0]), (err: unknown) => {
    assert.ok(err instanceof SnapshotDependencyError);
    assert.equal(err.code, 'BUSY');
    assert.deepEqual(err.dependents, [ids[2], ids[1]]);
    return true;
  });
  assert.equal((await manager.listSnapshots()).length, 3);
  // The newest (no dependents) can go.
  assert.deepEqual(await manager.deleteSnapshot(ids[2]), { deleted: [ids[2]], folded: [] });
  await assert.rejects(manager.deleteSnapshot(ids[2]), { code: 'NOT_FOUND' });
  await assert.rejects(manager.deleteSnapshot('x', { dependents: 'nope' as 'fold' }), { code: 'INVALID_ARGUMENT' });
});

test('cascade deletes dependents before the base; nothing is left behind', async () => {
  const { manager, store } = memoryManager();
  const { ids } = await chain(manager, 4);
  const other = await manager.createSnapshot(smallDb(10, 8), 'unrelated');
  const r = await manager.deleteSnapshot(ids[1], { dependents: 'cascade' });
  assert.deepEqual(r.deleted, [ids[3], ids[2], ids[1]]);
  assert.deepEqual((await manager.listSnapshots()).map((s) => s.id).sort(), [ids[0], other.id].sort());
  assert.deepEqual((await store.list()).filter((o) => ids.slice(1).some((id) => o.key.includes(id))), []);
});

test('an abort stops a delete or a prune only before its first deletion: ABORTED always means nothing was deleted', async () => {
  const { manager } = memoryManager();
  const { ids } = await chain(manager, 4);
  const before = (await manager.listSnapshots()).map((s) => s.id).sort();
  const early = new AbortController();
  early.abort();
  await assert.rejects(manager.deleteSnapshot(ids[0], { dependents: 'cascade', signal: early.signal }), { code: 'ABORTED' });
  await assert.rejects(manager.prune({ keepLast: 1 }, { signal: early.signal }), { code: 'ABORTED' });
  assert.deepEqual((await manager.listSnapshots()).map((s) => s.id).sort(), before, 'an abort before the call deletes nothing');
  // An abort that comes once the deletions started (from the first progress report) lets them finish:
  // the call resolves and says what it deleted.
  const late = new AbortController();
  const r = await manager.deleteSnapshot(ids[1], { dependents: 'cascade', signal: late.signal, onProgress: (p) => p.percentage < 100 && late.abort() });
  assert.ok(late.signal.aborted);
  assert.deepEqual(r.deleted, [ids[3], ids[2], ids[1]]);
  assert.deepEqual((await manager.listSnapshots()).map((s) => s.id), [ids[0]]);
  for (let i = 0; i < 3; i++) await manager.createSnapshot(smallDb(10 + i, 8), `f${i}`);
  const late2 = new AbortController();
  const pruned = await manager.prune({ keepLast: 1 }, { signal: late2.signal, onProgress: (p) => p.percentage < 100 && late2.abort() });
  assert.ok(late2.signal.aborted);
  assert.equal(pruned.deleted.length, 3);
  assert.deepEqual((await manager.listSnapshots()).map((s) => s.name), ['f2']);
});

test('a progress callback that throws once deletions started does not stop them half-way: the call resolves, and the error is a warning', async () => {
  const { manager } = memoryManager();
  const { ids } = await chain(manager, 4);
  await capturing(async ({ warnings }) => {
    let calls = 0;
    const r = await manager.deleteSnapshot(ids[1], { dependents: 'cascade', onProgress: () => { if (++calls === 1) throw new Error('callback boom'); } });
    assert.deepEqual(r.deleted, [ids[3], ids[2], ids[1]]);
    assert.equal(calls, 1, 'the callback is not called again');
    assert.deepEqual((await manager.listSnapshots()).map((s) => s.id), [ids[0]]);
    for (let i = 0; i < 3; i++) await manager.createSnapshot(smallDb(10 + i, 8), `f${i}`);
    const pruned = await manager.prune({ keepLast: 1 }, { onProgress: () => { throw new Error('prune boom'); } });
    assert.equal(pruned.deleted.length, 3);
    assert.deepEqual((await manager.listSnapshots()).map((s) => s.name), ['f2']);
    await new Promise((res) => setImmediate(res));
    assert.equal(warnings.filter((w) => /^QuiverProgressWarning: .*(callback boom|prune boom)/.test(w)).length, 2, warnings.join('\n'));
  });
});

test('a delete aborted while folding its dependents deletes nothing and names the folds already done', async () => {
  const { manager, store } = memoryManager();
  const db = smallDb(200, 8);
  const base = await manager.createSnapshot(db, 'base');
  const deps: string[] = [];
  const states: State[] = [];
  for (let i = 0; i < 3; i++) {
    await mutate(db, 20, 70 + i, 300);
    deps.push((await manager.createIncrementalSnapshot(db, `d${i}`, base.id)).id);
    states.push(stateOf(db));
  }
  const ac = new AbortController();
  // The first fold's progress report (it is done) aborts the second fold.
  await assert.rejects(manager.deleteSnapshot(base.id, { dependents: 'fold', signal: ac.signal, onProgress: (p) => p.percentage < 100 && ac.abort() }), (err: unknown) => {
    assert.equal((err as { code?: string }).code, 'ABORTED');
    assert.match((err as Error).message, /nothing was deleted, but .* had already been rewritten as full/);
    assert.equal(((err as { details?: { folded?: string[] } }).details?.folded ?? []).length, 1);
    return true;
  });
  const fresh = new SnapshotManager({ store });
  assert.ok(await fresh.getSnapshot(base.id), 'the base is still there');
  for (let i = 0; i < 3; i++) assertState(await fresh.restoreSnapshot(deps[i]), states[i]);
  // An abort from the last fold's report (all folds done, nothing deleted yet) names every fold too.
  const late = new AbortController();
  await assert.rejects(manager.deleteSnapshot(base.id, { dependents: 'fold', signal: late.signal, onProgress: (p) => /folded/.test(p.message) && p.current >= 2 && late.abort() }), (err: unknown) => {
    assert.equal((err as { code?: string }).code, 'ABORTED');
    assert.match((err as Error).message, /nothing was deleted, but .* had already been rewritten as full/);
    return true;
  });
  assert.ok(await fresh.getSnapshot(base.id), 'the base is still there');
});

test('fold rewrites direct dependents as full snapshots holding the same state, then deletes the base', async () => {
  const { manager, store } = memoryManager();
  const { ids, states } = await chain(manager, 4);
  const r = await manager.deleteSnapshot(ids[1], { dependents: 'fold' });
  assert.deepEqual(r, { deleted: [ids[1]], folded: [ids[2]] });
  const folded = await manager.getSnapshot(ids[2]);
  assert.equal(folded?.type, 'full');
  assert.equal(folded?.foldedFrom, ids[1]);
  assert.equal(folded?.chainDepth, 0);
  assert.equal(folded?.name, 'c2');
  const fresh = new SnapshotManager({ store });
  assertState(await fresh.restoreSnapshot(ids[0]), states[0]);
  assertState(await fresh.restoreSnapshot(ids[2]), states[2]);
  assertState(await fresh.restoreSnapshot(ids[3]), states[3]);
  assert.equal(await fresh.verifySnapshot(ids[3]), true);
  // Only the new generation's files remain in the folded snapshot.
  assert.deepEqual((await store.list(`snapshot-${ids[2]}/`)).map((o) => o.key.split('/')[1]).sort(), ['checksum.g2.sha256', 'metadata.g2.bin.gz', 'metadata.json', 'vectors.g2.bin.gz']);
  // Folding again later (its base of the chain above) moves to generation 3.
  await manager.deleteSnapshot(ids[2], { dependents: 'fold' });
  assertState(await fresh.restoreSnapshot(ids[3]), states[3]);
  assert.ok((await store.list(`snapshot-${ids[3]}/`)).some((o) => o.key.endsWith('vectors.g2.bin.gz')));
});

test('cleanupOldSnapshots keeps the newest N plus the bases they need; prune honours pins, tags and dry runs', async () => {
  const { manager } = memoryManager();
  const db = smallDb(50, 8);
  const a = await manager.createSnapshot(db, 'a', undefined, { pinned: true });
  const b = await manager.createSnapshot(db, 'b', undefined, { tags: ['prod'] });
  const c = await manager.createSnapshot(db, 'c');
  await mutate(db, 5, 1, 60);
  const d = await manager.createIncrementalSnapshot(db, 'd', c.id);
  const e = await manager.createSnapshot(db, 'e');
  const dry = await manager.prune({ keepLast: 1 }, { dryRun: true });
  assert.equal(dry.dryRun, true);
  assert.deepEqual(dry.deleted, []);
  assert.deepEqual(dry.remove, [d.id, c.id, b.id]);
  assert.equal((await manager.listSnapshots()).length, 5);
  const withTags = await manager.prune({ keepLast: 1, keepTags: ['prod'] }, { dryRun: true });
  assert.ok(withTags.keep.includes(b.id) && withTags.keep.includes(a.id));
  assert.deepEqual(withTags.reasons[a.id], ['pinned']);
  // keepLast 2 keeps e and d, c because d needs it, and the pinned a; b goes.
  assert.equal(await manager.cleanupOldSnapshots(2), 1);
  assert.deepEqual((await manager.listSnapshots()).map((s) => s.id), [e.id, d.id, c.id, a.id]);
  await assert.rejects(manager.cleanupOldSnapshots(0), { code: 'INVALID_ARGUMENT' });
  const upd = await manager.updateSnapshot(a.id, { pinned: false, tags: ['old'], name: 'renamed', metadata: { why: 'test' } });
  assert.equal(upd.pinned, false);
  assert.equal((await manager.getSnapshot(a.id))?.name, 'renamed');
  assert.equal(await manager.cleanupOldSnapshots(1), 3);
  assert.deepEqual((await manager.listSnapshots()).map((s) => s.id), [e.id]);
});

test('garbage collection removes incomplete folders older than the grace period, never fresh ones', async () => {
  const { manager, store } = memoryManager({ gcGraceMs: 60_000 });
  const db = smallDb(20, 8);
  const ok = await manager.createSnapshot(db, 'ok');
  await store.put('snapshot-20200101T000000000Z-deadbeef/vectors.bin.gz', new Uint8Array([1, 2, 3]));
  await store.put(`snapshot-${ok.id}/vectors.g2.bin.gz`, new Uint8Array([9]));
  let gc = await manager.collectGarbage();
  assert.deepEqual(gc.incomplete, [], 'fresh leftovers are kept (another process may be writing them)');
  assert.deepEqual((await manager.catalog()).incomplete, ['20200101T000000000Z-deadbeef']);
  gc = await manager.collectGarbage(0);
  assert.deepEqual(gc.incomplete, ['20200101T000000000Z-deadbeef']);
  assert.deepEqual(gc.strayFiles, [`snapshot-${ok.id}/vectors.g2.bin.gz`]);
  assert.deepEqual((await manager.catalog()).incomplete, []);
  assert.equal(await manager.verifySnapshot(ok.id), true);
});

test('after a fold shortens a chain, the depth limit counts the chain as it is, not the depth recorded before the fold', async () => {
  const { manager } = memoryManager({ maxChainDepth: 2 });
  const db = smallDb(200, 8);
  const a = await manager.createSnapshot(db, 'a');
  await mutate(db, 20, 41, 300);
  const b = await manager.createIncrementalSnapshot(db, 'b', a.id);
  await mutate(db, 20, 42, 300);
  const c = await manager.createIncrementalSnapshot(db, 'c', b.id);
  assert.equal(c.type, 'incremental');
  // At the limit: one more link on c would be 3 deep, so it is taken as a full snapshot.
  await mutate(db, 5, 43, 300);
  const tooDeep = await manager.createIncrementalSnapshot(db, 'too deep', c.id);
  assert.equal(tooDeep.type, 'full');
  // Folding a makes b full: the chain of c is one link now, and an incremental on it stays incremental.
  await manager.deleteSnapshot(a.id, { dependents: 'fold' });
  await mutate(db, 5, 44, 300);
  const d = await manager.createIncrementalSnapshot(db, 'd', c.id);
  assert.equal(d.type, 'incremental');
  assert.equal(d.baseId, c.id);
  assert.equal(d.chainDepth, 2);
  assertState(await manager.restoreSnapshot(d.id), stateOf(db));
});

test('a manager reading a chain while another manager on the same store folds it restores and verifies it, never calling it damaged', async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (let trial = 0; trial < 3; trial++) {
      const db = smallDb(3000, 32, 'cosine', trial);
      const writer = new SnapshotManager({ snapshotDir: join(dir, `t${trial}`), compression: trial % 2 ? 'gzip' : 'none' });
      const reader = new SnapshotManager({ snapshotDir: join(dir, `t${trial}`) });
      const x = await writer.createSnapshot(db, 'x');
      await mutate(db, 800, 70 + trial, 5000);
      const y = await writer.createIncrementalSnapshot(db, 'y', x.id);
      const want = stateOf(db);
      let done = false;
      const fold = writer.deleteSnapshot(x.id, { dependents: 'fold' }).finally(() => {
        done = true;
      });
      const problems: string[] = [];
      let reads = 0;
      while (!done) {
        await Promise.all([
          reader.restoreSnapshot(y.id).then((got) => assertState(got, want, `trial ${trial}`), (e: unknown) => void problems.push(`restore: ${String(e)}`)),
          reader.verifySnapshotReport(y.id).then((r) => {
            if (!r.ok) problems.push(`verify: ${JSON.stringify(r.files.filter((f) => !f.ok))}`);
          }, (e: unknown) => void problems.push(`verify: ${String(e)}`)),
        ]);
        reads++;
      }
      assert.deepEqual(await fold, { deleted: [x.id], folded: [y.id] });
      assert.deepEqual(problems, [], `trial ${trial} (${reads} rounds of reads)`);
      assertState(await reader.restoreSnapshot(y.id), want);
    }
  } finally {
    cleanup();
  }
});

test('prune deletes the links of a chain newest link first even when the clock made a later link look older', async () => {
  const { manager, store } = memoryManager();
  const db = smallDb(30);
  const full = await manager.createSnapshot(db, 'full');
  await db.insert({ id: 'x1', vector: new Float32Array(16).fill(1) });
  const inc1 = await manager.createIncrementalSnapshot(db, 'inc1', full.id);
  await db.insert({ id: 'x2', vector: new Float32Array(16).fill(2) });
  const inc2 = await manager.createIncrementalSnapshot(db, 'inc2', inc1.id);
  // The clock was set back an hour before the second incremental was taken.
  const key = snapshotKey(inc2.id, MANIFEST_NAME);
  const m = decodeManifest(await store.get(key), key);
  await store.put(key, encodeManifest({ ...m, createdAt: m.createdAt - 3_600_000 }));
  await manager.createSnapshot(db, 'newest');
  const order: string[] = [];
  const deleteObject = store.delete.bind(store);
  store.delete = async (k: string) => {
    order.push(k);
    return deleteObject(k);
  };
  const r = await manager.prune({ keepLast: 1 });
  assert.deepEqual([...r.deleted].sort(), [full.id, inc1.id, inc2.id].sort());
  const manifests = [inc2.id, inc1.id, full.id].map((id) => snapshotKey(id, MANIFEST_NAME));
  assert.deepEqual(order.filter((k) => manifests.includes(k)), manifests, 'dependents before their bases');
});

test('garbage collection dates a folder by the files still being written in it: another process\'s slow create survives', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { mkdirSync } = await import('node:fs');
    const id = '20200101T000000000Z-0badcafe';
    const folder = join(dir, `snapshot-${id}`);
    mkdirSync(folder, { recursive: true });
    // Its vectors file was published an hour ago; its records file is still streaming into a temp file.
    writeFileSync(join(folder, 'vectors.bin'), Buffer.from([1, 2, 3]));
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(folder, 'vectors.bin'), hourAgo, hourAgo);
    writeFileSync(join(folder, `.metadata.bin.p1s1-0123456789ab.quiver-tmp`), Buffer.from([4, 5]));
    const manager = new SnapshotManager({ snapshotDir: dir, gcGraceMs: 60_000 });
    const gc = await manager.collectGarbage();
    assert.deepEqual(gc.incomplete, [], 'a folder with a fresh file in progress is not garbage');
    // Once nothing in it has moved for longer than the grace period, it is.
    utimesSync(join(folder, '.metadata.bin.p1s1-0123456789ab.quiver-tmp'), hourAgo, hourAgo);
    assert.deepEqual((await manager.collectGarbage()).incomplete, [id]);
  } finally {
    cleanup();
  }
});

/** A complete snapshot on disk whose folder also holds a fold's new vectors file, published an hour ago. */
async function foldUnderWay(dir: string): Promise<{ manager: SnapshotManager; s: SnapshotInfo; folder: string; hourAgo: Date }> {
  const manager = new SnapshotManager({ snapshotDir: dir, gcGraceMs: 60_000 });
  const s = await manager.createSnapshot(smallDb(20, 8), 's');
  const folder = join(dir, `snapshot-${s.id}`);
  writeFileSync(join(folder, 'vectors.g2.bin'), Buffer.from([1, 2, 3]));
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(join(folder, 'vectors.g2.bin'), hourAgo, hourAgo);
  return { manager, s, folder, hourAgo };
}

test('garbage collection leaves the unreferenced files of a fold another process is still writing', async () => {
  const { dir, cleanup } = tempDir();
  try {
    // The fold published its new vectors file an hour ago and is still streaming its records file.
    const { manager, s, folder, hourAgo } = await foldUnderWay(dir);
    writeFileSync(join(folder, '.metadata.g2.bin.p1s1-0123456789ab.quiver-tmp'), Buffer.from([4]));
    assert.deepEqual((await manager.collectGarbage()).strayFiles, []);
    utimesSync(join(folder, '.metadata.g2.bin.p1s1-0123456789ab.quiver-tmp'), hourAgo, hourAgo);
    assert.deepEqual((await manager.collectGarbage()).strayFiles, [`snapshot-${s.id}/vectors.g2.bin`]);
    assert.equal(await manager.verifySnapshot(s.id), true);
  } finally {
    cleanup();
  }
});

test('garbage collection leaves a fold\'s published new files while any of them is recent: they go together, dated by the newest', async () => {
  const { dir, cleanup } = tempDir();
  try {
    // Between two of the fold's puts: its vectors file went up an hour ago, its records file just now,
    // and its checksum file and record are still to come.
    const { manager, s, folder, hourAgo } = await foldUnderWay(dir);
    writeFileSync(join(folder, 'metadata.g2.bin'), Buffer.from([4]));
    assert.deepEqual((await manager.collectGarbage()).strayFiles, [], 'nothing of a fold in progress is removed');
    utimesSync(join(folder, 'metadata.g2.bin'), hourAgo, hourAgo);
    assert.deepEqual((await manager.collectGarbage()).strayFiles.sort(), [`snapshot-${s.id}/metadata.g2.bin`, `snapshot-${s.id}/vectors.g2.bin`]);
    assert.equal(await manager.verifySnapshot(s.id), true);
  } finally {
    cleanup();
  }
});

test('a damaged snapshot keeps the base it may need: prune keeps it and deleting it is refused, so mending the damage restores', async () => {
  const { manager, store } = memoryManager();
  const db = smallDb(50, 8);
  const base = await manager.createSnapshot(db, 'base');
  await mutate(db, 10, 91, 100);
  const inc = await manager.createIncrementalSnapshot(db, 'inc', base.id);
  const incState = stateOf(db);
  const newer = await manager.createSnapshot(db, 'newer');
  const key = `snapshot-${inc.id}/metadata.json`;
  // One byte of the incremental's metadata.json changes at rest; its baseId is still legible.
  store.corrupt(key, (d) => Buffer.from(Buffer.from(d).toString().replace('"name": "inc"', '"name": "inC"')));
  assert.deepEqual((await manager.catalog()).damaged.map((d) => d.id), [inc.id]);
  const r = await manager.prune({ keepLast: 1 });
  assert.deepEqual(r.deleted, []);
  assert.deepEqual(r.keep, [newer.id, base.id]);
  assert.deepEqual(r.reasons[base.id], ['base of damaged']);
  await assert.rejects(manager.deleteSnapshot(base.id, { dependents: 'cascade' }), (err: unknown) => {
    assert.equal((err as { code?: string }).code, 'BUSY');
    assert.match((err as Error).message, new RegExp(`base of damaged snapshot\\(s\\) ${inc.id}`));
    return true;
  });
  store.corrupt(key, (d) => Buffer.from(Buffer.from(d).toString().replace('"name": "inC"', '"name": "inc"')));
  assertState(await manager.restoreSnapshot(inc.id), incState);
  // A damaged full snapshot needs no base; one whose text tells nothing keeps every older snapshot.
  store.corrupt(`snapshot-${newer.id}/metadata.json`, (d) => Buffer.from(Buffer.from(d).toString().replace('"name": "newer"', '"name": "neweR"')));
  const latest = await manager.createSnapshot(db, 'latest');
  assert.deepEqual((await manager.prune({ keepLast: 1 }, { dryRun: true })).remove, [inc.id, base.id]);
  store.corrupt(`snapshot-${newer.id}/metadata.json`, (d) => new Uint8Array(d.length).fill(0x7b));
  const blind = await manager.prune({ keepLast: 1 }, { dryRun: true });
  assert.deepEqual(blind.remove, []);
  assert.deepEqual(blind.keep, [latest.id, inc.id, base.id]);
});

test('a restore or verify read again because another manager folded its chain meanwhile reports progress that never goes back', async () => {
  for (const op of ['restore', 'restoreInto', 'verify'] as const) {
    let fold: (() => Promise<unknown>) | undefined;
    // The second read of a vectors file (after the first one's progress) waits for the other manager's
    // fold, which rewrites the chain.
    let vectorReads = 0;
    class FoldingStore extends MemorySnapshotStore {
      override async *read(key: string, options?: StoreReadOptions): AsyncGenerator<Uint8Array> {
        const run = key.includes('vectors') && ++vectorReads === 2 ? fold : undefined;
        if (run) {
          fold = undefined;
          await run();
        }
        yield* super.read(key, options);
      }
    }
    const store = new FoldingStore();
    Object.assign(store, { readInto: undefined });
    const reader = new SnapshotManager({ store, compression: 'none', maxConcurrentIo: 1 });
    const writer = new SnapshotManager({ store, compression: 'none' });
    const db = smallDb(400, 16);
    const base = await writer.createSnapshot(db, 'base');
    await mutate(db, 100, 5, 500);
    const inc = await writer.createIncrementalSnapshot(db, 'inc', base.id);
    const want = stateOf(db);
    let folded = false;
    fold = async () => {
      await writer.deleteSnapshot(base.id, { dependents: 'fold' });
      folded = true;
    };
    const seen: number[] = [];
    const counts: [number, number][] = [];
    const onProgress = (p: { percentage: number; current: number; total: number }): void => {
      seen.push(p.percentage);
      counts.push([p.current, p.total]);
    };
    if (op === 'restore') assertState(await reader.restoreSnapshot(inc.id, { onProgress }), want);
    else if (op === 'restoreInto') {
      const into = smallDb(1, 16);
      await reader.restoreSnapshotInto(inc.id, into, { onProgress });
      assertState(into, want);
    } else assert.equal((await reader.verifySnapshotReport(inc.id, { onProgress })).ok, true);
    assert.ok(folded, `${op}: the chain was rewritten during the first read`);
    assert.ok(seen.some((p) => p > 0 && p < 100), `${op}: the first read reported progress before it was redone`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], `${op}: progress went back from ${seen[i - 1]} to ${seen[i]} (${seen.join(' ')})`);
    assert.equal(seen.at(-1), 100, op);
    assert.equal(seen.filter((p) => p === 100).length, 1, op);
    assert.ok(counts.every(([current, total]) => Number.isInteger(current) && Number.isInteger(total) && total > 1), `${op}: reports count entries or bytes, not fractions (${JSON.stringify(counts.slice(0, 3))})`);
  }
});
