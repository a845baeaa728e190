import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { SaveJournal, journalBytes, journalDir } from '../../src/persistence/journal.js';
import { readQvdbInfo } from '../../src/format/qvdb/reader.js';
import { NodeFileSystem } from '../../src/env/node-fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { CorruptionError, type QuiverError } from '../../src/errors.js';
import { capturing } from '../support/warnings.js';
import { acquireLock } from '../../src/env/lock.js';
import { WalWriter } from '../../src/wal/index.js';
import type { SaveEvent } from '../../src/persistence/types.js';
import { prng } from '../../support/datasets.js';
import { tempDir, assertSameDb } from '../support/db.js';

const DIM = 16;

function vec(rnd: () => number): Float32Array {
  return Float32Array.from({ length: DIM }, () => rnd() * 2 - 1);
}

/** Copies `db` into a new VectorDB (the expected state at a point in time). */
async function cloneDb(db: VectorDB): Promise<VectorDB> {
  const out = new VectorDB({ dimension: db.dimension, metric: db.metric });
  for (const e of db) await out.insert({ id: e.id, vector: e.vector, metadata: e.metadata });
  return out;
}

/** Random mutations: inserts, replacements, metadata edits, deletes (and rarely clear). */
function mutate(db: VectorDB, rnd: () => number, n: number, allowClear = false): void {
  for (let k = 0; k < n; k++) {
    const r = rnd();
    const id = rnd() < 0.2 ? Math.floor(rnd() * 50) : `doc-${Math.floor(rnd() * 200)}`;
    if (r < 0.6) void db.insert({ id, vector: vec(rnd), metadata: rnd() < 0.7 ? { k, tag: `t${k % 5}` } : undefined });
    else if (r < 0.75 && db.has(id)) void db.updateMetadata(id, { edited: k });
    else if (r < 0.98 || !allowClear) void db.delete(id);
    else void db.clear();
  }
}

/**
 * A full save in `dir`, then two journaled saves of random changes: the base file, the state as of the
 * first journaled save, and the journal's one segment (whose last record is the second save).
 */
async function twoJournaledSaves(dir: string, seed: number): Promise<{ base: string; expected: VectorDB; segPath: string }> {
  const rnd = prng(seed);
  const db = new VectorDB({ dimension: DIM });
  mutate(db, rnd, 100);
  const p = journaled(db, dir);
  const base = await p.save();
  mutate(db, rnd, 20);
  await p.saveIncremental();
  const expected = await cloneDb(db);
  mutate(db, rnd, 20);
  await p.saveIncremental();
  await p.shutdown();
  const seg = readdirSync(journalDir(base)).filter((n) => n.endsWith('.log'));
  assert.equal(seg.length, 1);
  return { base, expected, segPath: join(journalDir(base), seg[0]) };
}

/** A full save of `db` in `dir` and its journal opened with segments of 1 KiB: a few saves each (the log's own are 64 MiB). */
async function smallSegmentJournal(db: VectorDB, dir: string): Promise<{ base: string; fs: NodeFileSystem; journal: SaveJournal }> {
  const base = await new DatabasePersistence(db, { baseDir: dir }).save();
  const fs = new NodeFileSystem();
  const journal = await SaveJournal.open(fs, base, (await readQvdbInfo(fs, base)).checksum, undefined, 1 << 10);
  return { base, fs, journal };
}

function journaled(db: VectorDB, baseDir: string, extra: Record<string, unknown> = {}): DatabasePersistence {
  // A long interval: the tests call saveIncremental themselves, exactly as the timer would.
  return new DatabasePersistence(db, { baseDir, incremental: true, autoSaveInterval: 3_600_000, ...extra });
}

test('journaled incremental saves append one record each to <file>.wal/ and reload exactly', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rnd = prng(7);
    const db = new VectorDB({ dimension: DIM });
    mutate(db, rnd, 300);
    const p = journaled(db, dir);
    const events: SaveEvent[] = [];
    p.on('save', (e: SaveEvent) => events.push(e));
    const base = await p.save();
    const baseSize = statSync(base).size;
    for (let round = 0; round < 5; round++) {
      mutate(db, rnd, 20, round === 3);
      const where = await p.saveIncremental();
      assert.equal(where, journalDir(base));
      assert.equal(events.at(-1)?.kind, 'journal');
      assert.equal(statSync(base).size, baseSize, 'the full file is not rewritten');
      assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.delta-')), [], 'no delta files in journal mode');
      const reader = new VectorDB({ dimension: DIM });
      await new DatabasePersistence(reader, { baseDir: dir }).load({ path: base });
      assertSameDb(reader, db);
    }
    assert.equal(await p.saveIncremental(), null, 'nothing changed');
    await p.shutdown();
  } finally {
    cleanup();
  }
});

test('a journal continues after load in a new process-like instance; a full save empties it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rnd = prng(11);
    const db = new VectorDB({ dimension: DIM });
    mutate(db, rnd, 100);
    const p1 = journaled(db, dir);
    const base = await p1.save();
    mutate(db, rnd, 30);
    await p1.saveIncremental();
    await p1.shutdown();

    const db2 = new VectorDB({ dimension: DIM });
    const p2 = journaled(db2, dir);
    await p2.load({ path: base });
    assertSameDb(db2, db);
    mutate(db2, rnd, 30);
    assert.equal(await p2.saveIncremental(), journalDir(base));
    const db3 = new VectorDB({ dimension: DIM });
    await new DatabasePersistence(db3, { baseDir: dir }).load({ path: base });
    assertSameDb(db3, db2);

    await p2.save({ path: base });
    assert.equal(existsSync(journalDir(base)), false, 'the full save removed the journal');
    const db4 = new VectorDB({ dimension: DIM });
    await new DatabasePersistence(db4, { baseDir: dir }).load({ path: base });
    assertSameDb(db4, db2);
    await p2.shutdown();
  } finally {
    cleanup();
  }
});

test('a torn final journal record is a save that never happened: load gives the previous save', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { base, expected, segPath } = await twoJournaledSaves(dir, 3);
    truncateSync(segPath, statSync(segPath).size - 7);
    const reader = new VectorDB({ dimension: DIM });
    await new DatabasePersistence(reader, { baseDir: dir }).load({ path: base });
    assertSameDb(reader, expected);
  } finally {
    cleanup();
  }
});

test('a flipped bit in the final journal record fails the load (it may be a save that resolved); load({ repair: true }) loads the saves before it and warns', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { base, expected, segPath } = await twoJournaledSaves(dir, 31);
    const bytes = readFileSync(segPath);
    bytes[bytes.length - 3] ^= 0x04;
    writeFileSync(segPath, bytes);
    const target = new VectorDB({ dimension: DIM });
    void target.insert({ id: 'keep-me', vector: new Float32Array(DIM).fill(1) });
    const loader = new DatabasePersistence(target, { baseDir: dir });
    await assert.rejects(loader.load({ path: base }), (e: unknown) => e instanceof CorruptionError && e.code === 'CHECKSUM_MISMATCH' && /checksum/.test(e.message) && /load\(\{ repair: true \}\)/.test(e.message) && !/open with repair/.test(e.message));
    assert.deepEqual(target.ids(), ['keep-me']);
    assert.deepEqual(readFileSync(segPath), bytes, 'a load without repair changes no file');
    assert.throws(() => loader.load({ path: base, repair: 'yes' as unknown as boolean }), TypeError);
    // The journal's lock is taken only for a cut: held by another instance, it fails the repair (LOCKED), not the plain load.
    const holder = await acquireLock(new NodeFileSystem(), journalDir(base));
    await assert.rejects(loader.load({ path: base, repair: true }), (e: unknown) => (e as QuiverError).code === 'LOCKED');
    await holder.release();
    await capturing(async (seen) => {
      await loader.load({ path: base, repair: true });
      await new Promise((r) => setImmediate(r));
      assert.equal(seen.warnings.length, 1, seen.warnings.join());
      assert.match(seen.warnings[0], /^QuiverRepairWarning: load\(\{ repair: true \}\) cut the save journal/);
    });
    assertSameDb(target, expected);
    // The cut is durable: a plain load now gives the same state.
    const again = new VectorDB({ dimension: DIM });
    await new DatabasePersistence(again, { baseDir: dir }).load({ path: base });
    assertSameDb(again, expected);
  } finally {
    cleanup();
  }
});

test('a journal whose first segment is missing fails the load instead of applying the later saves alone', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rnd = prng(37);
    const db = new VectorDB({ dimension: DIM });
    mutate(db, rnd, 40);
    const { base, journal } = await smallSegmentJournal(db, dir);
    let seq = db.seq;
    for (let k = 0; k < 12; k++) {
      mutate(db, rnd, 5);
      const changes = db.openChanges(seq);
      await journal.append(changes);
      seq = changes.seq;
      changes.release();
    }
    await journal.close();
    const segments = readdirSync(journalDir(base)).filter((n) => n.endsWith('.log')).sort();
    assert.ok(segments.length >= 2, segments.join());
    rmSync(join(journalDir(base), segments[0]));
    const target = new VectorDB({ dimension: DIM });
    await assert.rejects(new DatabasePersistence(target, { baseDir: dir }).load({ path: base }), (e: unknown) => e instanceof CorruptionError && /missing|segment list/.test(e.message));
    assert.equal(target.len(), 0);
  } finally {
    cleanup();
  }
});

test('a journal whose HEAD names another state is ignored; a damaged HEAD is reported and nothing changes', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rnd = prng(5);
    const db = new VectorDB({ dimension: DIM });
    mutate(db, rnd, 50);
    const p = journaled(db, dir);
    const base = await p.save();
    const atSave = await cloneDb(db);
    mutate(db, rnd, 20);
    await p.saveIncremental();
    await p.shutdown();
    const head = join(journalDir(base), 'HEAD');
    writeFileSync(head, `QVDB-JOURNAL 1\nafter ${'ab'.repeat(32)}\n`);
    const reader = new VectorDB({ dimension: DIM });
    await new DatabasePersistence(reader, { baseDir: dir }).load({ path: base });
    assertSameDb(reader, atSave);

    // HEAD carries a CRC-32 of its lines: one flipped hex digit of the checksum is damage, not another state.
    const q = journaled(db, dir);
    await q.save();
    mutate(db, rnd, 5);
    await q.saveIncremental();
    await q.shutdown();
    const text = readFileSync(head, 'utf8');
    assert.match(text, /^QVDB-JOURNAL 2\nafter [0-9a-f]{64}\ncrc32 [0-9a-f]{8}\n$/);
    const digit = text.indexOf('after ') + 10;
    writeFileSync(head, text.slice(0, digit) + (text[digit] === '0' ? '1' : '0') + text.slice(digit + 1));
    const flipped = new VectorDB({ dimension: DIM });
    await assert.rejects(new DatabasePersistence(flipped, { baseDir: dir }).load({ path: base }), (e: unknown) => e instanceof CorruptionError && e.code === 'CHECKSUM_MISMATCH' && e.file === head && /checksum/.test(e.message));
    assert.equal(flipped.len(), 0);
    // Nor does a journaled save by an instance that has not read this journal start it over.
    const before = readdirSync(journalDir(base)).filter((n) => n.endsWith('.log')).map((n) => readFileSync(join(journalDir(base), n)).length);
    const other = journaled(new VectorDB({ dimension: DIM }), dir);
    await assert.rejects(other.load({ path: base }), (e: unknown) => e instanceof CorruptionError && /load\(\{ repair: true \}\) moves the journal aside/.test(e.message));
    assert.deepEqual(readdirSync(journalDir(base)).filter((n) => n.endsWith('.log')).map((n) => readFileSync(join(journalDir(base), n)).length), before);
    // A HEAD of a newer version is not damage: UNSUPPORTED_VERSION, nothing changed.
    const damagedHead = readFileSync(head);
    writeFileSync(head, text.replace('QVDB-JOURNAL 2', 'QVDB-JOURNAL 3'));
    await assert.rejects(new DatabasePersistence(new VectorDB({ dimension: DIM }), { baseDir: dir }).load({ path: base }), (e: unknown) => (e as QuiverError).code === 'UNSUPPORTED_VERSION');

    writeFileSync(head, 'garbage');
    const target = new VectorDB({ dimension: DIM });
    void target.insert({ id: 'keep-me', vector: new Float32Array(DIM).fill(1) });
    await assert.rejects(new DatabasePersistence(target, { baseDir: dir }).load({ path: base }), (e: unknown) => e instanceof CorruptionError && e.message.includes('HEAD'));
    assert.deepEqual(target.ids(), ['keep-me']);
    writeFileSync(head, damagedHead);
    // load({ repair: true }) cannot cut a journal whose HEAD is damaged: it moves the journal aside, with a warning, and loads the file alone.
    const repaired = new VectorDB({ dimension: DIM });
    await capturing(async (seen) => {
      await new DatabasePersistence(repaired, { baseDir: dir }).load({ path: base, repair: true });
      await new Promise((r) => setImmediate(r));
      assert.equal(seen.warnings.length, 1, seen.warnings.join());
      assert.match(seen.warnings[0], /^QuiverRepairWarning: load\(\{ repair: true \}\) could not cut the save journal .* moved aside to .*\.corrupt-/);
    });
    assert.equal(existsSync(journalDir(base)), false);
    assert.ok(readdirSync(dir).some((n) => n.startsWith('database.qvdb.wal.corrupt-')));
    assert.ok(repaired.len() > 0);
  } finally {
    cleanup();
  }
});

test('loading a journal without journaling makes the next incremental save a full one', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rnd = prng(9);
    const db = new VectorDB({ dimension: DIM });
    mutate(db, rnd, 50);
    const p = journaled(db, dir);
    const base = await p.save();
    mutate(db, rnd, 20);
    await p.saveIncremental();
    await p.shutdown();
    const db2 = new VectorDB({ dimension: DIM });
    const plain = new DatabasePersistence(db2, { baseDir: dir, incremental: true });
    await plain.load({ path: base });
    mutate(db2, rnd, 5);
    assert.equal(await plain.saveIncremental(), base, 'a full save, not a delta on top of the journal');
    assert.equal(existsSync(journalDir(base)), false);
    const db3 = new VectorDB({ dimension: DIM });
    await new DatabasePersistence(db3, { baseDir: dir }).load({ path: base });
    assertSameDb(db3, db2);
  } finally {
    cleanup();
  }
});

test('past journalMaxBytes an incremental save writes a full file and starts the journal over', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rnd = prng(13);
    const db = new VectorDB({ dimension: DIM });
    mutate(db, rnd, 50);
    const p = journaled(db, dir, { journalMaxBytes: 6000 });
    const kinds: string[] = [];
    p.on('save', (e: SaveEvent) => kinds.push(e.kind));
    const base = await p.save();
    for (let i = 0; i < 12; i++) {
      mutate(db, rnd, 10);
      await p.saveIncremental();
    }
    assert.ok(kinds.filter((k) => k === 'full').length >= 2, `folded at least once: ${kinds.join(',')}`);
    assert.ok(kinds.includes('journal'));
    await p.shutdown();
    const reader = new VectorDB({ dimension: DIM });
    await new DatabasePersistence(reader, { baseDir: dir }).load({ path: base });
    assertSameDb(reader, db);
  } finally {
    cleanup();
  }
});

test('the auto-save timer appends to the journal', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = new VectorDB({ dimension: DIM });
    const rnd = prng(17);
    mutate(db, rnd, 20);
    const p = new DatabasePersistence(db, { baseDir: dir, incremental: true, autoSaveInterval: 10 });
    const kinds: string[] = [];
    p.on('save', (e: SaveEvent) => kinds.push(e.kind));
    const waitFor = async (n: number) => {
      for (let i = 0; i < 300 && kinds.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    await waitFor(1);
    mutate(db, rnd, 10);
    await waitFor(2);
    assert.deepEqual(kinds.slice(0, 2), ['full', 'journal']);
    await p.shutdown();
    const reader = new VectorDB({ dimension: DIM });
    await new DatabasePersistence(reader, { baseDir: dir }).load();
    assertSameDb(reader, db);
  } finally {
    cleanup();
  }
});

test('power loss: after each acknowledged journaled save, a crash at any point reloads that save exactly', async () => {
  const fs = new MemoryFileSystem();
  const rnd = prng(21);
  const db = new VectorDB({ dimension: DIM });
  mutate(db, rnd, 60);
  const p = journaled(db, '/data', { fs });
  const base = await p.save();
  for (let round = 0; round < 8; round++) {
    mutate(db, rnd, 15, round === 5);
    await p.saveIncremental();
    const expected = await cloneDb(db);
    for (let seed = 0; seed < 4; seed++) {
      const crashed = fs.snapshotDurable({ seed: round * 10 + seed });
      const reader = new VectorDB({ dimension: DIM });
      await new DatabasePersistence(reader, { baseDir: '/data', fs: crashed }).load({ path: base });
      assertSameDb(reader, expected);
    }
  }
  await p.shutdown();
});

test('a journaled incremental save refuses (BUSY) to extend a base another writer replaced, and writes nothing', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rnd = prng(9);
    const dbA = new VectorDB({ dimension: DIM });
    mutate(dbA, rnd, 50);
    const a = journaled(dbA, dir);
    const base = await a.save();
    mutate(dbA, rnd, 5);
    assert.equal(await a.saveIncremental(), journalDir(base));
    // Another writer replaces the base with its own full save.
    const dbB = await cloneDb(dbA);
    await dbB.insert({ id: 'fromB', vector: vec(rnd) });
    await new DatabasePersistence(dbB, { baseDir: dir }).save();
    await dbA.insert({ id: 'fromA', vector: vec(rnd) });
    // (B's full save removed the journal of the base it replaced.)
    const listing = (): string[] => (existsSync(journalDir(base)) ? readdirSync(journalDir(base)).sort() : []);
    const before = listing();
    await assert.rejects(a.saveIncremental(), (err: unknown) => (err as { code?: string }).code === 'BUSY');
    assert.deepEqual(listing(), before, 'nothing was appended');
    const back = new VectorDB({ dimension: DIM });
    await new DatabasePersistence(back, { baseDir: dir }).load();
    assertSameDb(back, dbB);
    await a.shutdown().catch(() => undefined);
  } finally {
    cleanup();
  }
});

test('a journal record that decodes but cannot be applied fails the load with the database untouched', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d', { recursive: true });
  const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await db.insert({ id: 'a', vector: [1, 2, 3, 4] });
  const p = new DatabasePersistence(db, { baseDir: '/d', fs, incremental: true, autoSaveInterval: 3_600_000 });
  await p.save();
  await db.insert({ id: 'b', vector: [5, 6, 7, 8] });
  await p.saveIncremental();
  await p.shutdown();
  // A record with a valid CRC (so it is not a torn tail) whose second op no save could have logged.
  const w = await WalWriter.open(fs, journalDir('/d/database.qvdb'), { durability: 'sync' });
  await w.append({ type: 'batch', ops: [{ type: 'delete', id: 'a' }, { type: 'upsert', id: 'c', vector: new Float32Array([Number.NaN, 1, 1, 1]) }] });
  await w.close();
  const target = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await target.insert({ id: 'zzz', vector: [9, 9, 9, 9] });
  await assert.rejects(new DatabasePersistence(target, { baseDir: '/d', fs }).load(), (e: QuiverError) => e.code === 'INVALID_VECTOR' && e.message.includes('database.qvdb.wal'));
  assert.deepEqual([...target.ids()], ['zzz']);
  // A metadata-only update is not something a save writes: damage, refused before anything changes.
  await fs.rm(journalDir('/d/database.qvdb'), { recursive: true });
  const q = new DatabasePersistence(db, { baseDir: '/d', fs, incremental: true, autoSaveInterval: 3_600_000 });
  await q.save();
  await db.insert({ id: 'e', vector: [1, 1, 1, 1] });
  await q.saveIncremental();
  await q.shutdown();
  const w2 = await WalWriter.open(fs, journalDir('/d/database.qvdb'), { durability: 'sync' });
  await w2.append({ type: 'batch', ops: [{ type: 'clear' }, { type: 'updateMetadata', id: 'b', metadata: { x: 1 } }] });
  await w2.close();
  await assert.rejects(new DatabasePersistence(target, { baseDir: '/d', fs }).load(), (e: QuiverError) => e instanceof CorruptionError && e.code === 'CORRUPT');
  assert.deepEqual([...target.ids()], ['zzz']);
});

test('journal records in an order no save writes still replay op by op', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d', { recursive: true });
  const db = new VectorDB({ dimension: 2, metric: 'euclidean' });
  await db.insert({ id: 'a', vector: [1, 1] });
  const p = new DatabasePersistence(db, { baseDir: '/d', fs, incremental: true, autoSaveInterval: 3_600_000 });
  await p.save();
  await db.insert({ id: 'b', vector: [2, 2] });
  await p.saveIncremental();
  await p.shutdown();
  const w = await WalWriter.open(fs, journalDir('/d/database.qvdb'), { durability: 'sync' });
  await w.append({
    type: 'batch',
    ops: [
      { type: 'upsert', id: 'c', vector: new Float32Array([3, 3]) },
      { type: 'delete', id: 'c' },
      { type: 'upsert', id: 'b', vector: new Float32Array([4, 4]), metadata: { v: 1 } },
      { type: 'upsert', id: 'b', vector: new Float32Array([5, 5]), metadata: { v: 2 } },
      { type: 'clear' },
      { type: 'upsert', id: 'd', vector: new Float32Array([6, 6]) },
      { type: 'upsert', id: 'b', vector: new Float32Array([7, 7]), metadata: { v: 3 } },
    ],
  });
  await w.close();
  const target = new VectorDB({ dimension: 2, metric: 'euclidean' });
  await new DatabasePersistence(target, { baseDir: '/d', fs }).load();
  assert.deepEqual([...target.ids()].sort(), ['b', 'd']);
  assert.deepEqual(target.get('b'), { id: 'b', vector: new Float32Array([7, 7]), metadata: { v: 3 } });
});

test('a failed journal append makes the next save a full one; the journal is not left broken', async () => {
  const mem = new MemoryFileSystem();
  await mem.mkdir('/d', { recursive: true });
  const fs = new FaultFileSystem(mem);
  const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await db.insert({ id: 'a', vector: [1, 2, 3, 4] });
  const p = new DatabasePersistence(db, { baseDir: '/d', fs, incremental: true, autoSaveInterval: 3_600_000 });
  p.stopAutoSave();
  const kinds: string[] = [];
  p.on('save', (e: SaveEvent) => kinds.push(e.kind));
  await p.save();
  await db.insert({ id: 'b', vector: [5, 6, 7, 8] });
  await p.saveIncremental();
  fs.addFault({ at: 1, code: 'EIO', kinds: (op) => (op.kind === 'write' || op.kind === 'dsync') && op.path.includes('.wal/') });
  await db.insert({ id: 'c', vector: [5, 6, 7, 9] });
  await assert.rejects(p.saveIncremental(), (e: QuiverError) => e.code === 'EIO' && /journal .* failed .*may not have completed.*next save writes the whole file/.test(e.message));
  await db.insert({ id: 'd', vector: [5, 6, 7, 10] });
  assert.equal(await p.saveIncremental(), '/d/database.qvdb', 'the save after the failure writes the whole file');
  await db.insert({ id: 'e', vector: [5, 6, 7, 11] });
  assert.equal(await p.saveIncremental(), journalDir('/d/database.qvdb'), 'and journaling resumes after it');
  assert.deepEqual(kinds, ['full', 'journal', 'full', 'journal']);
  assert.equal(p.hasUnsavedChanges, false);
  await p.shutdown();
  const back = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await new DatabasePersistence(back, { baseDir: '/d', fs: mem }).load();
  assertSameDb(back, db);
});

test('a journaled save and a delta written by another instance on the same chain: the later one gets BUSY', async () => {
  for (const journalFirst of [false, true]) {
    const fs = new MemoryFileSystem();
    await fs.mkdir('/d', { recursive: true });
    const dbB = new VectorDB({ dimension: 2 });
    await dbB.insert({ id: 'base', vector: [1, 2] });
    const B = new DatabasePersistence(dbB, { baseDir: '/d', fs });
    await B.save();
    const dbA = new VectorDB({ dimension: 2 });
    const A = new DatabasePersistence(dbA, { baseDir: '/d', fs, incremental: true, autoSaveInterval: 3_600_000 });
    A.stopAutoSave();
    await A.load();
    await dbB.insert({ id: 'fromB', vector: [3, 4] });
    await dbA.insert({ id: 'fromA', vector: [5, 6] });
    const [first, second] = journalFirst ? [A, B] : [B, A];
    await first.saveIncremental();
    await assert.rejects(second.saveIncremental(), (e: QuiverError) => e.code === 'BUSY');
    await A.shutdown().catch(() => undefined);
    const check = new VectorDB({ dimension: 2 });
    await new DatabasePersistence(check, { baseDir: '/d', fs }).load();
    assert.deepEqual([...check.ids()].sort(), ['base', journalFirst ? 'fromA' : 'fromB'], 'the acknowledged save is the one that loads');
  }
});

test('two instances journaling on one chain: the one that did not write the journal gets BUSY, before and after its first record, and no acknowledged save is lost', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d', { recursive: true });
  const seed = new VectorDB({ dimension: 2 });
  await seed.insert({ id: 'base', vector: [1, 2] });
  await new DatabasePersistence(seed, { baseDir: '/d', fs }).save();
  const open = async () => {
    const db = new VectorDB({ dimension: 2 });
    const p = new DatabasePersistence(db, { baseDir: '/d', fs, incremental: true, autoSaveInterval: 3_600_000 });
    p.stopAutoSave();
    await p.load();
    return { db, p };
  };
  const a = await open();
  const c = await open();
  // Before: C's first journaled save would have reset the journal A had just extended.
  await a.db.insert({ id: 'a1', vector: [3, 4] });
  assert.equal(await a.p.saveIncremental(), journalDir('/d/database.qvdb'));
  await c.db.insert({ id: 'c1', vector: [5, 6] });
  await assert.rejects(c.p.saveIncremental(), (e: QuiverError) => e.code === 'BUSY' && /save journal .* was extended by another writer/.test(e.message));
  // A later loader finds A appending (the journal is locked while A has it open): it does not append to
  // it, and its next save is a full one over the state it loaded; A's next append is then refused.
  const c2 = await open();
  assert.deepEqual([...c2.db.ids()].sort(), ['a1', 'base']);
  await c2.db.insert({ id: 'c2', vector: [7, 8] });
  assert.equal(await c2.p.saveIncremental(), '/d/database.qvdb');
  await a.db.insert({ id: 'a2', vector: [9, 10] });
  await assert.rejects(a.p.saveIncremental(), (e: QuiverError) => e.code === 'BUSY' && /another writer/.test(e.message));
  await assert.rejects(a.p.saveIncremental(), (e: QuiverError) => e.code === 'BUSY', 'it stays refused until load() or save()');
  const check = new VectorDB({ dimension: 2 });
  await new DatabasePersistence(check, { baseDir: '/d', fs }).load();
  assert.deepEqual([...check.ids()].sort(), ['a1', 'base', 'c2'], 'every acknowledged save loads');
  // load() continues from the files; A's change is then saved on top.
  await a.p.load();
  await a.db.insert({ id: 'a2', vector: [9, 10] });
  await a.p.saveIncremental();
  const again = new VectorDB({ dimension: 2 });
  await new DatabasePersistence(again, { baseDir: '/d', fs }).load();
  assert.deepEqual([...again.ids()].sort(), ['a1', 'a2', 'base', 'c2']);
  for (const x of [a, c, c2]) await x.p.shutdown().catch(() => undefined);
});

test('an instance that loaded another writer\'s journal without journaling itself refuses (BUSY) to write its next incremental save in full over records added since', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d', { recursive: true });
  const dbA = new VectorDB({ dimension: 2 });
  await dbA.insert({ id: 'base', vector: [1, 2] });
  const A = new DatabasePersistence(dbA, { baseDir: '/d', fs, incremental: true, autoSaveInterval: 3_600_000 });
  A.stopAutoSave();
  await A.save();
  await dbA.insert({ id: 'a1', vector: [3, 4] });
  await A.saveIncremental();
  const dbB = new VectorDB({ dimension: 2 });
  const B = new DatabasePersistence(dbB, { baseDir: '/d', fs, incremental: true });
  await B.load();
  await dbA.insert({ id: 'a2', vector: [5, 6] });
  await A.saveIncremental();
  await dbB.insert({ id: 'b1', vector: [7, 8] });
  await assert.rejects(B.saveIncremental(), (e: QuiverError) => e.code === 'BUSY' && /save journal .* was changed by another writer since this instance loaded it/.test(e.message));
  const check = new VectorDB({ dimension: 2 });
  await new DatabasePersistence(check, { baseDir: '/d', fs }).load();
  assert.deepEqual([...check.ids()].sort(), ['a1', 'a2', 'base'], 'A\'s acknowledged saves are all there');
  // Unchanged since the load, the fallback full save goes ahead (the journal is folded in).
  await B.load();
  await dbB.insert({ id: 'b1', vector: [7, 8] });
  assert.ok(await B.saveIncremental());
  await A.shutdown().catch(() => undefined);
});

test('after shutdown() a journaling instance still saves: a second shutdown or a saveIncremental writes the change (a full save), never BUSY', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rnd = prng(21);
    const db = new VectorDB({ dimension: DIM });
    mutate(db, rnd, 50);
    const p = journaled(db, dir);
    const base = await p.save();
    mutate(db, rnd, 10);
    assert.equal(await p.saveIncremental(), journalDir(base));
    await p.shutdown();
    // Before the fix both calls below failed with BUSY ("extended by another writer": its own journal)
    // and these writes were lost.
    await db.insert({ id: 'after-shutdown', vector: vec(rnd) });
    assert.equal(await p.saveIncremental(), base, 'a full save of the file');
    await db.insert({ id: 'after-second', vector: vec(rnd) });
    await p.shutdown();
    const reader = new VectorDB({ dimension: DIM });
    await new DatabasePersistence(reader, { baseDir: dir }).load({ path: base });
    assertSameDb(reader, db);
    assert.ok(reader.has('after-shutdown') && reader.has('after-second'));
    // Nor does a load or save after shutdown() take the journal's lock again and keep it.
    const otherDb = new VectorDB({ dimension: DIM });
    const other = journaled(otherDb, dir);
    await other.load({ path: base });
    mutate(otherDb, rnd, 5);
    assert.equal(await other.saveIncremental(), journalDir(base));
    assert.equal(existsSync(join(journalDir(base), 'LOCK')), true, 'the journaling instance holds it');
    await other.shutdown();
    assert.equal(existsSync(join(journalDir(base), 'LOCK')), false);
    await p.load({ path: base });
    assertSameDb(db, otherDb);
    assert.equal(existsSync(join(journalDir(base), 'LOCK')), false, 'a load after shutdown() does not take it');
    await db.insert({ id: 'after-load', vector: vec(rnd) });
    await p.saveIncremental();
    assert.equal(existsSync(join(journalDir(base), 'LOCK')), false, 'nor does a save');
  } finally {
    cleanup();
  }
});

test('changes too big for one journal record (large metadata) are saved in full, also by shutdown\'s last save', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = new VectorDB({ dimension: DIM });
    await db.insert({ id: 'first', vector: new Float32Array(DIM).fill(1) });
    const p = journaled(db, dir);
    const base = await p.save();
    // 45 entries of 6 MB of metadata each: a 270 MB record, over the log's 256 MiB limit.
    const blob = 'x'.repeat(6_000_000);
    for (let i = 0; i < 45; i++) void db.insert({ id: `big-${i}`, vector: new Float32Array(DIM).fill(i), metadata: { blob } });
    const events: string[] = [];
    p.on('save', (e: SaveEvent) => events.push(e.kind));
    // shutdown's last save is the incremental one an exit makes.
    await p.shutdown();
    assert.deepEqual(events, ['full']);
    const reader = new VectorDB({ dimension: DIM });
    await new DatabasePersistence(reader, { baseDir: dir }).load({ path: base });
    assert.equal(reader.len(), 46);
    assert.equal((reader.get('big-44')?.metadata as { blob: string }).blob.length, 6_000_000);
  } finally {
    cleanup();
  }
});

test('the journal counts its bytes across its log\'s segments, so journalMaxBytes still holds once a new segment starts', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rnd = prng(22);
    const db = new VectorDB({ dimension: DIM });
    mutate(db, rnd, 50);
    const { base, fs, journal } = await smallSegmentJournal(db, dir);
    let seq = db.seq;
    try {
      // What the count leaves out (the first segment's header) stays what it is: the count moves
      // exactly as the bytes on disk do, across segments.
      const uncounted = (await journalBytes(fs, base)) - journal.bytes;
      for (let i = 0; i < 40; i++) {
        mutate(db, rnd, 5);
        const changes = db.openChanges(seq);
        const added = await journal.append(changes);
        seq = changes.seq;
        changes.release();
        assert.ok(added > 0, `save ${i} added ${added} bytes`);
        assert.equal(journal.bytes + uncounted, await journalBytes(fs, base), `after save ${i}`);
      }
      assert.ok(readdirSync(journalDir(base)).filter((n) => n.endsWith('.log')).length > 3, 'several segments were written');
    } finally {
      await journal.close();
    }
  } finally {
    cleanup();
  }
});

test('two instances journaling on one base save at the same moment: one appends, the other gets BUSY, and the acknowledged save is on disk', async () => {
  for (let round = 0; round < 25; round++) {
    const fs = new MemoryFileSystem();
    await fs.mkdir('/d', { recursive: true });
    const seed = new VectorDB({ dimension: 2 });
    await seed.insert({ id: 'doc-0', vector: [0, 0] });
    await new DatabasePersistence(seed, { baseDir: '/d', fs }).save();
    const open = async (id: string) => {
      const db = new VectorDB({ dimension: 2 });
      const p = new DatabasePersistence(db, { baseDir: '/d', fs, incremental: true, autoSaveInterval: 3_600_000 });
      p.stopAutoSave();
      await p.load();
      await db.insert({ id, vector: [1, 1] });
      return { db, p, id };
    };
    const both = [await open('doc-A'), await open('doc-B')];
    // Staggered by a few microtasks each round, so the two saves interleave differently.
    const settled = await Promise.allSettled(both.map(async (x, i) => {
      for (let k = 0; k < (i === 0 ? round % 5 : (round * 3) % 7); k++) await Promise.resolve();
      return x.p.saveIncremental();
    }));
    const won = settled.flatMap((r, i) => (r.status === 'fulfilled' ? [both[i]] : []));
    for (const r of settled) if (r.status === 'rejected') assert.equal((r.reason as QuiverError).code, 'BUSY', `round ${round}: ${String(r.reason)}`);
    assert.equal(won.length, 1, `round ${round}: exactly one save succeeds`);
    const check = new VectorDB({ dimension: 2 });
    await new DatabasePersistence(check, { baseDir: '/d', fs }).load();
    assert.deepEqual([...check.ids()].sort(), ['doc-0', won[0].id].sort(), `round ${round}`);
    // The loser stays refused (no silent full save over the winner's journal) until it loads.
    const lost = both.find((x) => x !== won[0]) as (typeof both)[number];
    await lost.db.insert({ id: 'more', vector: [2, 2] });
    await assert.rejects(lost.p.saveIncremental(), { code: 'BUSY' });
    for (const x of both) await x.p.shutdown().catch(() => undefined);
  }
});

test('a shutdown() whose final save fails still closes the journal: its lock is released, and the failure is reported', async () => {
  const mem = new MemoryFileSystem();
  await mem.mkdir('/d', { recursive: true });
  const fs = new FaultFileSystem(mem);
  const db = new VectorDB({ dimension: 2 });
  // A small journal limit: the final save of shutdown() is a full one (folding the journal in).
  const p = new DatabasePersistence(db, { baseDir: '/d', fs, incremental: true, autoSaveInterval: 3_600_000, journalMaxBytes: 2000 });
  p.stopAutoSave();
  await db.insert({ id: 'a', vector: [1, 2] });
  await p.saveIncremental();
  await db.insert({ id: 'b', vector: [3, 4] });
  await p.saveIncremental();
  assert.ok((await mem.readdir(journalDir('/d/database.qvdb'))).includes('LOCK'), 'the journal is open, locked');
  for (let i = 0; i < 50; i++) await db.insert({ id: `c${i}`, vector: [5, i] });
  // The full save's writes fail (the journal's would not be reached).
  fs.addFault({ at: 1, code: 'EIO', mode: 'persistent', kinds: (op) => op.kind === 'write' && !op.path.includes('.wal') });
  await assert.rejects(p.shutdown(), (e: QuiverError) => e.code === 'EIO' || /EIO/.test(String(e.message)));
  assert.ok(!(await mem.readdir(journalDir('/d/database.qvdb'))).includes('LOCK'), 'the lock was released');
  fs.clearFaults();
  // Another instance in this process now journals on the files as they are, without BUSY.
  const db2 = new VectorDB({ dimension: 2 });
  const p2 = new DatabasePersistence(db2, { baseDir: '/d', fs, incremental: true, autoSaveInterval: 3_600_000 });
  p2.stopAutoSave();
  await p2.load();
  assert.deepEqual(db2.ids().sort(), ['a', 'b']);
  await db2.insert({ id: 'd', vector: [7, 8] });
  await p2.saveIncremental();
  await db2.insert({ id: 'e', vector: [9, 10] });
  assert.equal(await p2.saveIncremental(), journalDir('/d/database.qvdb'));
  await p2.shutdown();
});
