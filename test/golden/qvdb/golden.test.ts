import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeFs } from '../../../src/env/node-fs.js';
import { readQvdb, readQvdbInfo } from '../../../src/format/qvdb/index.js';
import { detectFormat } from '../../../src/format/detect.js';

// Compiled to build/test/golden/qvdb/; the golden files stay in the source tree.
const DIR = fileURLToPath(new URL('../../../../test/golden/qvdb/', import.meta.url));

interface Expected {
  kind: 'full' | 'delta';
  checksum: string;
  bytes: number;
  dimension: number;
  metric: string;
  count: number;
  seq: number;
  createdAt: number;
  user: Record<string, unknown>;
  ids: (string | number)[];
  vectorsHex: string;
  metadata: (Record<string, unknown> | null)[];
  sinceSeq?: number;
  cleared?: boolean;
  baseChecksum?: string;
  deletedIds?: (string | number)[];
}

const expected = JSON.parse(readFileSync(`${DIR}expected.json`, 'utf8')) as Record<string, Expected>;

test('the golden set is complete: v1 full and delta with every codec', () => {
  assert.deepEqual(Object.keys(expected).sort(), ['none', 'gzip', 'brotli'].flatMap((c) => [`v1-delta-${c}.qvdb`, `v1-full-${c}.qvdb`]).sort());
});

for (const [file, exp] of Object.entries(expected)) {
  test(`golden ${file} loads with exact contents`, async () => {
    const path = `${DIR}${file}`;
    assert.deepEqual(await detectFormat(nodeFs, path), { format: 'binary', compression: 'none' });
    const r = await readQvdb(nodeFs, path);
    assert.equal(r.kind, exp.kind);
    assert.equal(r.checksum, exp.checksum);
    const cols = r.kind === 'full' ? r.columns : r.delta;
    assert.equal(cols.ids.length, exp.count);
    assert.ok(exp.count > 0, 'golden files must not be empty');
    assert.deepEqual(cols.ids, exp.ids, 'ids, with their types');
    assert.equal(Buffer.from(cols.vectors.buffer, cols.vectors.byteOffset, cols.vectors.byteLength).toString('hex'), exp.vectorsHex);
    assert.deepEqual(cols.metadata.map((m) => m ?? null), exp.metadata);
    assert.deepEqual(cols.metadata.map((m) => (m ? Object.keys(m) : null)), exp.metadata.map((m) => (m ? Object.keys(m) : null)), 'key order');
    assert.equal(cols.dimension, exp.dimension);
    assert.equal(cols.metric, exp.metric);
    assert.equal(r.manifest.seq, exp.seq);
    assert.equal(r.manifest.createdAt, exp.createdAt);
    assert.deepEqual(r.manifest.user, exp.user);
    if (r.kind === 'delta') {
      assert.deepEqual(r.delta.deletedIds, exp.deletedIds);
      assert.equal(r.delta.cleared, exp.cleared);
      assert.equal(r.manifest.sinceSeq, exp.sinceSeq);
      assert.equal(r.manifest.baseChecksum, exp.baseChecksum);
    }
    const info = await readQvdbInfo(nodeFs, path);
    assert.equal(info.checksum, exp.checksum);
    assert.equal(info.bytes, exp.bytes);
    assert.equal(info.formatVersion, 1);
  });
}

test('the golden delta names the golden full file as its base', () => {
  for (const c of ['none', 'gzip', 'brotli']) assert.equal(expected[`v1-delta-${c}.qvdb`].baseChecksum, expected['v1-full-none.qvdb'].checksum);
});
