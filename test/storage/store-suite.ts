/**
 * The SnapshotStore conformance suite: every store (file system, memory, wrappers, and the object
 * stores still to come) must pass it, so snapshot code tested against one store means the same on all.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readInto, type SnapshotStore } from '../../src/storage/store.js';

/** A fresh, empty store; `cleanup` releases it. */
export interface StoreFixture {
  store: SnapshotStore;
  cleanup?: () => Promise<void>;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Asserts that `p` rejects with an error whose `code` is `code`. */
export async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, code, `expected ${code}, got ${String(err)}`);
    return true;
  });
}

async function readAll(store: SnapshotStore, key: string, chunkBytes?: number): Promise<{ bytes: Uint8Array; chunks: number }> {
  const parts: Uint8Array[] = [];
  for await (const c of store.read(key, { chunkBytes })) parts.push(c);
  return { bytes: Buffer.concat(parts), chunks: parts.length };
}

/** `n` pseudo-random bytes, the same for the same seed. */
export function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Runs the conformance suite against stores made by `make` (one per test). */
export function runStoreSuite(name: string, make: () => Promise<StoreFixture>): void {
  const withStore = (fn: (s: SnapshotStore) => Promise<void>) => async () => {
    const fx = await make();
    try {
      await fn(fx.store);
    } finally {
      await fx.cleanup?.();
    }
  };

  describe(`SnapshotStore conformance: ${name}`, () => {
    test('put/get round trip, replace, stat, and missing objects', withStore(async (s) => {
      const r = await s.put('a/one.bin', enc('hello'));
      assert.deepEqual(r, { key: 'a/one.bin', size: 5 });
      assert.equal(dec(await s.get('a/one.bin')), 'hello');
      await s.put('a/one.bin', enc('hi'));
      assert.equal(dec(await s.get('a/one.bin')), 'hi');
      const st = await s.stat('a/one.bin');
      assert.equal(st?.size, 2);
      assert.equal(st?.key, 'a/one.bin');
      assert.ok(typeof st?.mtimeMs === 'number' && Math.abs(Date.now() - st.mtimeMs) < 60_000, 'mtime is about now');
      assert.equal(await s.stat('a/missing'), null);
      assert.equal(await s.stat('a'), null, 'a folder is not an object');
      await rejectsWithCode(s.get('a/missing'), 'NOT_FOUND');
      await rejectsWithCode(readAll(s, 'a/missing'), 'NOT_FOUND');
      assert.equal(await s.delete('a/missing'), false);
      await s.put('empty', new Uint8Array(0));
      assert.equal((await s.get('empty')).length, 0);
      assert.equal((await s.stat('empty'))?.size, 0);
      assert.equal((await readAll(s, 'empty')).bytes.length, 0);
    }));

    test('streamed puts (iterable and producer) and chunked reads return the exact bytes', withStore(async (s) => {
      const big = pattern(5 * 1024 * 1024 + 13);
      async function* pieces(): AsyncIterable<Uint8Array> {
        for (let at = 0; at < big.length; at += 777_777) yield big.subarray(at, Math.min(big.length, at + 777_777));
      }
      assert.equal((await s.put('x/iter', pieces())).size, big.length);
      assert.ok(Buffer.from(await s.get('x/iter')).equals(Buffer.from(big)));
      // The producer reuses one buffer: the store must have consumed each chunk when write resolves.
      const scratch = new Uint8Array(100_000);
      await s.put('x/prod', async (write) => {
        for (let at = 0; at < big.length; at += scratch.length) {
          const n = Math.min(scratch.length, big.length - at);
          scratch.set(big.subarray(at, at + n));
          await write(scratch.subarray(0, n));
          scratch.fill(0xee);
        }
      });
      const r = await readAll(s, 'x/prod', 1 << 20);
      assert.ok(Buffer.from(r.bytes).equals(Buffer.from(big)), 'bytes equal');
      assert.ok(r.chunks >= 5, `read came in chunks (${r.chunks})`);
      // Chunks are the consumer's to keep.
      const kept: Uint8Array[] = [];
      for await (const c of s.read('x/prod', { chunkBytes: 4096 })) kept.push(c);
      assert.ok(Buffer.concat(kept).equals(Buffer.from(big)));
    }));

    test('readInto (native or the read fallback) fills the target in order and bounds the size', withStore(async (s) => {
      const big = pattern(3 * 1024 * 1024 + 5, 9);
      await s.put('r/obj', big);
      const target = new Uint8Array(big.length);
      const ranges: [number, number][] = [];
      const n = await readInto(s, 'r/obj', target, { chunkBytes: 1 << 20, onChunk: (c) => ranges.push([c.byteOffset, c.length]) });
      assert.equal(n, big.length);
      assert.ok(Buffer.from(target).equals(Buffer.from(big)));
      let next = 0;
      for (const [off, len] of ranges) {
        assert.equal(off, next, 'ranges arrive in order and touch');
        next += len;
      }
      assert.equal(next, big.length);
      const roomy = new Uint8Array(big.length + 10);
      assert.equal(await readInto(s, 'r/obj', roomy), big.length);
      await rejectsWithCode(readInto(s, 'r/obj', new Uint8Array(big.length - 1)), 'LIMIT_EXCEEDED');
      await rejectsWithCode(readInto(s, 'r/missing', target), 'NOT_FOUND');
      await rejectsWithCode(readInto(s, '../x', target), 'INVALID_ARGUMENT');
      await s.put('r/empty', new Uint8Array(0));
      assert.equal(await readInto(s, 'r/empty', new Uint8Array(0)), 0);
    }));

    test('stopping a read early releases it; the object can then be replaced and deleted', withStore(async (s) => {
      await s.put('k/obj', pattern(100_000));
      for await (const c of s.read('k/obj', { chunkBytes: 1000 })) {
        assert.equal(c.length, 1000);
        break;
      }
      await s.put('k/obj', enc('new'));
      assert.equal(dec(await s.get('k/obj')), 'new');
      assert.equal(await s.delete('k/obj'), true);
      assert.equal(await s.stat('k/obj'), null);
    }));

    test('a failed or aborted put leaves the previous object and no visible leftovers', withStore(async (s) => {
      await s.put('p/obj', enc('old'));
      await assert.rejects(s.put('p/obj', async (write) => {
        await write(enc('partial new bytes'));
        throw new Error('producer failed');
      }), /producer failed/);
      assert.equal(dec(await s.get('p/obj')), 'old');
      await assert.rejects(s.put('p/fresh', async (write) => {
        await write(enc('x'));
        throw new Error('boom');
      }), /boom/);
      assert.equal(await s.stat('p/fresh'), null);
      const ac = new AbortController();
      await rejectsWithCode(s.put('p/obj', async (write) => {
        await write(enc('aaa'));
        ac.abort();
        await write(enc('bbb'));
      }, { signal: ac.signal }), 'ABORTED');
      assert.equal(dec(await s.get('p/obj')), 'old');
      assert.deepEqual((await s.list('p/')).map((o) => o.key), ['p/obj']);
      const pre = new AbortController();
      pre.abort();
      await rejectsWithCode(s.put('p/obj', enc('zzz'), { signal: pre.signal }), 'ABORTED');
      await rejectsWithCode(readAll2(s, 'p/obj', pre.signal), 'ABORTED');
      assert.equal(dec(await s.get('p/obj')), 'old');
    }));

    test('an aborted signal fails stat, list, delete and deletePrefix with ABORTED, and nothing is removed', withStore(async (s) => {
      const early = new AbortController();
      early.abort();
      await rejectsWithCode(s.list('', { signal: early.signal }), 'ABORTED'); // an empty store too
      await s.put('g/one', enc('1'));
      await s.put('g/two', enc('2'));
      const pre = new AbortController();
      pre.abort();
      await rejectsWithCode(s.stat('g/one', { signal: pre.signal }), 'ABORTED');
      await rejectsWithCode(s.list('g/', { signal: pre.signal }), 'ABORTED');
      await rejectsWithCode(s.delete('g/one', { signal: pre.signal }), 'ABORTED');
      await rejectsWithCode(s.deletePrefix('g/', { signal: pre.signal }), 'ABORTED');
      assert.deepEqual((await s.list('g/')).map((o) => o.key), ['g/one', 'g/two']);
      const live = new AbortController();
      assert.equal((await s.stat('g/two', { signal: live.signal }))?.size, 1);
      assert.equal((await s.list('g/', { signal: live.signal })).length, 2);
      assert.equal(await s.delete('g/one', { signal: live.signal }), true);
      assert.equal(await s.deletePrefix('g/', { signal: live.signal }), 1);
      assert.deepEqual(await s.list('g/'), []);
    }));

    test('list is sorted, filtered by prefix, and deletePrefix removes exactly what it lists', withStore(async (s) => {
      const keys = ['snapshot-b/metadata.json', 'snapshot-a/vectors.bin', 'snapshot-a/metadata.json', 'other/x', 'snapshot-a2/f', 'top'];
      for (const k of keys) await s.put(k, enc(k));
      assert.deepEqual((await s.list()).map((o) => o.key), [...keys].sort());
      assert.deepEqual((await s.list('snapshot-a/')).map((o) => o.key), ['snapshot-a/metadata.json', 'snapshot-a/vectors.bin']);
      assert.deepEqual((await s.list('snapshot-a')).map((o) => o.key), ['snapshot-a/metadata.json', 'snapshot-a/vectors.bin', 'snapshot-a2/f']);
      assert.deepEqual((await s.list('snapshot-')).length, 4);
      assert.deepEqual((await s.list('nothing')).length, 0);
      const listed = await s.list('snapshot-a/');
      assert.equal(listed[0].size, 'snapshot-a/metadata.json'.length);
      assert.equal(await s.deletePrefix('snapshot-a/'), 2);
      assert.deepEqual((await s.list()).map((o) => o.key), ['other/x', 'snapshot-a2/f', 'snapshot-b/metadata.json', 'top']);
      assert.equal(await s.deletePrefix('snapshot-'), 2);
      assert.deepEqual((await s.list()).map((o) => o.key), ['other/x', 'top']);
      assert.equal(await s.deletePrefix('absent/'), 0);
      // A folder emptied by deletes can be written into again.
      await s.put('snapshot-a/again', enc('1'));
      assert.equal(dec(await s.get('snapshot-a/again')), '1');
    }));

    test('sweep never removes live objects', withStore(async (s) => {
      await s.put('d/live', enc('live'));
      const removed = await s.sweep(Date.now() + 60_000);
      assert.ok(Array.isArray(removed));
      assert.equal(dec(await s.get('d/live')), 'live');
    }));

    test('keys that could escape the store or are malformed are rejected before any I/O', withStore(async (s) => {
      const bad: unknown[] = ['../x', 'a/../../x', '/abs', '/etc/passwd', 'a\\b', '..\\x', 'a\0b', '.hidden', 'a/.tmp', '', 'a//b', 'a/', 'C:x', 'x'.repeat(600), `${'s'.repeat(201)}`, 'a/b/c/d/e', 'ü', 'a b', 42, null];
      for (const k of bad) {
        await rejectsWithCode(s.put(k as string, enc('x')), 'INVALID_ARGUMENT');
        await rejectsWithCode(s.get(k as string), 'INVALID_ARGUMENT');
        await rejectsWithCode(readAll(s, k as string), 'INVALID_ARGUMENT');
        await rejectsWithCode(s.stat(k as string), 'INVALID_ARGUMENT');
        await rejectsWithCode(s.delete(k as string), 'INVALID_ARGUMENT');
      }
      for (const p of ['../', '/abs', 'a\\', 'a\0', '..', 'a//']) {
        await rejectsWithCode(s.list(p), 'INVALID_ARGUMENT');
        await rejectsWithCode(s.deletePrefix(p), 'INVALID_ARGUMENT');
      }
      assert.deepEqual(await s.list(), []);
    }));
  });
}

async function readAll2(s: SnapshotStore, key: string, signal: AbortSignal): Promise<void> {
  for await (const c of s.read(key, { signal })) void c;
}
