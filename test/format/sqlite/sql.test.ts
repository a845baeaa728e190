import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { nodeFs } from '../../../src/env/node-fs.js';
import { readSqliteState } from '../../../src/format/sqlite/index.js';
import { assertColumnsEqual, awkwardSpec, inTempDir, writeSample } from './helpers.js';

const CLI = '/usr/bin/sqlite3';

test('plain SQL sees the ids as TEXT / INTEGER, the metadata as JSON text and the vectors as float32 BLOBs', async () => {
  await inTempDir(async (dir) => {
    const spec = awkwardSpec();
    const path = await writeSample(dir, spec);
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare('SELECT id, typeof(id) AS kind, metadata, vector FROM entries ORDER BY pos').all() as { id: unknown; kind: string; metadata: string | null; vector: Buffer }[];
      assert.deepEqual(
        rows.map((r) => r.id),
        spec.ids,
      );
      assert.deepEqual(
        rows.map((r) => r.kind),
        spec.ids.map((id) => (typeof id === 'number' ? 'integer' : 'text')),
      );
      assert.deepEqual(
        rows.map((r) => (r.metadata === null ? undefined : JSON.parse(r.metadata))),
        spec.metadata,
      );
      rows.forEach((r, i) => {
        assert.equal(r.vector.length, spec.dimension * 4);
        const v = new Float32Array(r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.length));
        assert.deepEqual(Array.from(v), Array.from(spec.vectors.subarray(i * spec.dimension, (i + 1) * spec.dimension)));
      });
      // JSON functions work on the metadata column, and the id index answers lookups.
      assert.equal(db.prepare("SELECT json_extract(metadata, '$.label') FROM entries WHERE id = 42").pluck().get(), 'entry 42');
      assert.equal(db.prepare("SELECT json_extract(metadata, '$.label') FROM entries WHERE id = '42'").pluck().get(), 'entry 42');
      const meta = Object.fromEntries(db.prepare('SELECT key, value FROM quiver_meta').raw().all() as [string, string][]);
      assert.equal(meta.format, 'quiverdb-sqlite');
      assert.equal(meta.formatVersion, '1');
      assert.equal(meta.dimension, '8');
      assert.equal(meta.metric, 'euclidean');
      assert.equal(meta.count, String(spec.ids.length));
      assert.equal(meta.seq, '99');
      assert.deepEqual(JSON.parse(meta.user), { note: 'ü' });
      assert.match(meta.checksum, /^[0-9a-f]{64}$/);
      assert.ok(!Number.isNaN(Date.parse(meta.createdAt)));
      assert.equal(db.pragma('application_id', { simple: true }), 0x51564442);
      assert.equal(db.pragma('user_version', { simple: true }), 1);
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.equal(db.prepare('SELECT count(*) FROM quiver_index').pluck().get(), 0);
      const unique = (db.prepare('PRAGMA index_list(entries)').all() as { name: string; unique: number }[]).find((ix) => ix.name === 'entries_id');
      assert.equal(unique?.unique, 1, 'ids are unique by index');
      const plan = db.prepare("EXPLAIN QUERY PLAN SELECT pos FROM entries WHERE id = 'x'").all() as { detail: string }[];
      assert.match(plan.map((p) => p.detail).join(' '), /entries_id/, 'lookups by id use the index');
    } finally {
      db.close();
    }
  });
});

test('the sqlite3 command-line tool prints the ids and metadata', async (t) => {
  if (!existsSync(CLI)) {
    t.skip(`${CLI} is not installed`);
    return;
  }
  await inTempDir(async (dir) => {
    const spec = awkwardSpec();
    const path = await writeSample(dir, spec);
    const r = spawnSync(CLI, ['-json', path, "SELECT id, metadata FROM entries WHERE id IN (42, '42', 'no-metadata', 'ünïcødé-🚀-文档') ORDER BY pos"], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { id: unknown; metadata: string | null }[];
    assert.deepEqual(
      rows.map((x) => x.id),
      ['ünïcødé-🚀-文档', 42, '42', 'no-metadata'],
    );
    assert.deepEqual(JSON.parse(rows[1].metadata!), spec.metadata![1]);
    assert.equal(rows[3].metadata, null);
    const plain = spawnSync(CLI, [path, "SELECT id FROM entries WHERE typeof(id) = 'integer' ORDER BY pos"], { encoding: 'utf8' });
    assert.equal(plain.stdout.trim(), ['42', '-7', '0', String(Number.MAX_SAFE_INTEGER)].join('\n'));
    const check = spawnSync(CLI, [path, 'PRAGMA integrity_check'], { encoding: 'utf8' });
    assert.equal(check.stdout.trim(), 'ok');
  });
});

test('a file another tool switched to WAL mode imports exactly, and no -wal or -shm file is left beside it', async () => {
  await inTempDir(async (dir) => {
    const spec = awkwardSpec();
    const path = await writeSample(dir, spec);
    const before = (await readSqliteState(nodeFs, path, {})).columns;
    assert.deepEqual(readdirSync(dir).sort(), ['s.sqlite']);
    const rw = new Database(path);
    assert.equal(rw.pragma('journal_mode = WAL', { simple: true }), 'wal');
    rw.close();
    assert.deepEqual(readdirSync(dir).sort(), ['s.sqlite'], 'the last connection removed its log');
    const after = await readSqliteState(nodeFs, path, {});
    assertColumnsEqual(after.columns, before);
    assert.deepEqual(readdirSync(dir).sort(), ['s.sqlite']);
  });
});
