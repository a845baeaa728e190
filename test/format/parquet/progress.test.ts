import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FileHandle, FileSystem } from '../../../src/env/fs.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { QuiverError } from '../../../src/errors.js';
import type { Progress } from '../../../src/util/progress.js';
import { readParquet, writeParquet } from '../../../src/format/parquet/index.js';
import { assertColumnsEqual, makeImage, randomVectors, type ImageSpec } from './helpers.js';

function spec(n: number, dim: number): ImageSpec {
  return {
    dimension: dim,
    ids: Array.from({ length: n }, (_, i) => (i % 2 ? `e${i}` : i)),
    vectors: randomVectors(n, dim, 5),
    metadata: Array.from({ length: n }, (_, i) => ({ i })),
  };
}

async function freshFs(): Promise<MemoryFileSystem> {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d', { recursive: true });
  return fs;
}

function checkReports(reports: Progress[], operation: string, total: number): void {
  assert.ok(reports.length >= 3, `only ${reports.length} reports`);
  for (let i = 1; i < reports.length; i++) assert.ok(reports[i].percentage >= reports[i - 1].percentage, 'percentage went backwards');
  const last = reports[reports.length - 1];
  assert.equal(last.percentage, 100);
  assert.equal(last.current, total);
  assert.ok(reports.every((r) => r.operation === operation));
  assert.equal(reports.filter((r) => r.percentage === 100).length, 1);
}

const isAborted = (e: unknown) => e instanceof QuiverError && e.code === 'ABORTED';

test('export and import report monotonic progress ending at 100%', async () => {
  const fs = await freshFs();
  const s = spec(50, 4);
  const shape = { groupRows: 5, pageRows: 2 };
  const written: Progress[] = [];
  await writeParquet(fs, '/d/p.parquet', makeImage(s), { onProgress: (p) => written.push(p) }, shape);
  checkReports(written, 'export', 50);
  const read: Progress[] = [];
  const r = await readParquet(fs, '/d/p.parquet', { onProgress: (p) => read.push(p) });
  checkReports(read, 'import', 50);
  assertColumnsEqual(r.columns, s);
});

test('an export aborted before or during the write publishes nothing and keeps the old file', async () => {
  const fs = await freshFs();
  const old = spec(3, 4);
  await writeParquet(fs, '/d/p.parquet', makeImage(old));
  const before = await fs.readFile('/d/p.parquet');
  const s = spec(60, 4);
  const shape = { groupRows: 5, pageRows: 2 };
  await assert.rejects(writeParquet(fs, '/d/p.parquet', makeImage(s), { signal: AbortSignal.abort() }, shape), isAborted);
  const ac = new AbortController();
  await assert.rejects(
    writeParquet(fs, '/d/p.parquet', makeImage(s), { signal: ac.signal, onProgress: (p) => p.current >= 20 && ac.abort() }, shape),
    isAborted,
  );
  await assert.rejects(
    writeParquet(fs, '/d/p.parquet', makeImage(s), { onProgress: () => { throw new Error('callback failed'); } }, shape),
    /callback failed/,
  );
  assert.deepEqual(await fs.readdir('/d'), ['p.parquet']);
  assert.deepEqual(await fs.readFile('/d/p.parquet'), before);
});

test('an import aborted before or during the read returns nothing', async () => {
  const fs = await freshFs();
  await writeParquet(fs, '/d/p.parquet', makeImage(spec(60, 4)), {}, { groupRows: 5, pageRows: 2 });
  await assert.rejects(readParquet(fs, '/d/p.parquet', { signal: AbortSignal.abort() }), isAborted);
  const ac = new AbortController();
  await assert.rejects(readParquet(fs, '/d/p.parquet', { signal: ac.signal, onProgress: (p) => p.current >= 20 && ac.abort() }), isAborted);
});

/** Wraps a FileSystem so that every handle records the sizes of its reads and writes. */
function recording(inner: FileSystem): { fs: FileSystem; reads: number[]; writes: number[] } {
  const reads: number[] = [];
  const writes: number[] = [];
  const wrap = (h: FileHandle): FileHandle => ({
    write: (data, position) => {
      writes.push(data.length);
      return h.write(data, position);
    },
    read: (into, position, offset, length) => {
      reads.push(length ?? into.length - (offset ?? 0));
      return h.read(into, position, offset, length);
    },
    sync: () => h.sync(),
    size: () => h.size(),
    truncate: (n) => h.truncate(n),
    close: () => h.close(),
  });
  const fs: FileSystem = Object.create(inner) as FileSystem;
  fs.open = async (path, mode) => wrap(await inner.open(path, mode));
  return { fs, reads, writes };
}

test('both directions stream: writes go out in bounded pieces, reads never take more than one row group', async () => {
  const inner = await freshFs();
  const { fs, reads, writes } = recording(inner);
  const s = spec(20_000, 192); // 15 MB of vectors, 3 row groups of 8192 rows
  const w = await writeParquet(fs, '/d/big.parquet', makeImage(s));
  assert.ok(writes.length > 10, `${writes.length} writes`);
  assert.ok(Math.max(...writes) <= 9 << 20, `largest write ${Math.max(...writes)} bytes`);
  const r = await readParquet(fs, '/d/big.parquet');
  assertColumnsEqual(r.columns, s);
  const groupBytes = 8192 * 192 * 4 + (64 << 10);
  assert.ok(Math.max(...reads) <= groupBytes, `largest read ${Math.max(...reads)} of a ${w.bytes}-byte file`);
});
