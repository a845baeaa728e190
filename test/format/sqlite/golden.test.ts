import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeFs } from '../../../src/env/node-fs.js';
import { applySqliteChanges, readSqliteState, sqliteCodec } from '../../../src/format/sqlite/index.js';
import { inTempDir, makeChangeImage } from './helpers.js';

// Compiled to build/test/format/sqlite/; the golden files stay in the source tree.
const DIR = fileURLToPath(new URL('../../../../test/format/sqlite/golden/', import.meta.url));

interface Expected {
  checksum: string;
  bytes: number;
  dimension: number;
  metric: string;
  count: number;
  seq: number;
  user: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  ids: (string | number)[];
  vectorsHex: string;
  metadata: (Record<string, unknown> | null)[];
}

const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Record<string, Expected>;

test('the golden set is complete: a v1 full save and the same file after an incremental save', () => {
  assert.deepEqual(Object.keys(expected).sort(), ['v1-full.sqlite', 'v1-incremental.sqlite']);
});

for (const [file, exp] of Object.entries(expected)) {
  test(`golden ${file} loads with exact contents and a verified checksum`, async () => {
    const path = join(DIR, file);
    const bytes = readFileSync(path);
    assert.equal(bytes.length, exp.bytes);
    assert.ok(sqliteCodec.sniff(bytes.subarray(0, 4096)));
    const r = await readSqliteState(nodeFs, path);
    assert.ok(exp.count > 0, 'golden files must not be empty');
    assert.equal(r.checksum, exp.checksum);
    assert.deepEqual(r.columns.ids, exp.ids, 'ids, with their types');
    assert.equal(Buffer.from(r.columns.vectors.buffer, r.columns.vectors.byteOffset, r.columns.vectors.byteLength).toString('hex'), exp.vectorsHex);
    assert.deepEqual(r.columns.metadata.map((m) => m ?? null), exp.metadata);
    assert.deepEqual(r.columns.metadata.map((m) => (m ? Object.keys(m) : null)), exp.metadata.map((m) => (m ? Object.keys(m) : null)), 'key order');
    assert.equal(r.columns.dimension, exp.dimension);
    assert.equal(r.columns.metric, exp.metric);
    assert.equal(r.seq, exp.seq);
    assert.deepEqual(r.user, exp.user);
    assert.equal(r.header.createdAt, exp.createdAt);
    assert.equal(r.header.updatedAt, exp.updatedAt);
    assert.ok(readFileSync(path).equals(bytes), 'reading never modifies the file');
  });
}

test('golden v1 file accepts an incremental save from this version', async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, 'g.sqlite');
    copyFileSync(join(DIR, 'v1-incremental.sqlite'), path);
    const exp = expected['v1-incremental.sqlite'];
    const change = makeChangeImage({ dimension: 3, ids: ['more'], vectors: Float32Array.of(1, 1, 1), sinceSeq: exp.seq, seq: exp.seq + 1, total: exp.ids.length + 1 });
    const a = await applySqliteChanges(nodeFs, path, change, { expectedChecksum: exp.checksum });
    const r = await readSqliteState(nodeFs, path);
    assert.deepEqual(r.columns.ids, [...exp.ids, 'more']);
    assert.equal(r.checksum, a.checksum);
  });
});
