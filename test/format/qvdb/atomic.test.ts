import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { nodeFs } from '../../../src/env/node-fs.js';
import type { FileHandle, FileSystem, OpenMode } from '../../../src/env/fs.js';
import { QuiverError } from '../../../src/errors.js';
import { readQvdb, writeQvdb, type WriteQvdbOptions } from '../../../src/format/qvdb/index.js';
import type { CollectionImage } from '../../../src/engine/types.js';
import { bytesOf, makeChangeImage, makeImage, randomVectors } from '../../support/image.js';
import { patchingHandles } from '../../support/handle-hooks.js';

/** Delegates to `inner` and throws EIO from the `failAt`-th operation (1-based, any kind; 0 = never). */
class FailingFs implements FileSystem {
  ops = 0;
  constructor(private readonly inner: FileSystem, public failAt = 0) {}

  private tick(op: string): void {
    this.ops++;
    if (this.ops === this.failAt) throw Object.assign(new Error(`injected EIO on ${op}`), { code: 'EIO' });
  }

  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    this.tick('open');
    const h = await this.inner.open(path, mode);
    const tick = (op: string): void => this.tick(op);
    return {
      write: async (d, p) => (tick('write'), h.write(d, p)),
      read: (into, pos, off, len) => h.read(into, pos, off, len),
      sync: async () => (tick('sync'), h.sync()),
      size: () => h.size(),
      truncate: (n) => h.truncate(n),
      close: async () => (tick('close'), h.close()),
    };
  }
  readFile(p: string) { return this.inner.readFile(p); }
  async rename(a: string, b: string) { this.tick('rename'); return this.inner.rename(a, b); }
  unlink(p: string) { return this.inner.unlink(p); }
  async link(a: string, b: string) { this.tick('link'); return this.inner.link(a, b); }
  mkdir(p: string, o?: { recursive?: boolean }) { return this.inner.mkdir(p, o); }
  readdir(p: string) { return this.inner.readdir(p); }
  stat(p: string) { return this.inner.stat(p); }
  rm(p: string, o?: { recursive?: boolean }) { return this.inner.rm(p, o); }
  async syncDir(p: string) { this.tick('syncDir'); return this.inner.syncDir(p); }
}

function bigImage(seed: number, n = 40_000): CollectionImage {
  // With 40,000 entries: 2.6 MB of vectors plus ids and metadata, several buffered and direct writes.
  return makeImage({ dimension: 16, ids: Array.from({ length: n }, (_, i) => `${seed}-${i}`), vectors: randomVectors(n, 16, seed), metadata: Array.from({ length: n }, (_, i) => ({ i })) });
}

for (const compression of ['none', 'gzip'] as const) {
  test(`a failure at any operation of a ${compression} save leaves the old file or the new one, never a temp file`, async () => {
    const mem = new MemoryFileSystem();
    await mem.mkdir('/d');
    const n0 = compression === 'none' ? 40_000 : 10_000;
    await writeQvdb(mem, '/d/db.qvdb', bigImage(1, n0), { compression, level: 1 });
    const old = mem.readFileSync('/d/db.qvdb');
    let n = 1;
    for (; ; n++) {
      const fs = new FailingFs(mem, n);
      const img = bigImage(2, n0);
      const result = await writeQvdb(fs, '/d/db.qvdb', img, { compression, level: 1 }).then(() => 'ok', (e: unknown) => e);
      assert.deepEqual(await mem.readdir('/d'), ['db.qvdb'], `no temp file after failing op ${n}`);
      if (result === 'ok') break;
      assert.ok(result instanceof QuiverError && result.code === 'EIO', `op ${n}: ${String(result)}`);
      const now = mem.readFileSync('/d/db.qvdb');
      const r = await readQvdb(mem, '/d/db.qvdb');
      assert.ok(r.kind === 'full');
      // Only a failing directory fsync (after the rename) may leave the new file: it is complete.
      if (!Buffer.from(now).equals(Buffer.from(old))) assert.equal(r.columns.ids[0], '2-0', `op ${n}`);
    }
    assert.ok(n > 5, `the save took ${n} operations`);
    const r = await readQvdb(mem, '/d/db.qvdb');
    assert.ok(r.kind === 'full' && r.columns.ids[0] === '2-0');
  });
}

test('aborting a save mid-way publishes nothing and keeps the previous file', async () => {
  const fs = new MemoryFileSystem();
  await writeQvdb(fs, '/db.qvdb', bigImage(1));
  const old = Buffer.from(fs.readFileSync('/db.qvdb'));
  const ac = new AbortController();
  const opts: WriteQvdbOptions = { signal: ac.signal, onProgress: (p) => p.percentage > 30 && ac.abort() };
  await assert.rejects(writeQvdb(fs, '/db.qvdb', bigImage(2), opts), { code: 'ABORTED' });
  assert.ok(Buffer.from(fs.readFileSync('/db.qvdb')).equals(old));
  assert.deepEqual(await fs.readdir('/'), ['db.qvdb']);
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(writeQvdb(fs, '/other.qvdb', bigImage(2), { signal: pre.signal }), { code: 'ABORTED' });
  await assert.rejects(readQvdb(fs, '/db.qvdb', { signal: pre.signal }), { code: 'ABORTED' });
  assert.deepEqual(await fs.readdir('/'), ['db.qvdb']);
});

test('an exception from onProgress aborts the save without publishing', async () => {
  const fs = new MemoryFileSystem();
  await assert.rejects(writeQvdb(fs, '/db.qvdb', bigImage(1), { onProgress: () => { throw new Error('stop'); } }), /stop/);
  assert.deepEqual(await fs.readdir('/'), []);
});

test('bad arguments are refused with typed errors before anything is written', async () => {
  const fs = new MemoryFileSystem();
  const ok = { dimension: 2, ids: ['a'], vectors: Float32Array.of(1, 2) };
  const cases: [CollectionImage, WriteQvdbOptions, string][] = [
    [makeImage(ok), { compression: 'zip' as 'gzip' }, 'INVALID_ARGUMENT'],
    [makeImage(ok), { compression: 'brotli', level: 12 }, 'INVALID_ARGUMENT'],
    [makeImage(ok), { compression: 'gzip', level: 1.5 }, 'INVALID_ARGUMENT'],
    [makeImage(ok), { user: { f: () => 1 } as unknown as Record<string, unknown> }, 'INVALID_ARGUMENT'],
    [makeImage(ok), { user: { n: NaN } }, 'INVALID_ARGUMENT'],
    [makeImage({ ...ok, ids: [1.5] }), {}, 'INVALID_ID'],
    [makeImage({ ...ok, metadata: [{ when: new Date() }] }), {}, 'INVALID_METADATA'],
    [makeImage({ ...ok, metadata: [[1] as unknown as Record<string, unknown>] }), {}, 'INVALID_METADATA'],
    [{ ...makeImage(ok), count: 2 }, {}, 'INVALID_ARGUMENT'],
    [{ ...makeImage(ok), dimension: 0 }, {}, 'INVALID_ARGUMENT'],
    [{ ...makeImage(ok), vectorChunks: function* () { yield Float32Array.of(1); } }, {}, 'INVALID_ARGUMENT'],
  ];
  for (const [img, opts, code] of cases) {
    await assert.rejects(writeQvdb(fs, '/x.qvdb', img, opts), (e: unknown) => e instanceof QuiverError && e.code === code, `${code} ${JSON.stringify(opts)}`);
  }
  assert.deepEqual(await fs.readdir('/'), []);
  // The error names the entry.
  const three = makeImage({ dimension: 2, ids: ['a', '', { x: 1 } as unknown as string], vectors: Float32Array.of(1, 2, 3, 4, 5, 6) });
  await assert.rejects(writeQvdb(fs, '/x.qvdb', three), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ID' && /entries\[2\]\.id is/.test(e.message));
});

test('round trip through the real file system', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qvdb-'));
  try {
    const vectors = randomVectors(3000, 768, 5); // 9.2 MB: two direct 8 MB reads
    const ids = Array.from({ length: 3000 }, (_, i) => `n${i}`);
    const path = join(dir, 'db.qvdb');
    const w = await writeQvdb(nodeFs, path, makeImage({ dimension: 768, ids, vectors }));
    const r = await readQvdb(nodeFs, path);
    assert.ok(r.kind === 'full' && r.checksum === w.checksum);
    assert.ok(bytesOf(r.columns.vectors).equals(bytesOf(vectors)));
    assert.deepEqual(r.columns.ids, ids);
    assert.deepEqual(await readdir(dir), ['db.qvdb']);
    await assert.rejects(readQvdb(nodeFs, join(dir, 'missing.qvdb')), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a delta file starts its writeback once its first MiB (the vectors) is written, before the ids and metadata; a full file of that size does not', async () => {
  const dimension = 384;
  const n = 1000; // 1.5 MB of vectors
  const ids = Array.from({ length: n }, (_, i) => `doc-${i}`);
  const vectors = randomVectors(n, dimension, 3);
  const metadata = ids.map((id) => ({ title: id }));
  for (const kind of ['delta', 'full'] as const) {
    const mem = new MemoryFileSystem();
    const ops: string[] = [];
    const fs = patchingHandles(mem, (h) => {
      const write = h.write.bind(h);
      const sync = h.sync.bind(h);
      h.write = (data, position) => (ops.push(`write ${data.length}`), write(data, position));
      h.sync = () => (ops.push('sync'), sync());
    });
    const image = kind === 'delta' ? makeChangeImage({ dimension, ids, vectors, metadata, seq: 9, sinceSeq: 1, deletedIds: [] }) : makeImage({ dimension, ids, vectors, metadata });
    await writeQvdb(fs, '/d.qvdb', image);
    const firstSync = ops.indexOf('sync');
    const lastWrite = ops.map((o) => o.startsWith('write')).lastIndexOf(true);
    if (kind === 'delta') assert.ok(firstSync >= 0 && firstSync < lastWrite, `a background fsync before the last write: ${ops.join(', ')}`);
    else assert.deepEqual(ops.filter((o) => o === 'sync').length, 1, `one fsync, after the last write: ${ops.join(', ')}`);
    const back = await readQvdb(mem, '/d.qvdb');
    assert.equal(back.kind, kind);
  }
});
