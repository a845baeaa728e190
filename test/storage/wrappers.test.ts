import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptionError } from '../../src/errors.js';
import { MemorySnapshotStore } from '../../src/storage/memory-store.js';
import { RetryingSnapshotStore, type RetryEvent } from '../../src/storage/retry-store.js';
import { VerifyingSnapshotStore } from '../../src/storage/verify-store.js';
import type { PutResult, StoreBody, StoreObjectInfo, StoreOpOptions, StoreReadOptions } from '../../src/storage/store.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A memory store whose next `failures` calls of the listed operations fail with `code`. */
class FlakyStore extends MemorySnapshotStore {
  calls = 0;
  failures = 0;
  code = 'EIO';
  failAfterFirstChunk = false;
  private trip(): void {
    this.calls++;
    if (this.failures > 0) {
      this.failures--;
      throw Object.assign(new Error(`simulated ${this.code}`), { code: this.code });
    }
  }
  override async put(key: string, body: StoreBody, o?: StoreOpOptions): Promise<PutResult> {
    this.trip();
    return super.put(key, body, o);
  }
  override async get(key: string, o?: StoreOpOptions): Promise<Uint8Array> {
    this.trip();
    return super.get(key, o);
  }
  override async list(prefix?: string): Promise<StoreObjectInfo[]> {
    this.trip();
    return super.list(prefix);
  }
  override async *read(key: string, o?: StoreReadOptions): AsyncIterable<Uint8Array> {
    this.trip();
    let first = true;
    for await (const c of super.read(key, o)) {
      if (!first && this.failAfterFirstChunk) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
      first = false;
      yield c;
    }
  }
}

test('RetryingSnapshotStore retries transient failures with backoff, and nothing else', async () => {
  const inner = new FlakyStore();
  const events: RetryEvent[] = [];
  const s = new RetryingSnapshotStore(inner, { retries: 3, baseDelayMs: 1, random: () => 0.5, onRetry: (e) => events.push(e) });
  inner.failures = 2;
  await s.put('a/b', enc('hello'));
  assert.equal(inner.calls, 3);
  assert.deepEqual(events.map((e) => [e.op, e.key, e.attempt]), [['put', 'a/b', 1], ['put', 'a/b', 2]]);
  inner.failures = 3;
  assert.equal(dec(await s.get('a/b')), 'hello');
  inner.failures = 4;
  await assert.rejects(s.list(), { code: 'EIO' }, 'gives up after `retries` retries');
  for (const code of ['ENOSPC', 'EACCES']) {
    inner.code = code;
    inner.failures = 1;
    inner.calls = 0;
    await assert.rejects(s.get('a/b'), { code });
    assert.equal(inner.calls, 1, `${code} is not retried`);
  }
  inner.code = 'EIO';
  inner.calls = 0;
  await assert.rejects(s.get('missing'), { code: 'NOT_FOUND' });
  assert.equal(inner.calls, 1, 'NOT_FOUND is not retried');
  // Streamed bodies cannot be replayed: one attempt.
  inner.failures = 1;
  inner.calls = 0;
  await assert.rejects(s.put('a/c', async (w) => w(enc('x'))), { code: 'EIO' });
  assert.equal(inner.calls, 1);
  // Reads are retried until the first chunk; later failures surface.
  inner.failures = 2;
  const chunks: string[] = [];
  for await (const c of s.read('a/b')) chunks.push(dec(c));
  assert.deepEqual(chunks, ['hello']);
  await s.put('big', new Uint8Array(10_000));
  inner.failAfterFirstChunk = true;
  await assert.rejects((async () => {
    for await (const c of s.read('big', { chunkBytes: 1000 })) void c;
  })(), { code: 'ECONNRESET' });
  inner.failAfterFirstChunk = false;
  // An abort while backing off ends the wait at once.
  const slow = new RetryingSnapshotStore(inner, { retries: 5, baseDelayMs: 10_000, random: () => 0.99 });
  inner.failures = 5;
  const ac = new AbortController();
  const p = slow.get('a/b', { signal: ac.signal });
  setTimeout(() => ac.abort(), 20);
  const t0 = Date.now();
  await assert.rejects(p, { code: 'ABORTED' });
  assert.ok(Date.now() - t0 < 5000);
  // A transient failure that comes after the caller aborted is reported as the abort, with it as cause.
  const aborting = new AbortController();
  inner.failures = 1;
  inner.calls = 0;
  const orig = inner.list.bind(inner);
  inner.list = async (prefix?: string) => {
    aborting.abort();
    return orig(prefix);
  };
  await assert.rejects(s.list('a/', { signal: aborting.signal }), (err: { code?: string; cause?: { code?: string } }) => err.code === 'ABORTED' && err.cause?.code === 'EIO');
  assert.equal(inner.calls, 1, 'not retried');
  inner.list = orig;
  inner.failures = 0;
  assert.throws(() => new RetryingSnapshotStore(inner, { retries: -1 }), { code: 'INVALID_ARGUMENT' });
  // Node's timers fire a longer delay after 1 ms: such a back-off would retry at once.
  assert.throws(() => new RetryingSnapshotStore(inner, { maxDelayMs: 2 ** 31 }), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => new RetryingSnapshotStore(inner, { baseDelayMs: 2 ** 31 }), { code: 'INVALID_ARGUMENT' });
  new RetryingSnapshotStore(inner, { maxDelayMs: 2 ** 31 - 1 });
});

/** A store that damages what it stores (the wrong bytes arrive at the backend). */
class LossyStore extends MemorySnapshotStore {
  damage = true;
  override async put(key: string, body: StoreBody, o?: StoreOpOptions): Promise<PutResult> {
    const r = await super.put(key, body, o);
    if (this.damage) this.corrupt(key, (b) => (b.length > 0 ? (b[0] ^= 1, b) : Uint8Array.of(1)));
    return r;
  }
}

test('VerifyingSnapshotStore reads every put back and checks later reads against the hashes it knows', async () => {
  const inner = new LossyStore();
  const s = new VerifyingSnapshotStore(inner);
  await assert.rejects(s.put('x/obj', enc('payload')), (e: unknown) => e instanceof CorruptionError && e.code === 'CHECKSUM_MISMATCH' && e.file.includes('x/obj'));
  assert.equal(await inner.stat('x/obj'), null, 'a put that did not store what was sent is removed');
  inner.damage = false;
  await s.put('x/obj', enc('payload'));
  assert.equal(s.expectedHash('x/obj'), '239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5');
  assert.equal(dec(await s.get('x/obj')), 'payload');
  inner.corrupt('x/obj', (b) => (b[2] ^= 4, b));
  await assert.rejects(s.get('x/obj'), { code: 'CHECKSUM_MISMATCH' });
  await assert.rejects((async () => {
    for await (const c of s.read('x/obj')) void c;
  })(), { code: 'CHECKSUM_MISMATCH' });
  // Expectations can come from elsewhere (a checksum file); unknown keys pass through unchecked.
  await inner.put('y/other', enc('abc'));
  assert.equal(dec(await s.get('y/other')), 'abc');
  s.expect('y/other', 'BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD');
  assert.equal(dec(await s.get('y/other')), 'abc');
  s.expect('y/other', '0'.repeat(64));
  await assert.rejects(s.get('y/other'), { code: 'CHECKSUM_MISMATCH' });
  await s.deletePrefix('y/');
  assert.equal(s.expectedHash('y/other'), undefined);
  const noReadBack = new VerifyingSnapshotStore(new LossyStore(), { readBack: false });
  await noReadBack.put('z', enc('q'));
  await assert.rejects(noReadBack.get('z'), { code: 'CHECKSUM_MISMATCH' });
});

test('VerifyingSnapshotStore: a failed put forgets the old hash, and keys other writers rewrite (metadata.json) are not pinned', async () => {
  const inner = new MemorySnapshotStore();
  const s = new VerifyingSnapshotStore(inner);
  await s.put('snap/vectors.bin', enc('one'));
  // A put that fails after its bytes landed (a directory fsync, say): the key holds one version or the other.
  class FailsAfterWrite extends MemorySnapshotStore {
    fail = false;
    override async put(key: string, body: StoreBody, options?: StoreOpOptions): Promise<PutResult> {
      const r = await super.put(key, body, options);
      if (this.fail) throw Object.assign(new Error('EIO after the write'), { code: 'EIO' });
      return r;
    }
  }
  const flaky = new FailsAfterWrite();
  const failing = new VerifyingSnapshotStore(flaky);
  await failing.put('snap/records.bin', enc('v0'));
  assert.ok(failing.expectedHash('snap/records.bin'));
  flaky.fail = true;
  await assert.rejects(failing.put('snap/records.bin', enc('v1')), { code: 'EIO' });
  assert.equal(failing.expectedHash('snap/records.bin'), undefined, 'the old hash is forgotten');
  assert.equal(dec(await failing.get('snap/records.bin')), 'v1', 'what landed reads, not CHECKSUM_MISMATCH');
  // Another writer rewrites a commit record: this wrapper's earlier put does not make it "damaged".
  await s.put('snap/metadata.json', enc('{"pinned":false}'));
  await inner.put('snap/metadata.json', enc('{"pinned":true}'));
  assert.equal(dec(await s.get('snap/metadata.json')), '{"pinned":true}');
  assert.equal(s.expectedHash('snap/metadata.json'), undefined);
  assert.ok(s.expectedHash('snap/vectors.bin'), 'immutable objects are still checked');
});

test('VerifyingSnapshotStore: a rewritten commit record that reads back wrong is kept (reported), never deleted', async () => {
  /** Reads of metadata.json come back damaged while `badReads` > 0. */
  class BadReadStore extends MemorySnapshotStore {
    badReads = 0;
    override async *read(key: string, o?: StoreReadOptions): AsyncIterable<Uint8Array> {
      for await (const c of super.read(key, o)) {
        if (this.badReads > 0 && key.endsWith('metadata.json')) {
          this.badReads--;
          const copy = c.slice();
          copy[0] ^= 1;
          yield copy;
        } else yield c;
      }
    }
  }
  const inner = new BadReadStore();
  const s = new VerifyingSnapshotStore(inner);
  await s.put('snapshot-a/metadata.json', enc('{"v":1}'));
  inner.badReads = 1;
  await assert.rejects(s.put('snapshot-a/metadata.json', enc('{"v":2}')), { code: 'CHECKSUM_MISMATCH' });
  // Deleting it would have made the snapshot's data files collectable garbage.
  assert.equal(dec(await inner.get('snapshot-a/metadata.json')), '{"v":2}');
  // A new immutable object that read back wrong is still removed.
  class BadDataReads extends BadReadStore {
    override async *read(key: string, o?: StoreReadOptions): AsyncIterable<Uint8Array> {
      for await (const c of super.read(key, o)) yield key.endsWith('.bin') ? Uint8Array.of(c[0] ^ 1, ...c.subarray(1)) : c;
    }
  }
  const data = new BadDataReads();
  await assert.rejects(new VerifyingSnapshotStore(data).put('snapshot-a/vectors.bin', enc('xyz')), { code: 'CHECKSUM_MISMATCH' });
  assert.equal(await data.stat('snapshot-a/vectors.bin'), null);
});

test('VerifyingSnapshotStore: an abort that comes once the inner put published the object does not make the put report ABORTED', async () => {
  const ctl = new AbortController();
  class AbortAfterPut extends MemorySnapshotStore {
    override async put(key: string, body: StoreBody, options?: StoreOpOptions): Promise<PutResult> {
      const r = await super.put(key, body, options);
      ctl.abort();
      return r;
    }
  }
  const inner = new AbortAfterPut();
  const s = new VerifyingSnapshotStore(inner);
  await s.put('snap/metadata.json', enc('commit'), { signal: ctl.signal });
  assert.equal(dec(await inner.get('snap/metadata.json')), 'commit');
});

test('RetryingSnapshotStore: a put whose failed attempt may have stored the object reports that failure when aborted, never ABORTED', async () => {
  const inner = new FlakyStore();
  const s = new RetryingSnapshotStore(inner, { retries: 3, baseDelayMs: 1000, random: () => 0.5 });
  // Aborted during the backoff after a failed attempt.
  inner.failures = 1;
  const ac = new AbortController();
  const p = s.put('a/b', enc('x'), { signal: ac.signal });
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(p, { code: 'EIO' });
  // Reads keep answering with the abort.
  inner.failures = 1;
  const r = new AbortController();
  const g = s.get('a/b', { signal: r.signal });
  setTimeout(() => r.abort(), 20);
  await assert.rejects(g, { code: 'ABORTED' });
});
