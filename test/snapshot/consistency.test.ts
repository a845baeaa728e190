import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { tempDir } from '../support/db.js';
import { assertState, memoryManager, smallDb, stateOf } from './helpers.js';

/** Keeps changing `db` (overwrites, deletes, inserts, clears) until `done` settles; returns the number of writes. */
async function churn(db: ReturnType<typeof smallDb>, done: Promise<unknown>): Promise<number> {
  let stop = false;
  void done.finally(() => (stop = true)).catch(() => undefined);
  let n = 0;
  while (!stop) {
    const dim = db.dimension;
    await db.insert({ id: `doc-${n % 3000}`, vector: new Float32Array(dim).fill(n), metadata: { churn: n } });
    if (n % 5 === 0) await db.delete(`doc-${(n * 7) % 3000}`);
    if (n % 11 === 0) await db.updateMetadata(`doc-${(n * 3) % 3000}`, { touched: n });
    if (n % 997 === 0) await db.insert({ id: `new-${n}`, vector: new Float32Array(dim).fill(-n) });
    n++;
    if (n % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  return n;
}

test('a snapshot taken while writes continue reflects exactly the moment it was called (full, fast and slow incremental)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const m = new SnapshotManager({ snapshotDir: dir, maxConcurrentIo: 2 });
    const db = smallDb(3000, 64);
    const s0 = stateOf(db);
    const full = m.createSnapshot(db, 'full under load');
    const writes = await churn(db, full);
    const fullInfo = await full;
    assert.ok(writes > 50, `writes happened during the snapshot (${writes})`);
    assertState(await m.restoreSnapshot(fullInfo.id), s0, 'full');

    const s1 = stateOf(db);
    const inc = m.createIncrementalSnapshot(db, 'fast inc under load', fullInfo.id);
    await churn(db, inc);
    const incInfo = await inc;
    assertState(await m.restoreSnapshot(incInfo.id), s1, 'fast incremental');

    const s2 = stateOf(db);
    const slow = new SnapshotManager({ snapshotDir: dir }).createIncrementalSnapshot(db, 'slow inc under load', incInfo.id);
    await churn(db, slow);
    const slowInfo = await slow;
    assertState(await m.restoreSnapshot(slowInfo.id), s2, 'slow incremental');
    assert.equal(db.openImageCount, 0, 'every image was released');
  } finally {
    cleanup();
  }
});

test('concurrent creates, restores and deletes on one manager never interleave destructively', async () => {
  const { manager } = memoryManager();
  const db = smallDb(500, 16);
  const states = new Map<string, ReturnType<typeof stateOf>>();
  const creates = [];
  for (let i = 0; i < 6; i++) {
    states.set(`s${i}`, stateOf(db));
    creates.push(manager.createSnapshot(db, `s${i}`));
    await db.insert({ id: `extra-${i}`, vector: new Float32Array(16).fill(i) });
  }
  const infos = await Promise.all(creates);
  const work = infos.flatMap((info, i) => [
    manager.restoreSnapshot(info.id).then((r) => assertState(r, states.get(`s${i}`) as ReturnType<typeof stateOf>, info.name)),
    i % 2 === 0 ? manager.deleteSnapshot(info.id) : manager.verifySnapshot(info.id).then((v) => assert.equal(v, true)),
  ]);
  await Promise.all(work);
  assert.deepEqual((await manager.listSnapshots()).map((s) => s.name).sort(), ['s1', 's3', 's5']);
});

test('a reader whose chain another writer rewrites during every attempt gets BUSY, never a good snapshot called damaged', async () => {
  const { manager: writer, store } = memoryManager({ compression: 'none' });
  const db = smallDb(40, 8);
  const ids: string[] = [];
  for (let v = 0; v < 6; v++) {
    if (v > 0) await db.insert({ id: `v-${v}`, vector: new Float32Array(8).fill(v) });
    ids.push((ids.length ? await writer.createIncrementalSnapshot(db, `s${v}`, ids[ids.length - 1]) : await writer.createSnapshot(db, `s${v}`)).id);
  }
  const want = stateOf(db);
  const top = ids[ids.length - 1];
  // Each time the reader reads the vectors of the chain's bottom link, the writer first deletes that
  // link, folding the next one into a full snapshot (a legitimate single-writer operation).
  let bottom = 0;
  const foldFirst = async (key: string): Promise<void> => {
    if (bottom < ids.length - 1 && key.startsWith(`snapshot-${ids[bottom]}/vectors`)) await writer.deleteSnapshot(ids[bottom++], { dependents: 'fold' });
  };
  const racing = Object.create(store) as typeof store;
  racing.get = async (key, o) => (await foldFirst(key), store.get(key, o));
  racing.readInto = async (key, target, o) => (await foldFirst(key), store.readInto(key, target, o));
  racing.read = (key, o) => (async function* () {
    await foldFirst(key);
    yield* store.read(key, o);
  })();
  const reader = new SnapshotManager({ store: racing });
  await assert.rejects(reader.verifySnapshotReport(top), (err: { code?: string; message?: string }) => {
    assert.equal(err.code, 'BUSY');
    assert.match(String(err.message), /another writer rewrote its chain/);
    return true;
  });
  assert.ok(bottom >= 3, `the writer folded during every attempt (${bottom} folds)`);
  // Once the writer is idle the same snapshot verifies and restores exactly.
  assert.equal(await reader.verifySnapshot(top), true);
  assertState(await reader.restoreSnapshot(top), want);
});

test('a store that fails now and then, with no other writer, gets its own error back, not BUSY', async () => {
  const { manager, store } = memoryManager({ compression: 'none' });
  const info = await manager.createSnapshot(smallDb(20, 8), 's');
  const { QuiverError } = await import('../../src/errors.js');
  // Calls alternate between working and failing, two up and two down.
  let n = 0;
  let down = false;
  const gate = (): void => {
    n++;
    if (n % 2 === 0) down = !down;
    if (down) throw new QuiverError('IO_ERROR', 'connection reset by peer');
  };
  const flaky = Object.create(store) as typeof store;
  flaky.get = async (k, o) => (gate(), store.get(k, o));
  flaky.readInto = async (k, t, o) => (gate(), store.readInto(k, t, o));
  flaky.read = (k, o) => (async function* () {
    gate();
    yield* store.read(k, o);
  })();
  flaky.stat = async (k) => (gate(), store.stat(k));
  flaky.list = async (p) => (gate(), store.list(p));
  const reader = new SnapshotManager({ store: flaky });
  const codes = new Set<string>();
  for (let i = 0; i < 6; i++) {
    n = i;
    down = false;
    await reader.restoreSnapshot(info.id).then(() => codes.add('ok'), (e: { code: string }) => codes.add(e.code));
  }
  assert.ok(!codes.has('BUSY'), `no BUSY without another writer (${[...codes].join(', ')})`);
});
