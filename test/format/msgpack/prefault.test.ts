import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkByteSource } from '../../../src/format/stream/sources.js';
import { msgpackCodec, readMsgpackFrom } from '../../../src/format/msgpack/index.js';
import { SlabWarmer, type WarmRead } from '../../../src/format/msgpack/prefault.js';
import { assertColumnsEqual, makeImage, randomVectors, writeBytes, type ImageSpec } from './helpers.js';

/** A warming read that scribbles 0xff (NaN bytes) over its region after a delay, and records it. */
function scribbler(log: [number, number][], delayMs = 2): WarmRead {
  return (into, offset, length) =>
    new Promise((resolve) =>
      setTimeout(() => {
        into.fill(0xff, offset, offset + length);
        log.push([offset, length]);
        resolve(length);
      }, delayMs),
    );
}

test('SlabWarmer: ready(n) waits for every warming read below n; close() waits for all', async () => {
  const slab = new Float32Array((64 << 20) / 4);
  const log: [number, number][] = [];
  const w = new SlabWarmer(slab, scribbler(log), 1 << 20);
  await w.ready(1 << 20);
  assert.equal(log.length, 0, 'the skipped start is never warmed');
  await w.ready(9 << 20);
  // Reads start at 1 MiB in 4 MiB steps: the ones starting below 9 MiB have landed.
  const landed = log.map(([o]) => o);
  assert.ok(landed.includes(1 << 20) && landed.includes(5 << 20), `landed: ${landed.join(', ')}`);
  for (const [o, n] of log) assert.ok(o >= 1 << 20 && o + n <= slab.byteLength);
  await w.close();
  const warmed = log.reduce((s, [, n]) => s + n, 0);
  assert.ok(warmed >= 24 << 20, `reads reach ahead (${warmed} bytes)`);
  // A failing read is harmless.
  const failing = new SlabWarmer(slab, () => Promise.reject(new Error('EIO')), 0);
  await failing.ready(4 << 20);
  await failing.close();
});

test('warming reads never overwrite decoded vectors, whatever the window size', async () => {
  const spec: ImageSpec = { dimension: 32, ids: Array.from({ length: 4000 }, (_, i) => i), vectors: randomVectors(4000, 32, 9) };
  const bytes = await writeBytes(msgpackCodec, makeImage(spec));
  for (const windowSize of [4096, 65536, 1 << 20]) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 5000) chunks.push(bytes.subarray(i, i + 5000));
    const log: [number, number][] = [];
    const r = await readMsgpackFrom(chunkByteSource(chunks), { file: 'w', windowSize, warmRead: scribbler(log, 1), sizeBound: bytes.length });
    assertColumnsEqual(r.columns, spec);
    // A window as big as the file decodes everything at once: nothing is left to warm.
    if (windowSize < bytes.length) assert.ok(log.length > 0, `some warming happened (window ${windowSize})`);
  }
});
