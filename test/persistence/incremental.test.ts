import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync, rmSync, copyFileSync } from 'node:fs';
import { join, basename, resolve } from 'node:path';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { CorruptionError, QuiverError } from '../../src/errors.js';
import { readState } from '../../src/persistence/codec.js';
import { nodeFs } from '../../src/env/node-fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { clusteredDataset, prng } from '../../support/datasets.js';
import { tempDir, assertSameDb } from '../support/db.js';

async function generated(n: number, dim = 32): Promise<VectorDB> {
  const data = clusteredDataset(n, dim, 5);
  const db = new VectorDB({ dimension: dim });
  await db.insertBatch(data.ids.map((id, i) => ({ id, vector: data.vectors.subarray(i * dim, (i + 1) * dim), metadata: data.metadata[i] })));
  return db;
}

for (const format of ['binary', 'json'] as const) {
  test(`${format}: a delta after 1% changes holds only those entries; base + deltas reload exactly`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const db = await generated(2000);
      const p = new DatabasePersistence(db, { baseDir: dir, format });
      const base = await p.save();
      assert.equal(await p.saveIncremental(), null, 'nothing changed yet');
      const rnd = prng(1);
      const touched = new Set<string>();
      while (touched.size < 20) touched.add(`doc-${Math.floor(rnd() * 2000)}`);
      const ids = [...touched];
      for (const id of ids.slice(0, 10)) void db.insert({ id, vector: new Float32Array(32).fill(0.25), metadata: { changed: true } });
      for (const id of ids.slice(10, 15)) void db.updateMetadata(id, { edited: id });
      for (const id of ids.slice(15)) void db.delete(id);
      void db.insert({ id: 'brand-new', vector: new Float32Array(32).fill(-1) });
      const d1 = await p.saveIncremental();
      assert.ok(d1 && basename(d1) === `${basename(base)}.delta-000001`);
      const st = await readState(nodeFs, d1, {});
      assert.equal(st.kind, 'delta');
      if (st.kind !== 'delta') return;
      assert.deepEqual(new Set(st.delta.ids), new Set([...ids.slice(0, 15), 'brand-new']));
      assert.deepEqual(new Set(st.delta.deletedIds), new Set(ids.slice(15)));
      assert.ok(statSync(d1).size < statSync(base).size * 0.05, 'delta is small');
      // A second link with a clear in between and a re-insert after it.
      await db.clear();
      void db.insert({ id: 'after-clear', vector: new Float32Array(32).fill(2) });
      const d2 = await p.saveIncremental();
      assert.ok(d2?.endsWith('.delta-000002'));
      const copy = new VectorDB({ dimension: 32 });
      await new DatabasePersistence(copy, { baseDir: dir }).load({ path: base });
      assertSameDb(copy, db);
      // A full save folds the deltas in and removes them.
      await db.insert({ id: 'x', vector: new Float32Array(32).fill(3) });
      await p.save();
      assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.delta-')), []);
      const copy2 = new VectorDB({ dimension: 32 });
      await new DatabasePersistence(copy2, { baseDir: dir }).load({ path: base });
      assertSameDb(copy2, db);
    } finally {
      cleanup();
    }
  });
}

test('a loaded chain continues in a new process-like instance; stale deltas of an older base are ignored', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await generated(300);
    const p = new DatabasePersistence(db, { baseDir: dir });
    const base = await p.save();
    void db.delete('doc-1');
    await p.saveIncremental();
    // Keep a copy of the old chain's delta, then make a new base (which removes it) and restore the
    // leftover as if a crash had interrupted the cleanup.
    copyFileSync(`${base}.delta-000001`, join(dir, 'old-delta'));
    void db.insert({ id: 'doc-1', vector: new Float32Array(32).fill(1) });
    await p.save();
    copyFileSync(join(dir, 'old-delta'), `${base}.delta-000001`);
    rmSync(join(dir, 'old-delta'));
    const copy = new VectorDB({ dimension: 32 });
    const p2 = new DatabasePersistence(copy, { baseDir: dir });
    await p2.load({ path: base });
    assertSameDb(copy, db);
    // The new instance extends the chain it loaded.
    void copy.delete('doc-2');
    const d = await p2.saveIncremental();
    assert.ok(d?.endsWith('.delta-000001'));
    const copy2 = new VectorDB({ dimension: 32 });
    await new DatabasePersistence(copy2, { baseDir: dir }).load({ path: base });
    assertSameDb(copy2, copy);
  } finally {
    cleanup();
  }
});

test('a missing link in the middle of a chain is reported, not skipped', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await generated(100);
    const p = new DatabasePersistence(db, { baseDir: dir });
    const base = await p.save();
    for (let i = 0; i < 3; i++) {
      void db.delete(`doc-${i}`);
      await p.saveIncremental();
    }
    rmSync(`${base}.delta-000002`);
    const copy = new VectorDB({ dimension: 32 });
    await copy.insert({ id: 'keep', vector: new Float32Array(32).fill(1) });
    await assert.rejects(new DatabasePersistence(copy, { baseDir: dir }).load({ path: base }), (e: unknown) => e instanceof CorruptionError && e.section === 'chain');
    assert.deepEqual(copy.ids(), ['keep'], 'a failed load leaves the database untouched');
  } finally {
    cleanup();
  }
});

test('saveIncremental with no base writes a full save; after import it writes a full save again', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await generated(50);
    const p = new DatabasePersistence(db, { baseDir: dir, incremental: true });
    const first = await p.saveIncremental();
    assert.equal(first, resolve(p.defaultPath()));
    const other = await generated(10);
    const exported = join(dir, 'other.json');
    await new DatabasePersistence(other, { baseDir: dir }).export({ path: exported, format: 'json' });
    await p.import({ path: exported, clear: false });
    assert.equal(db.len(), 50, 'merge: same ids replaced, nothing removed');
    const second = await p.saveIncremental();
    assert.ok(second && !second.includes('.delta-'), 'after an import the next incremental save is a full one');
  } finally {
    cleanup();
  }
});

test('export/import: json and binary, merge keeps existing entries, clear replaces, bad files leave the db as it was', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await generated(100);
    const p = new DatabasePersistence(db, { baseDir: dir });
    for (const format of ['json', 'binary'] as const) {
      for (const compress of [false, true]) {
        const path = join(dir, `export-${format}-${compress}`);
        await p.export({ path, format, compress, includeIndex: false });
        const target = new VectorDB({ dimension: 32 });
        await target.insert({ id: 'mine', vector: new Float32Array(32).fill(9) });
        const t = new DatabasePersistence(target, { baseDir: dir });
        await t.import({ path, clear: false, verifyChecksum: true });
        assert.equal(target.len(), 101);
        assert.ok(target.get('mine'));
        await t.import({ path, clear: true });
        assertSameDb(target, db);
      }
    }
    const target = new VectorDB({ dimension: 32 });
    await target.insert({ id: 'mine', vector: new Float32Array(32).fill(9) });
    const bad = join(dir, 'export-json-false');
    const { writeFileSync, readFileSync } = await import('node:fs');
    const bytes = readFileSync(bad);
    writeFileSync(bad, bytes.subarray(0, bytes.length >> 1));
    await assert.rejects(new DatabasePersistence(target, { baseDir: dir }).import({ path: bad, clear: true }), (e: unknown) => e instanceof QuiverError);
    assert.deepEqual(target.ids(), ['mine']);
  } finally {
    cleanup();
  }
});

test('auto-save saves on its interval (incremental: to the journal) without overlapping, shutdown saves the rest, errors become events', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await generated(200);
    const p = new DatabasePersistence(db, { baseDir: dir, autoSaveInterval: 20, incremental: true });
    const kinds: string[] = [];
    p.on('save', (e: { kind: string }) => kinds.push(e.kind));
    // Keep changing the database until auto-save has run at least twice (a loaded CI machine may take
    // far longer than the interval per fsynced save); the deadline only bounds a broken timer.
    const deadline = Date.now() + 20_000;
    for (let round = 0; (round < 4 || kinds.length < 2) && Date.now() < deadline; round++) {
      void db.insert({ id: `auto-${round}`, vector: new Float32Array(32).fill(round) });
      await new Promise((r) => setTimeout(r, 60));
    }
    assert.ok(kinds.length >= 2, `auto-save ran ${kinds.length} times in 20 s`);
    assert.equal(kinds[0], 'full');
    assert.ok(kinds.slice(1).every((k) => k === 'journal'));
    void db.insert({ id: 'last', vector: new Float32Array(32).fill(7) });
    await p.shutdown();
    const copy = new VectorDB({ dimension: 32 });
    await new DatabasePersistence(copy, { baseDir: dir }).load();
    assertSameDb(copy, db);
    // A failing automatic save surfaces as an 'error' event.
    const blocked = join(dir, 'file-not-dir');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(blocked, 'x');
    const q = new DatabasePersistence(db, { baseDir: join(blocked, 'sub'), autoSaveInterval: 10 });
    // Auto-save timers are unref'd, so something else must keep the process alive while we wait.
    const keepAlive = setTimeout(() => undefined, 10_000);
    const err = await new Promise<unknown>((res) => q.once('error', res));
    clearTimeout(keepAlive);
    assert.ok(err instanceof QuiverError);
    q.stopAutoSave();
  } finally {
    cleanup();
  }
});

test('an incremental save refuses to extend a chain another writer changed (delta written, base replaced), and writes nothing', async () => {
  const { dir, cleanup } = tempDir();
  const dim = 8;
  const vec = (x: number): Float32Array => new Float32Array(dim).fill(x);
  const busy = (err: unknown): boolean => err instanceof QuiverError && err.code === 'BUSY' && /another writer/.test(err.message) && /nothing was saved/.test(err.message);
  try {
    for (const format of ['binary', 'json'] as const) {
      const onDisk = async (): Promise<VectorDB> => {
        const back = new VectorDB({ dimension: dim });
        await new DatabasePersistence(back, { baseDir: dir, format }).load();
        return back;
      };
      rmSync(dir, { recursive: true, force: true });
      const dbA = new VectorDB({ dimension: dim });
      await dbA.insert({ id: 'doc-1', vector: vec(1) });
      const a = new DatabasePersistence(dbA, { baseDir: dir, format });
      await a.save();
      const dbB = new VectorDB({ dimension: dim });
      const b = new DatabasePersistence(dbB, { baseDir: dir, format });
      await b.load();
      // A extends the chain first; B's delta would take the same name and drop A's change.
      await dbA.insert({ id: 'fromA', vector: vec(2) });
      assert.ok(await a.saveIncremental());
      await dbB.insert({ id: 'fromB', vector: vec(3) });
      const files = readdirSync(dir).sort();
      await assert.rejects(b.saveIncremental(), busy);
      assert.deepEqual(readdirSync(dir).sort(), files, `${format}: nothing written`);
      assert.ok((await onDisk()).has('fromA'), `${format}: A's change is still on disk`);
      // B continues from the files as they are now.
      await b.load();
      await dbB.insert({ id: 'fromB', vector: vec(3) });
      assert.ok(await b.saveIncremental());
      const both = await onDisk();
      assert.ok(both.has('fromA') && both.has('fromB'), `${format}: both writers' changes load`);
      // Now B replaces the base with a full save: A's next delta would belong to a base that is gone.
      await b.save();
      await dbA.insert({ id: 'late', vector: vec(4) });
      await assert.rejects(a.saveIncremental(), busy);
      assert.equal((await onDisk()).has('late'), false);
      // A full save is a deliberate overwrite and goes through.
      await a.save();
      assert.ok((await onDisk()).has('late'), `${format}: A's full save wins when asked for`);
    }
  } finally {
    cleanup();
  }
});

test('a delta that decodes but cannot be applied (read unverified) fails the load with the database untouched', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d', { recursive: true });
  const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await db.insert({ id: 'a', vector: [1, 2, 3, 4] });
  const p = new DatabasePersistence(db, { baseDir: '/d', fs });
  await p.save();
  await db.insert({ id: 'b', vector: [5, 6, 7, 8] });
  await p.saveIncremental();
  await db.insert({ id: 'c', vector: [1234.5, 6, 7, 8] });
  const d2 = (await p.saveIncremental())!;
  const bytes = Buffer.from(await fs.readFile(d2));
  const at = bytes.indexOf(Buffer.from(new Float32Array([1234.5]).buffer));
  assert.ok(at > 0);
  Buffer.from(new Float32Array([Number.NaN]).buffer).copy(bytes, at);
  fs.writeFileSync(d2, bytes);
  const target = new VectorDB({ dimension: 4, metric: 'euclidean' });
  await target.insert({ id: 'zzz', vector: [9, 9, 9, 9] });
  // Base and first delta are fine and would apply; the second one must stop the load before either does.
  await assert.rejects(new DatabasePersistence(target, { baseDir: '/d', fs }).load({ verifyChecksum: false }), (e: QuiverError) => e.code === 'INVALID_VECTOR' && e.message.includes('delta-000002'));
  assert.deepEqual([...target.ids()], ['zzz']);
  await assert.rejects(new DatabasePersistence(target, { baseDir: '/d', fs }).load(), (e: QuiverError) => e.code === 'CHECKSUM_MISMATCH');
  assert.deepEqual([...target.ids()], ['zzz']);
});

test('writes that land while a load finishes are saved by the next incremental save', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await generated(200, 8);
    await new DatabasePersistence(db, { baseDir: dir }).save();
    for (let round = 0; round < 3; round++) {
      const target = new VectorDB({ dimension: 8 });
      const p = new DatabasePersistence(target, { baseDir: dir });
      const loading = p.load();
      let done = false;
      void loading.finally(() => (done = true));
      const written: string[] = [];
      // Inserts one event-loop turn apart until the load resolves: some land between its replaceAll
      // and the end of its remaining file-system calls.
      while (!done) {
        const id = `during-${round}-${written.length}`;
        written.push(id);
        void target.insert({ id, vector: new Float32Array(8).fill(written.length) });
        await new Promise((r) => setImmediate(r));
      }
      await loading;
      const inMemory = written.filter((id) => target.has(id));
      assert.ok(p.hasUnsavedChanges || inMemory.length === 0);
      await p.saveIncremental();
      const back = new VectorDB({ dimension: 8 });
      await new DatabasePersistence(back, { baseDir: dir }).load();
      for (const id of inMemory) assert.ok(back.has(id), `${id} was in memory after the load and must be saved`);
    }
  } finally {
    cleanup();
  }
});

test('a delta file names the checksum of its chain\'s base file (manifest or header baseChecksum), binary and JSON', async () => {
  for (const format of ['binary', 'json'] as const) {
    const mem = new MemoryFileSystem();
    await mem.mkdir('/d', { recursive: true });
    const db = new VectorDB({ dimension: 2 });
    await db.insert({ id: 'a', vector: [1, 2] });
    const p = new DatabasePersistence(db, { baseDir: '/d', fs: mem, format });
    const base = await p.save();
    const baseChecksum = (await readState(mem, base, {})).checksum;
    for (let i = 0; i < 2; i++) {
      await db.insert({ id: `d${i}`, vector: [i, 3] });
      const delta = await p.saveIncremental();
      const bytes = Buffer.from(mem.readFileSync(delta!));
      // MessagePack: the key, then a str8 of 64 hex digits; JSON: "baseChecksum":"<hex>".
      const stored = format === 'binary' ? bytes.includes(Buffer.concat([Buffer.from('\xacbaseChecksum\xd9\x40', 'latin1'), Buffer.from(baseChecksum)])) : bytes.toString('utf8').includes(`"baseChecksum":"${baseChecksum}"`);
      assert.ok(stored, `${format} delta ${i + 1}`);
    }
  }
});

test('a chain holds at most 999,999 deltas (six-digit names): the incremental save that would write the next one writes a full save', async () => {
  const fs = new MemoryFileSystem();
  const db = new VectorDB({ dimension: 2 });
  const p = new DatabasePersistence(db, { baseDir: '/m', fs });
  await db.insert({ id: 'doc-1', vector: [1, 2] });
  const base = await p.save();
  // Where 999,999 earlier incremental saves leave the instance's chain (writing them would take hours).
  const chain = (p as unknown as { chain: { nextIndex: number } }).chain;
  chain.nextIndex = 1_000_000;
  assert.equal(await p.saveIncremental(), null, 'nothing changed: nothing is written, not even there');
  await db.insert({ id: 'doc-2', vector: [3, 4] });
  assert.equal(await p.saveIncremental(), base, 'a full save, not delta 1000000 (which no load would read)');
  assert.deepEqual((await fs.readdir('/m')).filter((n) => n.includes('delta')), []);
  const back = new VectorDB({ dimension: 2 });
  await new DatabasePersistence(back, { baseDir: '/m', fs }).load();
  assert.deepEqual(back.ids().sort(), ['doc-1', 'doc-2']);
  // The chain starts over after it.
  await db.insert({ id: 'doc-3', vector: [5, 6] });
  assert.equal(basename(await p.saveIncremental() ?? ''), `${basename(base)}.delta-000001`);
});
