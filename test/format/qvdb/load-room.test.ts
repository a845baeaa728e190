import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { QuiverError } from '../../../src/errors.js';
import { readQvdb, writeQvdb } from '../../../src/format/qvdb/index.js';
import { OFFLOAD_MIN_BYTES } from '../../../src/util/hash-worker.js';
import { VectorDB } from '../../../src/engine/vector-db.js';
import { normAt } from '../../../src/engine/distance.js';
import { takeNorms } from '../../../src/util/hash-norms.js';
import { bytesOf, makeImage, randomVectors } from '../../support/image.js';
import { hashThreadReady } from '../../support/hash-thread.js';

const DIM = 96;
const BIG = Math.ceil(OFFLOAD_MIN_BYTES / (DIM * 4)) + 77;

async function file(fs: MemoryFileSystem, count: number, opts: { compression?: 'gzip'; metric?: 'cosine' | 'euclidean' } = {}): Promise<Float32Array> {
  const vectors = randomVectors(count, DIM, 11);
  const ids = Array.from({ length: count }, (_, i) => `v${i}`);
  const image = makeImage({ dimension: DIM, ids, vectors, metadata: ids.map(() => undefined), metric: opts.metric ?? 'cosine' });
  await writeQvdb(fs, '/f.qvdb', image, { createdAt: 1, compression: opts.compression });
  return vectors;
}

test('spareEntries reads the vectors into a buffer with zeroed room after them; the engine adopts it', async () => {
  const fs = new MemoryFileSystem();
  const vectors = await file(fs, 50);
  const r = await readQvdb(fs, '/f.qvdb', { spareEntries: 30 });
  assert.ok(r.kind === 'full');
  assert.equal(r.vectorCapacity, 80);
  assert.equal(r.columns.vectors.length, 50 * DIM);
  assert.ok(bytesOf(r.columns.vectors).equals(bytesOf(vectors)));
  assert.equal(r.columns.vectors.buffer.byteLength, 80 * DIM * 4);
  assert.ok(new Uint8Array(r.columns.vectors.buffer, 50 * DIM * 4).every((b) => b === 0));
  const db = new VectorDB({ dimension: DIM });
  db.replaceAll(r.columns, { capacity: r.vectorCapacity });
  await db.insert({ id: 'extra', vector: vectors.subarray(0, DIM) });
  assert.ok(bytesOf(new Float32Array(r.columns.vectors.buffer, 50 * DIM * 4, DIM)).equals(bytesOf(vectors.subarray(0, DIM))));
  // Without it there is no room; compressed files get none either.
  const plain = await readQvdb(fs, '/f.qvdb');
  assert.ok(plain.kind === 'full' && plain.vectorCapacity === 50);
  const gz = new MemoryFileSystem();
  await file(gz, 50, { compression: 'gzip' });
  const z = await readQvdb(gz, '/f.qvdb', { spareEntries: 30 });
  assert.ok(z.kind === 'full' && z.vectorCapacity === 50);
  await assert.rejects(readQvdb(fs, '/f.qvdb', { spareEntries: -1 }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT');
  await assert.rejects(readQvdb(fs, '/f.qvdb', { spareEntries: 1.5 }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT');
});

test('a big verified cosine load has its norms computed on the hash thread, equal to the engine\'s', async () => {
  await hashThreadReady();
  const fs = new MemoryFileSystem();
  await file(fs, BIG);
  const r = await readQvdb(fs, '/f.qvdb');
  assert.ok(r.kind === 'full');
  const norms = takeNorms(r.columns.vectors);
  assert.ok(norms, 'norms were remembered for the loaded vectors');
  assert.equal(norms.length, BIG);
  for (let i = 0; i < BIG; i += 97) assert.equal(norms[i], normAt(r.columns.vectors, i * DIM, DIM));
  assert.equal(norms[BIG - 1], normAt(r.columns.vectors, (BIG - 1) * DIM, DIM));
  // Not for other metrics, and not without verification (nothing is hashed then).
  const eu = new MemoryFileSystem();
  await file(eu, BIG, { metric: 'euclidean' });
  const e = await readQvdb(eu, '/f.qvdb');
  assert.ok(e.kind === 'full' && takeNorms(e.columns.vectors) === undefined);
  const nv = await readQvdb(fs, '/f.qvdb', { verifyChecksum: false });
  assert.ok(nv.kind === 'full' && takeNorms(nv.columns.vectors) === undefined);
});

test('search after a big load gives the same results as after inserting the same entries', async () => {
  await hashThreadReady();
  const fs = new MemoryFileSystem();
  const vectors = await file(fs, BIG);
  const loaded = new VectorDB({ dimension: DIM });
  const r = await readQvdb(fs, '/f.qvdb');
  assert.ok(r.kind === 'full');
  loaded.replaceAll(r.columns);
  const direct = new VectorDB({ dimension: DIM });
  const batch = [];
  for (let i = 0; i < BIG; i++) batch.push({ id: `v${i}`, vector: vectors.subarray(i * DIM, (i + 1) * DIM) });
  await direct.insertBatch(batch);
  for (const qi of [0, 1234, BIG - 1]) {
    const q = vectors.subarray(qi * DIM, (qi + 1) * DIM);
    assert.deepEqual(loaded.search({ vector: q, k: 5 }).map((h) => [h.id, h.score]), direct.search({ vector: q, k: 5 }).map((h) => [h.id, h.score]));
  }
});
