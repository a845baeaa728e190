// BufferedWriter: a large write goes out together with the buffered bytes before it, both land at their
// own positions, and a failure of either is reported only once both writes have settled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferedWriter } from '../../src/env/buffered-writer.js';
import type { FileHandle } from '../../src/env/fs.js';

interface Pending {
  data: Uint8Array;
  position: number;
  settle: (err?: Error) => void;
  settled: boolean;
}

/** A handle whose writes complete only when the test says so, into `file`. */
function gatedHandle(file: Uint8Array): { handle: FileHandle; pending: Pending[] } {
  const pending: Pending[] = [];
  const handle: FileHandle = {
    write: (data, position) =>
      new Promise<void>((resolve, reject) => {
        const copy = Uint8Array.from(data);
        const p: Pending = {
          data: copy,
          position: position ?? -1,
          settled: false,
          settle: (err) => {
            p.settled = true;
            if (err) return reject(err);
            file.set(copy, position);
            resolve();
          },
        };
        pending.push(p);
      }),
    read: () => Promise.reject(new Error('not used')),
    sync: () => Promise.resolve(),
    size: () => Promise.resolve(file.length),
    truncate: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return { handle, pending };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a large write is issued together with the buffered bytes, each at its own position', async () => {
  const file = new Uint8Array(64);
  const { handle, pending } = gatedHandle(file);
  const w = new BufferedWriter(handle, 0, 16);
  await w.write(Uint8Array.of(1, 2, 3));
  assert.equal(pending.length, 0, 'small writes are buffered');
  const big = new Uint8Array(20).fill(9);
  const done = w.write(big);
  await turn();
  assert.equal(pending.length, 2, 'the buffered bytes and the large write are both in flight');
  assert.deepEqual([pending[0].position, pending[0].data.length], [0, 3]);
  assert.deepEqual([pending[1].position, pending[1].data.length], [3, 20]);
  // They may complete in any order.
  pending[1].settle();
  pending[0].settle();
  await done;
  assert.equal(w.position, 23);
  await w.write(Uint8Array.of(7));
  const flushed = w.flush();
  pending[2].settle();
  await flushed;
  assert.deepEqual([...file.subarray(0, 24)], [1, 2, 3, ...new Array<number>(20).fill(9), 7]);
});

test('a failed write is reported only once the other write in flight has settled', async () => {
  const { handle, pending } = gatedHandle(new Uint8Array(64));
  const w = new BufferedWriter(handle, 0, 16);
  await w.write(Uint8Array.of(1, 2, 3));
  let rejected = false;
  const done = w.write(new Uint8Array(20)).catch((err: unknown) => {
    rejected = true;
    throw err;
  });
  await turn();
  pending[0].settle(Object.assign(new Error('disk gone'), { code: 'EIO' }));
  await turn();
  await turn();
  assert.equal(rejected, false, 'the large write still runs: the failure waits for it');
  assert.equal(pending[1].settled, false);
  pending[1].settle();
  await assert.rejects(done, { code: 'EIO' });
});
