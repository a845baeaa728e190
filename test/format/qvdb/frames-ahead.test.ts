// FramesAhead: frames encoded ahead (within a byte budget, until stopped) and the rest encoded in
// their turn make exactly the bytes writeFrames makes, and an item that cannot be encoded fails the
// write, not the encoding ahead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, FramesAhead, writeFrames } from '../../../src/format/qvdb/frames.js';

const items = Array.from({ length: 20_000 }, (_, i) => ({ title: `item ${i}`, n: i, tags: ['a', 'b'].slice(0, i % 3) }));

async function collect(run: (write: (b: Uint8Array) => Promise<void>) => Promise<void>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  await run(async (b) => void parts.push(Uint8Array.from(b)));
  return Buffer.concat(parts);
}

for (const budget of [0, 1, 100_000, 1 << 30]) {
  test(`frames encoded ahead with a budget of ${budget} bytes write the same bytes as writeFrames`, async () => {
    const expected = await collect((w) => writeFrames(items, (x) => x, w));
    const ahead = new FramesAhead(items, (x) => x, budget);
    await ahead.encodeAhead();
    const got = await collect((w) => ahead.write(w));
    assert.ok(got.equals(expected));
    const decoded: unknown[] = [];
    const dec = new FrameDecoder(got.length, (xs) => decoded.push(...xs), (p) => assert.fail(p));
    dec.push(got);
    dec.end();
    assert.deepEqual(decoded, items);
  });
}

test('stop() ends the encoding ahead at its next frame; write() then encodes the rest', async () => {
  const ahead = new FramesAhead(items, (x) => x, 1 << 30);
  const running = ahead.encodeAhead();
  ahead.stop();
  await running;
  const expected = await collect((w) => writeFrames(items, (x) => x, w));
  assert.ok((await collect((w) => ahead.write(w))).equals(expected));
});

test('an item that cannot be encoded fails write(), after the frames before it, and never encodeAhead()', async () => {
  const bad = 15_000;
  const toItem = (x: (typeof items)[number], i: number): unknown => {
    if (i === bad) throw new Error(`item ${i} cannot be stored`);
    return x;
  };
  const ahead = new FramesAhead(items, toItem, 1 << 30);
  await ahead.encodeAhead(); // resolves: the failure is kept for write()
  const parts: Uint8Array[] = [];
  await assert.rejects(ahead.write(async (b) => void parts.push(Uint8Array.from(b))), /item 15000 cannot be stored/);
  const decoded: unknown[] = [];
  const bytes = Buffer.concat(parts);
  const dec = new FrameDecoder(bytes.length, (xs) => decoded.push(...xs), (p) => assert.fail(p));
  dec.push(bytes);
  assert.ok(decoded.length > 0 && decoded.length <= bad, `${decoded.length} items written before the failure`);
  assert.deepEqual(decoded, items.slice(0, decoded.length));
});
