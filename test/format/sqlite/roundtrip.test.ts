import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Id, Metadata, Metric } from '../../../src/engine/types.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { nodeFs } from '../../../src/env/node-fs.js';
import { readSqliteState, sqliteCodec, writeSqliteState } from '../../../src/format/sqlite/index.js';
import { loadFioriEmbeddings } from '../../../support/datasets.js';
import { VectorDB } from '../../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../../src/persistence/database-persistence.js';
import { assertSameDb } from '../../support/db.js';
import { assertColumnsEqual, awkwardSpec, EXTREME_FLOATS, inTempDir, makeImage, randomVectors, writeSample, type ImageSpec } from './helpers.js';

async function roundTrip(spec: ImageSpec, dir: string, user: Record<string, unknown> = {}): Promise<void> {
  const path = join(dir, 'rt.sqlite');
  const w = await writeSqliteState(nodeFs, path, makeImage(spec), { user });
  assert.equal(w.count, spec.ids.length);
  assert.equal(w.bytes, statSync(path).size);
  assert.match(w.checksum, /^[0-9a-f]{64}$/);
  const r = await readSqliteState(nodeFs, path);
  assertColumnsEqual(r.columns, spec);
  assert.equal(r.checksum, w.checksum);
  assert.deepEqual(r.user, user);
  assert.equal(r.seq, spec.seq ?? spec.ids.length);
}

test('round trip: awkward content (unicode and numeric ids, 42 vs "42", nested metadata, extreme floats) is bit-exact', async () => {
  await inTempDir(async (dir) => {
    const spec = awkwardSpec();
    await roundTrip(spec, dir, { note: 'ü', nested: { a: [1, null] } });
    const r = await readSqliteState(nodeFs, join(dir, 'rt.sqlite'));
    assert.equal(typeof r.columns.ids[1], 'number');
    assert.equal(typeof r.columns.ids[2], 'string');
    assert.equal(r.columns.ids[9], Number.MAX_SAFE_INTEGER);
    assert.ok(Object.is(r.columns.vectors[5 * 8], -0), '-0 keeps its sign');
    assert.deepEqual(Array.from(r.columns.vectors.subarray(5 * 8, 6 * 8)), EXTREME_FLOATS.map(Math.fround));
  });
});

test('round trip: an empty collection keeps its dimension and metric', async () => {
  await inTempDir(async (dir) => {
    await roundTrip({ dimension: 3, metric: 'dot', ids: [], vectors: new Float32Array(0), seq: 5 }, dir);
  });
});

test('round trip: one entry, every metric', async () => {
  await inTempDir(async (dir) => {
    for (const metric of ['cosine', 'euclidean', 'dot', 'manhattan'] as Metric[]) {
      await roundTrip({ dimension: 1, metric, ids: ['only'], vectors: Float32Array.of(1.5), metadata: [{ m: metric }] }, dir);
    }
  });
});

test('round trip: the 778 real fiori embeddings with their metadata', async () => {
  await inTempDir(async (dir) => {
    const data = loadFioriEmbeddings();
    await roundTrip({ dimension: 384, ids: data.ids, vectors: data.vectors, metadata: data.metadata }, dir);
  });
});

test('round trip: many buckets with the vector hashing on the helper thread (>4 MiB), numeric ids', async () => {
  await inTempDir(async (dir) => {
    const n = 3000;
    const ids: Id[] = Array.from({ length: n }, (_, i) => (i % 2 ? i * 1000 : `doc-${i}`));
    const spec: ImageSpec = { dimension: 384, ids, vectors: randomVectors(n, 384, 3), metadata: ids.map((id) => ({ id })) };
    await roundTrip(spec, dir);
    const r = await readSqliteState(nodeFs, join(dir, 'rt.sqlite'), { verifyChecksum: false });
    assertColumnsEqual(r.columns, spec);
  });
});

test('round trip: big metadata (a 1 MB string, 2,000 keys, 200 levels deep) and unicode ids', async () => {
  await inTempDir(async (dir) => {
    let deep: Metadata = { leaf: '🌳' };
    for (let i = 0; i < 200; i++) deep = { [`level${i}`]: deep, i };
    const wide: Metadata = {};
    for (let i = 0; i < 2000; i++) wide[`k${i}-ключ`] = i % 3 === 0 ? null : [i, `v${i}`];
    const ids = ['𝔘𝔫𝔦𝔠𝔬𝔡𝔢', 'ключ', '鍵', 'a\u0000b', ' '];
    const metadata = [{ big: 'x'.repeat(1 << 20) }, deep, wide, { empty: {} }, {}];
    await roundTrip({ dimension: 4, ids, vectors: randomVectors(5, 4), metadata }, dir);
  });
});

test('a __proto__ key in metadata comes back as plain data and pollutes nothing', async () => {
  await inTempDir(async (dir) => {
    const path = await writeSample(dir);
    const r = await readSqliteState(nodeFs, path);
    const m = r.columns.metadata[4]!;
    assert.ok(Object.prototype.hasOwnProperty.call(m, '__proto__'));
    assert.deepEqual(Object.keys(m), ['__proto__', 'constructor', 'b']);
    assert.equal(Object.getPrototypeOf(m), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

test('the codec: format, extension, sniff, write/read through the ExchangeCodec interface', async () => {
  assert.equal(sqliteCodec.format, 'sqlite');
  assert.deepEqual(sqliteCodec.compressions, ['none']);
  assert.equal(sqliteCodec.canWrite, true);
  assert.equal(sqliteCodec.extension('none'), '.sqlite');
  await inTempDir(async (dir) => {
    const spec = awkwardSpec();
    const path = join(dir, `c${sqliteCodec.extension('none')}`);
    const w = await sqliteCodec.write(nodeFs, path, makeImage(spec), { user: { a: 1 } });
    assert.deepEqual(w.files, [path]);
    assert.equal(w.bytes, statSync(path).size);
    assert.ok(sqliteCodec.sniff(readFileSync(path).subarray(0, 4096)));
    assert.ok(!sqliteCodec.sniff(Buffer.from('{"format":"quiverdb"}')));
    assert.ok(!sqliteCodec.sniff(Buffer.from('SQLite format 3')), 'the header needs its NUL byte');
    const r = await sqliteCodec.read(nodeFs, path);
    assertColumnsEqual(r.columns, spec);
    assert.equal(r.metricKnown, true);
    assert.deepEqual(r.user, { a: 1 });
    assert.equal(r.checksum, w.checksum);
    for (const compression of ['gzip', 'brotli'] as const) {
      await assert.rejects(sqliteCodec.write(nodeFs, join(dir, 'z.sqlite'), makeImage(spec), { compression }), { code: 'UNSUPPORTED_FORMAT' });
    }
  });
});

test('writes replace the target atomically and leave no temp or journal files', async () => {
  await inTempDir(async (dir) => {
    const path = await writeSample(dir);
    const spec: ImageSpec = { dimension: 2, ids: ['x'], vectors: Float32Array.of(1, 2) };
    await writeSqliteState(nodeFs, path, makeImage(spec));
    assertColumnsEqual((await readSqliteState(nodeFs, path)).columns, spec);
    assert.deepEqual(readdirSync(dir), ['s.sqlite']);
    await assert.rejects(writeSqliteState(nodeFs, join(dir, 'missing', 'x.sqlite'), makeImage(spec)), { code: 'ENOENT' });
  });
});

test('progress is monotonic and ends at 100 for writes and reads', async () => {
  await inTempDir(async (dir) => {
    const n = 5000;
    const spec: ImageSpec = { dimension: 16, ids: Array.from({ length: n }, (_, i) => `e${i}`), vectors: randomVectors(n, 16) };
    const seen: number[] = [];
    const path = join(dir, 'p.sqlite');
    await writeSqliteState(nodeFs, path, makeImage(spec), { onProgress: (p) => seen.push(p.percentage) });
    const loaded: number[] = [];
    await readSqliteState(nodeFs, path, { onProgress: (p) => loaded.push(p.percentage) });
    for (const list of [seen, loaded]) {
      assert.ok(list.length >= 2, 'several reports');
      for (let i = 1; i < list.length; i++) assert.ok(list[i] >= list[i - 1], 'never backwards');
      assert.equal(list.at(-1), 100);
    }
  });
});

test('memory file system: write, read and sniff without touching the disk', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/data');
  const spec = awkwardSpec();
  const w = await writeSqliteState(fs, '/data/m.sqlite', makeImage(spec), { user: { mem: true }, seq: 7 });
  const bytes = await fs.readFile('/data/m.sqlite');
  assert.equal(w.bytes, bytes.length);
  assert.ok(sqliteCodec.sniff(bytes));
  const r = await readSqliteState(fs, '/data/m.sqlite');
  assertColumnsEqual(r.columns, spec);
  assert.equal(r.seq, 7);
  assert.deepEqual(r.user, { mem: true });
  assert.equal(r.checksum, w.checksum);
  assert.deepEqual(await fs.readdir('/data'), ['m.sqlite']);
});

test('a database with holes (deleted entries, reused slots) saves and exports to SQLite files that load back exactly', async () => {
  // The engine hands out its vectors in runs that end at a hole, shorter than a digest bucket; every
  // bucket must still cover exactly its rows (a save of 66+ entries with one deletion was unreadable).
  const cases: { dim: number; n: number; del: number[]; refill?: number }[] = [
    { dim: 2, n: 66, del: [1] },
    { dim: 2, n: 1000, del: [1, 500] },
    { dim: 384, n: 3000, del: [1, 700, 701, 1500, 2999] },
    { dim: 384, n: 3000, del: [5, 100, 2000], refill: 2 },
    { dim: 64, n: 20000, del: Array.from({ length: 40 }, (_, i) => i * 487 + 3) },
  ];
  await inTempDir(async (dir) => {
    for (const [k, c] of cases.entries()) {
      const db = new VectorDB({ dimension: c.dim, metric: 'euclidean' });
      const vecs = randomVectors(c.n + (c.refill ?? 0), c.dim, k + 1);
      for (let i = 0; i < c.n; i++) void db.insert({ id: `doc-${i}`, vector: vecs.subarray(i * c.dim, (i + 1) * c.dim), metadata: { i } });
      for (const i of c.del) void db.delete(`doc-${i}`);
      for (let j = 0; j < (c.refill ?? 0); j++) void db.insert({ id: `new-${j}`, vector: vecs.subarray((c.n + j) * c.dim, (c.n + j + 1) * c.dim) });
      const p = new DatabasePersistence(db, { baseDir: dir, format: 'sqlite' });
      const saved = await p.save({ path: join(dir, `case${k}.sqlite`) });
      const exported = join(dir, `case${k}-export.sqlite`);
      await p.export({ path: exported, format: 'sqlite' });
      for (const path of [saved, exported]) {
        const back = new VectorDB({ dimension: c.dim, metric: 'euclidean' });
        await new DatabasePersistence(back, { baseDir: dir }).load({ path });
        assertSameDb(back, db);
      }
    }
  });
});

test('SQLite saves and exports taken while entries are being replaced hold one point in time and load verified', async () => {
  // Each replacement copies the old vector aside for the open image, so the image's runs end there: the
  // digests must still cover whole buckets, in both the local and the helper-thread (>= 4 MiB) paths.
  await inTempDir(async (dir) => {
    for (const dim of [32, 384]) {
      const n = 3000;
      const db = new VectorDB({ dimension: dim, metric: 'euclidean' });
      const value = (id: number, gen: number) => id * 100_000 + gen;
      for (let i = 0; i < n; i++) void db.insert({ id: i, vector: new Float32Array(dim).fill(value(i, 0)), metadata: { gen: 0 } });
      let gen = 0;
      let stop = false;
      const writer = (async () => {
        while (!stop) {
          gen++;
          void db.insert({ id: gen % n, vector: new Float32Array(dim).fill(value(gen % n, gen)), metadata: { gen } });
          await new Promise((r) => setImmediate(r));
        }
      })();
      const p = new DatabasePersistence(db, { baseDir: dir, format: 'sqlite' });
      const saved = await p.save({ path: join(dir, `live-${dim}.sqlite`) });
      const exported = join(dir, `live-${dim}-export.sqlite`);
      await p.export({ path: exported, format: 'sqlite' });
      stop = true;
      await writer;
      assert.ok(gen > 10, 'entries were replaced while the files were written');
      for (const path of [saved, exported]) {
        const back = new VectorDB({ dimension: dim, metric: 'euclidean' });
        await new DatabasePersistence(back, { baseDir: dir }).load({ path });
        assert.equal(back.len(), n);
        for (const e of back) {
          const g = (e.metadata as { gen: number }).gen;
          assert.equal(e.vector[0], Math.fround(value(e.id as number, g)), `entry ${String(e.id)}: vector and metadata of one generation`);
          assert.equal(e.vector[dim - 1], e.vector[0]);
        }
      }
    }
  });
});
