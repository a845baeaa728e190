// Formats read with random access or raw (.qvdb, SQLite, Parquet, .npy) cannot be read through a
// whole-file gzip or brotli: such a file is UNSUPPORTED_FORMAT saying to decompress it first, never
// "damaged, restore it from a snapshot".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { QuiverError } from '../../src/errors.js';
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
