// After an incremental save, the next delta's file is written ahead as a spare (zeros under a temp
// name) and the next delta is written over it in place; a full save that folds the deltas discards it.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { dropSpares, PREPARE_MIN_BYTES, preparedSize } from '../../src/env/spares.js';
import { settleRetired, TEMP_SUFFIX } from '../../src/env/temp-files.js';
import { digestDb } from '../fixtures/digest.js';
import { change, DIM, N } from './delta-fixtures.js';

async function setup(): Promise<{ mem: MemoryFileSystem; fs: FaultFileSystem; db: VectorDB; p: DatabasePersistence }> {
  const mem = new MemoryFileSystem();
  await mem.mkdir('/data', { recursive: true });
  const fs = new FaultFileSystem(mem);
  const db = new VectorDB({ dimension: DIM, metric: 'euclidean' });
  change(db, N * 2, 1);
  const p = new DatabasePersistence(db, { baseDir: '/data', fs });
  await p.save();
  return { mem, fs, db, p };
}

async function temps(mem: MemoryFileSystem): Promise<string[]> {
  return (await mem.readdir('/data')).filter((n) => n.endsWith(TEMP_SUFFIX));
}

async function reloaded(mem: MemoryFileSystem): Promise<string> {
  const db = new VectorDB({ dimension: DIM, metric: 'euclidean' });
  await new DatabasePersistence(db, { baseDir: '/data', fs: mem }).load({ path: '/data/database.qvdb' });
  return digestDb(db);
}

test('the next delta is written over a spare prepared after the previous one, and reloads exactly', async () => {
  const { mem, fs, db, p } = await setup();
  change(db, 800, 2);
  const d1 = await p.saveIncremental();
  const d1Bytes = (await mem.stat(d1 ?? '')).size;
  assert.ok(d1Bytes >= PREPARE_MIN_BYTES, `a delta of ${d1Bytes} bytes is big enough to get a spare`);
  await settleRetired();
  const [spare, ...more] = await temps(mem);
  assert.equal(more.length, 0, 'one spare');
  assert.ok(spare.startsWith('.database.qvdb.delta-000002.'), `named for the next delta: ${spare}`);
  const spareBytes = (await mem.stat(`/data/${spare}`)).size;
  assert.equal(spareBytes, preparedSize(d1Bytes), 'sized from the last delta');
  assert.ok(spareBytes < d1Bytes && spareBytes > d1Bytes * 0.9 && spareBytes % 4096 === 0, `a little smaller, in whole blocks: ${spareBytes} of ${d1Bytes}`);
  assert.ok(fs.ops.some((o) => o.kind === 'sync' && o.path === `/data/${spare}`), 'written back before it is used');

  // A smaller delta: written over the spare from offset 0, then cut to its own length.
  change(db, 600, 3);
  fs.reset();
  const d2 = await p.saveIncremental();
  assert.equal(d2, '/data/database.qvdb.delta-000002');
  assert.deepEqual(fs.ops.filter((o) => o.kind === 'open'), [], 'the spare was opened ahead: the save opens nothing');
  assert.ok(fs.ops.some((o) => o.kind === 'write' && o.path === `/data/${spare}`), 'wrote over the spare');
  assert.ok(fs.ops.some((o) => o.kind === 'truncate'), 'cut to the new length');
  assert.equal(await reloaded(mem), digestDb(db));

  await settleRetired();
  const [grown] = await temps(mem);
  // A delta bigger than its spare: the writes extend the file.
  change(db, 900, 10);
  const d3 = await p.saveIncremental();
  assert.ok((await mem.stat(d3 ?? '')).size > (await mem.stat(d2)).size);
  assert.ok(fs.ops.some((o) => o.kind === 'write' && o.path === `/data/${grown}`), 'wrote over the spare');
  assert.equal(await reloaded(mem), digestDb(db));

  await settleRetired();
  const next = await temps(mem);
  assert.equal(next.length, 1);
  assert.ok(next[0].startsWith('.database.qvdb.delta-000004.'), 'the next spare replaces the used one');
  await dropSpares();
  assert.deepEqual(await temps(mem), []);
});

test('a full save discards the prepared spare, also one still being written', async () => {
  for (const wait of [true, false]) {
    const { mem, db, p } = await setup();
    change(db, 800, 4);
    await p.saveIncremental();
    if (wait) await settleRetired();
    assert.equal(await p.save(), '/data/database.qvdb');
    await settleRetired();
    assert.deepEqual(await temps(mem), [], `no spare left (waited for it: ${wait})`);
    assert.deepEqual((await mem.readdir('/data')).filter((n) => n.includes('.delta-')), []);
    assert.equal(await reloaded(mem), digestDb(db));
  }
});

test('small deltas prepare nothing; a failed preparation leaves nothing and the next delta is written new', async () => {
  const { mem, fs, db, p } = await setup();
  change(db, 5, 5);
  await p.saveIncremental();
  await settleRetired();
  assert.deepEqual(await temps(mem), [], 'a 5-entry delta gets no spare');

  change(db, 800, 6);
  // Every write to the spare of delta 3 fails (it is prepared once delta 2 is published).
  fs.failAt(1, 'ENOSPC', { mode: 'persistent', kinds: (op) => op.kind === 'write' && op.path.includes('.delta-000003.') });
  const d2 = await p.saveIncremental();
  assert.equal(d2, '/data/database.qvdb.delta-000002');
  await settleRetired();
  assert.deepEqual(await temps(mem), [], 'the failed spare was removed');
  fs.clearFaults();
  change(db, 800, 7);
  assert.equal(await p.saveIncremental(), '/data/database.qvdb.delta-000003');
  assert.equal(await reloaded(mem), digestDb(db));
});

test('incremental saves far apart prepare nothing (the file would be dropped unused)', async () => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  try {
    const { mem, db, p } = await setup();
    mock.timers.tick(31_000);
    change(db, 800, 8);
    await p.saveIncremental();
    await settleRetired();
    assert.deepEqual(await temps(mem), [], '31 s after the full save: no file prepared');
    mock.timers.tick(1_000);
    change(db, 800, 9);
    await p.saveIncremental();
    await settleRetired();
    assert.equal((await temps(mem)).length, 1, '1 s after the previous delta: the next one is prepared');
    await dropSpares();
    assert.equal(await reloaded(mem), digestDb(db));
  } finally {
    mock.timers.reset();
  }
});

/** After setup, delta 1 saved and the spare of delta 2 prepared. */
async function withSpare(seed: number): Promise<Awaited<ReturnType<typeof setup>> & { spare: string }> {
  const s = await setup();
  change(s.db, 800, seed);
  await s.p.saveIncremental();
  await settleRetired();
  const [spare] = await temps(s.mem);
  assert.ok(spare, 'a spare was prepared');
  return { ...s, spare };
}

test("another instance's first save in the same directory leaves the spare alone (it is no leftover)", async () => {
  const { mem, fs, db, p, spare } = await withSpare(11);
  mem.writeFileSync(`/data/.crashed.qvdb.0123456789ab${TEMP_SUFFIX}`, new Uint8Array(10));
  // Its first save removes leftover temp files in /data.
  const other = new DatabasePersistence(new VectorDB({ dimension: DIM }), { baseDir: '/data', fs: mem });
  await other.save({ path: '/data/other.qvdb' });
  assert.deepEqual(await temps(mem), [spare], 'the leftover went, the live spare stayed');
  change(db, 800, 12);
  fs.reset();
  assert.equal(await p.saveIncremental(), '/data/database.qvdb.delta-000002');
  assert.ok(fs.ops.some((o) => o.kind === 'write' && o.path === `/data/${spare}`), 'written over the spare');
  assert.equal(await reloaded(mem), digestDb(db));
  await dropSpares();
});

test('a spare removed behind our back (another process cleaning temp files) costs a rewrite into a new file, not a failed save', async () => {
  const { mem, fs, db, p, spare } = await withSpare(13);
  await mem.unlink(`/data/${spare}`);
  change(db, 800, 14);
  fs.reset();
  assert.equal(await p.saveIncremental(), '/data/database.qvdb.delta-000002');
  assert.ok(fs.ops.some((o) => o.kind === 'write' && o.path === `/data/${spare}`), 'the first attempt wrote over the open spare');
  assert.ok(fs.ops.some((o) => o.kind === 'open'), 'the second one opened a new file');
  assert.equal(await reloaded(mem), digestDb(db));
  await dropSpares();
});
