import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VectorDB } from '../../src/engine/vector-db.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import type { SnapshotInfo } from '../../src/snapshot/types.js';
import { MemorySnapshotStore } from '../../src/storage/memory-store.js';
import type { PutResult, StoreBody, StoreOpOptions } from '../../src/storage/store.js';
import { memoryManager, smallDb } from './helpers.js';
import type { LongTimer } from '../../src/util/long-timer.js';
import { capturing } from '../support/warnings.js';

/** A memory store whose puts take `delayMs` and can be made to fail; counts concurrent puts. */
class SlowStore extends MemorySnapshotStore {
  active = 0;
  maxActive = 0;
  failPuts = false;
  constructor(private readonly delayMs: number) {
    super();
  }
  override async put(key: string, body: StoreBody, options?: StoreOpOptions): Promise<PutResult> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.failPuts) throw Object.assign(new Error('simulated EIO'), { code: 'EIO' });
      return await super.put(key, body, options);
    } finally {
      this.active--;
    }
  }
}

/** Schedules unref their timers, so tests hold the event loop open themselves while they wait. */
async function keepAlive(fn: () => Promise<void>): Promise<void> {
  const keep = setInterval(() => undefined, 1000);
  try {
    await fn();
  } finally {
    clearInterval(keep);
  }
}

test('a schedule takes snapshots on its period, builds incremental chains, applies retention, and stops cleanly', () => keepAlive(async () => {
  const { manager } = memoryManager({ maxChainDepth: 2 });
  const db = smallDb(50, 8);
  const taken: SnapshotInfo[] = [];
  const s = manager.schedule({ db, every: 25, incremental: true, retention: { keepLast: 3 }, name: (d) => `auto ${d.getTime()}`, tags: ['auto'] });
  s.on('snapshot', (info: SnapshotInfo) => {
    taken.push(info);
    void db.insert({ id: `tick-${taken.length}`, vector: new Float32Array(8).fill(taken.length) });
  });
  assert.equal((s as unknown as { timer?: LongTimer }).timer?.hasRef(), false, 'the timer is unref\'d');
  while (taken.length < 6) await once(s, 'snapshot');
  await s.stop();
  const count = taken.length;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(taken.length, count, 'no run after stop()');
  assert.deepEqual(taken.map((t) => t.type).slice(0, 4), ['full', 'incremental', 'incremental', 'full']);
  assert.equal(taken[1].baseId, taken[0].id);
  assert.ok(taken.every((t) => t.tags.includes('auto') && t.name.startsWith('auto ')));
  const left = await manager.listSnapshots();
  assert.ok(left.length <= 4, `retention kept ${left.length}`);
  assert.equal(left[0].id, taken.at(-1)?.id);
  for (const l of left) assert.equal(await manager.verifySnapshot(l.id), true);
}));

test('runs never overlap: a slow run makes the schedule skip periods instead of queueing them', () => keepAlive(async () => {
  const store = new SlowStore(15);
  const manager = new SnapshotManager({ store, maxConcurrentIo: 1 });
  const db = smallDb(20, 4);
  const s = manager.schedule({ db, every: 10, immediate: true });
  let skipped = 0;
  s.on('skipped', (e: { periods: number }) => (skipped += e.periods));
  let runs = 0;
  s.on('snapshot', () => runs++);
  while (runs < 3) await once(s, 'snapshot');
  const joined = await Promise.all([s.runNow(), s.runNow()]);
  assert.equal(joined[0]?.id, joined[1]?.id, 'runNow during a run joins it');
  await s.stop();
  assert.equal(store.maxActive, 1, 'one put at a time: runs never overlapped');
  assert.ok(skipped > 0, 'periods overrun were reported as skipped');
}));

test('the period is measured on the monotonic clock: a wall clock set back an hour during a run does not delay the next one', () => keepAlive(async () => {
  const { manager } = memoryManager();
  const db = smallDb(20, 4);
  const realNow = Date.now;
  const s = manager.schedule({ db, every: 30, immediate: true });
  let runs = 0;
  s.on('snapshot', () => {
    runs++;
    // The wall clock goes back an hour once the first run is under way (its end is measured after it).
    if (runs === 1) Date.now = () => realNow.call(Date) - 3_600_000;
  });
  try {
    const t0 = performance.now();
    while (runs < 3) await Promise.race([once(s, 'snapshot'), new Promise((r) => setTimeout(r, 3000))]).then(() => assert.ok(performance.now() - t0 < 3000, `only ${runs} runs in 3 s`));
  } finally {
    Date.now = realNow;
    await s.stop();
  }
}));

test('failures are events (or process warnings without a listener), never crashes; the schedule keeps going', () => keepAlive(async () => {
  const store = new SlowStore(1);
  const manager = new SnapshotManager({ store });
  const db = smallDb(10, 4);
  store.failPuts = true;
  const s = manager.schedule({ db, every: 10, immediate: true });
  const [err] = (await once(s, 'error')) as [Error];
  assert.match(err.message, /EIO|simulated/);
  s.removeAllListeners('error');
  const [warning] = (await once(process, 'warning')) as [Error & { code?: string }];
  assert.equal(warning.code, 'QUIVER_SCHEDULE');
  store.failPuts = false;
  const [info] = (await once(s, 'snapshot')) as [SnapshotInfo];
  assert.equal(info.type, 'full');
  await s.stop();
  assert.ok(s.runCount >= 3);
}));

test('schedule options are validated', () => {
  const { manager } = memoryManager();
  const db = new VectorDB({ dimension: 2 });
  assert.throws(() => manager.schedule({ db, every: 0 }), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => manager.schedule({ db, every: 'soon' }), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => manager.schedule({ db: {} as VectorDB, every: 10 }), TypeError);
  // A misspelt retention policy is refused when the schedule is made, not at every run.
  assert.throws(() => manager.schedule({ db, every: 10, retention: { keepLast: 2, keepDayly: 7 } as never }), { code: 'INVALID_ARGUMENT' });
  const s = manager.schedule({ db, every: '1h' });
  assert.equal(s.every, 3_600_000);
  void s.stop();
});

test('a period longer than Node\'s timers take (\'4w\') waits it out: no run before it ends, one when it does', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { manager } = memoryManager();
  const db = smallDb(5, 4);
  let runs = 0;
  const s = manager.schedule({ db, every: '4w' });
  s.on('snapshot', () => runs++);
  const runNow = s.runNow.bind(s);
  let started = 0;
  s.runNow = () => {
    started++;
    return runNow();
  };
  // Before the fix Node cut the 2,419,200,000 ms delay to 1 ms: runs came back to back.
  t.mock.timers.tick(1000);
  assert.equal(started, 0, 'nothing after a second');
  t.mock.timers.tick(2 ** 31 - 1);
  assert.equal(started, 0, 'nothing after the first piece of the wait');
  t.mock.timers.tick(4 * 7 * 86_400_000 - (2 ** 31 - 1) - 2000);
  assert.equal(started, 0, 'nothing a second before the four weeks are over');
  // (A piece's timer may fire a little late; the next piece starts from then.)
  t.mock.timers.tick(2000);
  assert.equal(started, 1, 'one run once the four weeks are over');
  await s.stop();
  assert.ok(runs <= 1);
});

test('listeners that throw (skipped, snapshot, pruned, error) become warnings: the run keeps its result and the schedule keeps going', () => keepAlive(() => capturing(async ({ warnings, rejections }) => {
  const store = new SlowStore(15);
  const manager = new SnapshotManager({ store, maxConcurrentIo: 1 });
  const db = smallDb(20, 4);
  // Runs of ~30 ms on a 10 ms period: every run overruns and reports skipped periods.
  const s = manager.schedule({ db, every: 10, immediate: true, retention: { keepLast: 2 } });
  let snapshots = 0;
  s.on('skipped', () => {
    throw new Error('skipped listener broke');
  });
  s.on('snapshot', () => {
    snapshots++;
    throw new Error('snapshot listener broke');
  });
  s.on('pruned', () => {
    throw new Error('pruned listener broke');
  });
  const first = await s.runNow();
  assert.ok(first, 'a run whose listeners threw still resolves with the snapshot it took');
  while (s.runCount < 4) await new Promise((r) => setTimeout(r, 10));
  // An error listener that throws too.
  s.on('error', () => {
    throw new Error('error listener broke');
  });
  store.failPuts = true;
  // runNow may join a run already past its writes (which then succeeds): run until one fails.
  let failed = await s.runNow();
  for (let i = 0; i < 5 && failed !== undefined; i++) failed = await s.runNow();
  assert.equal(failed, undefined);
  store.failPuts = false;
  const runs = s.runCount;
  while (s.runCount < runs + 2) await new Promise((r) => setTimeout(r, 10));
  await s.stop();
  await new Promise((r) => setImmediate(r));
  assert.ok(snapshots >= 4, `the schedule kept running (${snapshots} snapshots)`);
  assert.deepEqual(rejections, [], 'no unhandled rejections');
  for (const what of ['skipped', 'snapshot', 'pruned', 'error']) {
    assert.ok(warnings.some((w) => w.startsWith('QuiverListenerWarning') && w.includes(`'${what}' listener`) && w.includes(`${what} listener broke`)), `a warning for the ${what} listener`);
  }
})));

test('a run never prunes the snapshot it just took, nor its bases, even when a snapshot dated in the future outranks them', () => keepAlive(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-sched-'));
  const db = smallDb(20, 8);
  // Another process whose clock ran two hours ahead took this one (within one process, ids only increase).
  const manager = new SnapshotManager({ snapshotDir: dir });
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
    const { SnapshotManager } = await import(${JSON.stringify(new URL('../../src/snapshot/manager.js', import.meta.url).href)});
    const { VectorDB } = await import(${JSON.stringify(new URL('../../src/engine/vector-db.js', import.meta.url).href)});
    const now = Date.now;
    Date.now = () => now() + 2 * 3600000;
    const db = new VectorDB({ dimension: 8 });
    await db.insert({ id: 'x', vector: new Float32Array(8).fill(1) });
    const info = await new SnapshotManager({ snapshotDir: ${JSON.stringify(dir)} }).createSnapshot(db, 'from a fast clock');
    process.stdout.write(info.id);
  `], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  const future = { id: child.stdout };
  const s = manager.schedule({ db, every: 3600_000, incremental: true, retention: { keepLast: 1 } });
  const pruned: { deleted: string[] }[] = [];
  s.on('pruned', (r: { deleted: string[] }) => pruned.push(r));
  const first = await s.runNow();
  void db.insert({ id: 'later', vector: new Float32Array(8).fill(3) });
  const second = await s.runNow();
  await s.stop();
  assert.ok(first && second);
  assert.equal(second.type, 'incremental');
  assert.equal(second.baseId, first.id);
  for (const id of [first.id, second.id, future.id]) assert.ok(await manager.getSnapshot(id), `${id} is kept`);
  assert.deepEqual(pruned.flatMap((p) => p.deleted), []);
  // Without protection, the same policy would keep only the future-dated one.
  const plain = await manager.prune({ keepLast: 1 }, { dryRun: true });
  assert.deepEqual(plain.keep, [future.id]);
  rmSync(dir, { recursive: true, force: true });
}));

test('prune and restore take their boolean options only as booleans: a string or 0 is INVALID_ARGUMENT and nothing is deleted or restored', async () => {
  const { manager } = memoryManager();
  const db = smallDb(10, 8);
  await manager.createSnapshot(db, 'a');
  const b = await manager.createSnapshot(db, 'b');
  for (const dryRun of ['true', 'yes', 1, 0] as unknown[]) {
    await assert.rejects(manager.prune({ keepLast: 1 }, { dryRun: dryRun as boolean }), (e: unknown) => (e as { code?: string }).code === 'INVALID_ARGUMENT');
  }
  assert.equal((await manager.listSnapshots()).length, 2);
  await assert.rejects(manager.prune({ keepLast: 1 }, { protect: 'x' as unknown as string[] }), (e: unknown) => (e as { code?: string }).code === 'INVALID_ARGUMENT');
  const target = smallDb(3, 8);
  for (const verifyChecksum of [0, '', 'false'] as unknown[]) {
    await assert.rejects(manager.restoreSnapshotInto(b.id, target, { verifyChecksum: verifyChecksum as boolean }), (e: unknown) => (e as { code?: string }).code === 'INVALID_ARGUMENT');
  }
  assert.equal(target.len(), 3);
});
