import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Id } from '../../../src/engine/types.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { nodeFs } from '../../../src/env/node-fs.js';
import { applySqliteChanges, readSqliteState, writeSqliteState } from '../../../src/format/sqlite/index.js';
import { assertColumnsEqual, expectedAfter, inTempDir, makeChangeImage, makeImage, randomVectors, surgery, type ImageSpec } from './helpers.js';

const DIM = 16;

/** A base collection of `n` entries, ids e0..e(n-1), metadata {i}. */
function baseSpec(n: number): ImageSpec {
  const ids: Id[] = Array.from({ length: n }, (_, i) => (i === 7 ? 7 : `e${i}`));
  return { dimension: DIM, ids, vectors: randomVectors(n, DIM, 1), metadata: ids.map((_, i) => ({ i })), seq: n };
}

function rowsByPos(path: string): Map<number, { id: unknown; vector: Buffer; metadata: string | null }> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT pos, id, vector, metadata FROM entries').all() as { pos: number; id: unknown; vector: Buffer; metadata: string | null }[];
    return new Map(rows.map((r) => [r.pos, r]));
  } finally {
    db.close();
  }
}

/** Ids of the id-index tests: id-0000, id-0001, ... (all of one length). */
const padId = (i: number): string => `id-${String(i).padStart(4, '0')}`;
/** Bytes of an id-index record of a padId below 128 stored at rowid i: header (3 bytes), id text, rowid. */
const INDEX_RECORD_BYTES = 3 + 7 + 1;

/** Offset in a SQLite file's bytes of the id-index record of padId(i), stored at rowid i (i < 128). */
function indexRecordAt(bytes: Buffer, i: number): number {
  const record = Buffer.concat([Buffer.from([0x03, 13 + 2 * 7, 0x01]), Buffer.from(padId(i)), Buffer.from([i])]);
  const at = bytes.indexOf(record);
  assert.ok(at > 0, `the index record of ${padId(i)} was found`);
  return at;
}

test('an incremental save writes only the changed rows and keeps every other row where it was', async () => {
  await inTempDir(async (dir) => {
    const base = baseSpec(3000);
    const path = join(dir, 'inc.sqlite');
    const w = await writeSqliteState(nodeFs, path, makeImage(base));
    const before = rowsByPos(path);
    const upsertIds: Id[] = ['e10', 7, 'e2999', 'new-1', 'new-2'];
    const upserts: ImageSpec = { dimension: DIM, ids: upsertIds, vectors: randomVectors(5, DIM, 99), metadata: upsertIds.map((id) => ({ changed: id })) };
    const deleted: Id[] = ['e20', 'e1500', 'absent'];
    const change = makeChangeImage({ ...upserts, sinceSeq: 3000, deletedIds: deleted, seq: 3010, total: 3000 });
    const a = await applySqliteChanges(nodeFs, path, change, { expectedChecksum: w.checksum });
    assert.equal(a.changedRows, 7, '3 updates + 2 inserts + 2 deletes of existing ids');
    assert.equal(a.count, 3000 - 2 + 2);
    assert.notEqual(a.checksum, w.checksum);
    const after = rowsByPos(path);
    let same = 0;
    for (const [pos, row] of before) {
      const now = after.get(pos);
      if (row.id === 'e20' || row.id === 'e1500') {
        assert.equal(now, undefined);
        continue;
      }
      assert.equal(now?.id, row.id, `pos ${pos} keeps its id`);
      if (upsertIds.includes(row.id as Id)) continue;
      assert.ok(now!.vector.equals(row.vector) && now!.metadata === row.metadata, `untouched row ${pos} unchanged`);
      same++;
    }
    assert.equal(same, 3000 - 2 - 3);
    assert.deepEqual([after.get(3000)?.id, after.get(3001)?.id], ['new-1', 'new-2'], 'inserts go to the end');
    const r = await readSqliteState(nodeFs, path);
    assertColumnsEqual(r.columns, expectedAfter(base, upserts, deleted));
    assert.equal(r.seq, 3010);
    assert.equal(r.checksum, a.checksum);
    assert.deepEqual(readdirSync(dir), ['inc.sqlite'], 'no journal left behind');
  });
});

test('an incremental save refuses a file that changed since the last save, leaving it untouched', async () => {
  await inTempDir(async (dir) => {
    const base = baseSpec(50);
    const path = join(dir, 'c.sqlite');
    await writeSqliteState(nodeFs, path, makeImage(base));
    const bytes = readFileSync(path);
    const change = makeChangeImage({ dimension: DIM, ids: ['x'], vectors: randomVectors(1, DIM), sinceSeq: 50, total: 51 });
    await assert.rejects(applySqliteChanges(nodeFs, path, change, { expectedChecksum: '0'.repeat(64) }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'CHECKSUM_MISMATCH');
      assert.match(err.message, /changed since the last save.*full save/);
      return true;
    });
    assert.ok(readFileSync(path).equals(bytes));
    const wrongDim = makeChangeImage({ dimension: 4, ids: ['x'], vectors: randomVectors(1, 4), sinceSeq: 50, total: 51 });
    await assert.rejects(applySqliteChanges(nodeFs, path, wrongDim), { code: 'DIMENSION_MISMATCH' });
    const wrongMetric = makeChangeImage({ dimension: DIM, metric: 'dot', ids: ['x'], vectors: randomVectors(1, DIM), sinceSeq: 50, total: 51 });
    await assert.rejects(applySqliteChanges(nodeFs, path, wrongMetric), { code: 'INVALID_ARGUMENT' });
    assert.ok(readFileSync(path).equals(bytes));
  });
});

test('a damaged row in a bucket the save would rehash is reported, not blessed with a new digest', async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, 'd.sqlite');
    await writeSqliteState(nodeFs, path, makeImage(baseSpec(100)));
    surgery(path, (db) => db.exec(`UPDATE entries SET metadata = '{"i":"tampered"}' WHERE pos = 5`));
    const change = makeChangeImage({ dimension: DIM, ids: ['e6'], vectors: randomVectors(1, DIM), metadata: [{ z: 1 }], sinceSeq: 100, total: 100 });
    await assert.rejects(applySqliteChanges(nodeFs, path, change), { code: 'CHECKSUM_MISMATCH', message: /do a full save/ });
    await assert.rejects(readSqliteState(nodeFs, path), { code: 'CHECKSUM_MISMATCH' });
  });
});

test('cleared: the save deletes every row, then inserts the upserts from position 0', async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, 'clr.sqlite');
    await writeSqliteState(nodeFs, path, makeImage(baseSpec(500)));
    const spec: ImageSpec = { dimension: DIM, ids: ['e1', 'fresh'], vectors: randomVectors(2, DIM, 5), metadata: [{ a: 1 }, undefined] };
    const a = await applySqliteChanges(nodeFs, path, makeChangeImage({ ...spec, sinceSeq: 10, cleared: true, seq: 600, total: 2 }));
    assert.equal(a.count, 2);
    assertColumnsEqual((await readSqliteState(nodeFs, path)).columns, spec);
    assert.deepEqual([...rowsByPos(path).keys()], [0, 1]);
  });
});

test('a sequence of incremental saves reads back the same as a full save of the final state', async () => {
  await inTempDir(async (dir) => {
    let state = baseSpec(1200);
    const path = join(dir, 'seq.sqlite');
    let checksum = (await writeSqliteState(nodeFs, path, makeImage(state))).checksum;
    for (let round = 0; round < 4; round++) {
      const ids: Id[] = [`e${round * 100}`, `e${round * 100 + 1}`, `r${round}`, round];
      const upserts: ImageSpec = { dimension: DIM, ids, vectors: randomVectors(ids.length, DIM, 50 + round), metadata: ids.map(() => ({ round })) };
      const deleted: Id[] = [`e${900 + round}`];
      const next = expectedAfter(state, upserts, deleted);
      checksum = (await applySqliteChanges(nodeFs, path, makeChangeImage({ ...upserts, sinceSeq: round, deletedIds: deleted, total: next.ids.length }), { expectedChecksum: checksum })).checksum;
      state = next;
    }
    const r = await readSqliteState(nodeFs, path);
    assertColumnsEqual(r.columns, state);
    assert.equal(r.checksum, checksum);
  });
});

test('memory file system: the incremental save reads, applies in memory and publishes atomically', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/m');
  const base = baseSpec(40);
  const w = await writeSqliteState(fs, '/m/x.sqlite', makeImage(base));
  const upserts: ImageSpec = { dimension: DIM, ids: ['e3', 'n'], vectors: randomVectors(2, DIM, 8), metadata: [{ up: 1 }, { up: 2 }] };
  const a = await applySqliteChanges(fs, '/m/x.sqlite', makeChangeImage({ ...upserts, sinceSeq: 40, deletedIds: ['e0'], total: 40 }), { expectedChecksum: w.checksum });
  assert.equal(a.bytes, (await fs.readFile('/m/x.sqlite')).length);
  const r = await readSqliteState(fs, '/m/x.sqlite');
  assertColumnsEqual(r.columns, expectedAfter(base, upserts, ['e0']));
  assert.equal(r.checksum, a.checksum);
  assert.deepEqual(await fs.readdir('/m'), ['x.sqlite']);
});

test('an aborted incremental save leaves the file exactly as it was', async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, 'ab.sqlite');
    await writeSqliteState(nodeFs, path, makeImage(baseSpec(3000)));
    const bytes = readFileSync(path);
    const n = 3000;
    const ids = Array.from({ length: n }, (_, i) => `e${i}`);
    const ctl = new AbortController();
    const change = makeChangeImage({ dimension: DIM, ids, vectors: randomVectors(n, DIM, 4), sinceSeq: 1, total: 3001 }); // e7 is new: the base has the numeric id 7
    await assert.rejects(
      applySqliteChanges(nodeFs, path, change, { signal: ctl.signal, onProgress: (p) => p.current > 1000 && ctl.abort() }),
      { code: 'ABORTED' },
    );
    assert.ok(readFileSync(path).equals(bytes));
    assert.deepEqual(readdirSync(dir), ['ab.sqlite']);
  });
});

test('a read holds one snapshot: another connection cannot commit in the middle of it', async () => {
  await inTempDir(async (dir) => {
    const base = baseSpec(6000);
    const path = join(dir, 'snap.sqlite');
    await writeSqliteState(nodeFs, path, makeImage(base));
    let attempted = false;
    const r = await readSqliteState(nodeFs, path, {
      onProgress: (p) => {
        if (attempted || p.current < 2048) return;
        attempted = true;
        const other = new Database(path, { timeout: 0 });
        try {
          assert.throws(() => other.exec("UPDATE entries SET metadata = '{}' WHERE pos = 5000"), { code: 'SQLITE_BUSY' });
        } finally {
          other.close();
        }
      },
    });
    assert.ok(attempted);
    assertColumnsEqual(r.columns, base);
  });
});

test('two instances saving into one SQLite file at once: one fails with BUSY at once, without blocking the event loop for SQLite\'s busy wait', async () => {
  const { VectorDB } = await import('../../../src/engine/vector-db.js');
  const { DatabasePersistence } = await import('../../../src/persistence/database-persistence.js');
  await inTempDir(async (dir) => {
    const vec = (i: number): Float32Array => Float32Array.from({ length: 64 }, (_, d) => Math.sin(i * 7 + d));
    const a = new VectorDB({ dimension: 64 });
    for (let i = 0; i < 3000; i++) void a.insert({ id: i, vector: vec(i) });
    const pa = new DatabasePersistence(a, { baseDir: dir, format: 'sqlite' });
    await pa.save();
    const b = new VectorDB({ dimension: 64 });
    const pb = new DatabasePersistence(b, { baseDir: dir, format: 'sqlite' });
    await pb.load();
    for (let i = 0; i < 3000; i++) void a.insert({ id: i, vector: vec(i + 1), metadata: { w: 'a' } });
    for (let i = 0; i < 3000; i++) void b.insert({ id: i + 100000, vector: vec(i + 2), metadata: { w: 'b' } });
    let maxGap = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    const results = await Promise.allSettled([pa.saveIncremental(), pb.saveIncremental()]);
    clearInterval(tick);
    const failed = results.filter((r) => r.status === 'rejected');
    assert.ok(failed.length <= 1, 'at most one of them fails');
    for (const f of failed) assert.equal((f.reason as { code?: unknown }).code, 'BUSY');
    // Before the fix the second BEGIN IMMEDIATE waited out SQLite's 5 s busy timeout inside one
    // synchronous call (the whole process stalled, the other save included), then failed anyway.
    assert.ok(maxGap < 2500, `the event loop was blocked for ${maxGap.toFixed(0)} ms`);
  });
});

test('an in-place save whose id index leads an id to another row fails CORRUPT instead of writing over that row; the persistence instance then saves in full', async () => {
  const { VectorDB } = await import('../../../src/engine/vector-db.js');
  const { DatabasePersistence } = await import('../../../src/persistence/database-persistence.js');
  await inTempDir(async (dir) => {
    const db = new VectorDB({ dimension: 8 });
    const id = padId;
    for (let i = 0; i < 50; i++) void db.insert({ id: id(i), vector: new Float32Array(8).fill(i), metadata: { i } });
    const p = new DatabasePersistence(db, { baseDir: dir, format: 'sqlite' });
    const path = await p.save();
    // One byte of the index entry of id-0007 now says rowid 9. The index is not covered by the
    // checksums: the file still loads.
    const bytes = readFileSync(path);
    bytes[indexRecordAt(bytes, 7) + INDEX_RECORD_BYTES - 1] = 9;
    writeFileSync(path, bytes);
    // Directly: the in-place update refuses (before the fix it wrote id-0007's vector into id-0009's row).
    const fresh = new VectorDB({ dimension: 8 });
    for (let i = 0; i < 50; i++) void fresh.insert({ id: id(i), vector: new Float32Array(8).fill(i), metadata: { i } });
    const since = fresh.seq;
    void fresh.insert({ id: id(7), vector: new Float32Array(8).fill(700) });
    const change = fresh.openChanges(since);
    const expectedChecksum = (await readSqliteState(nodeFs, path)).checksum;
    await assert.rejects(applySqliteChanges(nodeFs, path, change, { expectedChecksum }), (e: unknown) => (e as { code?: string }).code === 'CORRUPT' && /id index/.test((e as Error).message));
    change.release();
    // Through DatabasePersistence: a full save replaces the file, and it loads as the database is.
    await db.insert({ id: id(7), vector: new Float32Array(8).fill(700) });
    await p.saveIncremental();
    const back = new VectorDB({ dimension: 8 });
    await new DatabasePersistence(back, { baseDir: dir, format: 'sqlite' }).load();
    assert.equal(back.get(id(7))?.vector[0], 700);
    assert.equal(back.get(id(9))?.vector[0], 9);
  });
});

test('an in-place save whose id index misses an id that is in the file (a damaged key) fails CORRUPT instead of skipping its delete or adding a second row; the persistence instance then saves in full', async () => {
  const { VectorDB } = await import('../../../src/engine/vector-db.js');
  const { DatabasePersistence } = await import('../../../src/persistence/database-persistence.js');
  await inTempDir(async (dir) => {
    const id = padId;
    const filled = (): InstanceType<typeof VectorDB> => {
      const d = new VectorDB({ dimension: 8 });
      for (let i = 0; i < 50; i++) void d.insert({ id: id(i), vector: new Float32Array(8).fill(i), metadata: { i } });
      return d;
    };
    const db = filled();
    const p = new DatabasePersistence(db, { baseDir: dir, format: 'sqlite' });
    const path = await p.save();
    // The index entry of id-0007 now holds the key "id-000:": a lookup of id-0007 finds nothing, while
    // the row is still there. No checksum covers the index.
    const bytes = readFileSync(path);
    bytes[indexRecordAt(bytes, 7) + 3 + 6] = 0x3a;
    writeFileSync(path, bytes);
    const expectedChecksum = (await readSqliteState(nodeFs, path)).checksum;
    const before = readFileSync(path);
    // Directly: before the fix the delete was skipped (id-0007 came back at the next load) and the upsert
    // added a second id-0007 row, both under a valid checksum.
    for (const change of ['delete', 'upsert'] as const) {
      const fresh = filled();
      const since = fresh.seq;
      if (change === 'delete') void fresh.delete(id(7));
      else void fresh.insert({ id: id(7), vector: new Float32Array(8).fill(700) });
      const c = fresh.openChanges(since);
      await assert.rejects(applySqliteChanges(nodeFs, path, c, { expectedChecksum }), (e: unknown) => (e as { code?: string }).code === 'CORRUPT' && /id index missed/.test((e as Error).message), change);
      c.release();
      assert.ok(readFileSync(path).equals(before), `${change}: the file is unchanged`);
    }
    // Through DatabasePersistence: the delete becomes a full save, and later in-place saves work again.
    await db.delete(id(7));
    await p.saveIncremental();
    const load = async (): Promise<InstanceType<typeof VectorDB>> => {
      const back = new VectorDB({ dimension: 8 });
      await new DatabasePersistence(back, { baseDir: dir, format: 'sqlite' }).load();
      return back;
    };
    assert.equal((await load()).has(id(7)), false, 'the delete held');
    await db.insert({ id: id(7), vector: new Float32Array(8).fill(700) });
    await p.saveIncremental();
    const back = await load();
    assert.equal(back.len(), 50);
    assert.equal(back.get(id(7))?.vector[0], 700);
  });
});

test('another writer saved into the SQLite file since this instance did: saveIncremental is BUSY and keeps that writer\'s changes (no full save over them)', async () => {
  const { VectorDB } = await import('../../../src/engine/vector-db.js');
  const { DatabasePersistence } = await import('../../../src/persistence/database-persistence.js');
  await inTempDir(async (dir) => {
    const a = new VectorDB({ dimension: 2 });
    const b = new VectorDB({ dimension: 2 });
    const pa = new DatabasePersistence(a, { baseDir: dir, format: 'sqlite' });
    const pb = new DatabasePersistence(b, { baseDir: dir, format: 'sqlite' });
    await a.insert({ id: 'doc-1', vector: [1, 1] });
    await pa.save();
    await pb.load();
    await a.insert({ id: 'doc-A', vector: [2, 2] });
    await pa.saveIncremental();
    await b.insert({ id: 'doc-B', vector: [3, 3] });
    await assert.rejects(pb.saveIncremental(), (e: unknown) => (e as { code?: string }).code === 'BUSY' && /another writer/.test((e as Error).message));
    // Still BUSY next time (no silent full save after the refusal), until B loads or saves in full.
    await assert.rejects(pb.saveIncremental(), { code: 'BUSY' });
    const onDisk = new VectorDB({ dimension: 2 });
    await new DatabasePersistence(onDisk, { baseDir: dir, format: 'sqlite' }).load();
    assert.deepEqual(onDisk.ids().sort(), ['doc-1', 'doc-A']);
    await pb.save();
    const after = new VectorDB({ dimension: 2 });
    await new DatabasePersistence(after, { baseDir: dir, format: 'sqlite' }).load();
    assert.deepEqual(after.ids().sort(), ['doc-1', 'doc-B'], 'an explicit full save writes over it, as asked');
  });
});
