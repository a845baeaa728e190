// BufferedWriter: small writes coalesce, a large one goes out together with the buffered bytes before
// it (two writes at once), and a failure of either is thrown only once both have settled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferedWriter } from '../../src/env/buffered-writer.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';

const bytes = (n: number, seed: number): Uint8Array => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);

test('buffered and large writes land at their positions; the bytes before a large write go out with it', async () => {
  const mem = new MemoryFileSystem();
  await mem.mkdir('/d');
  const fs = new FaultFileSystem(mem);
  const h = await fs.open('/d/f', 'wx');
  const w = new BufferedWriter(h, 0, 64);
  const parts = [bytes(10, 1), bytes(20, 2), bytes(200, 3), bytes(5, 4), bytes(64, 5), bytes(3, 6)];
  for (const p of parts) await w.write(p);
  await w.flush();
  await h.close();
  const expected = Buffer.concat(parts);
  assert.equal(w.position, expected.length);
  assert.deepEqual(Buffer.from(mem.readFileSync('/d/f')), expected);
  // 10 + 20 buffered, then 200 with them; 5 buffered, then 64 with them; 3 flushed at the end.
  assert.deepEqual(fs.ops.filter((o) => o.kind === 'write').length, 5);
});

test('a failed write beside a large one is thrown after both settled', async () => {
  const mem = new MemoryFileSystem();
  await mem.mkdir('/d');
  const fs = new FaultFileSystem(mem);
  const h = await fs.open('/d/f', 'wx');
  let pending = 0;
  let peak = 0;
  const slow = {
    ...h,
    write: async (data: Uint8Array, position?: number): Promise<void> => {
      pending++;
      peak = Math.max(peak, pending);
      try {
        await new Promise((r) => setTimeout(r, data.length > 64 ? 20 : 1));
        if (data.length <= 64) throw Object.assign(new Error('EIO: the buffered bytes'), { code: 'EIO' });
        await h.write(data, position);
      } finally {
        pending--;
      }
    },
  };
  const w2 = new BufferedWriter(slow, 0, 64);
  await w2.write(bytes(10, 1));
  await assert.rejects(w2.write(bytes(200, 2)), /EIO/);
  assert.equal(peak, 2, 'both writes were in flight together');
  assert.equal(pending, 0, 'nothing still writing when the error came');
  await h.close();
});
