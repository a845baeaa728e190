import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Id } from '../../../src/engine/types.js';
import { nodeFs } from '../../../src/env/node-fs.js';
import { readSqliteState, writeSqliteState } from '../../../src/format/sqlite/index.js';
import { runUntilKilled } from '../../support/kill.js';
import { assertColumnsEqual, bytesOf, expectedAfter, inTempDir, makeImage, randomVectors, type ImageSpec } from './helpers.js';
import { crashChange } from './fixtures/crash-change.js';

const child = fileURLToPath(new URL('./fixtures/apply-child.js', import.meta.url));
const ROWS = 6000;
const DIM = 384; // 9 MB of changed vectors: more than SQLite's page cache, so pages spill into the file

function baseSpec(): ImageSpec {
  const ids: Id[] = Array.from({ length: ROWS }, (_, i) => `e${i}`);
  return { dimension: DIM, ids, vectors: randomVectors(ROWS, DIM, 1), metadata: ids.map((_, i) => ({ i })) };
}

/** Asserts `path` holds the base state exactly, or the complete new state (never a mix). */
async function assertOldOrNew(path: string, base: ImageSpec): Promise<'old' | 'new'> {
  const r = await readSqliteState(nodeFs, path);
  if (r.columns.ids.length === base.ids.length && bytesOf(r.columns.vectors).equals(bytesOf(base.vectors))) {
    assertColumnsEqual(r.columns, base);
    return 'old';
  }
  const change = crashChange(ROWS, DIM);
  assertColumnsEqual(r.columns, expectedAfter(base, change, change.deletedIds));
  return 'new';
}

test('kill -9 in the middle of an incremental save leaves the old state (SQLite rolls the journal back)', async () => {
  await inTempDir(async (dir) => {
    const base = baseSpec();
    const path = join(dir, 'crash.sqlite');
    await writeSqliteState(nodeFs, path, makeImage(base));
    const out = await runUntilKilled(child, [path, 'self', String(ROWS), String(DIM)], 'ready', 60_000, () => undefined);
    assert.equal(out.signal, 'SIGKILL', out.stderr);
    assert.ok(existsSync(`${path}-journal`), 'the killed save left its journal');
    assert.equal(await assertOldOrNew(path, base), 'old');
  });
});

test('a hot journal (pages already written into the file) is rolled back before reading', async () => {
  await inTempDir(async (dir) => {
    const ids: Id[] = Array.from({ length: 600 }, (_, i) => `e${i}`);
    const base: ImageSpec = { dimension: 64, ids, vectors: randomVectors(600, 64, 2), metadata: ids.map((_, i) => ({ i })) };
    const path = join(dir, 'live.sqlite');
    await writeSqliteState(nodeFs, path, makeImage(base));
    const original = readFileSync(path);
    // Freeze the files mid-transaction (a one-page cache forces SQLite to write changed pages into the
    // database file after journaling the originals): the copy is exactly what a crash leaves.
    const db = new Database(path);
    db.pragma('cache_size = 1');
    db.exec('BEGIN');
    const update = db.prepare('UPDATE entries SET metadata = ?, vector = ? WHERE pos = ?');
    for (let i = 0; i < 600; i++) update.run('{"torn":true}', Buffer.alloc(256, 1), i);
    const crashed = join(dir, 'crashed.sqlite');
    copyFileSync(path, crashed);
    copyFileSync(`${path}-journal`, `${crashed}-journal`);
    db.exec('ROLLBACK');
    db.close();
    assert.ok(!readFileSync(crashed).equals(original), 'the crashed copy has changed pages');
    const r = await readSqliteState(nodeFs, crashed);
    assertColumnsEqual(r.columns, base);
    assert.ok(!existsSync(`${crashed}-journal`), 'the journal was rolled back');
    assert.ok(readFileSync(crashed).equals(original), 'the rollback restored the file byte for byte');
  });
});

test('kill -9 at random moments of an incremental save: always exactly the old or the new state', async () => {
  await inTempDir(async (dir) => {
    const base = baseSpec();
    const path = join(dir, 'random.sqlite');
    const seen = new Set<string>();
    // The last delay is long enough for the save to finish (the child then exits by itself).
    for (const delay of [0, 40, 90, 150, 400, 30_000]) {
      await writeSqliteState(nodeFs, path, makeImage(base));
      const out = await runUntilKilled(child, [path, 'delay', String(ROWS), String(DIM)], 'ready', delay, () => undefined);
      assert.ok(out.signal === 'SIGKILL' || out.code === 0, out.stderr);
      seen.add(await assertOldOrNew(path, base));
    }
    assert.deepEqual([...seen].sort(), ['new', 'old']);
  });
});

test('a full save over a file with a hot journal or a WAL beside it: the new file loads as saved (SQLite never applies the old side files to it)', async () => {
  await inTempDir(async (dir) => {
    const ids: Id[] = Array.from({ length: 600 }, (_, i) => `e${i}`);
    const base: ImageSpec = { dimension: 64, ids, vectors: randomVectors(600, 64, 3), metadata: ids.map((_, i) => ({ i })) };
    const fresh: ImageSpec = { dimension: 64, ids: ids.slice(0, 400).map((id) => `new-${id}`), vectors: randomVectors(400, 64, 4), metadata: ids.slice(0, 400).map((_, i) => ({ fresh: i })) };
    // A hot journal, as a killed in-place save leaves it (see the test above).
    const path = join(dir, 'db.sqlite');
    const live = join(dir, 'live.sqlite');
    await writeSqliteState(nodeFs, live, makeImage(base));
    const db = new Database(live);
    db.pragma('cache_size = 1');
    db.exec('BEGIN');
    const update = db.prepare('UPDATE entries SET metadata = ?, vector = ? WHERE pos = ?');
    for (let i = 0; i < 600; i++) update.run('{"torn":true}', Buffer.alloc(256, 1), i);
    copyFileSync(live, path);
    copyFileSync(`${live}-journal`, `${path}-journal`);
    db.exec('ROLLBACK');
    db.close();
    // Before the fix the load rolled the old file's journal "back" into the new one: wrong data, no error.
    await writeSqliteState(nodeFs, path, makeImage(fresh));
    assertColumnsEqual((await readSqliteState(nodeFs, path)).columns, fresh);
    assert.ok(!existsSync(`${path}-journal`));
    // A WAL another tool left beside the file (its process killed before the checkpoint).
    const walPath = join(dir, 'wal.sqlite');
    await writeSqliteState(nodeFs, walPath, makeImage(base));
    const w = new Database(walPath);
    w.pragma('journal_mode = WAL');
    w.pragma('wal_autocheckpoint = 0');
    w.prepare('UPDATE entries SET metadata = ? WHERE pos < 100').run('{"wal":true}');
    const walCopy = readFileSync(`${walPath}-wal`);
    w.close();
    // The close checkpointed it; put the frames back, as a kill before the checkpoint leaves them.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${walPath}-wal`, walCopy);
    // Before the fix the load failed with CORRUPT (the old WAL's frames applied to the new file).
    await writeSqliteState(nodeFs, walPath, makeImage(fresh));
    assertColumnsEqual((await readSqliteState(nodeFs, walPath)).columns, fresh);
  });
});
