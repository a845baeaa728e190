// One failure never leaves an instance or a chain broken: a save that fails after publishing some of
// its files makes the next save a full one (not BUSY against its own files); a load that recovers a
// dead writer's delta from its temp name makes the bytes durable before the name; a load never takes
// a live writer's delta in flight; a load that replaced the database resolves even when examining the
// files afterwards fails; and I/O failures reading a save journal are typed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import type { FileSystem } from '../../src/env/fs.js';
import { settleRetired, TEMP_SUFFIX } from '../../src/env/temp-files.js';
import { QuiverError } from '../../src/errors.js';
import { RETIRE_MIN_BYTES } from '../../src/env/atomic.js';
import { digestDb } from '../fixtures/digest.js';
import { change, DIM, N } from './delta-fixtures.js';

const BASE = '/data/database.qvdb';

async function setup(): Promise<{ mem: MemoryFileSystem; fs: FaultFileSystem; db: VectorDB }> {
  const mem = new MemoryFileSystem();
  await mem.mkdir('/data', { recursive: true });
  await mem.syncDir('/');
  const db = new VectorDB({ dimension: DIM, metric: 'euclidean' });
  change(db, N, 1);
  return { mem, fs: new FaultFileSystem(mem), db };
}

async function load(fs: FileSystem, options: { incremental?: boolean; autoSaveInterval?: number } = {}): Promise<string> {
  const db = new VectorDB({ dimension: DIM, metric: 'euclidean' });
  await new DatabasePersistence(db, { baseDir: '/data', fs, ...options }).load({ path: BASE });
  return digestDb(db);
}

/** `mem` with its `open` or `readdir` replaced by `wrap` of the original (everything else untouched). */
function withMethod<K extends 'open' | 'readdir'>(mem: MemoryFileSystem, name: K, wrap: (original: MemoryFileSystem[K]) => MemoryFileSystem[K]): MemoryFileSystem {
  const replaced = wrap(mem[name].bind(mem) as MemoryFileSystem[K]);
  return new Proxy(mem, {
    get(target, prop, receiver) {
      if (prop === name) return replaced;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

for (const [what, journaled] of [
  ['delta files', false],
  ['the save journal', true],
] as const) {
  test(`a save whose directory fsync fails after its rename (${what}): the next saves and shutdown succeed and load to the database`, async () => {
    for (const failing of ['full', 'incremental'] as const) {
      const { mem, fs, db } = await setup();
      const p = new DatabasePersistence(db, { baseDir: '/data', fs, incremental: true, autoSaveInterval: journaled ? 3_600_000 : 0 });
      p.stopAutoSave();
      await p.save();
      change(db, 50, 2);
      await p.saveIncremental();
      change(db, 50, 3);
      // A journal record is written O_DSYNC, no directory fsync: its write fails instead.
      const journalWrite = journaled && failing === 'incremental';
      fs.addFault({ at: 1, code: 'EIO', kinds: journalWrite ? (op) => op.kind === 'write' && op.path.includes('.wal/') : ['syncDir'] });
      await assert.rejects(failing === 'full' ? p.save() : p.saveIncremental(), (e: unknown) => e instanceof QuiverError && e.code === 'EIO', failing);
      fs.clearFaults();
      for (let round = 4; round < 7; round++) {
        change(db, 50, round);
        assert.ok(await p.saveIncremental(), `${failing}: save ${round}`);
      }
      change(db, 50, 9);
      await p.shutdown();
      assert.equal(await load(mem), digestDb(db), failing);
    }
  });
}

test('a dead writer\'s delta recovered from its temp name is made durable before its name: a power loss after the load still loads', async () => {
  const { mem, fs, db } = await setup();
  const p = new DatabasePersistence(db, { baseDir: '/data', fs });
  await p.save();
  change(db, 50, 2);
  await p.saveIncremental();
  const acknowledged = digestDb(db);
  change(db, 50, 3);
  // The disk fails the delta's fsync and the removal of its temp file: the complete bytes stay, unsynced.
  fs.addFault({ at: 1, code: 'EIO', mode: 'persistent', kinds: (op) => op.kind === 'sync' && op.path.includes('.delta-000002') });
  fs.addFault({ at: 1, code: 'EIO', mode: 'persistent', kinds: ['rm', 'unlink'] });
  await assert.rejects(p.saveIncremental(), (e: unknown) => e instanceof QuiverError && e.code === 'EIO');
  const unacknowledged = digestDb(db);
  fs.clearFaults();
  // A load takes the complete delta from its temp name (a later state than the last resolved save).
  assert.equal(await load(mem), unacknowledged);
  // Then the power fails: whatever survives must load, and be the acknowledged state or a later one.
  const after = await load(mem.snapshotDurable());
  assert.ok(after === acknowledged || after === unacknowledged);
  assert.equal(after, unacknowledged, 'the recovered delta was fsynced before it was renamed');
  await p.shutdown().catch(() => undefined);
});

test('a delta under the temp name of another running process is left alone (in flight); a dead process\'s is recovered', async () => {
  const { mem, db } = await setup();
  const p = new DatabasePersistence(db, { baseDir: '/data', fs: mem });
  await p.save();
  change(db, 50, 2);
  await p.saveIncremental();
  const one = digestDb(db);
  change(db, 50, 3);
  await p.saveIncremental();
  const two = digestDb(db);
  await settleRetired();
  const live = `/data/.database.qvdb.delta-000002.p${process.ppid}-0123456789ab${TEMP_SUFFIX}`;
  await mem.rename(`${BASE}.delta-000002`, live);
  assert.equal(await load(mem), one, 'the live writer\'s delta is not taken');
  assert.ok(mem.readFileSync(live).length > 0, 'and stays where its writer will rename it');
  const r = spawnSync(process.execPath, ['-e', '0']);
  const dead = `/data/.database.qvdb.delta-000002.p${r.pid}-0123456789ab${TEMP_SUFFIX}`;
  await mem.rename(live, dead);
  assert.equal(await load(mem), two, 'a dead writer\'s complete delta is recovered');
  await p.shutdown().catch(() => undefined);
});

test('a load that replaced the database resolves when examining its files afterwards fails; the next save is full and correct', async () => {
  // What a load does after the replacement can fail: opening the journal for appending (the base's size
  // and mark come from the stat that dated the read, taken before the replacement).
  for (const [what, journaled, failing] of [
    ['opening the journal for appending', true, (op: { kind: string; path: string }) => op.kind === 'open' && op.path.includes('.wal/')],
  ] as const) {
    const { mem, fs, db } = await setup();
    const writer = new DatabasePersistence(db, { baseDir: '/data', fs: mem, incremental: true, autoSaveInterval: 3_600_000 });
    await writer.save();
    change(db, 50, 2);
    await writer.saveIncremental();
    await writer.shutdown();
    const saved = digestDb(db);
    const mine = new VectorDB({ dimension: DIM, metric: 'euclidean' });
    await mine.insert({ id: 'unsaved', vector: new Float32Array(DIM) });
    const p = new DatabasePersistence(mine, { baseDir: '/data', fs, incremental: true, autoSaveInterval: journaled ? 3_600_000 : 0 });
    p.stopAutoSave();
    let seen = 0;
    // The first is the reading of the journal: fail the one after the database is replaced.
    fs.beforeOp = (op) => {
      if (failing(op) && ++seen === 2) throw Object.assign(new Error('injected'), { code: 'EIO' });
    };
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      await p.load();
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    fs.beforeOp = undefined;
    assert.equal(digestDb(mine), saved, what);
    assert.ok(warnings.includes('QuiverCleanupWarning'), what);
    change(mine, 50, 7);
    assert.equal(await p.saveIncremental(), BASE, `${what}: the next save is a full one`);
    await p.shutdown();
    assert.equal(await load(mem), digestDb(mine), what);
  }
});

test('I/O failures while reading a save journal are typed errors, and the database is untouched', async () => {
  const { mem, db } = await setup();
  const writer = new DatabasePersistence(db, { baseDir: '/data', fs: mem, incremental: true, autoSaveInterval: 3_600_000 });
  await writer.save();
  change(db, 50, 2);
  await writer.saveIncremental();
  await writer.shutdown();
  for (const kind of ['read', 'stat', 'size']) {
    const fs = new FaultFileSystem(mem, { faults: [{ at: 1, code: 'EIO', kinds: (op) => op.kind === kind && op.path.includes('.wal/') }] });
    const mine = new VectorDB({ dimension: DIM, metric: 'euclidean' });
    await mine.insert({ id: 'keep', vector: new Float32Array(DIM) });
    await assert.rejects(new DatabasePersistence(mine, { baseDir: '/data', fs }).load(), (e: unknown) => e instanceof QuiverError && e.code === 'EIO', kind);
    assert.deepEqual(mine.ids(), ['keep'], kind);
  }
});

test('a temp file whose removal failed with its save is removed by the next save into the directory', async () => {
  const { mem, fs, db } = await setup();
  const p = new DatabasePersistence(db, { baseDir: '/data', fs });
  await p.save();
  change(db, 50, 2);
  fs.addFault({ at: 1, code: 'EIO', mode: 'persistent', kinds: ['sync', 'rm', 'unlink'] });
  await assert.rejects(p.save(), (e: unknown) => e instanceof QuiverError && e.code === 'EIO');
  fs.clearFaults();
  const temps = async () => (await mem.readdir('/data')).filter((n) => n.endsWith(TEMP_SUFFIX));
  assert.equal((await temps()).length, 1, 'the failing disk kept it');
  change(db, 50, 3);
  await p.save();
  await settleRetired();
  assert.deepEqual(await temps(), []);
  assert.equal(await load(mem), digestDb(db));
});

test('a load racing another writer\'s full save (base replaced, deltas removed while they were read) reads again and gets a whole state', async () => {
  const { mem, db } = await setup();
  const writer = new DatabasePersistence(db, { baseDir: '/data', fs: mem });
  await writer.save();
  change(db, 50, 2);
  await writer.saveIncremental();
  const other = new VectorDB({ dimension: DIM, metric: 'euclidean' });
  change(other, 100, 5);
  const otherWriter = new DatabasePersistence(other, { baseDir: '/data', fs: mem });
  let raced = false;
  // The other writer's whole save lands between the load's read of the base and of its first delta.
  const racing = withMethod(mem, 'open', (open) => async (path, flags) => {
    if (!raced && path.endsWith('.delta-000001')) {
      raced = true;
      await otherWriter.save();
      await settleRetired();
    }
    return open(path, flags);
  });
  const reader = new VectorDB({ dimension: DIM, metric: 'euclidean' });
  await new DatabasePersistence(reader, { baseDir: '/data', fs: racing }).load({ path: BASE });
  assert.ok(raced);
  assert.equal(digestDb(reader), digestDb(other), 'the state the other writer saved, whole');
});

test('a delta under a temp name without start ticks (written on 2026-12-07 before they existed) is recovered when its pid now names a later process', async () => {
  const { mkdtempSync, renameSync, rmSync, utimesSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { spawn } = await import('node:child_process');
  const { nodeFs } = await import('../../src/env/node-fs.js');
  const dir = mkdtempSync(join(tmpdir(), 'quiver-legacy-temp-'));
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    const db = new VectorDB({ dimension: DIM, metric: 'euclidean' });
    change(db, 100, 1);
    const p = new DatabasePersistence(db, { baseDir: dir });
    const base = await p.save();
    change(db, 20, 2);
    await p.saveIncremental();
    change(db, 20, 3);
    await p.saveIncremental();
    const two = digestDb(db);
    await settleRetired();
    // The writer that left it died an hour ago; its pid now belongs to a process started just now.
    const legacy = join(dir, `.database.qvdb.delta-000002.p${live.pid}-0123456789ab${TEMP_SUFFIX}`);
    renameSync(`${base}.delta-000002`, legacy);
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(legacy, hourAgo, hourAgo);
    const back = new VectorDB({ dimension: DIM, metric: 'euclidean' });
    await new DatabasePersistence(back, { baseDir: dir, fs: nodeFs }).load({ path: base });
    assert.equal(digestDb(back), two);
  } finally {
    live.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a journal whose segment cannot be examined right after it is opened closes it again (no handle left open)', async () => {
  const { mem, db } = await setup();
  let open = 0;
  const counting = withMethod(mem, 'open', (openFile) => async (path, flags) => {
    const h = await openFile(path, flags);
    open++;
    const close = h.close.bind(h);
    h.close = async () => {
      open--;
      return close();
    };
    return h;
  });
  const fs = new FaultFileSystem(counting);
  const p = new DatabasePersistence(db, { baseDir: '/data', fs, incremental: true, autoSaveInterval: 3_600_000 });
  p.stopAutoSave();
  await p.save();
  change(db, 20, 2);
  fs.addFault({ at: 1, code: 'EIO', kinds: (op) => op.kind === 'stat' && /\.wal\/wal-/.test(op.path) });
  await assert.rejects(p.saveIncremental(), (e: unknown) => e instanceof QuiverError && e.code === 'EIO');
  await p.shutdown();
  await settleRetired();
  assert.equal(open, 0, 'every handle opened was closed');
  assert.equal(await load(mem), digestDb(db));
});

test('a load whose base another writer replaced after it was read (its deltas gone before they were listed) reads again, never returning the superseded base alone', async () => {
  const { mem, db } = await setup();
  const writer = new DatabasePersistence(db, { baseDir: '/data', fs: mem });
  await writer.save();
  change(db, 50, 2);
  await writer.saveIncremental();
  const acknowledged = digestDb(db);
  let raced = false;
  const racing = withMethod(mem, 'readdir', (readdir) => async (path) => {
    // The chain is listed after the base was read: the writer's full save lands just before.
    if (!raced && path === '/data') {
      raced = true;
      change(db, 50, 3);
      await writer.save();
      await settleRetired();
    }
    return readdir(path);
  });
  const reader = new VectorDB({ dimension: DIM, metric: 'euclidean' });
  await new DatabasePersistence(reader, { baseDir: '/data', fs: racing }).load({ path: BASE });
  assert.ok(raced);
  assert.notEqual(digestDb(reader), acknowledged, 'not the state before the race');
  assert.equal(digestDb(reader), digestDb(db), 'the newest save, whole');
});

test('a full save leaves the delta temp files of another running process alone', async () => {
  const { mem, db } = await setup();
  const p = new DatabasePersistence(db, { baseDir: '/data', fs: mem });
  await p.save();
  const { processIdentity } = await import('../../src/env/process-alive.js');
  const ticks = processIdentity(process.ppid)?.startTicks;
  const theirs = `/data/.database.qvdb.delta-000001.p${process.ppid}${ticks === undefined ? '' : `s${ticks}`}-0123456789ab${TEMP_SUFFIX}`;
  mem.writeFileSync(theirs, Buffer.from('a delta being written'));
  change(db, 10, 2);
  await p.save();
  assert.ok((await mem.readdir('/data')).includes(theirs.slice('/data/'.length)), 'still there for its writer to rename');
});

test('shutdown() returns once the file its last save replaced is removed, so a process.exit() right after leaves no temp file', async () => {
  const mem = new MemoryFileSystem();
  const dim = 384;
  const db = new VectorDB({ dimension: dim });
  const big = Math.ceil((RETIRE_MIN_BYTES + (1 << 20)) / (dim * 4));
  for (let i = 0; i < big; i++) void db.insert({ id: `doc-${i}`, vector: new Float32Array(dim).fill((i % 7) + 1) });
  const p = new DatabasePersistence(db, { baseDir: '/d', fs: mem });
  await p.save();
  void db.insert({ id: 'last', vector: new Float32Array(dim).fill(2) });
  await p.shutdown();
  assert.deepEqual((await mem.readdir('/d')).filter((n) => n.endsWith(TEMP_SUFFIX)), [], 'the replaced base is gone');
});
