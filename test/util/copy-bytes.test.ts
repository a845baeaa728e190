// copyBytes: the same bytes land whether the source is shared memory or not, at any alignment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyBytes } from '../../src/util/copy-bytes.js';

test('copies the range exactly, out of shared and unshared memory, at every alignment, and nothing else', () => {
  for (const shared of [false, true]) {
    const src = new Uint8Array(shared ? new SharedArrayBuffer(4096) : new ArrayBuffer(4096)).subarray(3);
    for (let i = 0; i < src.length; i++) src[i] = (i * 37 + 11) & 255;
    for (const from of [0, 1, 2, 3, 5, 8, 1001]) {
      for (const n of [0, 1, 7, 1536, 2000]) {
        for (const at of [0, 1, 4, 6]) {
          const dst = Buffer.alloc(2100, 0xee);
          copyBytes(src, from, from + n, dst, at);
          const where = `shared ${shared}, from ${from}, n ${n}, at ${at}`;
          assert.deepEqual(dst.subarray(at, at + n), Buffer.from(src.subarray(from, from + n)), where);
          assert.ok(dst.subarray(0, at).every((b) => b === 0xee) && dst.subarray(at + n).every((b) => b === 0xee), `${where}: nothing outside the range`);
        }
      }
    }
  }
});
