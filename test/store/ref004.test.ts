// The reference-004 vector store on the durable store: the interface, persistence, isolation of
// collections, maxVectors, filters, numeric ids, vectors in results and the typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { QuiverError } from '../../src/errors.js';
import {
  CollectionNotFoundError, createDefaultVectorStore, createPersistentInMemoryStore, createVectorStore, VectorDimensionError,
  VectorStoreConnectionError, VectorStoreError, VectorStoreManager, type VectorStoreConfig,
} from '../../src/store/ref004/index.js';

const ROOT = '/vs';
const cfg = (fs: MemoryFileSystem, collectionName: string, extra: Partial<VectorStoreConfig> = {}): VectorStoreConfig => ({ type: 'in-memory', collectionName, dimension: 3, annIndexPath: ROOT, fs, ...extra });

test('insert, search, get, update, delete, list: results carry vectors, ids keep their type', async () => {
  const fs = new MemoryFileSystem();
  const { manager, store } = await createVectorStore(cfg(fs, 'docs'));
  assert.equal(store.isConnected(), true);
  assert.equal(store.getBackendType(), 'in-memory');
  assert.equal(store.getDimension(), 3);
  assert.equal(store.getCollectionName(), 'docs');
  await store.insert([[1, 0, 0], [0, 1, 0], [0.9, 0.1, 0]], [1, 'two', 3], [{ t: 'a' }, { t: 'b' }, { t: 'c' }]);
  const hits = await store.search([1, 0, 0], 2);
  assert.deepEqual(hits.map((h) => h.id), [1, 3]);
  assert.equal(typeof hits[0].id, 'number');
  assert.ok(Math.abs(hits[0].score! - 1) < 1e-6);
  assert.deepEqual(hits[0].vector, [1, 0, 0]);
  assert.ok(Array.isArray(hits[1].vector));
  assert.deepEqual(hits[0].payload, { t: 'a' });
  assert.deepEqual(await store.get('two'), { id: 'two', score: 1, vector: [0, 1, 0], payload: { t: 'b' } });
  assert.equal(await store.get(2), null, 'numeric 2 and string "two" are different ids');
  await store.update(3, [0, 0, 1], { t: 'c2' });
  assert.deepEqual((await store.get(3))?.vector, [0, 0, 1]);
  await assert.rejects(store.update(99, [0, 0, 1], {}), (e: unknown) => e instanceof VectorStoreError && e.code === 'NOT_FOUND' && e.operation === 'update');
  await store.delete('two');
  await store.delete('never-there');
  const [all, total] = await store.list();
  assert.equal(total, 2);
  assert.deepEqual(all.map((r) => r.id).sort(), [1, 3]);
  assert.ok(all.every((r) => Array.isArray(r.vector) && r.vector.length === 3));
  await manager.disconnect();
  assert.equal(store.isConnected(), false);
  assert.equal(manager.getStore(), null);
  await assert.rejects(store.search([1, 0, 0]), (e: unknown) => e instanceof VectorStoreError && e.code === 'CLOSED');
});

test('data persists across reconnects, and acknowledged writes survive without a disconnect', async () => {
  const fs = new MemoryFileSystem();
  const a = await createVectorStore(cfg(fs, 'p'));
  await a.store.insert([[1, 2, 3]], [10], [{ n: 10 }]);
  await a.store.insert([[3, 2, 1]], ['s'], [{ n: 's' }]);
  // A power cut now (no disconnect): both inserts resolved, so both are on disk.
  const cut = fs.snapshotDurable();
  const b = await createVectorStore(cfg(cut, 'p', { readOnly: true }));
  const [rows, total] = await b.store.list();
  assert.equal(total, 2);
  assert.deepEqual(rows.map((r) => r.id).sort((x, y) => String(x).localeCompare(String(y))), [10, 's']);
  await b.manager.disconnect();
  await a.manager.disconnect();
  const c = await createVectorStore(cfg(fs, 'p'));
  assert.deepEqual((await c.store.get(10))?.payload, { n: 10 });
  await c.manager.disconnect();
});

test('collections are isolated: separate directories; deleting one leaves the other intact', async () => {
  const fs = new MemoryFileSystem();
  const a = await createVectorStore(cfg(fs, 'alpha'));
  const b = await createVectorStore(cfg(fs, 'beta'));
  await a.store.insert([[1, 0, 0]], ['a1'], [{}]);
  await b.store.insert([[0, 1, 0], [0, 0, 1]], ['b1', 'b2'], [{}, {}]);
  assert.deepEqual((await a.store.list())[1], 1, 'alpha does not see beta');
  await a.store.deleteCollection();
  assert.equal((await a.store.list())[1], 0);
  assert.equal((await b.store.list())[1], 2);
  await a.manager.disconnect();
  await b.manager.disconnect();
  assert.deepEqual((await fs.readdir(ROOT)).sort(), ['alpha', 'beta']);
  const b2 = await createVectorStore(cfg(fs, 'beta'));
  assert.equal((await b2.store.list())[1], 2, 'beta survives alpha\'s deleteCollection and a reconnect');
  const a2 = await createVectorStore(cfg(fs, 'alpha'));
  assert.equal((await a2.store.list())[1], 0);
  await Promise.all([a2.manager.disconnect(), b2.manager.disconnect()]);
});

test('maxVectors: an insert that would exceed it fails with LIMIT_EXCEEDED and changes nothing', async () => {
  const fs = new MemoryFileSystem();
  const { manager, store } = await createVectorStore(cfg(fs, 'cap', { maxVectors: 5 }));
  await store.insert([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], [1, 2, 3, 4], [{}, {}, {}, {}]);
  await assert.rejects(store.insert([[1, 1, 1], [2, 2, 2]], [5, 6], [{}, {}]), (e: unknown) => e instanceof VectorStoreError && e.code === 'LIMIT_EXCEEDED' && /maxVectors 5/.test(e.message) && /createVectorStore\(\{ type: 'in-memory', collectionName, dimension, maxVectors \}\)/.test(e.message));
  assert.equal((await store.list())[1], 4);
  assert.equal(await store.get(5), null, 'nothing of the refused batch was inserted');
  // Replacing existing ids does not count against the limit; the fifth fits.
  await store.insert([[1, 1, 1], [2, 2, 2]], [1, 5], [{ again: true }, {}]);
  assert.equal((await store.list())[1], 5);
  await assert.rejects(store.insert([[3, 3, 3]], [6], [{}]), (e: unknown) => e instanceof QuiverError && e.code === 'LIMIT_EXCEEDED');
  await manager.disconnect();
  // Reopened with a lower limit than it holds: replacing stored ids still works (it was LIMIT_EXCEEDED
  // "inserting 0 new vectors"), new ids do not.
  const low = await createVectorStore(cfg(fs, 'cap', { maxVectors: 2 }));
  await low.store.insert([[9, 9, 9]], [1], [{ replaced: true }]);
  assert.deepEqual((await low.store.get(1))?.payload, { replaced: true });
  await assert.rejects(low.store.insert([[3, 3, 3]], [7], [{}]), (e: unknown) => e instanceof QuiverError && e.code === 'LIMIT_EXCEEDED');
  assert.equal((await low.store.list())[1], 5);
  await low.manager.disconnect();
});

test('filters: equality, range, any, all; list returns the total match count', async () => {
  const fs = new MemoryFileSystem();
  const { manager, store } = await createVectorStore(cfg(fs, 'f'));
  const n = 12;
  await store.insert(
    Array.from({ length: n }, (_, i) => [1, i, 0]),
    Array.from({ length: n }, (_, i) => i),
    Array.from({ length: n }, (_, i) => ({ year: 2010 + i, kind: i % 2 ? 'odd' : 'even', tags: i % 3 ? ['x'] : ['x', 'y'] })),
  );
  assert.equal((await store.list({ kind: 'odd' }))[1], 6);
  const [range, count] = await store.list({ year: { gte: 2012, lt: 2016 } }, 2);
  assert.equal(count, 4);
  assert.equal(range.length, 2);
  assert.equal((await store.list({ year: { gt: 2020 } }))[1], 1);
  assert.equal((await store.list({ kind: { any: ['odd', 'none'] } }))[1], 6);
  assert.equal((await store.list({ tags: { all: ['x', 'y'] } }))[1], 4);
  assert.equal((await store.list({ tags: { any: ['y'] }, kind: 'even' }))[1], 2);
  const hits = await store.search([1, 5, 0], 10, { year: { lte: 2013 } });
  assert.deepEqual(hits.map((h) => h.id).sort((a, b) => Number(a) - Number(b)), [0, 1, 2, 3]);
  await manager.disconnect();
});

test('annPersistIndex false writes nothing to disk', async () => {
  const fs = new MemoryFileSystem();
  const { manager, store } = await createVectorStore(cfg(fs, 'mem', { annPersistIndex: false }));
  await store.insert([[1, 2, 3]], ['x'], [{}]);
  assert.equal((await store.list())[1], 1);
  await manager.disconnect();
  assert.deepEqual(fs.listAll(), [], 'no file or directory was created');
  assert.equal(manager.getInfo().persistence.enabled, false);
});

test('typed errors: dimension, bad config, bad names, not connected; both catching styles work', async () => {
  const fs = new MemoryFileSystem();
  const { manager, store } = await createVectorStore(cfg(fs, 'e'));
  await assert.rejects(store.insert([[1, 2]], ['x'], [{}]), (e: unknown) => e instanceof VectorDimensionError && e.expectedDimension === 3 && e.actualDimension === 2 && e.code === 'DIMENSION_MISMATCH' && e instanceof QuiverError);
  await assert.rejects(store.search([1, 2, 3, 4]), VectorDimensionError);
  {
    // A collection reconnected with another dimension: the same error class.
    const { manager: m2 } = await createVectorStore(cfg(fs, 'dims'));
    await m2.disconnect();
    await assert.rejects(createVectorStore(cfg(fs, 'dims', { dimension: 5 })), (e: unknown) => e instanceof VectorDimensionError && e.code === 'DIMENSION_MISMATCH' && e.expectedDimension === 5 && e.actualDimension === 3);
  }
  await assert.rejects(store.insert([[1, 2, 3]], ['a', 'b'], [{}]), (e: unknown) => e instanceof VectorStoreError && e.code === 'INVALID_ARGUMENT');
  await assert.rejects(store.insert([[1, 2, 3]], [''], [{}]), (e: unknown) => e instanceof VectorStoreError && e.code === 'INVALID_ID');
  await assert.rejects(store.insert([[1, 2, NaN]], ['n'], [{}]), (e: unknown) => e instanceof VectorStoreError && e.code === 'INVALID_VECTOR');
  for (const name of ['../escape', 'a/b', '', '.hidden', '-x', 'x'.repeat(129), 'a\\b']) {
    await assert.rejects(createVectorStore(cfg(fs, name)), (e: unknown) => e instanceof VectorStoreError && e.code === 'INVALID_ARGUMENT' && /collectionName/.test(e.message), name);
  }
  await assert.rejects(createVectorStore({ ...cfg(fs, 'x'), type: 'qdrant' as 'in-memory' }), (e: unknown) => e instanceof VectorStoreError && e.code === 'INVALID_ARGUMENT');
  await assert.rejects(createVectorStore(cfg(fs, 'x', { maxVectors: 0 })), VectorStoreError);
  await assert.rejects(createVectorStore(cfg(fs, 'e')), (e: unknown) => e instanceof VectorStoreConnectionError && e.code === 'LOCKED', 'a collection open elsewhere is LOCKED');
  await assert.rejects(createVectorStore(cfg(fs, 'nope', { readOnly: true })), (e: unknown) => e instanceof CollectionNotFoundError && e.code === 'NOT_FOUND' && e.collectionName === 'nope');
  const d1 = new VectorDimensionError(3, 4);
  const d2 = new VectorDimensionError('custom', 3, 4);
  assert.deepEqual([d1.expected, d1.actual, d2.message, d2.expectedDimension], [3, 4, 'custom', 3]);
  assert.equal(new CollectionNotFoundError('c').collectionName, 'c');
  assert.equal(new VectorStoreError('m', 'op').operation, 'op');
  await manager.disconnect();
});

test('manager: info and health', async () => {
  const fs = new MemoryFileSystem();
  const manager = new VectorStoreManager(cfg(fs, 'm'));
  assert.deepEqual(await manager.healthCheck(), { backend: false, overall: false, details: { backend: { status: 'not_connected' } } });
  const store = await manager.connect();
  assert.equal(await manager.connect(), store);
  await store.insert([[1, 2, 3]], [1], [{}]);
  const info = manager.getInfo();
  assert.equal(info.connected, true);
  assert.deepEqual(info.backend, { type: 'in-memory', connected: true, fallback: false, collectionName: 'm', dimension: 3 });
  assert.equal(info.persistence.path, `${ROOT}/m`);
  assert.equal(info.persistence.count, 1);
  assert.equal(info.recoveredFromCorruption, undefined);
  const h = await manager.healthCheck();
  assert.equal(h.overall, true);
  await manager.disconnect();
  assert.equal(manager.isConnected(), false);
});

test('the default factories on the real file system: one subdirectory per collection', async () => {
  const root = await mkdtemp(join(tmpdir(), 'quiver-ref004-'));
  const cwd = process.cwd();
  try {
    const a = await createPersistentInMemoryStore('one', 3, join(root, 'custom'));
    await a.store.insert([[1, 2, 3]], [1], [{ a: 1 }]);
    await a.manager.disconnect();
    assert.deepEqual(await readdir(join(root, 'custom')), ['one']);
    process.chdir(root);
    const d = await createDefaultVectorStore(undefined, 3);
    assert.equal(d.store.getCollectionName(), 'default');
    await d.store.insert([[1, 0, 0]], ['x'], [{}]);
    await d.manager.disconnect();
    assert.deepEqual(await readdir(join(root, 'data', 'vector-storage')), ['default']);
    const again = await createPersistentInMemoryStore('one', 3, join(root, 'custom'));
    assert.deepEqual((await again.store.get(1))?.payload, { a: 1 });
    await again.manager.disconnect();
  } finally {
    process.chdir(cwd);
    await rm(root, { recursive: true, force: true });
  }
});

test('connect and disconnect called without awaiting each other end in the state of the last call', async () => {
  const fs = new MemoryFileSystem();
  const m = new VectorStoreManager(cfg(fs, 'race'));
  // connect, then disconnect before the connect finished: closed, and the collection released.
  const c = m.connect();
  const d = m.disconnect();
  await Promise.all([c, d]);
  assert.equal(m.getStore(), null);
  const other = new VectorStoreManager(cfg(fs, 'race'));
  const store = await other.connect();
  await store.insert([[1, 0, 0]], ['a'], [{}]);
  // disconnect, then connect before the close finished: connected again, with the data.
  const d2 = other.disconnect();
  const again = other.disconnect();
  const c2 = other.connect();
  await Promise.all([d2, again, c2]);
  assert.equal(store.isConnected(), true);
  assert.deepEqual((await store.get('a'))?.vector, [1, 0, 0]);
  await other.disconnect();
  assert.equal(store.isConnected(), false);
  // Longer sequences: the last call wins.
  await Promise.all([other.connect(), other.disconnect(), other.connect()]);
  assert.equal(store.isConnected(), true);
  await Promise.all([other.disconnect(), other.connect(), other.disconnect()]);
  assert.equal(store.isConnected(), false);
  const third = new VectorStoreManager(cfg(fs, 'race'));
  await third.connect();
  await third.disconnect();
});

test('after a log write fails: inserts report that failure (not LIMIT_EXCEEDED), disconnect reports it as a VectorStoreError, a reopen has only acknowledged data', async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  const { manager, store } = await createVectorStore(cfg(fs as unknown as MemoryFileSystem, 'c', { maxVectors: 3 }));
  await store.insert([[1, 0, 0]], ['a'], [{}]);
  fs.addFault({ at: 1, code: 'ENOSPC', kinds: ['write'], mode: 'persistent' });
  await assert.rejects(store.insert([[0, 1, 0]], ['b'], [{}]), (e: unknown) => e instanceof VectorStoreError && (e.cause as QuiverError).code === 'ENOSPC');
  await assert.rejects(store.insert([[1, 1, 0], [1, 2, 0]], ['c', 'd'], [{}, {}]), (e: unknown) => e instanceof VectorStoreError && e.code !== 'LIMIT_EXCEEDED' && /ENOSPC|space/i.test(e.message));
  await assert.rejects(manager.disconnect(), (e: unknown) => e instanceof VectorStoreError && e.operation === 'disconnect');
  assert.equal(manager.isConnected(), false);
  fs.clearFaults();
  const again = await createVectorStore(cfg(mem, 'c'));
  assert.deepEqual((await again.store.list())[0].map((r) => r.id), ['a']);
  await again.manager.disconnect();
});

test('list takes a non-negative integer limit (or Infinity), as search takes k', async () => {
  const { manager, store } = await createVectorStore(cfg(new MemoryFileSystem(), 'c'));
  await store.insert([[1, 0, 0], [0, 1, 0]], ['a', 'b'], [{}, {}]);
  for (const bad of [1.5, -1, NaN, '2']) await assert.rejects(store.list(undefined, bad as number), (e: unknown) => e instanceof VectorStoreError && e.code === 'INVALID_ARGUMENT', String(bad));
  assert.equal((await store.list(undefined, Infinity))[0].length, 2);
  assert.equal((await store.list(undefined, 0))[1], 2);
  await manager.disconnect();
});
