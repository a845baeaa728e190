import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuiverError } from '../../../src/errors.js';
import type { FileHandle, FileSystem } from '../../../src/env/fs.js';
import { nodeFs } from '../../../src/env/node-fs.js';
import { readJsonState, writeJsonState } from '../../../src/format/json/index.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { VectorDB } from '../../../src/engine/vector-db.js';
import type { Progress } from '../../../src/util/progress.js';
import type { Id, Metadata } from '../../../src/engine/types.js';
import { awkwardSpec, makeImage, randomVectors, tempDir, type ImageSpec } from './helpers.js';

/** nodeFs whose handles fail the `failAt`-th write (counted across handles) with `code`. */
function failingFs(failAt: number, code = 'ENOSPC'): FileSystem {
  let writes = 0;
  return {
    ...nodeFs,
    open: async (path, mode) => {
      const h = await nodeFs.open(path, mode);
      const wrapped: FileHandle = {
        write: async (data, position) => {
          if (++writes === failAt) throw Object.assign(new Error('injected'), { code });
          return h.write(data, position);
        },
        read: (into, position, offset, length) => h.read(into, position, offset, length),
        sync: () => h.sync(),
        size: () => h.size(),
        truncate: (n) => h.truncate(n),
        close: () => h.close(),
      };
      return wrapped;
    },
    rename: (a, b) => nodeFs.rename(a, b),
    rm: (p, o) => nodeFs.rm(p, o),
    syncDir: (p) => nodeFs.syncDir(p),
  };
}

function bigSpec(n: number, dim: number): ImageSpec {
  const ids: Id[] = Array.from({ length: n }, (_, i) => `e${i}`);
  const metadata: Metadata[] = ids.map((_, i) => ({ i }));
  return { dimension: dim, ids, vectors: randomVectors(n, dim, 3), metadata };
}

test('a failed write leaves the previous file intact and no temp file, for every failing write', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'state.json');
    writeFileSync(path, 'previous');
    // About 5 MB of JSON: several page writes, compressed or not.
    const spec = bigSpec(3500, 128);
    for (const compression of ['none', 'gzip'] as const) {
      for (let n = 1; ; n++) {
        try {
          await writeJsonState(failingFs(n), path, makeImage(spec), { compression, level: 1 });
        } catch (err) {
          assert.ok(err instanceof QuiverError);
          assert.equal(err.code, 'ENOSPC');
          assert.equal(readFileSync(path, 'utf8'), 'previous');
          assert.deepEqual(readdirSync(dir), ['state.json']);
          continue;
        }
        assert.ok(n > 2, 'the document needs several writes for this test to mean anything');
        const r = await readJsonState(nodeFs, path, { compression });
        assert.equal(r.kind === 'full' && r.columns.ids.length, 3500);
        writeFileSync(path, 'previous');
        break;
      }
    }
  } finally {
    cleanup();
  }
});

test('cancelling a save publishes nothing', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'state.json');
    const ac = new AbortController();
    const onProgress = () => ac.abort();
    await assert.rejects(writeJsonState(nodeFs, path, makeImage(bigSpec(20000, 64)), { signal: ac.signal, onProgress }), (e) => e instanceof QuiverError && e.code === 'ABORTED');
    assert.deepEqual(readdirSync(dir), []);
    const aborted = AbortSignal.abort();
    await assert.rejects(writeJsonState(nodeFs, path, makeImage(awkwardSpec()), { signal: aborted }), (e) => e instanceof QuiverError && e.code === 'ABORTED');
    await writeJsonState(nodeFs, path, makeImage(awkwardSpec()));
    await assert.rejects(readJsonState(nodeFs, path, { compression: 'none', signal: aborted }), (e) => e instanceof QuiverError && e.code === 'ABORTED');
    await assert.rejects(readJsonState(nodeFs, join(dir, 'missing.json'), { compression: 'none' }), (e) => e instanceof QuiverError && e.code === 'ENOENT');
  } finally {
    cleanup();
  }
});

test('progress is monotonic and ends at 100 for save and load', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'state.json');
    const seen: Progress[] = [];
    await writeJsonState(nodeFs, path, makeImage(bigSpec(3000, 64)), { onProgress: (p) => seen.push(p) });
    const loads: Progress[] = [];
    await readJsonState(nodeFs, path, { compression: 'none', onProgress: (p) => loads.push(p) });
    for (const [list, op] of [[seen, 'save'], [loads, 'load']] as const) {
      assert.ok(list.length >= 2, `${op}: ${list.length} reports`);
      for (let i = 1; i < list.length; i++) assert.ok(list[i].percentage > list[i - 1].percentage);
      assert.equal(list.at(-1)!.percentage, 100);
      assert.ok(list.every((p) => p.operation === op));
    }
  } finally {
    cleanup();
  }
});

test('invalid arguments and invalid image contents are refused before anything is published', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'state.json');
    const image = makeImage(awkwardSpec());
    const code = (c: string) => (e: unknown) => e instanceof QuiverError && e.code === c;
    await assert.rejects(writeJsonState(nodeFs, path, image, { compression: 'zip' as 'gzip' }), code('INVALID_ARGUMENT'));
    await assert.rejects(writeJsonState(nodeFs, path, image, { compression: 'gzip', level: 10 }), code('INVALID_ARGUMENT'));
    await assert.rejects(writeJsonState(nodeFs, path, image, { compression: 'brotli', level: 1.5 }), code('INVALID_ARGUMENT'));
    await assert.rejects(writeJsonState(nodeFs, path, image, { user: [] as unknown as Record<string, unknown> }), code('INVALID_ARGUMENT'));
    await assert.rejects(readJsonState(nodeFs, path, { compression: 'lz4' as 'gzip' }), code('INVALID_ARGUMENT'));
    const bad = (patch: Partial<ImageSpec>) => makeImage({ ...awkwardSpec(), ...patch });
    const vectors = awkwardSpec().vectors.slice();
    vectors[9] = NaN;
    await assert.rejects(writeJsonState(nodeFs, path, bad({ vectors })), (e) => e instanceof QuiverError && e.code === 'INVALID_VECTOR' && /entry 1/.test(e.message));
    await assert.rejects(writeJsonState(nodeFs, path, bad({ ids: ['a', '', 'c', 'd', 'e', 'f', 'g'] })), code('INVALID_ID'));
    await assert.rejects(writeJsonState(nodeFs, path, bad({ ids: ['a', 1.5, 'c', 'd', 'e', 'f', 'g'] })), code('INVALID_ID'));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(writeJsonState(nodeFs, path, bad({ metadata: [cyclic, {}, {}, {}, {}, {}, {}] })), code('INVALID_METADATA'));
    await assert.rejects(writeJsonState(nodeFs, path, bad({ metadata: [[1] as unknown as Metadata, {}, {}, {}, {}, {}, {}] })), code('INVALID_METADATA'));
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    cleanup();
  }
});

test('a non-finite vector found by a formatting thread is reported with its entry', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const spec = bigSpec(2000, 64);
    spec.vectors[1500 * 64 + 7] = Infinity;
    await assert.rejects(
      writeJsonState(nodeFs, join(dir, 's.json'), makeImage(spec), { workers: 2 }),
      (e) => e instanceof QuiverError && e.code === 'INVALID_VECTOR' && /entry 1500: element 7/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    cleanup();
  }
});

test('entries with large metadata are handed to the formatting threads in smaller requests, and every one round-trips', async () => {
  // 4 MiB of id and metadata text per request: 40 entries of ~300 KB split one chunk of vectors
  // (16,384 entries of dimension 8) into several requests, ending mid-chunk.
  for (const workers of [0, 2]) {
    const fs = new MemoryFileSystem();
    const db = new VectorDB({ dimension: 8, metric: 'euclidean' });
    for (let i = 0; i < 60; i++) {
      const big = i % 3 === 0 ? 'x'.repeat(300_000 + i) : 'small';
      await db.insert({ id: `doc-${i}`, vector: Float32Array.from({ length: 8 }, (_, k) => i + k / 8), metadata: { i, big } });
    }
    const image = db.openImage();
    try {
      await writeJsonState(fs, '/big.json', image, { workers });
    } finally {
      image.release();
    }
    const back = await readJsonState(fs, '/big.json', { compression: 'none' });
    assert.equal(back.kind, 'full');
    if (back.kind !== 'full') return;
    assert.deepEqual(back.columns.ids, [...db].map((e) => e.id));
    assert.deepEqual([...back.columns.vectors], [...db].flatMap((e) => [...e.vector]));
    assert.deepEqual(back.columns.metadata, [...db].map((e) => e.metadata));
  }
});
