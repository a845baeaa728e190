// A big save of an engine database writes its vector chunks ahead of their hash on the helper thread:
// the image holds those chunks (ChunkHold) until the file is finished. These tests keep the thread busy
// so that every hash runs after its chunk's write resolved, and change the database right then: the
// published file must be the state the save started on, and verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../../src/persistence/database-persistence.js';
import type { FileSystem } from '../../../src/env/fs.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { QuiverError } from '../../../src/errors.js';
import { IO_CHUNK_BYTES } from '../../../src/format/qvdb/constants.js';
import { writeQvdb } from '../../../src/format/qvdb/index.js';
import { startSha256, type Sha256Job } from '../../../src/util/hash-worker.js';
import { randomVectors } from '../../support/image.js';
import { hashThreadReady, threadKilling } from '../../support/hash-thread.js';
import { patchingHandles } from '../../support/handle-hooks.js';
import { stateOf } from '../../engine/helpers.js';

const DIM = 96;
// Vectors of three write chunks, so that chunks are written while earlier ones wait for their hash.
const COUNT = Math.ceil((2.5 * IO_CHUNK_BYTES) / (DIM * 4));

function bigDb(seed: number): VectorDB {
  const db = new VectorDB({ dimension: DIM, metric: 'cosine' });
  const vectors = randomVectors(COUNT, DIM, seed);
  void db.insertBatch(Array.from({ length: COUNT }, (_, i) => ({ id: `h${i}`, vector: vectors.subarray(i * DIM, (i + 1) * DIM), metadata: { i } })));
  return db;
}

/** Replaces every entry's vector and metadata (without awaiting: the engine applies them at once). */
function rewriteAll(db: VectorDB, round: number): void {
  const v = new Float32Array(DIM);
  for (let i = 0; i < COUNT; i++) {
    v.fill(-(i + round));
    void db.insert({ id: `h${i}`, vector: v, metadata: { i, round } });
  }
}

/** Keeps the helper thread hashing ~256 MB (16 MiB of shared memory, 16 times) so later jobs wait. */
function busyThread(): Sha256Job {
  const job = startSha256({ offload: true });
  assert.ok(job.offloaded);
  const view = new Uint8Array(new SharedArrayBuffer(16 << 20));
  for (let i = 0; i < 16; i++) job.update(view);
  return job;
}

/** `inner` with `after(bytes)` run once each write of its handles resolved. */
function afterWrites(inner: FileSystem, after: (bytes: number) => void): FileSystem {
  return patchingHandles(inner, (h) => {
    const write = h.write.bind(h);
    h.write = async (data: Uint8Array, position?: number) => {
      await write(data, position);
      after(data.length);
    };
  });
}

async function loaded(fs: FileSystem, path: string): Promise<VectorDB> {
  const back = new VectorDB({ dimension: DIM, metric: 'cosine' });
  await new DatabasePersistence(back, { baseDir: '/d', fs }).load({ path, verifyChecksum: true });
  return back;
}

test('a big save whose entries are all replaced right after each vector write, before the thread hashed it, publishes the state it started on', async () => {
  await hashThreadReady();
  const db = bigDb(31);
  const want = stateOf(db);
  const mem = new MemoryFileSystem();
  let round = 0;
  const fs = afterWrites(mem, (bytes) => {
    if (bytes >= IO_CHUNK_BYTES / 2) rewriteAll(db, ++round);
  });
  const busy = busyThread();
  try {
    await new DatabasePersistence(db, { baseDir: '/d', fs }).save({ path: '/d/h.qvdb' });
  } finally {
    busy.abandon();
  }
  assert.equal(round, 3, 'every vector chunk was followed by a rewrite');
  assert.deepEqual(stateOf(await loaded(mem, '/d/h.qvdb')), want, 'the file verifies and holds the state the save started on');
  assert.deepEqual(db.get('h7')?.metadata, { i: 7, round: 3 }, 'the database itself has the rewrites');
  // The hold ended with the save: a replace is in place again (the id keeps its position).
  const position = db.ids().indexOf('h9');
  await db.insert({ id: 'h9', vector: new Float32Array(DIM).fill(1) });
  assert.equal(db.ids().indexOf('h9'), position);
});

for (const at of [1, 3]) {
  test(`a big save of a database whose hash thread dies at big write ${at}, with chunks still waiting for their hash, is written again and verifies`, async () => {
    await hashThreadReady();
    const db = bigDb(32);
    const want = stateOf(db);
    const mem = new MemoryFileSystem();
    const seen = { truncates: 0 };
    await new DatabasePersistence(db, { baseDir: '/d', fs: threadKilling(mem, at, seen) }).save({ path: '/d/k.qvdb' });
    assert.equal(seen.truncates, 1, 'the file was started over once');
    assert.deepEqual(stateOf(await loaded(mem, '/d/k.qvdb')), want);
    await hashThreadReady();
  });
}

test('a big save that fails after its vectors were written, their hash still running, publishes nothing and ends the hold', async () => {
  await hashThreadReady();
  const db = bigDb(33);
  const mem = new MemoryFileSystem();
  const ac = new AbortController();
  let big = 0;
  const fs = afterWrites(mem, (bytes) => {
    if (bytes >= IO_CHUNK_BYTES / 2) big++;
    else if (big === 3) ac.abort(); // the first write after the vector section
  });
  const busy = busyThread();
  try {
    await assert.rejects(
      new DatabasePersistence(db, { baseDir: '/d', fs }).save({ path: '/d/a.qvdb', signal: ac.signal }),
      (err: unknown) => err instanceof QuiverError && err.code === 'ABORTED',
    );
  } finally {
    busy.abandon();
  }
  assert.deepEqual(await mem.readdir('/d'), []);
  const position = db.ids().indexOf('h11');
  await db.insert({ id: 'h11', vector: new Float32Array(DIM).fill(2) });
  assert.equal(db.ids().indexOf('h11'), position, 'replaced in place: nothing is held after the failed save');
  const want = stateOf(db);
  await new DatabasePersistence(db, { baseDir: '/d', fs: mem }).save({ path: '/d/a.qvdb' });
  assert.deepEqual(stateOf(await loaded(mem, '/d/a.qvdb')), want);
});

test('releasing the image of a big save before its vectors are hashed fails the save with CLOSED and publishes nothing', async () => {
  await hashThreadReady();
  const db = bigDb(34);
  const mem = new MemoryFileSystem();
  await mem.mkdir('/d', { recursive: true });
  await writeQvdb(mem, '/d/r.qvdb', db.openImage());
  const before = Buffer.from(mem.readFileSync('/d/r.qvdb'));
  const image = db.openImage();
  let big = 0;
  const fs = afterWrites(mem, (bytes) => {
    if (bytes < IO_CHUNK_BYTES / 2 || ++big !== 3) return;
    // Every vector is written, none hashed yet: the image goes, and the entries are replaced in place.
    image.release();
    rewriteAll(db, 9);
  });
  const busy = busyThread();
  try {
    await assert.rejects(writeQvdb(fs, '/d/r.qvdb', image), (err: unknown) => err instanceof QuiverError && err.code === 'CLOSED');
  } finally {
    busy.abandon();
  }
  assert.ok(Buffer.from(mem.readFileSync('/d/r.qvdb')).equals(before), 'the previous file is untouched');
  assert.deepEqual(await mem.readdir('/d'), ['r.qvdb']);
});

test('a big save gives the kept chunks back once their hash is in, before it writes the directory', async () => {
  await hashThreadReady();
  const db = bigDb(35);
  const want = stateOf(db);
  const image = db.openImage();
  let writes = 0;
  let releasedAfter = -1;
  const own = image.holdChunks?.bind(image);
  assert.ok(own);
  image.holdChunks = () => {
    const h = own();
    return {
      keep: (b) => h.keep(b),
      get intact() {
        return h.intact;
      },
      release: () => {
        if (releasedAfter < 0) releasedAfter = writes;
        h.release();
      },
    };
  };
  const mem = new MemoryFileSystem();
  const fs = afterWrites(mem, () => writes++);
  const busy = busyThread(); // the digest comes after every write but the directory's
  try {
    await writeQvdb(fs, '/f.qvdb', image);
  } finally {
    busy.abandon();
    image.release();
  }
  assert.ok(releasedAfter >= 3 && releasedAfter < writes, `released after write ${releasedAfter} of ${writes}: before the last (the directory)`);
  assert.deepEqual(stateOf(await loaded(mem, '/f.qvdb')), want);
});

test('a big save hashed on the calling thread keeps nothing: an entry walked earlier is replaced in place', async () => {
  await hashThreadReady();
  // A slab in plain memory cannot be hashed on the thread (the same when the thread is not up yet).
  const vectors = randomVectors(COUNT, DIM, 36);
  const db = new VectorDB({ dimension: DIM, metric: 'cosine' });
  db.replaceAll({ dimension: DIM, metric: 'cosine', ids: Array.from({ length: COUNT }, (_, i) => `h${i}`), vectors, metadata: Array.from({ length: COUNT }, (_, i) => ({ i })) });
  const want = stateOf(db);
  const mem = new MemoryFileSystem();
  let big = 0;
  let position = -1;
  const fs = afterWrites(mem, (bytes) => {
    if (bytes < IO_CHUNK_BYTES / 2 || ++big !== 2) return;
    // Entry h3 is in the first chunk, done with by now.
    position = db.ids().indexOf('h3');
    void db.insert({ id: 'h3', vector: new Float32Array(DIM).fill(3) });
  });
  await new DatabasePersistence(db, { baseDir: '/d', fs }).save({ path: '/d/p.qvdb' });
  assert.ok(position >= 0);
  assert.equal(db.ids().indexOf('h3'), position, 'replaced in its own slot');
  assert.deepEqual(stateOf(await loaded(mem, '/d/p.qvdb')), want);
});
