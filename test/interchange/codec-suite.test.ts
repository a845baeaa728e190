/**
 * The one codec suite every interchange format runs: round trips of empty, one-entry, awkward, real,
 * large-metadata and 100k-entry databases under every compression the format allows, conversion from
 * every readable format to every writable one, and all-or-nothing imports of damaged files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VectorDB } from '../../src/engine/vector-db.js';
import { nodeFs } from '../../src/env/node-fs.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { codecFor, convertFile, detectExchangeFormat, exchangeFormats, exportImage, importFile } from '../../src/interchange/index.js';
import type { ExchangeCodec, ExchangeCompression } from '../../src/interchange/index.js';
import { QuiverError } from '../../src/errors.js';
import { clusteredDataset } from '../../support/datasets.js';
import { addAwkwardEntries, assertSameDb, realDb, tempDir } from '../support/db.js';

const writable: ExchangeCodec[] = exchangeFormats()
  .map((f) => codecFor(f))
  .filter((c) => c.canWrite);

async function fromColumns(path: string): Promise<VectorDB> {
  const read = await importFile(nodeFs, path);
  const db = new VectorDB({ dimension: read.columns.dimension, metric: read.columns.metric });
  db.replaceAll(read.columns);
  return db;
}

async function roundTrip(codec: ExchangeCodec, compression: ExchangeCompression, db: VectorDB, dir: string, name: string): Promise<VectorDB> {
  const path = join(dir, `${name}${codec.extension(compression)}`);
  const image = db.openImage();
  try {
    const written = await exportImage(nodeFs, path, image, { format: codec.format, compression });
    assert.equal(written.count, db.len());
    assert.equal(written.files[0], path);
  } finally {
    image.release();
  }
  const detected = await detectExchangeFormat(nodeFs, path);
  assert.equal(detected.codec.format, codec.format, `${path} is detected as ${codec.format}`);
  // .qvdb compresses inside, per section; every other format compresses the whole file.
  assert.equal(detected.compression, codec.format === 'binary' ? 'none' : compression);
  return fromColumns(path);
}

async function awkwardDb(dim = 8): Promise<VectorDB> {
  const db = new VectorDB({ dimension: dim, metric: 'euclidean' });
  await addAwkwardEntries(db);
  return db;
}

for (const codec of writable) {
  for (const compression of codec.compressions) {
    const label = `${codec.format}${compression === 'none' ? '' : `+${compression}`}`;

    test(`${label}: empty, one entry and awkward entries round-trip exactly`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const empty = new VectorDB({ dimension: 5, metric: 'dot' });
        const back = await roundTrip(codec, compression, empty, dir, 'empty');
        assert.equal(back.len(), 0);
        assert.equal(back.dimension, 5);

        const one = new VectorDB({ dimension: 3, metric: 'manhattan' });
        await one.insert({ id: 'only', vector: [1, -2, 3.5], metadata: { a: 1 } });
        assertSameDb(await roundTrip(codec, compression, one, dir, 'one'), one);

        const awkward = await awkwardDb();
        const back2 = await roundTrip(codec, compression, awkward, dir, 'awkward');
        assertSameDb(back2, awkward);
        assert.equal(typeof back2.get(42)?.id, 'number', 'numeric ids stay numeric');
        assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
        assert.deepEqual(Object.keys(back2.get('proto')?.metadata ?? {}), ['__proto__', 'constructor', 'b']);
      } finally {
        cleanup();
      }
    });

    test(`${label}: real embeddings and large metadata round-trip exactly`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const real = await realDb(compression === 'none' ? 778 : 200);
        assertSameDb(await roundTrip(codec, compression, real, dir, 'real'), real);
        const big = new VectorDB({ dimension: 4 });
        const text = 'ü'.repeat(300_000);
        await big.insert({ id: 'big', vector: [1, 2, 3, 4], metadata: { text, list: Array.from({ length: 5000 }, (_, i) => ({ i, s: `v${i}` })) } });
        await big.insert({ id: 'small', vector: [0, 0, 0, 1] });
        assertSameDb(await roundTrip(codec, compression, big, dir, 'bigmeta'), big);
      } finally {
        cleanup();
      }
    });
  }

  test(`${codec.format}: 100,000 entries round-trip exactly`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const dim = 8;
      const data = clusteredDataset(100_000, dim, 3);
      const db = new VectorDB({ dimension: dim });
      db.replaceAll({ dimension: dim, metric: 'cosine', ids: data.ids, vectors: data.vectors, metadata: data.metadata });
      assertSameDb(await roundTrip(codec, 'none', db, dir, 'large'), db);
    } finally {
      cleanup();
    }
  });

  test(`${codec.format}: a damaged file fails the import and leaves the database exactly as it was`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const source = await realDb(50);
      const path = join(dir, `src${codec.extension('none')}`);
      const image = source.openImage();
      try {
        await exportImage(nodeFs, path, image, { format: codec.format });
      } finally {
        image.release();
      }
      const target = await awkwardDb(384);
      const before = await awkwardDb(384);
      const p = new DatabasePersistence(target, { baseDir: dir });
      // Cut the file in half, then try both merge and replace imports.
      truncateSync(path, Math.floor(statSync(path).size / 2));
      for (const clear of [false, true]) {
        await assert.rejects(p.import({ path, clear, format: codec.format as never }), (e: unknown) => e instanceof QuiverError && e.message.includes(path));
        assertSameDb(target, before);
      }
      // Garbage of the same size is refused too.
      writeFileSync(path, Buffer.alloc(statSync(path).size, 0x41));
      await assert.rejects(p.import({ path, format: codec.format as never }), QuiverError);
      assertSameDb(target, before);
    } finally {
      cleanup();
    }
  });
}

test('conversion: every writable format to every other keeps every id, bit-exact vector and metadata value', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(30, 'euclidean');
    const sources: string[] = [];
    for (const codec of writable) {
      const path = join(dir, `source${codec.extension('none')}`);
      const image = db.openImage();
      try {
        await exportImage(nodeFs, path, image, { format: codec.format });
      } finally {
        image.release();
      }
      sources.push(path);
    }
    for (const from of sources) {
      for (const to of writable) {
        const target = join(dir, `conv-${from.split('/').pop()}-to${to.extension('none')}`);
        const r = await convertFile(nodeFs, from, target, { format: to.format });
        assert.equal(r.count, db.len());
        const back = await fromColumns(target);
        assertSameDb(back, db);
        // Formats with a place for it keep the metric; the others (npy) say they do not know it.
        const sourceKnows = (await importFile(nodeFs, from)).metricKnown;
        if (!sourceKnows) assert.ok(from.endsWith('.npy'), `${from} should record the metric`);
        else if ((await importFile(nodeFs, target)).metricKnown) assert.equal(back.metric, 'euclidean', `metric kept from ${from} to ${to.format}`);
        else assert.equal(to.format, 'npy', `${to.format} should record the metric`);
      }
    }
  } finally {
    cleanup();
  }
});

test('DatabasePersistence export/import: every writable format through the reference-000 calls', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(40);
    const p = new DatabasePersistence(db, { baseDir: dir });
    for (const codec of writable) {
      const path = join(dir, 'export', `db${codec.extension('none')}`);
      await p.export({ path, format: codec.format as never });
      assert.ok(readFileSync(path).length > 0);
      const copy = new VectorDB({ dimension: 384 });
      await new DatabasePersistence(copy, { baseDir: dir }).import({ path, clear: true });
      assertSameDb(copy, db);
    }
  } finally {
    cleanup();
  }
});
