import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { readQvdb, readQvdbInfo, writeQvdb, type Compression } from '../../../src/format/qvdb/index.js';
import type { Progress } from '../../../src/util/progress.js';
import type { Columns, DeltaColumns, Id, Metadata } from '../../../src/engine/types.js';
import { HOST_IS_LITTLE_ENDIAN, swap32InPlace } from '../../../src/format/qvdb/endian.js';
import { bytesOf, makeChangeImage, makeImage, randomVectors } from '../../support/image.js';

const CODECS: Compression[] = ['none', 'gzip', 'brotli'];

async function full(fs: MemoryFileSystem, path: string): Promise<Columns> {
  const r = await readQvdb(fs, path);
  assert.equal(r.kind, 'full');
  return r.kind === 'full' ? r.columns : assert.fail('not full');
}

for (const compression of CODECS) {
  test(`full round trip with ${compression}: ids, bit-exact vectors, metadata and user map`, async () => {
    const fs = new MemoryFileSystem();
    const ids: Id[] = ['a', 7, 'é🚀漢字', '7', 0, -12, Number.MAX_SAFE_INTEGER, ''];
    const dim = 5;
    const vectors = randomVectors(ids.length, dim, 3);
    vectors[0] = -0;
    vectors[1] = 1.401298464324817e-45; // smallest subnormal
    vectors[2] = 3.4028234663852886e38;
    const metadata: (Metadata | undefined)[] = [
      { z: 1, a: 2, m: { y: [1, 'two', { deep: null }], b: true } },
      undefined,
      { title: 'Grüße – 你好 👋', n: 0.1, neg: -1e-300, big: 2 ** 60 },
      JSON.parse('{"": "empty key", "b-c": [], "__proto__": {"kept": 1}}') as Metadata,
      {},
      { arr: [[1, 2], [3, [4, { five: 5 }]]] },
      undefined,
      { s: 'x'.repeat(1000) },
    ];
    const user = { options: { format: 'binary', compression }, tags: ['x', 1], nested: { k: null } };
    const w = await writeQvdb(fs, '/db.qvdb', makeImage({ dimension: dim, metric: 'euclidean', ids, vectors, metadata, seq: 42 }), { compression, user, createdAt: 1_700_000_000_123 });
    assert.equal(w.count, ids.length);
    assert.match(w.checksum, /^[0-9a-f]{64}$/);
    assert.equal(w.bytes, fs.readFileSync('/db.qvdb').length);
    const r = await readQvdb(fs, '/db.qvdb');
    assert.equal(r.kind, 'full');
    if (r.kind !== 'full') return;
    assert.equal(r.checksum, w.checksum);
    assert.deepEqual(r.columns.ids, ids);
    assert.equal(typeof r.columns.ids[1], 'number');
    assert.equal(typeof r.columns.ids[3], 'string');
    assert.equal(r.columns.dimension, dim);
    assert.equal(r.columns.metric, 'euclidean');
    assert.ok(bytesOf(r.columns.vectors).equals(bytesOf(vectors)));
    assert.ok(Object.is(r.columns.vectors[0], -0));
    assert.deepEqual(r.columns.metadata, metadata);
    assert.deepEqual(r.columns.metadata.map((m) => (m ? JSON.stringify(m) : m)), metadata.map((m) => (m ? JSON.stringify(m) : m)), 'key order survives');
    assert.deepEqual(Object.keys(r.columns.metadata[3] ?? {}), ['', 'b-c', '__proto__']);
    assert.equal(Object.getPrototypeOf(r.columns.metadata[3]), Object.prototype);
    assert.deepEqual(r.manifest.user, user);
    assert.equal(r.manifest.seq, 42);
    assert.equal(r.manifest.createdAt, 1_700_000_000_123);
    assert.equal(r.manifest.count, ids.length);
    const info = await readQvdbInfo(fs, '/db.qvdb');
    assert.equal(info.checksum, w.checksum);
    assert.equal(info.kind, 'full');
    assert.deepEqual(info.directory.map((d) => d.section), ['manifest', 'vectors', 'ids', 'metadata']);
    assert.deepEqual(info.directory.slice(1).map((d) => d.compression), [compression, compression, compression]);
    const vec = info.directory.find((d) => d.section === 'vectors');
    assert.equal(vec?.rawLength, ids.length * dim * 4);
    if (compression === 'none') assert.equal((vec?.offset ?? 1) % 64, 0, 'uncompressed vectors are 64-byte aligned');
  });

  test(`delta round trip with ${compression}: upserts, deletes, cleared, base checksum`, async () => {
    const fs = new MemoryFileSystem();
    const img = makeChangeImage({ dimension: 3, ids: ['u1', 2], vectors: Float32Array.of(1, 2, 3, 4, 5, 6), metadata: [{ v: 1 }, undefined], seq: 10, sinceSeq: 4, cleared: true, deletedIds: ['gone', 99, 'ü'] });
    const base = 'ab'.repeat(32);
    const w = await writeQvdb(fs, '/d.qvdb', img, { compression, baseChecksum: base });
    const r = await readQvdb(fs, '/d.qvdb');
    assert.equal(r.kind, 'delta');
    if (r.kind !== 'delta') return;
    const d: DeltaColumns = r.delta;
    assert.equal(r.checksum, w.checksum);
    assert.deepEqual(d.ids, ['u1', 2]);
    assert.deepEqual(Array.from(d.vectors), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(d.metadata, [{ v: 1 }, undefined]);
    assert.deepEqual(d.deletedIds, ['gone', 99, 'ü']);
    assert.equal(d.cleared, true);
    assert.equal(r.manifest.sinceSeq, 4);
    assert.equal(r.manifest.seq, 10);
    assert.equal(r.manifest.baseChecksum, base);
    assert.equal(r.manifest.deletedCount, 3);
  });

  test(`empty database round trips with ${compression}`, async () => {
    const fs = new MemoryFileSystem();
    await writeQvdb(fs, '/e.qvdb', makeImage({ dimension: 384, ids: [], vectors: new Float32Array(0) }), { compression });
    const c = await full(fs, '/e.qvdb');
    assert.deepEqual(c.ids, []);
    assert.equal(c.vectors.length, 0);
    assert.deepEqual(c.metadata, []);
    assert.equal(c.dimension, 384);
  });
}

test('a delta with no changes and no base checksum round trips', async () => {
  const fs = new MemoryFileSystem();
  await writeQvdb(fs, '/d.qvdb', makeChangeImage({ dimension: 2, ids: [], vectors: new Float32Array(0), sinceSeq: 3, seq: 3 }));
  const r = await readQvdb(fs, '/d.qvdb');
  assert.equal(r.kind, 'delta');
  if (r.kind !== 'delta') return;
  assert.equal(r.manifest.baseChecksum, null);
  assert.equal(r.delta.cleared, false);
  assert.deepEqual(r.delta.deletedIds, []);
});

test('one entry round trips', async () => {
  const fs = new MemoryFileSystem();
  await writeQvdb(fs, '/one.qvdb', makeImage({ dimension: 1, metric: 'dot', ids: ['only'], vectors: Float32Array.of(0.5), metadata: [{ k: 'v' }] }));
  const c = await full(fs, '/one.qvdb');
  assert.deepEqual(c.ids, ['only']);
  assert.deepEqual(Array.from(c.vectors), [0.5]);
  assert.deepEqual(c.metadata, [{ k: 'v' }]);
  assert.equal(c.metric, 'dot');
});

test('columns spanning several frames and vector chunks round trip (item and byte frame limits)', async () => {
  const fs = new MemoryFileSystem();
  const n = 70_000;
  const ids: Id[] = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? i : `id-${i}`));
  const metadata = ids.map((_, i) => (i % 10 === 0 ? { i, pad: 'p'.repeat(200) } : undefined));
  const vectors = randomVectors(n, 40, 9); // 11.2 MB: more than one 8 MB I/O chunk
  for (const compression of ['none', 'gzip'] as const) {
    await writeQvdb(fs, '/big.qvdb', makeImage({ dimension: 40, ids, vectors, metadata }), { compression, level: 1 });
    const c = await full(fs, '/big.qvdb');
    assert.deepEqual(c.ids, ids);
    assert.deepEqual(c.metadata, metadata);
    assert.ok(bytesOf(c.vectors).equals(bytesOf(vectors)), compression);
  }
});

test('same input and createdAt give the same checksum; any change gives another', async () => {
  const fs = new MemoryFileSystem();
  const spec = { dimension: 2, ids: ['a', 'b'], vectors: Float32Array.of(1, 2, 3, 4) };
  const a = await writeQvdb(fs, '/a.qvdb', makeImage(spec), { createdAt: 5 });
  const b = await writeQvdb(fs, '/b.qvdb', makeImage(spec), { createdAt: 5 });
  const c = await writeQvdb(fs, '/c.qvdb', makeImage({ ...spec, vectors: Float32Array.of(1, 2, 3, 4.0000005) }), { createdAt: 5 });
  assert.equal(a.checksum, b.checksum);
  assert.notEqual(a.checksum, c.checksum);
  assert.ok(Buffer.from(fs.readFileSync('/a.qvdb')).equals(Buffer.from(fs.readFileSync('/b.qvdb'))));
});

test('progress: save and load report monotonic percentages ending at 100', async () => {
  const fs = new MemoryFileSystem();
  const saves: Progress[] = [];
  const loads: Progress[] = [];
  const img = makeImage({ dimension: 64, ids: Array.from({ length: 40_000 }, (_, i) => i), vectors: randomVectors(40_000, 64) });
  await writeQvdb(fs, '/p.qvdb', img, { onProgress: (p) => saves.push(p) });
  await readQvdb(fs, '/p.qvdb', { onProgress: (p) => loads.push(p) });
  for (const [list, op] of [[saves, 'save'], [loads, 'load']] as const) {
    assert.ok(list.length > 2, op);
    assert.ok(list.every((p) => p.operation === op));
    for (let i = 1; i < list.length; i++) assert.ok(list[i].percentage > list[i - 1].percentage, `${op} progress never goes backwards`);
    assert.equal(list[list.length - 1].percentage, 100);
    assert.equal(list.filter((p) => p.percentage === 100).length, 1);
  }
});

test('verifyChecksum: false still loads the same data', async () => {
  const fs = new MemoryFileSystem();
  const vectors = randomVectors(10, 4);
  await writeQvdb(fs, '/v.qvdb', makeImage({ dimension: 4, ids: Array.from({ length: 10 }, (_, i) => `k${i}`), vectors }), { compression: 'brotli' });
  const r = await readQvdb(fs, '/v.qvdb', { verifyChecksum: false });
  assert.ok(r.kind === 'full' && bytesOf(r.columns.vectors).equals(bytesOf(vectors)));
});

test('maxBytes refuses files that decode to more bytes with LIMIT_EXCEEDED', async () => {
  const fs = new MemoryFileSystem();
  await writeQvdb(fs, '/m.qvdb', makeImage({ dimension: 16, ids: ['a', 'b'], vectors: new Float32Array(32) }));
  await assert.rejects(readQvdb(fs, '/m.qvdb', { maxBytes: 100 }), { code: 'LIMIT_EXCEEDED' });
  await readQvdb(fs, '/m.qvdb', { maxBytes: 1000 });
});

test('readQvdbInfo reads only header, footer, directory and manifest', async () => {
  const fs = new MemoryFileSystem();
  await writeQvdb(fs, '/big.qvdb', makeImage({ dimension: 256, ids: Array.from({ length: 2000 }, (_, i) => i), vectors: randomVectors(2000, 256) }), { user: { a: 1 } });
  let bytesRead = 0;
  const counting = Object.create(fs) as MemoryFileSystem;
  counting.open = async (p, m) => {
    const h = await fs.open(p, m);
    const read = h.read.bind(h);
    h.read = async (into, pos, off, len) => {
      const n = await read(into, pos, off, len);
      bytesRead += n;
      return n;
    };
    return h;
  };
  const info = await readQvdbInfo(counting, '/big.qvdb');
  assert.deepEqual(info.manifest.user, { a: 1 });
  assert.equal(info.manifest.count, 2000);
  assert.ok(info.bytes > 2_000_000);
  assert.ok(bytesRead < 2000, `read ${bytesRead} bytes`);
});

test('verifyChecksum: false skips only the data-section hashes', async () => {
  const fs = new MemoryFileSystem();
  await writeQvdb(fs, '/v.qvdb', makeImage({ dimension: 4, ids: ['a', 'b'], vectors: Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8) }));
  const info = await readQvdbInfo(fs, '/v.qvdb');
  const vec = info.directory.find((d) => d.section === 'vectors');
  assert.ok(vec);
  const bytes = Uint8Array.from(fs.readFileSync('/v.qvdb'));
  bytes[vec.offset + 3] ^= 0x01;
  fs.writeFileSync('/v.qvdb', bytes);
  await assert.rejects(readQvdb(fs, '/v.qvdb'), { code: 'CHECKSUM_MISMATCH' });
  const r = await readQvdb(fs, '/v.qvdb', { verifyChecksum: false });
  assert.ok(r.kind === 'full' && r.columns.vectors[0] !== 1, 'the unverified load returns the damaged bytes');
  bytes[info.directory[0].offset + 1] ^= 0x01; // the manifest is verified regardless
  fs.writeFileSync('/v.qvdb', bytes);
  await assert.rejects(readQvdb(fs, '/v.qvdb', { verifyChecksum: false }), { code: 'CHECKSUM_MISMATCH' });
});

test('swap32InPlace reverses each 4-byte word (the big-endian path)', () => {
  const b = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  swap32InPlace(b);
  assert.deepEqual(Array.from(b), [4, 3, 2, 1, 8, 7, 6, 5]);
  assert.equal(HOST_IS_LITTLE_ENDIAN, true);
});

test('property: any ids, vectors and JSON metadata round trip exactly, with every codec', async () => {
  const entry = fc.record({
    id: fc.oneof(fc.string({ unit: 'grapheme' }), fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 })),
    vector: fc.float32Array({ minLength: 3, maxLength: 3, noDefaultInfinity: true, noNaN: true }),
    metadata: fc.option(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), { nil: undefined }),
  });
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(entry, { selector: (e) => e.id, maxLength: 20 }), fc.constantFrom<Compression>('none', 'gzip', 'brotli'), async (entries, compression) => {
      const fs = new MemoryFileSystem();
      // JSON normalises what JSON cannot say (-0 becomes 0), as every QuiverDB format does.
      const metadata = entries.map((e) => (e.metadata === undefined ? undefined : (JSON.parse(JSON.stringify(e.metadata)) as Metadata)));
      const vectors = new Float32Array(entries.length * 3);
      entries.forEach((e, i) => vectors.set(e.vector, i * 3));
      await writeQvdb(fs, '/p.qvdb', makeImage({ dimension: 3, ids: entries.map((e) => e.id), vectors, metadata }), { compression });
      const c = await full(fs, '/p.qvdb');
      assert.deepEqual(c.ids, entries.map((e) => e.id));
      assert.ok(bytesOf(c.vectors).equals(bytesOf(vectors)));
      assert.deepEqual(c.metadata, metadata);
      assert.deepEqual(c.metadata.map((m) => m && Object.keys(m)), metadata.map((m) => m && Object.keys(m)));
    }),
    { numRuns: 60, seed: 4242 },
  );
});
