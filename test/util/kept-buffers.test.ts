import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeptBuffers } from '../../src/util/kept-buffers.js';

test('kept buffers: a given-back buffer is taken again when it fits, once', () => {
  const pool = new KeptBuffers<Uint8Array>(2, 1000);
  const a = new Uint8Array(100);
  pool.give(a);
  assert.equal(pool.take((b) => b.length >= 200), undefined, 'too small');
  assert.equal(pool.take((b) => b.length >= 50), a);
  assert.equal(pool.take(() => true), undefined, 'taken out of the pool');
});

test('kept buffers: at most max, none over maxBytes, and a full pool keeps the bigger ones', () => {
  const pool = new KeptBuffers<Uint8Array>(2, 1000);
  const big = new Uint8Array(2000);
  pool.give(big);
  assert.equal(pool.take(() => true), undefined, 'over maxBytes');
  const [a, b, c] = [new Uint8Array(10), new Uint8Array(30), new Uint8Array(20)];
  pool.give(a);
  pool.give(b);
  pool.give(c); // replaces a, the smallest
  pool.give(new Uint8Array(5)); // smaller than every kept one: ignored
  const got = [pool.take(() => true), pool.take(() => true), pool.take(() => true)];
  assert.deepEqual(new Set(got), new Set([b, c, undefined]));
});

test('kept buffers are dropped keepMs after the last give-back', async () => {
  const pool = new KeptBuffers<Uint8Array>(1, 1000, 20);
  pool.give(new Uint8Array(10));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(pool.take(() => true), undefined);
});
