import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptionError, QuiverError } from '../../src/errors.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { MemorySnapshotStore } from '../../src/storage/memory-store.js';
import type { StoreOpOptions, StoreReadOptions } from '../../src/storage/store.js';
import { tempDir } from '../support/db.js';
import { assertState, memoryManager, mutate, smallDb, stateOf } from './helpers.js';

type Damage = { name: string; apply: (b: Uint8Array) => Uint8Array };
const damages: Damage[] = [
  { name: 'truncated to half', apply: (b) => b.slice(0, Math.floor(b.length / 2)) },
  { name: 'truncated by one byte', apply: (b) => b.slice(0, b.length - 1) },
  { name: 'emptied', apply: () => new Uint8Array(0) },
  { name: 'bit flipped in the middle', apply: (b) => { const c = b.slice(); c[c.length >> 1] ^= 0x10; return c; } },
  { name: 'last byte flipped', apply: (b) => { const c = b.slice(); c[c.length - 1] ^= 0x01; return c; } },
  { name: 'one byte appended', apply: (b) => Buffer.concat([b, Buffer.from([0])]) },
];

for (const compression of ['gzip', 'none'] as const) {
  test(`every file of a chain damaged (${compression}): verifySnapshot names it, restores refuse and leave the target untouched`, async () => {
    const { manager, store } = memoryManager({ compression });
    const db = smallDb(400, 8);
    const base = await manager.createSnapshot(db, 'base', { k: 'v' });
    await mutate(db, 40, 5, 500);
    const top = await manager.createIncrementalSnapshot(db, 'top', base.id);
    const want = stateOf(db);
    assert.equal(await manager.verifySnapshot(top.id), true);
    const keys = (await store.list()).map((o) => o.key);
    assert.equal(keys.length, 8, keys.join(', '));
    let cases = 0;
    for (const key of keys) {
      const original = await store.get(key);
      for (const d of damages) {
        store.corrupt(key, d.apply);
        const label = `${key} ${d.name}`;
        const report = await manager.verifySnapshotReport(top.id);
        assert.equal(report.ok, false, label);
        const bad = report.files.filter((f) => !f.ok);
        assert.ok(bad.some((f) => f.name === key), `${label}: verify names it (bad: ${bad.map((f) => f.name).join(', ')})`);
        // Only the damaged file, or files whose checks depend on it, are flagged.
        for (const f of bad) assert.ok(f.name === key || f.error?.startsWith('not verifiable') || key.endsWith('metadata.json'), `${label}: ${f.name} flagged: ${f.error}`);
        assert.deepEqual(report.chain.slice(0, 1), [top.id]);

        const target = smallDb(30, 8, 'cosine', 42);
        const before = stateOf(target);
        const seqBefore = target.seq;
        await assert.rejects(manager.restoreSnapshotInto(top.id, target), (err: unknown) => {
          assert.ok(err instanceof QuiverError && ['CORRUPT', 'CHECKSUM_MISMATCH'].includes(err.code), `${label}: ${String(err)}`);
          if (err instanceof CorruptionError) assert.ok(err.file.includes(key.split('/')[0]), `${label}: error names the snapshot folder: ${err.file}`);
          return true;
        });
        assertState(target, before, label);
        assert.equal(target.seq, seqBefore, `${label}: target untouched`);
        await assert.rejects(manager.restoreSnapshot(top.id), QuiverError);
        store.corrupt(key, () => original);
        cases++;
      }
    }
    assert.equal(cases, keys.length * damages.length);
    assertState(await manager.restoreSnapshot(top.id), want);
  });
}

test('a missing file or a missing base is named; a missing metadata.json makes the snapshot invisible', async () => {
  const { manager, store } = memoryManager();
  const db = smallDb(100, 8);
  const base = await manager.createSnapshot(db, 'base');
  await mutate(db, 10, 9, 200);
  const top = await manager.createIncrementalSnapshot(db, 'top', base.id);
  const vec = `snapshot-${base.id}/vectors.bin.gz`;
  const saved = await store.get(vec);
  await store.delete(vec);
  let report = await manager.verifySnapshotReport(top.id);
  assert.equal(await manager.verifySnapshot(top.id), false, 'the reference-002 boolean form says damaged');
  assert.deepEqual(report.files.filter((f) => !f.ok).map((f) => f.name), [vec]);
  assert.match(report.files.find((f) => f.name === vec)?.error ?? '', /missing/);
  await assert.rejects(manager.restoreSnapshot(top.id), (e: unknown) => e instanceof CorruptionError && e.file.endsWith(vec));
  await store.put(vec, saved);
  const baseManifest = await store.get(`snapshot-${base.id}/metadata.json`);
  await store.delete(`snapshot-${base.id}/metadata.json`);
  report = await manager.verifySnapshotReport(top.id);
  assert.equal(report.ok, false);
  assert.match(report.files.find((f) => f.name === `snapshot-${base.id}/metadata.json`)?.error ?? '', /missing: base snapshot/);
  await assert.rejects(manager.restoreSnapshot(top.id), /base snapshot .* is missing/);
  assert.deepEqual((await manager.listSnapshots()).map((s) => s.id), [top.id]);
  await store.put(`snapshot-${base.id}/metadata.json`, baseManifest);
  await store.delete(`snapshot-${top.id}/metadata.json`);
  assert.deepEqual((await manager.listSnapshots()).map((s) => s.id), [base.id]);
  await assert.rejects(manager.verifySnapshot(top.id), { code: 'NOT_FOUND' });
  assert.equal(await manager.getSnapshot(top.id), null);
  // An absurdly large metadata.json is corruption, read no further than its size limit.
  await store.put(`snapshot-${base.id}/metadata.json`, new Uint8Array(5 << 20).fill(0x20));
  await assert.rejects(manager.getSnapshot(base.id), (e: unknown) => e instanceof CorruptionError && /larger than/.test(e.message));
  assert.deepEqual((await manager.catalog()).damaged.map((d) => d.id), [base.id]);
});

test('a damaged metadata.json on disk is reported by catalog(), left out of the list, and never garbage-collected', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const m = new SnapshotManager({ snapshotDir: dir, gcGraceMs: 0 });
    const db = smallDb(50, 8);
    const a = await m.createSnapshot(db, 'a');
    const b = await m.createSnapshot(db, 'b');
    const file = join(dir, `snapshot-${a.id}`, 'metadata.json');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(`"vectorCount": 50`, `"vectorCount": 51`));
    assert.deepEqual((await m.listSnapshots()).map((s) => s.id), [b.id]);
    const cat = await m.catalog();
    assert.deepEqual(cat.damaged.map((d) => d.id), [a.id]);
    assert.equal(cat.damaged[0].error.code, 'CHECKSUM_MISMATCH');
    await assert.rejects(m.getSnapshot(a.id), { code: 'CHECKSUM_MISMATCH' });
    await m.collectGarbage();
    assert.equal((await m.catalog()).damaged.length, 1, 'still there after GC');
    truncateSync(file, 10);
    await assert.rejects(m.restoreSnapshot(a.id), CorruptionError);
    // The damaged snapshot can still be deleted explicitly.
    await m.deleteSnapshot(a.id);
    assert.deepEqual((await m.catalog()).damaged, []);
  } finally {
    cleanup();
  }
});

test('a store that cannot be read (EIO) makes verify throw EIO rather than report damage; the same snapshot verifies once it can', async () => {
  // Reads of one file (or of metadata.json) fail with EIO while `failing` names it.
  class FlakyStore extends MemorySnapshotStore {
    failing: string | undefined;

    private check(key: string): void {
      if (this.failing !== undefined && key.endsWith(this.failing)) throw new QuiverError('EIO', `injected EIO reading ${key}`);
    }

    override get(key: string, options?: StoreOpOptions): Promise<Uint8Array> {
      try {
        this.check(key);
      } catch (err) {
        return Promise.reject(err);
      }
      return super.get(key, options);
    }

    override async *read(key: string, options?: StoreReadOptions): AsyncIterable<Uint8Array> {
      this.check(key);
      yield* super.read(key, options);
    }
  }
  const store = new FlakyStore();
  const manager = new SnapshotManager({ store });
  const db = smallDb(200);
  await manager.createSnapshot(db, 'full');
  await mutate(db, 20, 11);
  const top = await manager.createSnapshot(db, 'top', { incremental: true });
  // Every file of the chain (its manifests, checksum files and data files), one at a time.
  const keys = (await store.list()).map((o) => o.key);
  assert.ok(keys.length >= 6, keys.join(' '));
  let threw = 0;
  for (const key of keys) {
    store.failing = key;
    // Never "damaged": either the file was read (EIO, thrown) or it was not needed (cached: verified).
    const got = await manager.verifySnapshot(top.id).catch((e: unknown) => e);
    if (got === true) continue;
    assert.ok(got instanceof QuiverError && got.code === 'EIO', `${key}: ${String(got)}`);
    await assert.rejects(manager.verifySnapshotReport(top.id), (e: unknown) => e instanceof QuiverError && e.code === 'EIO', `${key}: the report throws EIO`);
    threw++;
  }
  // The data files are always read.
  assert.ok(threw >= keys.filter((k) => /vectors|metadata\.bin/.test(k)).length && threw >= 4, `EIO thrown for ${threw} of ${keys.length} files`);
  store.failing = undefined;
  assert.equal(await manager.verifySnapshot(top.id), true, 'nothing was damaged');
});

test('crafted metadata.json with a valid selfSha256: a createdAt outside the Date range is damage (prunes keep working), and a huge changedCount is damage before anything is sized from it', async () => {
  const { encodeManifest } = await import('../../src/snapshot/manifest.js');
  const { dir, cleanup } = tempDir();
  try {
    const m = new SnapshotManager({ snapshotDir: dir });
    const db = smallDb(50, 8);
    const a = await m.createSnapshot(db, 'a');
    const b = await m.createSnapshot(db, 'b');
    const craft = (id: string, change: (man: Record<string, unknown>) => void): void => {
      const file = join(dir, `snapshot-${id}`, 'metadata.json');
      const man = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      change(man);
      delete man.selfSha256;
      writeFileSync(file, encodeManifest(man as never));
    };
    craft(b.id, (man) => {
      man.changedCount = 2 ** 40;
      man.vectorCount = 2 ** 40;
      // Consistent everywhere else (the vectors file's declared size too), so only the records file can tell.
      for (const f of man.files as Array<{ role: string; rawBytes: number }>) if (f.role === 'vectors') f.rawBytes = 2 ** 40 * 8 * 4;
    });
    const other = smallDb(10, 8);
    await assert.rejects(m.createIncrementalSnapshot(other, 'diff', b.id), (e: unknown) => e instanceof CorruptionError && e.section === 'records', 'damage found in the records, not a RangeError from a 2^41-element allocation');
    for (const createdAt of [1e20, 8.64e15, -8.64e15 + 1]) {
      craft(a.id, (man) => {
        man.createdAt = createdAt;
      });
      const cat = await m.catalog();
      assert.ok(cat.damaged.some((d) => d.id === a.id && d.error.code === 'CORRUPT' && /createdAt/.test(d.error.message)), String(createdAt));
      await m.cleanupOldSnapshots(1);
    }
  } finally {
    cleanup();
  }
});
