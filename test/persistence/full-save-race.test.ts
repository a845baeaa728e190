// Two writers whose full saves to one path race: the later rename wins the name. The earlier writer
// must not take the winner's file for its own base (by looking at the name after the race): its next
// incremental save would then extend a chain no load follows (the delta names its own base's checksum),
// and resolve, losing those changes silently. It must see that its base was replaced: BUSY.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { QuiverError } from '../../src/errors.js';

const BASE = '/data/db.qvdb';

function writer(fs: MemoryFileSystem, tag: string): { db: VectorDB; p: DatabasePersistence } {
  const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
  for (let i = 0; i < 40; i++) void db.insert({ id: `${tag}-${i}`, vector: [i, 1, 2, 3] });
  return { db, p: new DatabasePersistence(db, { baseDir: '/data', fs }) };
}

/**
 * `mem` for one writer, with the function given to `setInterleave` run once, after that writer's file is
 * published at BASE and before its cleanup lists the directory (its first readdir after the rename).
 */
function afterPublish(mem: MemoryFileSystem): { fs: MemoryFileSystem; setInterleave: (f: () => Promise<void>) => void; ran: () => boolean } {
  let interleave: (() => Promise<void>) | undefined;
  let published = false;
  let done = false;
  const fs = new Proxy(mem, {
    get(target, prop, receiver) {
      if (prop === 'rename') {
        return async (from: string, to: string) => {
          await target.rename(from, to);
          if (to === BASE) published = true;
        };
      }
      if (prop === 'readdir') {
        return async (dir: string) => {
          const run = published ? interleave : undefined;
          if (run) {
            interleave = undefined;
            await run();
            done = true;
          }
          return target.readdir(dir);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    fs,
    setInterleave: (f) => {
      interleave = f;
    },
    ran: () => done,
  };
}

test('full saves racing for one path: an incremental save after it either extends the file loads read, or fails with BUSY', async () => {
  for (let round = 0; round < 20; round++) {
    const fs = new MemoryFileSystem();
    const a = writer(fs, 'a');
    const b = writer(fs, 'b');
    await Promise.all([a.p.save({ path: BASE }), b.p.save({ path: BASE })]);
    void a.db.insert({ id: 'late-a', vector: [1, 0, 0, 0] });
    void b.db.insert({ id: 'late-b', vector: [0, 1, 0, 0] });
    const results = await Promise.allSettled([a.p.saveIncremental(), b.p.saveIncremental()]);
    const back = new VectorDB({ dimension: 4, metric: 'euclidean' });
    await new DatabasePersistence(back, { baseDir: '/data', fs }).load({ path: BASE });
    results.forEach((r, i) => {
      const id = i === 0 ? 'late-a' : 'late-b';
      if (r.status === 'fulfilled') assert.ok(back.get(id), `round ${round}: ${id}'s incremental save resolved, so a load must have it`);
      else assert.ok(r.reason instanceof QuiverError && r.reason.code === 'BUSY', String(r.reason));
    });
  }
});

test('the cleanup of a full save whose file another writer replaced meanwhile leaves that writer\'s deltas alone', async () => {
  const mem = new MemoryFileSystem();
  const b = writer(mem, 'b');
  // A's file system runs B's full save and incremental save after A's file is published, just before
  // A's cleanup lists the directory.
  const { fs: aFs, setInterleave, ran } = afterPublish(mem);
  const adb = new VectorDB({ dimension: 4, metric: 'euclidean' });
  for (let i = 0; i < 40; i++) void adb.insert({ id: `a-${i}`, vector: [i, 1, 2, 3] });
  const a = new DatabasePersistence(adb, { baseDir: '/data', fs: aFs });
  await mem.mkdir('/data', { recursive: true });
  await b.p.save({ path: BASE });
  setInterleave(async () => {
    await b.p.save({ path: BASE });
    void b.db.insert({ id: 'late-b', vector: [0, 1, 0, 0] });
    assert.equal(await b.p.saveIncremental(), `${BASE}.delta-000001`);
  });
  await a.save({ path: BASE });
  assert.ok(ran(), 'B ran inside A\'s save');
  const back = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await new DatabasePersistence(back, { baseDir: '/data', fs: mem }).load({ path: BASE });
  assert.ok(back.get('late-b'), 'B\'s acknowledged delta is still there');
  void adb.insert({ id: 'late-a', vector: [1, 0, 0, 0] });
  await assert.rejects(a.saveIncremental(), (e: unknown) => e instanceof QuiverError && e.code === 'BUSY');
});

test('a writer that loads a freshly published base and saves its delta 1 before that save\'s cleanup keeps its delta', async () => {
  const mem = new MemoryFileSystem();
  await mem.mkdir('/data', { recursive: true });
  // An old chain: base and delta 1, which the full save below makes obsolete.
  const w = writer(mem, 'w');
  await w.p.save({ path: BASE });
  void w.db.insert({ id: 'old', vector: [1, 1, 0, 0] });
  await w.p.saveIncremental();
  const { fs: xFs, setInterleave, ran } = afterPublish(mem);
  const xdb = new VectorDB({ dimension: 4, metric: 'euclidean' });
  for (let i = 0; i < 40; i++) void xdb.insert({ id: `x-${i}`, vector: [i, 1, 2, 3] });
  const x = new DatabasePersistence(xdb, { baseDir: '/data', fs: xFs });
  // Y loads X's new base as soon as it is published, and saves a delta on it, before X's cleanup lists.
  setInterleave(async () => {
    const y = new VectorDB({ dimension: 4, metric: 'euclidean' });
    const py = new DatabasePersistence(y, { baseDir: '/data', fs: mem });
    await py.load({ path: BASE });
    void y.insert({ id: 'from-y', vector: [0, 1, 0, 0] });
    assert.equal(await py.saveIncremental(), `${BASE}.delta-000001`);
  });
  await x.save({ path: BASE });
  assert.ok(ran(), 'Y ran inside X\'s save');
  const back = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await new DatabasePersistence(back, { baseDir: '/data', fs: mem }).load({ path: BASE });
  assert.ok(back.get('from-y'), 'Y\'s acknowledged delta is still there');
  assert.ok(back.get('x-0'));
});
