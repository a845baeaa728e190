// Big snapshots (4 MiB of vectors and up) compute content hashes on the hash thread and restore with
// the SHA-256 and the cosine norms computed there: results must equal the in-thread path exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { hashChunk } from '../../src/snapshot/content-hash.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { produceVectors } from '../../src/snapshot/vector-producer.js';
import { stopHashThreadForTests } from '../../src/util/hash-worker.js';
import { MemorySnapshotStore } from '../../src/storage/memory-store.js';
import type { PutResult, StoreBody, StoreOpOptions } from '../../src/storage/store.js';
import { clusteredDataset } from '../../support/datasets.js';
import { hashThreadReady } from '../support/hash-thread.js';
import { assertState, memoryManager, stateOf } from './helpers.js';

const DIM = 64;
const N = Math.ceil((4 << 20) / (DIM * 4)) + 500;

function bigDb(viaInserts: boolean): VectorDB {
  const data = clusteredDataset(N, DIM, 3, 16);
  const db = new VectorDB({ dimension: DIM });
  if (!viaInserts) {
    db.replaceAll({ ...data, vectors: data.vectors.slice() });
    return db;
  }
  const batch = [];
  for (let i = 0; i < N; i++) batch.push({ id: data.ids[i], vector: data.vectors.subarray(i * DIM, (i + 1) * DIM), metadata: data.metadata[i] });
  void db.insertBatch(batch);
  return db;
}

for (const viaInserts of [true, false]) {
  test(`content hashes from the hash thread match in-thread ones (${viaInserts ? 'shared' : 'unshared'} slab): a content diff finds nothing`, async () => {
    await hashThreadReady();
    const db = bigDb(viaInserts);
    const { manager, store } = memoryManager();
    const full = await manager.createSnapshot(db, 'full');
    // Another manager has no change tracking for db: it diffs by the stored content hashes.
    const fresh = new SnapshotManager({ store });
    const inc = await fresh.createIncrementalSnapshot(db, 'no change', full.id);
    assert.equal(inc.changedCount, 0);
    assert.equal(inc.deletedCount, 0);
    await db.insert({ id: 'doc-5', vector: new Float32Array(DIM).fill(0.5), metadata: { changed: true } });
    const inc2 = await new SnapshotManager({ store }).createIncrementalSnapshot(db, 'one change', full.id);
    assert.equal(inc2.changedCount, 1);
  });
}

test('restoring a big snapshot (norms from the hash thread) gives the same state and search results', async () => {
  await hashThreadReady();
  const db = bigDb(true);
  const { manager } = memoryManager();
  const full = await manager.createSnapshot(db, 'full');
  const restored = await manager.restoreSnapshot(full.id);
  assertState(restored, stateOf(db));
  const q = db.get('doc-17')!.vector;
  assert.deepEqual(restored.search({ vector: q, k: 7 }).map((h) => [h.id, h.score]), db.search({ vector: q, k: 7 }).map((h) => [h.id, h.score]));
});

/** A memory store that stops the hash thread when the vectors file of a snapshot has taken `after` chunks. */
class ThreadKillingStore extends MemorySnapshotStore {
  constructor(private readonly after: number) {
    super();
  }

  override put(key: string, body: StoreBody, options?: StoreOpOptions): Promise<PutResult> {
    if (typeof body !== 'function' || !key.includes('vectors')) return super.put(key, body, options);
    let chunks = 0;
    return super.put(key, (write) => body(async (chunk) => {
      if (++chunks === this.after) stopHashThreadForTests();
      await write(chunk);
    }), options);
  }
}

for (const [after, compression, shared] of [[1, 'gzip', false], [2, 'gzip', true], [4, 'gzip', false], [1, 'none', true], [1, 'none', false]] as const) {
  test(`a ${compression} snapshot of a${shared ? ' shared' : 'n unshared'} slab written while the hash thread dies (after ${after} chunks) still records the right checksums and content hashes`, async () => {
    await hashThreadReady();
    const db = bigDb(shared);
    const store = new ThreadKillingStore(after);
    const full = await new SnapshotManager({ store, compression }).createSnapshot(db, 'full');
    // The vectors file is hashed on the helper thread; when it dies mid-file, the file is written
    // again and hashed here: the recorded checksums must match the bytes.
    assert.equal(await new SnapshotManager({ store }).verifySnapshot(full.id), true);
    const inc = await new SnapshotManager({ store }).createIncrementalSnapshot(db, 'no change', full.id);
    assert.equal(inc.changedCount, 0);
    assert.deepEqual(stateOf(await new SnapshotManager({ store }).restoreSnapshot(full.id)), stateOf(db));
    await hashThreadReady();
  });
}

/** Runs produceVectors over `img` in 256 KiB chunks, stopping the hash thread at chunk `killAt` (0: never). */
async function runProducer(img: ReturnType<VectorDB['openImage']>, killAt: number): Promise<{ got: Uint32Array; all: Buffer; chunks: number }> {
  const got = new Uint32Array(img.count * 2);
  const written: Buffer[] = [];
  let chunks = 0;
  await produceVectors(img, img.count, got, async (raw) => {
    if (++chunks === killAt) stopHashThreadForTests();
    written.push(Buffer.from(raw));
    await new Promise((r) => setImmediate(r));
  }, 256 * 1024);
  return { got, all: Buffer.concat(written), chunks };
}

for (const killAt of [0, 1, 2, 3, 5, 9]) {
  test(`produceVectors: same bytes and hashes as the reference whether the hash thread lives or dies (at chunk ${killAt || 'never'})`, async () => {
    await hashThreadReady();
    const db = bigDb(killAt % 2 === 1);
    const img = db.openImage();
    const want = new Uint32Array(img.count * 2);
    for (const c of img.vectorChunks(img.count)) hashChunk(c, DIM, img.metadata, 0, want);
    const { got, all, chunks } = await runProducer(img, killAt);
    assert.ok(chunks > 10, 'many chunks, so the ring wraps');
    const expected = Buffer.concat([...img.vectorChunks(img.count)].map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
    img.release();
    assert.ok(all.equals(expected));
    assert.deepEqual(Array.from(got), Array.from(want));
    await hashThreadReady();
  });
}

test('hashChunk gives the same hashes whatever the chunking', () => {
  const db = bigDb(true);
  const img = db.openImage();
  const whole = new Uint32Array(img.count * 2);
  const split = new Uint32Array(img.count * 2);
  let first = 0;
  for (const c of img.vectorChunks(img.count)) hashChunk(c, DIM, img.metadata, 0, whole);
  for (const c of img.vectorChunks(333)) {
    hashChunk(c, DIM, img.metadata, first, split);
    first += c.length / DIM;
  }
  img.release();
  assert.deepEqual(Array.from(split), Array.from(whole));
});

for (const killAt of [0, 2, 7]) {
  test(`produceVectors mixes shared chunks (no copy) with copied ones (entries overwritten after the image opened), thread dying at chunk ${killAt || 'never'}`, async () => {
    await hashThreadReady();
    const db = bigDb(true);
    const img = db.openImage();
    // Overwrite every 97th entry: the image keeps the old vectors aside, so its chunks alternate
    // between zero-copy views of the shared slab and copies.
    for (let i = 0; i < N; i += 97) await db.insert({ id: `doc-${i}`, vector: new Float32Array(DIM).fill(i % 5), metadata: { overwritten: i } });
    const want = new Uint32Array(img.count * 2);
    const expected: Buffer[] = [];
    let at = 0;
    let views = 0;
    let copied = 0;
    for (const c of img.vectorChunks(256 * 1024 / (DIM * 4))) {
      if (c.buffer instanceof SharedArrayBuffer) views++;
      else copied++;
      hashChunk(c, DIM, img.metadata, at, want);
      at += c.length / DIM;
      expected.push(Buffer.from(new Uint8Array(c.buffer, c.byteOffset, c.byteLength))); // a copy: copied chunks reuse one buffer
    }
    const { got, all } = await runProducer(img, killAt);
    img.release();
    assert.ok(views > 0 && copied > 0, `both kinds of chunk (${views} views of the shared slab, ${copied} copies)`);
    assert.ok(all.equals(Buffer.concat(expected)));
    assert.deepEqual(Array.from(got), Array.from(want));
    await hashThreadReady();
  });
}
