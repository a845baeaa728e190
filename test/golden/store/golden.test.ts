// Golden durable-store directory and save journal of format version 1 (scripts/make-golden-store.ts):
// the bytes an older QuiverDB wrote keep reading, record by record, into exactly the same state, and a
// writer continues them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeFs } from '../../../src/env/node-fs.js';
import { openVectorDB } from '../../../src/store/durable-db.js';
import { readWal } from '../../../src/wal/index.js';
import { VectorDB } from '../../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../../src/persistence/database-persistence.js';

// Compiled to build/test/golden/store/; the golden files stay in the source tree.
const DIR = fileURLToPath(new URL('../../../../test/golden/store/', import.meta.url));

interface Entry {
  id: string | number;
  vectorHex: string;
  metadata: Record<string, unknown> | null;
}
interface Expected {
  store: { dimension: number; metric: string; state: Entry[]; records: unknown[] };
  journal: { dimension: number; metric: string; state: Entry[] };
}
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Expected;

function stateOf(db: VectorDB): Entry[] {
  return [...db].map((e) => ({ id: e.id, vectorHex: Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength).toString('hex'), metadata: e.metadata ?? null }));
}

function assertState(db: VectorDB, want: Entry[], what: string): void {
  const got = stateOf(db);
  assert.deepEqual(got, want, what);
  // deepEqual ignores key order: metadata keeps it.
  assert.deepEqual(got.map((e) => (e.metadata ? JSON.stringify(e.metadata) : null)), want.map((e) => (e.metadata ? JSON.stringify(e.metadata) : null)), `${what}: key order`);
}

/** A scratch copy of golden directory `name`. */
function copyOf(name: string): { dir: string; done: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'quiver-golden-'));
  cpSync(join(DIR, name), join(root, name), { recursive: true });
  return { dir: join(root, name), done: () => rmSync(root, { recursive: true, force: true }) };
}

test('golden v1 store: its log decodes record by record, every record type, as written', async () => {
  const records = [];
  for await (const { seq, record } of readWal(nodeFs, join(DIR, 'v1-store', 'wal'))) {
    records.push(record.type === 'batch' ? { seq, type: 'batch', ops: record.ops.map((o) => ({ type: o.type, id: 'id' in o ? o.id : null })) } : { seq, type: record.type, id: 'id' in record ? record.id : null });
  }
  assert.deepEqual(records, expected.store.records);
  assert.deepEqual(new Set(records.map((r) => r.type)), new Set(['upsert', 'clear', 'batch', 'updateMetadata', 'delete']));
});

test('golden v1 store: opens (read-only, in place) into exactly the state it held; a writer continues it', async () => {
  const ro = await openVectorDB(join(DIR, 'v1-store'), { readOnly: true });
  assert.equal(ro.dimension, expected.store.dimension);
  assert.equal(ro.metric, expected.store.metric);
  assertState(ro, expected.store.state, 'read-only open');
  await ro.close();
  const { dir, done } = copyOf('v1-store');
  try {
    const db = await openVectorDB(dir, { dimension: 3 });
    assertState(db, expected.store.state, 'writable open');
    await db.insert({ id: 'added', vector: [1, 1, 1] });
    await db.close();
    const again = await openVectorDB(dir, { readOnly: true });
    assertState(again, [...expected.store.state, { id: 'added', vectorHex: '0000803f0000803f0000803f', metadata: null }], 'after a checkpoint of the continued store');
    await again.close();
  } finally {
    done();
  }
});

test('golden v1 save journal: a binary save file and its journal load into exactly the state of the last journaled save', async () => {
  const { dir, done } = copyOf('v1-journal');
  try {
    const db = new VectorDB({ dimension: expected.journal.dimension, metric: expected.journal.metric as 'dot' });
    await new DatabasePersistence(db, { baseDir: dir }).load();
    assertState(db, expected.journal.state, 'load');
  } finally {
    done();
  }
});
