// A big MessagePack import decodes into shared memory that the helper thread faults in just ahead of
// the decoder. The prefault never changes a value, so the columns must be the same with it, whatever
// the window size, and also when the header under-counts and the store is reallocated mid-way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkByteSource } from '../../../src/format/stream/sources.js';
import { msgpackCodec, readMsgpackFrom } from '../../../src/format/msgpack/index.js';
import { hashThreadReady } from '../../support/hash-thread.js';
import { assertColumnsEqual, makeImage, randomVectors, writeBytes, type ImageSpec } from './helpers.js';

function chunked(bytes: Uint8Array, size = 5000): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

test('with the prefault running, every window size decodes the same columns into shared memory', async () => {
  await hashThreadReady();
  const spec: ImageSpec = { dimension: 64, ids: Array.from({ length: 20_000 }, (_, i) => i), vectors: randomVectors(20_000, 64, 9) };
  const bytes = await writeBytes(msgpackCodec, makeImage(spec));
  for (const windowSize of [4096, 65536, 1 << 20]) {
    const r = await readMsgpackFrom(chunkByteSource(chunked(bytes)), { file: 'w', windowSize, prefaultMinBytes: 1 << 20, sizeBound: bytes.length });
    assertColumnsEqual(r.columns, spec);
    assert.ok(r.columns.vectors.buffer instanceof SharedArrayBuffer, 'a big store is shared memory');
  }
});

test('a header that under-counts reallocates the store mid-way; the prefault of the old one stops', async () => {
  await hashThreadReady();
  const spec: ImageSpec = { dimension: 64, ids: Array.from({ length: 20_000 }, (_, i) => `e${i}`), vectors: randomVectors(20_000, 64, 4) };
  const bytes = await writeBytes(msgpackCodec, makeImage(spec));
  // sizeBound caps the capacity hint below the real count, so the store grows while decoding.
  const bound = Math.floor(bytes.length / 3);
  const r = await readMsgpackFrom(chunkByteSource(chunked(bytes)), { file: 'w', windowSize: 65536, prefaultMinBytes: 1 << 20, sizeBound: bound });
  assertColumnsEqual(r.columns, spec);
});
