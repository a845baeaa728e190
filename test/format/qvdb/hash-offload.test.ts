import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { CorruptionError, QuiverError } from '../../../src/errors.js';
import { readQvdb, readQvdbInfo, writeQvdb } from '../../../src/format/qvdb/index.js';
import { HASH_OFFLOAD_MIN_BYTES } from '../../../src/format/qvdb/sections.js';
import { bytesOf, makeImage, randomVectors } from '../../support/image.js';
import { hashThreadReady } from '../../support/hash-thread.js';

// Big enough that the VECTORS section is hashed on the helper thread on both sides.
const DIM = 96;
const COUNT = Math.ceil(HASH_OFFLOAD_MIN_BYTES / (DIM * 4)) + 123;


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
  assert.ok(info.directory.some((d) => d.section === 'vectors' && d.storedLength >= HASH_OFFLOAD_MIN_BYTES));
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
