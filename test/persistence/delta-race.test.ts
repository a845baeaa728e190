// Two writers on one delta chain (two instances, or two processes, on the same files) that save
// incrementally at the same moment: both pass the check that the next delta is free, then both publish
// it. A delta never replaces a file, so one of them fails with BUSY and publishes nothing, instead of
// silently replacing the other's acknowledged delta.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { QuiverError } from '../../src/errors.js';
import type { FileSystem } from '../../src/env/fs.js';
import { patchingHandles } from '../support/handle-hooks.js';
import { settleRetired, TEMP_SUFFIX } from '../../src/env/temp-files.js';
import { change, DIM, N } from './delta-fixtures.js';

const BASE = '/data/db.qvdb';

async function writer(fs: MemoryFileSystem): Promise<{ db: VectorDB; p: DatabasePersistence }> {
  const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
  const p = new DatabasePersistence(db, { baseDir: '/data', fs });
  await p.load({ path: BASE });
  return { db, p };
}

/** A base of 50 entries on a fresh file system and two writers that loaded it. */
async function twoWriters(): Promise<{ fs: MemoryFileSystem; a: { db: VectorDB; p: DatabasePersistence }; b: { db: VectorDB; p: DatabasePersistence } }> {
  const fs = new MemoryFileSystem();
  const first = new VectorDB({ dimension: 4, metric: 'euclidean' });
  for (let i = 0; i < 50; i++) void first.insert({ id: `doc-${i}`, vector: [i, 1, 2, 3] });
  await new DatabasePersistence(first, { baseDir: '/data', fs }).save({ path: BASE });
  return { fs, a: await writer(fs), b: await writer(fs) };
}

/**
 * A base whose delta 1 is a leftover of an older base (as after a crash between a full save and its
 * cleanup): a first base and its delta 1, then a new base, then that delta put back.
 */
async function withLeftover(): Promise<{ mem: MemoryFileSystem; d1: string; leftover: Uint8Array }> {
  const mem = new MemoryFileSystem();
  const d1 = `${BASE}.delta-000001`;
  const w = new VectorDB({ dimension: 4, metric: 'euclidean' });
  for (let i = 0; i < 50; i++) void w.insert({ id: `doc-${i}`, vector: [i, 1, 2, 3] });
  const pw = new DatabasePersistence(w, { baseDir: '/data', fs: mem, incremental: true });
  await pw.save({ path: BASE });
  void w.insert({ id: 'old', vector: [1, 1, 0, 0] });
  await pw.saveIncremental();
  const leftover = mem.readFileSync(d1);
  await pw.save({ path: BASE });
  mem.writeFileSync(d1, leftover);
  return { mem, d1, leftover };
}

test('two writers saving the same next delta at once: one succeeds, the other gets BUSY, and the chain loads with the winner\'s changes', async () => {
  for (let round = 0; round < 20; round++) {
    const { fs, a, b } = await twoWriters();
    void a.db.insert({ id: 'from-a', vector: [1, 0, 0, 0] });
    void b.db.insert({ id: 'from-b', vector: [0, 1, 0, 0] });
    const [ra, rb] = await Promise.allSettled([a.p.saveIncremental(), b.p.saveIncremental()]);
    const won = [ra, rb].filter((r) => r.status === 'fulfilled');
    const lost = [ra, rb].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1, `round ${round}: exactly one delta is acknowledged`);
    assert.ok(lost[0].reason instanceof QuiverError && lost[0].reason.code === 'BUSY', String(lost[0].reason));
    const winner = ra.status === 'fulfilled' ? 'from-a' : 'from-b';
    const loser = winner === 'from-a' ? 'from-b' : 'from-a';
    const back = new VectorDB({ dimension: 4, metric: 'euclidean' });
    await new DatabasePersistence(back, { baseDir: '/data', fs }).load({ path: BASE });
    assert.equal(back.len(), 51);
    assert.deepEqual([back.get(winner)?.id, back.get(loser)?.id, ra.status], [winner, undefined, ra.status], JSON.stringify([...back].map((e) => e.id).slice(-3)));
    // No temp file of the losing save is left behind.
    assert.deepEqual((await fs.readdir('/data')).filter((n) => n.endsWith('.quiver-tmp')), []);
  }
});

test('a load recovering a dead writer\'s delta from its temp name never replaces one a running writer published meanwhile', async () => {
  const mem = new MemoryFileSystem();
  const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
  for (let i = 0; i < 50; i++) void db.insert({ id: `doc-${i}`, vector: [i, 1, 2, 3] });
  const p = new DatabasePersistence(db, { baseDir: '/data', fs: mem, incremental: true });
  await p.save({ path: BASE });
  void db.insert({ id: 'one', vector: [1, 0, 0, 0] });
  await p.saveIncremental();
  void db.insert({ id: 'two', vector: [0, 1, 0, 0] });
  const d2 = await p.saveIncremental();
  assert.equal(d2, `${BASE}.delta-000002`);
  const bytes2 = mem.readFileSync(d2);
  // Delta 2 only under a temp name of a writer that is gone (no pid in it: judged by its age).
  const temp = `/data/.db.qvdb.delta-000002.00000000abcd.quiver-tmp`;
  await mem.rename(d2, temp);
  // Just as the load names it, a running writer publishes delta 2 itself.
  let published = false;
  const fs = new FaultFileSystem(mem, {
    beforeOp: (op) => {
      if ((op.kind === 'link' || op.kind === 'rename') && op.path === temp && !published) {
        published = true;
        mem.writeFileSync(d2, bytes2);
      }
    },
  });
  const back = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await new DatabasePersistence(back, { baseDir: '/data', fs }).load({ path: BASE });
  assert.ok(published, 'the load tried to name the temp');
  assert.equal(back.len(), 52);
  assert.ok(back.get('two'));
  // The writer's file was kept (the load's link failed and it read the chain again), and the temp is
  // still there (the next full save removes it).
  assert.ok((await mem.readdir('/data')).includes('.db.qvdb.delta-000002.00000000abcd.quiver-tmp'));
});

test('on a file system without hard links (link fails with EPERM) deltas are published by rename, and chains save and load', async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  fs.failAt(1, 'EPERM', { mode: 'persistent', kinds: ['link'] });
  const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
  for (let i = 0; i < 50; i++) void db.insert({ id: `doc-${i}`, vector: [i, 1, 2, 3] });
  const p = new DatabasePersistence(db, { baseDir: '/data', fs, incremental: true });
  await p.save({ path: BASE });
  for (let k = 1; k <= 3; k++) {
    void db.insert({ id: `late-${k}`, vector: [k, 0, 0, 0] });
    assert.equal(await p.saveIncremental(), `${BASE}.delta-00000${k}`);
  }
  assert.ok(fs.ops.some((o) => o.kind === 'link' && o.failed === 'EPERM'));
  const back = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await new DatabasePersistence(back, { baseDir: '/data', fs: mem }).load({ path: BASE });
  assert.equal(back.len(), 53);
  assert.deepEqual((await mem.readdir('/data')).filter((n) => n.endsWith('.quiver-tmp')), []);
});

test('a leftover of an older base that another writer replaces with its own delta while a load reads it is not taken for the leftover', async () => {
  const { mem, d1, leftover } = await withLeftover();
  // B's delta 1 of the new base (made once, then the leftover put back in its place).
  const b = await writer(mem);
  void b.db.insert({ id: 'from-b', vector: [0, 1, 0, 0] });
  assert.equal(await b.p.saveIncremental(), d1);
  const fromB = mem.readFileSync(d1);
  await mem.rm(d1);
  mem.writeFileSync(d1, leftover);
  // A's load: just after it has read the leftover, B publishes its delta 1 in the leftover's place.
  let opened = false;
  let replaced = false;
  const fs = new Proxy(mem, {
    get(target, prop, receiver) {
      if (prop === 'open') {
        return async (path: string, ...rest: unknown[]) => {
          if (path === d1) opened = true;
          return (target.open as (...a: unknown[]) => unknown)(path, ...rest);
        };
      }
      if (prop === 'stat') {
        return async (path: string) => {
          if (path === d1 && opened && !replaced) {
            replaced = true;
            await target.rm(d1);
            target.writeFileSync(d1, fromB);
          }
          return target.stat(path);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
  const adb = new VectorDB({ dimension: 4, metric: 'euclidean' });
  const a = new DatabasePersistence(adb, { baseDir: '/data', fs, incremental: true });
  await a.load({ path: BASE });
  assert.ok(replaced, 'B published during A\'s load');
  void adb.insert({ id: 'from-a', vector: [1, 0, 0, 0] });
  await assert.rejects(a.saveIncremental(), (e: unknown) => e instanceof QuiverError && e.code === 'BUSY');
  assert.ok(Buffer.from(mem.readFileSync(d1)).equals(Buffer.from(fromB)), 'B\'s acknowledged delta is still there');
});

test('two writers removing the same leftover of an older base before their delta 1: one removes it, neither removes the other\'s delta', async () => {
  const { mem, d1 } = await withLeftover();
  const b = await writer(mem);
  // A removes the leftover (by rename or rm) only after B has removed it and published its own delta 1.
  let run: (() => Promise<unknown>) | undefined = () => b.p.saveIncremental();
  const intercepted = (name: 'rename' | 'rm', target: MemoryFileSystem) => async (path: string, ...rest: unknown[]) => {
    const go = path === d1 ? run : undefined;
    if (go) {
      run = undefined;
      await go();
    }
    return (target[name] as (...a: unknown[]) => Promise<unknown>).call(target, path, ...rest);
  };
  const fs = new Proxy(mem, {
    get(target, prop, receiver) {
      if (prop === 'rename' || prop === 'rm') return intercepted(prop, target);
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
  const adb = new VectorDB({ dimension: 4, metric: 'euclidean' });
  const a = new DatabasePersistence(adb, { baseDir: '/data', fs, incremental: true });
  await a.load({ path: BASE });
  void adb.insert({ id: 'from-a', vector: [1, 0, 0, 0] });
  void b.db.insert({ id: 'from-b', vector: [0, 1, 0, 0] });
  await assert.rejects(a.saveIncremental(), (e: unknown) => e instanceof QuiverError && e.code === 'BUSY');
  assert.equal(run, undefined, 'B saved while A removed the leftover');
  const back = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await new DatabasePersistence(back, { baseDir: '/data', fs: mem }).load({ path: BASE });
  assert.ok(back.get('from-b'), 'B\'s acknowledged delta is there');
  assert.equal(back.get('from-a'), null);
});

/** `inner` with `stat` of `held` waiting for `release()` while `holding`, and the paths written to recorded. */
function gatedStat(inner: MemoryFileSystem, held: string): { fs: FileSystem; written: string[]; hold(): void; release(): void; waiting(): boolean } {
  let holding = false;
  let waiters: (() => void)[] = [];
  const written: string[] = [];
  const fs = new Proxy(patchingHandles(inner, (h, path) => {
    const write = h.write.bind(h);
    h.write = (data, position) => {
      written.push(path);
      return write(data, position);
    };
  }), {
    get(target, prop, receiver) {
      if (prop !== 'stat') return Reflect.get(target, prop, receiver) as unknown;
      return async (path: string) => {
        if (holding && path === held) await new Promise<void>((res) => waiters.push(res));
        return target.stat(path);
      };
    },
  });
  return {
    fs,
    written,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const w of waiters.splice(0)) w();
      waiters = [];
    },
    waiting: () => waiters.length > 0,
  };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise<void>((res) => setImmediate(res));
  assert.ok(cond(), `timed out waiting until ${what}`);
}

for (const format of ['binary', 'json'] as const) {
  test(`${format}: an incremental save writes its delta while the check of its chain is in flight, and publishes it only once that check has passed`, async () => {
    const mem = new MemoryFileSystem();
    const gate = gatedStat(mem, BASE);
    const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
    for (let i = 0; i < 50; i++) void db.insert({ id: `doc-${i}`, vector: [i, 1, 2, 3] });
    const p = new DatabasePersistence(db, { baseDir: '/data', fs: gate.fs, format });
    await p.save({ path: BASE });
    const d1 = `${BASE}.delta-000001`;

    void db.insert({ id: 'one', vector: [1, 0, 0, 0] });
    gate.written.length = 0;
    gate.hold();
    const saving = p.saveIncremental();
    await until('the check waits for the stat of the base', gate.waiting);
    await until('the delta is written', () => gate.written.some((w) => w.includes('.delta-000001')));
    await new Promise((res) => setTimeout(res, 20));
    await assert.rejects(mem.stat(d1), (e: NodeJS.ErrnoException) => e.code === 'ENOENT', 'not published before the check passed');
    gate.release();
    assert.equal(await saving, d1);
    const back = new VectorDB({ dimension: 4, metric: 'euclidean' });
    await new DatabasePersistence(back, { baseDir: '/data', fs: mem }).load({ path: BASE });
    assert.deepEqual(back.get('one')?.vector, new Float32Array([1, 0, 0, 0]));

    // Another writer publishes delta 2 while this save's check waits: this one is refused, the other's
    // file stays, and no temp file is left.
    void db.insert({ id: 'two', vector: [0, 1, 0, 0] });
    const d2 = `${BASE}.delta-000002`;
    gate.hold();
    const refused = p.saveIncremental();
    await until('the check waits again', gate.waiting);
    await until('the second delta is written', () => gate.written.some((w) => w.includes('.delta-000002')));
    const theirs = new TextEncoder().encode('another writer');
    mem.writeFileSync(d2, theirs);
    gate.release();
    await assert.rejects(refused, (e: unknown) => e instanceof QuiverError && e.code === 'BUSY' && /nothing was saved/.test(e.message));
    assert.deepEqual(mem.readFileSync(d2), theirs);
    assert.deepEqual((await mem.readdir('/data')).filter((n) => n.endsWith('.quiver-tmp')), []);
  });
}

test('a save refused by its chain check after its write failed too reports BUSY, and the next one stays refused instead of writing over the other writer\'s delta', async () => {
  const { fs, a, b } = await twoWriters();
  void b.db.insert({ id: 'from-b', vector: [0, 1, 0, 0] });
  assert.equal(await b.p.saveIncremental(), `${BASE}.delta-000001`);
  void a.db.insert({ id: 'from-a', vector: [1, 0, 0, 0] });
  const aborted = AbortSignal.abort();
  await assert.rejects(a.p.saveIncremental({ signal: aborted }), (e: unknown) => e instanceof QuiverError && e.code === 'BUSY');
  await assert.rejects(a.p.saveIncremental(), (e: unknown) => e instanceof QuiverError && e.code === 'BUSY', 'still refused: not a full save over the chain');
  const back = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await new DatabasePersistence(back, { baseDir: '/data', fs }).load({ path: BASE });
  assert.ok(back.has('from-b'), "the other writer's delta is still there");
});

test('a delta written over its prepared spare and then refused by the chain check is removed durably: a power cut brings no temp file back', async () => {
  const mem = new MemoryFileSystem();
  await mem.mkdir('/data', { recursive: true });
  const db = new VectorDB({ dimension: DIM, metric: 'euclidean' });
  change(db, N * 2, 1);
  const p = new DatabasePersistence(db, { baseDir: '/data', fs: mem });
  const base = await p.save();
  change(db, 800, 2);
  assert.ok(await p.saveIncremental());
  await settleRetired();
  const temps = async (): Promise<string[]> => (await mem.readdir('/data')).filter((n) => n.endsWith(TEMP_SUFFIX));
  assert.equal((await temps()).length, 1, 'the spare of delta 2 is ready');
  // Another writer's delta 2 appears (durably) before this writer's next save.
  mem.writeFileSync(`${base}.delta-000002`, new TextEncoder().encode('another writer'));
  await mem.syncDir('/data');
  change(db, 800, 3);
  await assert.rejects(p.saveIncremental(), (e: unknown) => e instanceof QuiverError && e.code === 'BUSY');
  assert.deepEqual(await temps(), []);
  mem.crash();
  assert.deepEqual(await temps(), [], 'after a power cut too');
});
