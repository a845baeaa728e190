import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { CorruptionError, QuiverError } from '../../../src/errors.js';
import { readQvdb, readQvdbInfo, writeQvdb } from '../../../src/format/qvdb/index.js';
import { OFFLOAD_MIN_BYTES } from '../../../src/util/hash-worker.js';
import { IO_CHUNK_BYTES } from '../../../src/format/qvdb/constants.js';
import { bytesOf, makeImage, randomVectors } from '../../support/image.js';
import { hashThreadReady, threadKilling } from '../../support/hash-thread.js';

// Big enough that the VECTORS section is hashed on the helper thread on both sides.
const DIM = 96;
const COUNT = Math.ceil(OFFLOAD_MIN_BYTES / (DIM * 4)) + 123;

async function bigFile(fs: MemoryFileSystem): Promise<Float32Array> {
  const vectors = randomVectors(COUNT, DIM, 5);
  const ids = Array.from({ length: COUNT }, (_, i) => `v${i}`);
  const metadata = ids.map((_, i) => (i % 3 === 0 ? { i } : undefined));
  await writeQvdb(fs, '/big.qvdb', makeImage({ dimension: DIM, ids, vectors, metadata }), { createdAt: 1 });
  return vectors;
}

test('big files saved and loaded with the hash thread round trip bit-exactly, with the same checksums as in-thread hashing', async () => {
  const cold = new MemoryFileSystem();
  await bigFile(cold); // may hash in-thread (thread not up yet)
  await hashThreadReady();
  const fs = new MemoryFileSystem();
  const vectors = await bigFile(fs); // the vectors are hashed on the thread now
  assert.ok(Buffer.from(fs.readFileSync('/big.qvdb')).equals(Buffer.from(cold.readFileSync('/big.qvdb'))), 'identical bytes either way');
  const info = await readQvdbInfo(fs, '/big.qvdb');
  assert.ok(info.directory.some((d) => d.section === 'vectors' && d.storedLength >= OFFLOAD_MIN_BYTES));
  const r = await readQvdb(fs, '/big.qvdb');
  assert.ok(r.kind === 'full');
  assert.equal(r.columns.ids.length, COUNT);
  assert.ok(bytesOf(r.columns.vectors).equals(bytesOf(vectors)));
  assert.deepEqual(r.columns.metadata[3], { i: 3 });
});

test('a flipped bit in a big VECTORS section is a checksum mismatch, found by the hash thread', async () => {
  await hashThreadReady();
  const fs = new MemoryFileSystem();
  await bigFile(fs);
  const info = await readQvdbInfo(fs, '/big.qvdb');
  const vec = info.directory.find((d) => d.section === 'vectors');
  assert.ok(vec);
  for (const at of [0, Math.floor(vec.storedLength / 2), vec.storedLength - 1]) {
    const bytes = Uint8Array.from(fs.readFileSync('/big.qvdb'));
    bytes[vec.offset + at] ^= 0x10;
    const bad = new MemoryFileSystem();
    bad.writeFileSync('/x.qvdb', bytes);
    await assert.rejects(readQvdb(bad, '/x.qvdb'), (err: unknown) => err instanceof CorruptionError && err.code === 'CHECKSUM_MISMATCH' && err.section === 'vectors');
    // Without verification the damaged bytes load (the check is what caught it).
    const unchecked = await readQvdb(bad, '/x.qvdb', { verifyChecksum: false });
    assert.ok(unchecked.kind === 'full' && unchecked.columns.ids.length === COUNT);
  }
});

test('aborting a big load mid-way fails with ABORTED and later loads still verify', async () => {
  await hashThreadReady();
  const fs = new MemoryFileSystem();
  await bigFile(fs);
  const ac = new AbortController();
  await assert.rejects(
    readQvdb(fs, '/big.qvdb', { signal: ac.signal, onProgress: (p) => p.percentage > 20 && ac.abort() }),
    (err: unknown) => err instanceof QuiverError && err.code === 'ABORTED',
  );
  const r = await readQvdb(fs, '/big.qvdb');
  assert.ok(r.kind === 'full' && r.columns.ids.length === COUNT);
});

test('aborting a big save while the thread hashes publishes nothing', async () => {
  await hashThreadReady();
  const fs = new MemoryFileSystem();
  const vectors = randomVectors(COUNT, DIM, 9);
  const ids = Array.from({ length: COUNT }, (_, i) => i);
  const ac = new AbortController();
  await assert.rejects(
    writeQvdb(fs, '/a.qvdb', makeImage({ dimension: DIM, ids, vectors }), { signal: ac.signal, onProgress: (p) => p.percentage > 40 && ac.abort() }),
    (err: unknown) => err instanceof QuiverError && err.code === 'ABORTED',
  );
  assert.deepEqual(await fs.readdir('/'), []);
  await writeQvdb(fs, '/a.qvdb', makeImage({ dimension: DIM, ids, vectors }));
  const r = await readQvdb(fs, '/a.qvdb');
  assert.ok(r.kind === 'full' && bytesOf(r.columns.vectors).equals(bytesOf(vectors)));
});

/** The same vectors in shared memory, as the slab of a big engine holds them. */
function shared(v: Float32Array): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer(v.byteLength));
  out.set(v);
  return out;
}

test('saves hashed on the thread give the same bytes from shared and from plain memory, and every section verifies', async () => {
  await hashThreadReady();
  const vectors = randomVectors(COUNT, DIM, 21);
  const ids = Array.from({ length: COUNT }, (_, i) => `s${i}`);
  const metadata = ids.map((_, i) => ({ i, tag: `t${i % 7}` }));
  const plain = new MemoryFileSystem();
  await writeQvdb(plain, '/p.qvdb', makeImage({ dimension: DIM, ids, vectors, metadata }), { createdAt: 1 });
  const sab = new MemoryFileSystem();
  await writeQvdb(sab, '/p.qvdb', makeImage({ dimension: DIM, ids, vectors: shared(vectors), metadata }), { createdAt: 1 });
  assert.ok(Buffer.from(sab.readFileSync('/p.qvdb')).equals(Buffer.from(plain.readFileSync('/p.qvdb'))));
  const r = await readQvdb(sab, '/p.qvdb');
  assert.ok(r.kind === 'full');
  assert.ok(bytesOf(r.columns.vectors).equals(bytesOf(vectors)));
  assert.deepEqual(r.columns.metadata[COUNT - 1], metadata[COUNT - 1]);
});

// Vectors of three write chunks: the thread dies while the first, then the second, is written.
const KILL_COUNT = Math.ceil((2.5 * IO_CHUNK_BYTES) / (DIM * 4));
for (const at of [1, 2]) {
  test(`a big save whose hash thread dies at its big write ${at} is written again, hashed in-thread, and verifies`, async () => {
    await hashThreadReady();
    const vectors = shared(randomVectors(KILL_COUNT, DIM, 22));
    const ids = Array.from({ length: KILL_COUNT }, (_, i) => `k${i}`);
    const metadata = ids.map((_, i) => ({ i }));
    const ref = new MemoryFileSystem();
    await writeQvdb(ref, '/k.qvdb', makeImage({ dimension: DIM, ids, vectors, metadata }), { createdAt: 1 });
    await hashThreadReady();
    const mem = new MemoryFileSystem();
    const seen = { truncates: 0 };
    await writeQvdb(threadKilling(mem, at, seen), '/k.qvdb', makeImage({ dimension: DIM, ids, vectors, metadata }), { createdAt: 1 });
    assert.equal(seen.truncates, 1, 'the file was started over once');
    assert.deepEqual(await mem.readdir('/'), ['k.qvdb']);
    assert.ok(Buffer.from(mem.readFileSync('/k.qvdb')).equals(Buffer.from(ref.readFileSync('/k.qvdb'))), 'the same bytes as an undisturbed save');
    const r = await readQvdb(mem, '/k.qvdb');
    assert.ok(r.kind === 'full' && bytesOf(r.columns.vectors).equals(bytesOf(vectors)));
    await hashThreadReady();
  });
}

test('metadata that cannot be stored fails a big save (encoded while the vectors are written) with nothing published', async () => {
  await hashThreadReady();
  const fs = new MemoryFileSystem();
  const vectors = shared(randomVectors(COUNT, DIM, 23));
  const ids = Array.from({ length: COUNT }, (_, i) => i);
  const metadata: unknown[] = ids.map((i) => ({ i }));
  metadata[COUNT - 5] = { when: new Date(0) };
  await assert.rejects(
    writeQvdb(fs, '/m.qvdb', makeImage({ dimension: DIM, ids, vectors, metadata: metadata as Record<string, unknown>[] })),
    (err: unknown) => err instanceof QuiverError && err.code === 'INVALID_METADATA' && err.message.includes(`entry ${COUNT - 5}`),
  );
  assert.deepEqual(await fs.readdir('/'), []);
});
