import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, constants as Z, gzipSync } from 'node:zlib';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { detectFormat } from '../../../src/format/detect.js';
import { writeQvdb } from '../../../src/format/qvdb/index.js';
import { makeImage } from '../../support/image.js';

const json = Buffer.from(JSON.stringify({ version: 1, vectors: Array.from({ length: 200 }, (_, i) => ({ id: `v${i}`, vector: [i, i + 1] })) }));

async function detect(bytes: Uint8Array, name = '/file.bin') {
  const fs = new MemoryFileSystem();
  fs.writeFileSync(name, bytes);
  return detectFormat(fs, name);
}

test('detects qvdb, JSON, gzip and brotli from content, never from the name', async () => {
  const fs = new MemoryFileSystem();
  await writeQvdb(fs, '/db.json', makeImage({ dimension: 2, ids: ['a'], vectors: Float32Array.of(1, 2) }), { compression: 'brotli' });
  assert.deepEqual(await detectFormat(fs, '/db.json'), { format: 'binary', compression: 'none' });
  assert.deepEqual(await detect(json, '/x.qvdb'), { format: 'json', compression: 'none' });
  assert.deepEqual(await detect(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('\r\n\t  [1,2]')])), { format: 'json', compression: 'none' });
  assert.deepEqual(await detect(gzipSync(json), '/x.json'), { format: 'json', compression: 'gzip' });
  assert.deepEqual(await detect(brotliCompressSync(json), '/x.gz'), { format: 'json', compression: 'brotli' });
  assert.deepEqual(await detect(gzipSync(fs.readFileSync('/db.json'))), { format: 'binary', compression: 'gzip' });
});

test('a large compressed JSON is detected from its first few KB', async () => {
  const big = Buffer.from(JSON.stringify({ rows: Array.from({ length: 12_000 }, (_, i) => ({ id: i, text: `row ${i} ${Math.sin(i)}` })) }));
  assert.ok(big.length > 300_000);
  assert.deepEqual(await detect(brotliCompressSync(big, { params: { [Z.BROTLI_PARAM_QUALITY]: 5 } })), { format: 'json', compression: 'brotli' });
  assert.deepEqual(await detect(gzipSync(big)), { format: 'json', compression: 'gzip' });
});

test('a compressed JSON whose first bytes expand enormously (a long run of one byte) is still detected', async () => {
  const runs = Buffer.from(`{"id":"a","meta":"${' '.repeat(3 << 20)}"}`);
  assert.deepEqual(await detect(brotliCompressSync(runs)), { format: 'json', compression: 'brotli' });
  assert.deepEqual(await detect(gzipSync(runs)), { format: 'json', compression: 'gzip' });
});

test('unknown content is unknown', async () => {
  assert.deepEqual(await detect(new Uint8Array(0)), { format: 'unknown', compression: 'none' });
  assert.deepEqual(await detect(Buffer.from('id,vector\n1,"[1,2]"\n')), { format: 'unknown', compression: 'none' });
  assert.deepEqual(await detect(Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251)), { format: 'unknown', compression: 'none' });
  assert.deepEqual(await detect(gzipSync(Buffer.from('plain text'))), { format: 'unknown', compression: 'gzip' });
  assert.deepEqual(await detect(brotliCompressSync(Buffer.alloc(10 << 20))), { format: 'unknown', compression: 'none' });
});

test('a qvdb file mangled by a text-mode transfer is still detected as binary (and then reported corrupt)', async () => {
  assert.deepEqual(await detect(Uint8Array.of(0x89, 0x51, 0x56, 0x44, 0x0a, 0x1a, 0x0a, 0, 0)), { format: 'binary', compression: 'none' });
});

test('a missing file is a typed ENOENT error', async () => {
  await assert.rejects(detectFormat(new MemoryFileSystem(), '/nope'), { code: 'ENOENT' });
});
