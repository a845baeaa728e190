import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allNormsClaimed, claimNorms, NORM_BLOCK, normAt, normsInto, rememberNorms, takeNorms } from '../../src/util/hash-norms.js';
import { vectorLanes } from '../../src/util/hash-content.js';
import { startSha256, stopHashThreadForTests } from '../../src/util/hash-worker.js';
import { hashThreadReady } from '../support/hash-thread.js';

const DIM = 37; // not a multiple of 4: the kernels' tails run too

function sharedVectors(count: number, seed: number): Float32Array {
  const v = new Float32Array(new SharedArrayBuffer(count * DIM * 4));
  let x = seed;
  for (let i = 0; i < v.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    v[i] = (x >> 8) / (1 << 20);
  }
  return v;
}

test('norms and content lanes computed on the hash thread equal the in-thread kernels bit for bit', async () => {
  await hashThreadReady();
  const count = 5000;
  const v = sharedVectors(count, 3);
  const job = startSha256({ offload: true });
  assert.equal(job.offloaded, true);
  const norms = new Float64Array(new SharedArrayBuffer(count * 8));
  const lanes = new Int32Array(new SharedArrayBuffer(count * 8));
  const claim = new Int32Array(new SharedArrayBuffer(4));
  job.update(new Uint8Array(v.buffer));
  assert.equal(job.norms(v, DIM, count, 1234, norms, claim), true);
  assert.equal(job.norms(v, DIM, count, 3 * NORM_BLOCK + 5, norms, claim), true);
  // This thread takes whatever the helper has not claimed; every block is computed exactly once.
  claimNorms(v, DIM, count, norms, claim, count);
  assert.equal(allNormsClaimed(count, claim), true);
  assert.equal(job.contentLanes(v.subarray(0, 100 * DIM), DIM, 100, lanes, 0), true);
  assert.equal(job.contentLanes(v.subarray(100 * DIM), DIM, count - 100, lanes, 100), true);
  assert.equal(await job.barrier(), true);
  await job.digest();
  assert.equal(job.normsComplete, true);
  const want = new Float64Array(count);
  normsInto(v, DIM, 0, count, want);
  assert.deepEqual(Array.from(norms), Array.from(want));
  assert.equal(want[17], normAt(v, 17 * DIM, DIM));
  const wantLanes = new Int32Array(count * 2);
  vectorLanes(v, DIM, count, wantLanes, 0);
  assert.deepEqual(Array.from(lanes), Array.from(wantLanes));
});

test('local jobs decline norms and lanes; offloaded ones refuse unshared memory', async () => {
  const local = startSha256();
  assert.equal(local.norms(new Float32Array(DIM), DIM, 1, 1, new Float64Array(1), new Int32Array(1)), false);
  assert.equal(local.contentLanes(new Float32Array(DIM), DIM, 1, new Int32Array(2), 0), false);
  assert.equal(await local.barrier(), true);
  await hashThreadReady();
  const job = startSha256({ offload: true });
  assert.throws(() => job.norms(new Float32Array(DIM), DIM, 1, 1, new Float64Array(new SharedArrayBuffer(8)), new Int32Array(new SharedArrayBuffer(4))), TypeError);
  assert.throws(() => job.contentLanes(sharedVectors(1, 1), DIM, 1, new Int32Array(2), 0), TypeError);
  job.abandon();
  assert.equal(await job.barrier(), false);
});

test('when the thread dies, barriers resolve false and norms are reported incomplete; the digest is still right', async () => {
  await hashThreadReady();
  const count = 20000;
  const v = sharedVectors(count, 9);
  const job = startSha256({ offload: true });
  const norms = new Float64Array(new SharedArrayBuffer(count * 8));
  job.update(new Uint8Array(v.buffer));
  job.norms(v, DIM, count, count, norms, new Int32Array(new SharedArrayBuffer(4)));
  const barrier = job.barrier();
  stopHashThreadForTests();
  assert.equal(await barrier, false);
  const digest = await job.digest();
  const { createHash } = await import('node:crypto');
  assert.ok(digest.equals(createHash('sha256').update(new Uint8Array(v.buffer)).digest()));
  assert.equal(job.normsComplete, false);
  // After the failure the job works locally and declines more thread work.
  await hashThreadReady();
});

test('claimNorms takes only whole landed blocks, each once', () => {
  const count = 3 * NORM_BLOCK + 10;
  const v = sharedVectors(count, 5);
  const out = new Float64Array(count).fill(-1);
  const claim = new Int32Array(new SharedArrayBuffer(4));
  claimNorms(v, DIM, count, out, claim, NORM_BLOCK * 2 - 1);
  assert.equal(claim[0], 1, 'the second block has not fully landed');
  assert.equal(out[NORM_BLOCK - 1], normAt(v, (NORM_BLOCK - 1) * DIM, DIM));
  assert.equal(out[NORM_BLOCK], -1);
  claimNorms(v, DIM, count, out, claim, count);
  assert.equal(allNormsClaimed(count, claim), true);
  assert.equal(out[count - 1], normAt(v, (count - 1) * DIM, DIM));
  assert.ok(out.every((x) => x >= 0));
});

test('remembered norms are handed over once, to exactly that array', () => {
  const v = new Float32Array(DIM * 2);
  const n = new Float64Array(2);
  rememberNorms(v, n);
  assert.equal(takeNorms(v.subarray(0)), undefined);
  assert.equal(takeNorms(v), n);
  assert.equal(takeNorms(v), undefined);
});
