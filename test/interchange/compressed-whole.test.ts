// Formats read with random access or raw (.qvdb, SQLite, Parquet, .npy) cannot be read through a
// whole-file gzip or brotli: such a file is UNSUPPORTED_FORMAT saying to decompress it first, never
// "damaged, restore it from a snapshot".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { CorruptionError, QuiverError } from '../../src/errors.js';
import { VectorDB } from '../../src/engine/vector-db.js';
import { nodeFs } from '../../src/env/node-fs.js';
import { exportImage, importFile } from '../../src/interchange/index.js';
import { realDb, tempDir } from '../support/db.js';

test('a .qvdb, SQLite, Parquet or .npy file compressed as a whole is refused with "decompress it first"', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(30);
    const image = db.openImage();
    try {
      for (const [format, name] of [['binary', 'x.qvdb'], ['sqlite', 'x.sqlite'], ['parquet', 'x.parquet'], ['npy', 'x.npy']] as const) {
        const path = join(dir, name);
        await exportImage(nodeFs, path, image, { format });
        for (const [compression, pack] of [['gzip', gzipSync], ['brotli', brotliCompressSync]] as const) {
          const packed = `${path}.${compression}`;
          writeFileSync(packed, pack(readFileSync(path)));
          await assert.rejects(importFile(nodeFs, packed), (e: unknown) => {
            assert.ok(e instanceof QuiverError && e.code === 'UNSUPPORTED_FORMAT', `${format}/${compression}: ${String(e)}`);
            assert.match(e.message, new RegExp(`${format} file compressed as a whole with ${compression}; decompress it first`));
            return true;
          });
        }
        // The uncompressed file still imports.
        assert.equal((await importFile(nodeFs, path)).columns.ids.length, db.len());
      }
    } finally {
      image.release();
    }
  } finally {
    cleanup();
  }
});

test('own compressed exports of zero vectors, thousands of times smaller than their content, import without a cap (there is no default one)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    // 9,000 zero vectors of 4,096 floats: the MessagePack file holds 147 MB, the JSONL one 74 MB, both
    // past the 64 MiB the former default cap allowed a file this small; brotli makes each ~20 KB.
    const dim = 4096;
    const db = new VectorDB({ dimension: dim });
    const zero = new Float32Array(dim);
    for (let i = 0; i < 9000; i++) void db.insert({ id: `doc-${i}`, vector: zero });
    const image = db.openImage();
    try {
      for (const format of ['msgpack', 'jsonl'] as const) {
        const path = join(dir, `sparse.${format}.br`);
        await exportImage(nodeFs, path, image, { format, compression: 'brotli' });
        assert.ok(statSync(path).size < 1 << 20, `${format}: ${statSync(path).size} bytes`);
        const read = await importFile(nodeFs, path);
        assert.equal(read.columns.ids.length, 9000, format);
        assert.ok(read.columns.vectors.every((x) => x === 0), format);
        // An explicit cap still applies.
        await assert.rejects(importFile(nodeFs, path, { maxDecompressedBytes: 1 << 20 }), (e: unknown) => e instanceof CorruptionError && /more than the allowed 1048576 bytes/.test(e.message));
      }
    } finally {
      image.release();
    }
  } finally {
    cleanup();
  }
});
