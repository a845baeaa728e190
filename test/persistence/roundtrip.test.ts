import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { QuiverError } from '../../src/errors.js';
import type { CompressionType, PersistenceFormat } from '../../src/persistence/types.js';
import type { Progress } from '../../src/util/progress.js';
import { tempDir, realDb, assertSameDb, assertSameSearch } from '../support/db.js';

const combos: [PersistenceFormat, CompressionType][] = [
  ['binary', 'none'],
  ['binary', 'gzip'],
  ['binary', 'brotli'],
  ['json', 'none'],
  ['json', 'gzip'],
  ['json', 'brotli'],
];

for (const metric of ['cosine', 'euclidean'] as const) {
  for (const [format, compression] of combos) {
    test(`round trip ${format}/${compression} (${metric}): ids, bit-exact vectors, metadata, search`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const db = await realDb(metric === 'cosine' ? 778 : 200, metric);
        const p = new DatabasePersistence(db, { baseDir: dir, format, compression });
        const saves: Progress[] = [];
        const path = await p.save({ onProgress: (x) => saves.push(x) });
        assert.ok(path.startsWith(dir));
        const copy = new VectorDB({ dimension: 384, metric });
        const loads: Progress[] = [];
        await new DatabasePersistence(copy, { baseDir: dir }).load({ path, onProgress: (x) => loads.push(x) });
        assertSameDb(copy, db);
        assertSameSearch(copy, db);
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
        for (const seen of [saves, loads]) {
          assert.ok(seen.length > 0);
          for (let i = 1; i < seen.length; i++) assert.ok(seen[i].percentage >= seen[i - 1].percentage, 'progress went backwards');
          assert.equal(seen.at(-1)!.percentage, 100);
        }
      } finally {
        cleanup();
      }
    });
  }
}

test('format and compression are detected from the bytes, not the name', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(50);
    for (const [format, compression] of combos) {
      const path = join(dir, `misleading-${format}-${compression}.txt`);
      await new DatabasePersistence(db, { baseDir: dir, format, compression }).save({ path });
      const copy = new VectorDB({ dimension: 384 });
      await new DatabasePersistence(copy, { baseDir: dir }).load({ path });
      assertSameDb(copy, db);
    }
  } finally {
    cleanup();
  }
});

test('a save whose first entry is very repetitive (megabytes that compress to a few bytes) loads back in every format and compression', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = new VectorDB({ dimension: 2 });
    await db.insert({ id: 'a', vector: [1, 2], metadata: { text: ' '.repeat(1_500_000) } });
    for (const [format, compression] of combos) {
      const path = await new DatabasePersistence(db, { baseDir: dir, format, compression }).save({ path: join(dir, `rep-${format}-${compression}`) });
      const copy = new VectorDB({ dimension: 2 });
      await new DatabasePersistence(copy, { baseDir: dir }).load({ path });
      assertSameDb(copy, db);
      const imported = new VectorDB({ dimension: 2 });
      await new DatabasePersistence(imported, { baseDir: dir }).import({ path });
      assertSameDb(imported, db);
    }
  } finally {
    cleanup();
  }
});

test('an un-awaited insert loop followed by save() saves every entry; ids like doc-1 and defaults work', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = new VectorDB({ dimension: 16 });
    for (let i = 0; i < 1000; i++) void db.insert({ id: `doc-${i}`, vector: Array.from({ length: 16 }, () => Math.random()) });
    const p = new DatabasePersistence(db, { baseDir: dir });
    const path = await p.save();
    const copy = new VectorDB({ dimension: 16 });
    await new DatabasePersistence(copy, { baseDir: dir }).load({ path });
    assert.equal(copy.len(), 1000);
    assert.ok(copy.get('doc-999'));
    assertSameDb(copy, db);
  } finally {
    cleanup();
  }
});

test('empty database round trips in both formats', async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const format of ['binary', 'json'] as const) {
      const db = new VectorDB({ dimension: 8 });
      const path = await new DatabasePersistence(db, { baseDir: dir, format }).save();
      const copy = new VectorDB({ dimension: 8 });
      await copy.insert({ id: 'x', vector: new Float32Array(8).fill(1) });
      await new DatabasePersistence(copy, { baseDir: dir }).load({ path });
      assert.equal(copy.len(), 0);
    }
  } finally {
    cleanup();
  }
});

test('load refuses a file of another dimension or metric and leaves the database as it was', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(10);
    const path = await new DatabasePersistence(db, { baseDir: dir }).save();
    const other = new VectorDB({ dimension: 128 });
    await other.insert({ id: 'keep', vector: new Float32Array(128).fill(0.5) });
    await assert.rejects(new DatabasePersistence(other, { baseDir: dir }).load({ path }), (e: unknown) => e instanceof QuiverError && e.code === 'DIMENSION_MISMATCH');
    assert.equal(other.len(), 1);
    const l2 = new VectorDB({ dimension: 384, metric: 'euclidean' });
    await assert.rejects(new DatabasePersistence(l2, { baseDir: dir }).load({ path }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT');
    await assert.rejects(new DatabasePersistence(l2, { baseDir: dir }).load({ path: join(dir, 'nope.qvdb') }), (e: unknown) => e instanceof QuiverError && e.code === 'NOT_FOUND');
  } finally {
    cleanup();
  }
});

test("the 'sqlite' format: save, load, in-place incremental saves (only changed rows), auto-save and shutdown", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(60);
    const p = new DatabasePersistence(db, { baseDir: dir, format: 'sqlite', incremental: true });
    const path = await p.save();
    assert.equal(path, join(dir, 'database.sqlite'));
    const sql = new Database(path, { readonly: true });
    const before = new Map((sql.prepare('select id, pos, vector from entries').raw().all() as [unknown, number, Buffer][]).map(([id, pos, v]) => [id, { pos, v }]));
    sql.close();
    void db.insert({ id: 'doc-new', vector: new Float32Array(384).fill(0.5), metadata: { fresh: true } });
    void db.delete(db.ids()[0]);
    void db.updateMetadata(db.ids()[5], { edited: 1 });
    assert.equal(await p.saveIncremental(), path, 'in place, no delta file');
    assert.equal(await p.saveIncremental(), null);
    const after = new Database(path, { readonly: true });
    const rows = after.prepare('select id, pos, vector from entries').raw().all() as [unknown, number, Buffer][];
    after.close();
    let untouched = 0;
    for (const [id, pos, v] of rows) if (before.get(id)?.pos === pos && before.get(id)?.v.equals(v)) untouched++;
    assert.ok(untouched >= db.len() - 3, `only the changed rows moved (${untouched} of ${db.len()} untouched)`);
    const copy = new VectorDB({ dimension: 384 });
    await new DatabasePersistence(copy, { baseDir: dir }).load({ path });
    assertSameDb(copy, db);
    void db.insert({ id: 'at-shutdown', vector: new Float32Array(384).fill(-1) });
    await p.shutdown();
    const copy2 = new VectorDB({ dimension: 384 });
    await new DatabasePersistence(copy2, { baseDir: dir, format: 'sqlite' }).load();
    assertSameDb(copy2, db);
  } finally {
    cleanup();
  }
});

test("SQLite files are never compressed: the instance's compression does not apply to them, and compress: true is refused", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(20);
    const p = new DatabasePersistence(db, { baseDir: dir, format: 'sqlite', compression: 'gzip' });
    // The instance's gzip is for its binary and JSON files and snapshots: a SQLite save is plain SQLite.
    const path = await p.save();
    assert.equal(path, join(dir, 'database.sqlite'));
    const sql = new Database(path, { readonly: true });
    assert.equal((sql.prepare('select count(*) as n from entries').get() as { n: number }).n, db.len());
    sql.close();
    await p.export({ path: join(dir, 'copy.sqlite') });
    const before = readdirSync(dir).sort();
    for (const attempt of [() => p.save({ compress: true }), () => p.export({ path: join(dir, 'x.sqlite'), compress: true }), () => new DatabasePersistence(db, { baseDir: dir }).save({ format: 'sqlite', compress: true })]) {
      await assert.rejects(attempt(), (err: unknown) => err instanceof QuiverError && err.code === 'UNSUPPORTED_FORMAT' && /compress: false/.test(err.message));
    }
    assert.deepEqual(readdirSync(dir).sort(), before, 'nothing was written by the refused calls');
    // The same instance's binary saves still work with its gzip.
    const bin = await p.save({ format: 'binary', path: join(dir, 'db.qvdb') });
    const copy = new VectorDB({ dimension: 384 });
    await new DatabasePersistence(copy, { baseDir: dir }).load({ path: bin });
    assertSameDb(copy, db);
  } finally {
    cleanup();
  }
});

test('leftover temp files are removed from every directory an instance saves into, at its first write there', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(20);
    const p = new DatabasePersistence(db, { baseDir: dir });
    const other = join(dir, 'other');
    mkdirSync(other);
    // As a crash in the middle of a save leaves them (not named for a delta file).
    for (const d of [dir, other]) writeFileSync(join(d, '.db.qvdb.dead1234.quiver-tmp'), 'torn');
    await p.save();
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.quiver-tmp')), []);
    assert.equal(readdirSync(other).filter((n) => n.endsWith('.quiver-tmp')).length, 1, 'a directory not written to is left alone');
    await p.export({ path: join(other, 'copy.qvdb'), format: 'binary' });
    assert.deepEqual(readdirSync(other).filter((n) => n.endsWith('.quiver-tmp')), []);
  } finally {
    cleanup();
  }
});
