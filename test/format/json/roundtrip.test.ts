import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { nodeFs } from '../../../src/env/node-fs.js';
import { readJsonState, writeJsonState, type JsonCompression } from '../../../src/format/json/index.js';
import type { Id, Metadata } from '../../../src/engine/types.js';
import { assertColumnsEqual, awkwardSpec, bytesOf, makeChangeImage, makeImage, randomVectors, tempDir, type ImageSpec } from './helpers.js';

const COMPRESSIONS: JsonCompression[] = ['none', 'gzip', 'brotli'];

function plainText(bytes: Uint8Array, compression: JsonCompression): string {
  const raw = compression === 'gzip' ? gunzipSync(bytes) : compression === 'brotli' ? brotliDecompressSync(bytes) : Buffer.from(bytes);
  return raw.toString('utf8');
}

for (const compression of COMPRESSIONS) {
  test(`round trip (${compression}): full state with awkward content is bit-exact`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const spec = awkwardSpec();
      const path = join(dir, 'state.json');
      const w = await writeJsonState(nodeFs, path, makeImage(spec), { compression, user: { note: 'ü', n: 6 }, createdAt: 1234 });
      assert.equal(w.count, spec.ids.length);
      assert.equal(w.bytes, readFileSync(path).length);
      const r = await readJsonState(nodeFs, path, { compression });
      assert.equal(r.kind, 'full');
      if (r.kind !== 'full') return;
      assertColumnsEqual(r.columns, spec);
      assert.equal(typeof r.columns.ids[1], 'number');
      assert.equal(r.checksum, w.checksum);
      assert.deepEqual(r.header.options, { note: 'ü', n: 6 }, 'the user map, without the dimension and metric written next to it');
      assert.equal(r.header.timestamp, 1234);
      assert.equal(r.header.seq, 99);
      assert.deepEqual(r.header.stats, { count: spec.ids.length, dimension: 6, metric: 'euclidean' });
      // The whole file is one zlib stream of the JSON text (zcat prints it), and the checksum rule holds.
      const text = plainText(readFileSync(path), compression);
      const doc = JSON.parse(text) as { checksum: string; vectors: { id: Id }[] };
      assert.equal(doc.checksum, w.checksum);
      assert.deepEqual(doc.vectors.map((e) => e.id), spec.ids);
      const hashed = text.slice(0, text.lastIndexOf(',"checksum"'));
      assert.equal(createHash('sha256').update(hashed).digest('hex'), w.checksum);
      assert.ok(text.endsWith('}\n'));
    } finally {
      cleanup();
    }
  });

  test(`round trip (${compression}): delta with deletes, cleared flag and base checksum`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const spec = { ...awkwardSpec(), seq: 120 };
      const deletedIds: Id[] = ['gone', 17, 'ünï-gone'];
      const path = join(dir, 'delta.json');
      const base = 'ab'.repeat(32);
      const w = await writeJsonState(nodeFs, path, makeChangeImage({ ...spec, sinceSeq: 100, cleared: true, deletedIds }), { compression, baseChecksum: base });
      const r = await readJsonState(nodeFs, path, { compression });
      assert.equal(r.kind, 'delta');
      if (r.kind !== 'delta') return;
      assertColumnsEqual(r.delta, spec);
      assert.deepEqual(r.delta.deletedIds, deletedIds);
      assert.equal(r.delta.cleared, true);
      assert.equal(r.header.sinceSeq, 100);
      assert.equal(r.header.seq, 120);
      assert.equal(r.header.baseChecksum, base);
      assert.equal(r.checksum, w.checksum);
    } finally {
      cleanup();
    }
  });
}

test('round trip: empty database, one entry, empty delta', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 's.json');
    const empty: ImageSpec = { dimension: 3, ids: [], vectors: new Float32Array(0), metric: 'dot' };
    await writeJsonState(nodeFs, path, makeImage(empty));
    let r = await readJsonState(nodeFs, path, { compression: 'none' });
    assert.equal(r.kind, 'full');
    if (r.kind === 'full') assertColumnsEqual(r.columns, empty);

    const one: ImageSpec = { dimension: 2, ids: [0], vectors: Float32Array.of(-0, 0.1), metadata: [{ only: true }] };
    await writeJsonState(nodeFs, path, makeImage(one), { compression: 'brotli', level: 11 });
    r = await readJsonState(nodeFs, path, { compression: 'brotli' });
    if (r.kind !== 'full') assert.fail('expected full');
    assertColumnsEqual(r.columns, one);
    assert.ok(Object.is(r.columns.vectors[0], -0));

    await writeJsonState(nodeFs, path, makeChangeImage({ ...empty, seq: 5, sinceSeq: 3 }), { compression: 'gzip', level: 1 });
    r = await readJsonState(nodeFs, path, { compression: 'gzip' });
    if (r.kind !== 'delta') assert.fail('expected delta');
    assert.equal(r.delta.ids.length, 0);
    assert.deepEqual(r.delta.deletedIds, []);
    assert.equal(r.delta.cleared, false);
    assert.equal(r.header.baseChecksum, null);
  } finally {
    cleanup();
  }
});

test('formatting threads produce byte-identical files', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const n = 3000;
    const dim = 96;
    const spec: ImageSpec = { dimension: dim, ids: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? i : `id-${i}`)), vectors: randomVectors(n, dim, 5), metadata: Array.from({ length: n }, (_, i) => (i % 4 ? { i } : undefined)) };
    const files: Buffer[] = [];
    for (const workers of [0, 1, 2]) {
      const path = join(dir, `w${workers}.json`);
      await writeJsonState(nodeFs, path, makeImage(spec), { workers, createdAt: 1 });
      files.push(readFileSync(path));
    }
    assert.ok(files[0].equals(files[1]));
    assert.ok(files[0].equals(files[2]));
    const r = await readJsonState(nodeFs, join(dir, 'w2.json'), { compression: 'none' });
    if (r.kind !== 'full') assert.fail('expected full');
    assertColumnsEqual(r.columns, spec);
  } finally {
    cleanup();
  }
});

test('compressed files decompress (zcat-style, all gzip members) to exactly the uncompressed file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    // About 3 MB of JSON: several pages, so gzip writes several members.
    const n = 2500;
    const dim = 100;
    const spec: ImageSpec = { dimension: dim, ids: Array.from({ length: n }, (_, i) => `k${i}`), vectors: randomVectors(n, dim, 21) };
    const files: Record<JsonCompression, Buffer> = {} as Record<JsonCompression, Buffer>;
    for (const compression of COMPRESSIONS) {
      const path = join(dir, compression);
      await writeJsonState(nodeFs, path, makeImage(spec), { compression, createdAt: 5, workers: 0 });
      files[compression] = readFileSync(path);
    }
    assert.ok(files.none.length > 2.5e6);
    assert.ok(gunzipSync(files.gzip).equals(files.none));
    assert.ok(brotliDecompressSync(files.brotli).equals(files.none));
    assert.ok(files.gzip.length < files.none.length / 2);
  } finally {
    cleanup();
  }
});

test('size: 20,000 x 384 round trip (threads on both sides)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const n = 20_000;
    const dim = 384;
    const ids: Id[] = Array.from({ length: n }, (_, i) => `doc-${i}`);
    const metadata: Metadata[] = ids.map((_, i) => ({ title: `Document ${i}`, rank: i % 1000 }));
    const spec: ImageSpec = { dimension: dim, ids, vectors: randomVectors(n, dim, 11), metadata };
    const path = join(dir, 'big.json');
    const w = await writeJsonState(nodeFs, path, makeImage(spec));
    assert.ok(w.bytes > 80e6);
    for (const workers of [0, 1]) {
      const r = await readJsonState(nodeFs, path, { compression: 'none', workers });
      if (r.kind !== 'full') assert.fail('expected full');
      assert.equal(r.columns.ids.length, n);
      assert.ok(bytesOf(r.columns.vectors).equals(bytesOf(spec.vectors)));
      assert.deepEqual(r.columns.metadata[n - 1], metadata[n - 1]);
      assert.equal(r.columns.ids[12345], 'doc-12345');
    }
  } finally {
    cleanup();
  }
});

test('big (QUIVER_BIG=1): a document over 512 MB saves and loads without one giant string', { skip: process.env.QUIVER_BIG !== '1' }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    // 130,000 x 384 random floats at about 11.2 bytes each: about 560 MB of JSON, past the string limit.
    const n = 130_000;
    const dim = 384;
    const vectors = randomVectors(n, dim, 13);
    const ids = Array.from({ length: n }, (_, i) => i);
    const path = join(dir, 'huge.json');
    const w = await writeJsonState(nodeFs, path, makeImage({ dimension: dim, ids, vectors }));
    assert.ok(w.bytes > 536_870_888, `only ${w.bytes} bytes`);
    const r = await readJsonState(nodeFs, path, { compression: 'none' });
    if (r.kind !== 'full') assert.fail('expected full');
    assert.equal(r.columns.ids.length, n);
    assert.ok(bytesOf(r.columns.vectors).equals(bytesOf(vectors)));
  } finally {
    cleanup();
  }
});
