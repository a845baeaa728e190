import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFs } from '../../src/env/node-fs.js';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import type { PersistenceOptions } from '../../src/persistence/types.js';
import { detectExchangeFormat } from '../../src/interchange/index.js';
import { readQvdbInfo } from '../../src/format/qvdb/index.js';

function database(): VectorDB {
  const db = new VectorDB({ dimension: 3, metric: 'cosine' });
  for (let i = 0; i < 20; i++) void db.insert({ id: `doc-${i}`, vector: [i, 1, 2], metadata: { i } });
  return db;
}

async function written(path: string): Promise<string> {
  const d = await detectExchangeFormat(nodeFs, path);
  if (d.codec.format === 'binary') {
    const sections = (await readQvdbInfo(nodeFs, path)).directory.filter((e) => e.section === 'vectors');
    return `binary/${sections[0].compression}`;
  }
  return `${d.codec.format}/${d.compression}`;
}

async function withDir(fn: (dir: string, make: (o?: Partial<PersistenceOptions>) => DatabasePersistence) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-names-'));
  try {
    await fn(dir, (o = {}) => new DatabasePersistence(database(), { baseDir: dir, ...o }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('save without format follows a name that says one (backup.json.gz is gzipped JSON), and the file loads back', async () => {
  await withDir(async (dir, make) => {
    const p = make();
    const at = await p.save({ path: join(dir, 'backup.json.gz') });
    assert.equal(await written(at), 'json/gzip');
    assert.equal(await written(await p.save({ path: join(dir, 'plain.json') })), 'json/none');
    assert.equal(await written(await p.save({ path: join(dir, 'b.json.br') })), 'json/brotli');
    assert.equal(await written(await p.save({ path: join(dir, 'db.sqlite') })), 'sqlite/none');
    const back = new VectorDB({ dimension: 3, metric: 'cosine' });
    await new DatabasePersistence(back, { baseDir: dir }).load({ path: at });
    assert.equal(back.len(), 20);
    assert.deepEqual(back.get('doc-7')?.metadata, { i: 7 });
  });
});

test('explicit options win over the name; names that tell nothing, or name a format save cannot write, keep the instance\'s', async () => {
  await withDir(async (dir, make) => {
    const p = make({ format: 'json', compression: 'gzip' });
    assert.equal(await written(await p.save({ path: join(dir, 'a.json'), format: 'binary' })), 'binary/gzip');
    assert.equal(await written(await p.save({ path: join(dir, 'b.json'), compress: true })), 'json/gzip');
    assert.equal(await written(await p.save({ path: join(dir, 'c.json.gz'), compress: false })), 'json/none');
    // .qvdb is compressed per section, so its name says nothing of compression: the instance's applies.
    assert.equal(await written(await p.save({ path: join(dir, 'd.qvdb') })), 'binary/gzip');
    assert.equal(await written(await p.save({ path: join(dir, 'e.data') })), 'json/gzip');
    assert.equal(await written(await p.save({ path: join(dir, 'f.parquet') })), 'json/gzip');
    // The default path is the instance's format's own.
    assert.equal(await written(await p.save()), 'json/gzip');
  });
});

test('export without format follows the name too, for every writable format', async () => {
  await withDir(async (dir, make) => {
    const p = make();
    const cases: [string, string][] = [['e.json', 'json/none'], ['e.jsonl.gz', 'jsonl/gzip'], ['e.msgpack', 'msgpack/none'], ['e.parquet', 'parquet/none'], ['e.qvdb', 'binary/none'], ['e.sqlite', 'sqlite/none']];
    for (const [name, expected] of cases) {
      await p.export({ path: join(dir, name) });
      assert.equal(await written(join(dir, name)), expected, name);
    }
    await p.export({ path: join(dir, 'x.json'), format: 'jsonl' });
    assert.equal(await written(join(dir, 'x.json')), 'jsonl/none');
    // A format's name with a compression suffix that format never takes: refused (a .qvdb was written
    // under y.parquet.gz), unless the format is given.
    for (const name of ['y.parquet.gz', 'y.qvdb.gz', 'y.sqlite.br', 'y.npy.gz']) {
      await assert.rejects(p.export({ path: join(dir, name) }), (e: unknown) => (e as { code?: string }).code === 'UNSUPPORTED_FORMAT' && /never compressed as a whole.*name it .*y\.(parquet|qvdb|sqlite|npy) or give the format/.test((e as Error).message), name);
      assert.equal(existsSync(join(dir, name)), false, name);
    }
    await assert.rejects(p.save({ path: join(dir, 'z.qvdb.gz') }), (e: unknown) => (e as { code?: string }).code === 'UNSUPPORTED_FORMAT');
    await p.export({ path: join(dir, 'y.parquet.gz'), format: 'parquet' });
    assert.equal(await written(join(dir, 'y.parquet.gz')), 'parquet/none');
  });
});

test('a full save an incremental save falls back to keeps the compression the name chose', async () => {
  await withDir(async (dir, make) => {
    const p = make({ compression: 'brotli', incremental: true });
    const at = await p.save({ path: join(dir, 'backup.json.gz') });
    assert.equal(await written(at), 'json/gzip');
    // After an import the next incremental save is a full one, over the chain's file.
    await p.export({ path: join(dir, 'copy.qvdb') });
    await p.import({ path: join(dir, 'copy.qvdb') });
    assert.equal(await p.saveIncremental(), at);
    assert.equal(await written(at), 'json/gzip');
  });
});
