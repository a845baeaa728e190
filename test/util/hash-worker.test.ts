import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HashThreadLostError, hashThreadRunning, startSha256, stopHashThreadForTests } from '../../src/util/hash-worker.js';
import { hashThreadReady } from '../support/hash-thread.js';

function sharedBytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(new SharedArrayBuffer(n));
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function expected(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}


test('an offloaded job hashes shared ranges in order, like an in-thread hash', async () => {
  await hashThreadReady();
  const b = sharedBytes(3_000_001, 7);
  const job = startSha256({ offload: true });
  assert.equal(job.offloaded, true);
  for (const [from, to] of [[0, 1], [1, 1_000_000], [1_000_000, 1_000_000], [1_000_000, 3_000_001]]) job.update(b.subarray(from, to));
  assert.ok((await job.digest()).equals(expected(b)));
  // Reversed order gives another digest: order is kept, not just the set of bytes.
  const rev = startSha256({ offload: true });
  rev.update(b.subarray(1_500_000));
  rev.update(b.subarray(0, 1_500_000));
  assert.ok((await rev.digest()).equals(expected(b.subarray(1_500_000), b.subarray(0, 1_500_000))));
});

test('offloaded jobs refuse non-shared memory; local jobs take anything', async () => {
  await hashThreadReady();
  const job = startSha256({ offload: true });
  assert.throws(() => job.update(new Uint8Array(4)), TypeError);
  job.abandon();
  job.abandon();
  const local = startSha256();
  assert.equal(local.offloaded, false);
  local.update(Uint8Array.of(1, 2, 3));
  assert.ok((await local.digest()).equals(expected(Uint8Array.of(1, 2, 3))));
});

test('abandoned jobs do not disturb concurrent and later ones', async () => {
  await hashThreadReady();
  const a = sharedBytes(2_000_000, 1);
  const b = sharedBytes(2_000_000, 2);
  const dropped = startSha256({ offload: true });
  const kept = startSha256({ offload: true });
  dropped.update(a);
  kept.update(b);
  dropped.abandon();
  await assert.rejects(dropped.digest());
  assert.ok((await kept.digest()).equals(expected(b)));
  const later = startSha256({ offload: true });
  later.update(a);
  assert.ok((await later.digest()).equals(expected(a)));
});

test('when the thread dies mid-job, the job finishes on this thread; a new thread starts later', async () => {
  await hashThreadReady();
  const b = sharedBytes(4_000_000, 3);
  const job = startSha256({ offload: true });
  const other = startSha256({ offload: true });
  job.update(b.subarray(0, 2_000_000));
  other.update(b.subarray(0, 1000));
  const pending = other.digest();
  stopHashThreadForTests();
  job.update(b.subarray(2_000_000));
  assert.ok((await job.digest()).equals(expected(b)));
  assert.ok((await pending).equals(expected(b.subarray(0, 1000))));
  assert.equal(hashThreadRunning(), false);
  await hashThreadReady();
  assert.equal(hashThreadRunning(), true);
  const again = startSha256({ offload: true });
  assert.equal(again.offloaded, true);
  again.update(b);
  assert.ok((await again.digest()).equals(expected(b)));
});

test('a job that does not retain its bytes reports a lost thread instead of hashing changed bytes', async () => {
  await hashThreadReady();
  const b = sharedBytes(2_000_000, 9);
  const job = startSha256({ offload: true, retainViews: false });
  assert.equal(job.offloaded, true);
  job.update(b.subarray(0, 1_000_000));
  assert.equal(await job.barrier(), true);
  b.fill(0, 0, 1_000_000); // allowed once the barrier resolved: the thread has hashed those bytes
  job.update(b.subarray(1_000_000));
  const digest = job.digest();
  const kept = startSha256({ offload: true, retainViews: false });
  kept.update(b.subarray(0, 10));
  assert.equal(await kept.barrier(), true);
  stopHashThreadForTests();
  // The digest either arrived before the thread stopped (and is right) or is refused.
  await digest.then(
    (d) => assert.ok(d.equals(expected(sharedBytes(1_000_000, 9), b.subarray(1_000_000)))),
    (err: unknown) => assert.ok(err instanceof HashThreadLostError, String(err)),
  );
  assert.equal(await kept.barrier(), false);
  assert.throws(() => kept.update(b.subarray(0, 10)), HashThreadLostError);
  await assert.rejects(kept.digest(), HashThreadLostError);
  await hashThreadReady();
});

test('the helper thread never keeps a process alive, and a pending digest is still delivered', () => {
  const mod = fileURLToPath(new URL('../../src/util/hash-worker.js', import.meta.url));
  const script = `
    const { startSha256 } = await import(${JSON.stringify(mod)});
    const job = startSha256({ offload: true });
    const b = new Uint8Array(new SharedArrayBuffer(1 << 20)).fill(9);
    job.update(b);
    const d = await job.digest();
    console.log(job.offloaded, d.toString('hex').slice(0, 8));
  `;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const want = createHash('sha256').update(new Uint8Array(1 << 20).fill(9)).digest('hex').slice(0, 8);
  assert.equal(r.stdout.trim(), `true ${want}`);
  assert.ok(Date.now() - t0 < 8000, 'the process exited promptly');
});

test('a helper thread that only prefaulted never keeps the process alive', async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  // A referenced port held the child open until the thread's 10 s idle timeout; it must end as soon as
  // its work is done (the bound is generous: this is a hang check, not a timing).
  const started = Date.now();
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('./prefault-child.js', import.meta.url))], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Date.now() - started < 7000, `the child lived ${Date.now() - started} ms (resources at its end: ${r.stdout.trim()})`);
});
