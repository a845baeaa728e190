// Damaged collection files: connect fails with a typed error naming the file and changes nothing;
// `recoverCorrupted` moves the collection directory aside (renamed, bytes intact), starts empty and
// says so loudly. And the one-time import of a reference-004 directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { CorruptionError, QuiverError } from '../../src/errors.js';
import { createVectorStore, IMPORTED_MARKER, VectorDimensionError, VectorStoreConnectionError, type VectorStoreConfig } from '../../src/store/ref004/index.js';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { CorruptionRecovery } from '../../src/store/ref004/types.js';

const ROOT = '/vs';
const cfg = (fs: MemoryFileSystem, collectionName: string, extra: Partial<VectorStoreConfig> = {}): VectorStoreConfig => ({ type: 'in-memory', collectionName, dimension: 3, annIndexPath: ROOT, fs, ...extra });

/** Connects `collection` with recoverCorrupted (its loud warning silenced), disconnects, returns what was recovered. */
async function recoverQuietly(fs: MemoryFileSystem, collection: string): Promise<CorruptionRecovery | undefined> {
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    const { manager } = await createVectorStore(cfg(fs, collection, { recoverCorrupted: true }));
    const rec = manager.getInfo().recoveredFromCorruption;
    await manager.disconnect();
    return rec;
  } finally {
    console.warn = warn;
  }
}

function files(fs: MemoryFileSystem, prefix: string): Map<string, string> {
  return new Map(fs.listAll().filter((p) => p.startsWith(prefix) && !p.endsWith('/') && !p.endsWith('/LOCK')).map((p) => [p.slice(prefix.length), Buffer.from(fs.readFileSync(p)).toString('hex')]));
}

async function damagedStore(): Promise<{ fs: MemoryFileSystem; file: string }> {
  const fs = new MemoryFileSystem();
  const { manager, store } = await createVectorStore(cfg(fs, 'docs'));
  await store.insert([[1, 2, 3], [4, 5, 6]], ['a', 'b'], [{ x: 1 }, { x: 2 }]);
  await manager.disconnect();
  const file = fs.listAll().find((p) => p.startsWith(`${ROOT}/docs/`) && p.endsWith('.qvdb'))!;
  const b = fs.readFileSync(file);
  b[b.length - 100] ^= 0x20;
  fs.writeFileSync(file, b);
  return { fs, file };
}

test('a corrupted file makes connect fail with a typed error naming it; nothing on disk changes', async () => {
  const { fs, file } = await damagedStore();
  const before = files(fs, `${ROOT}/docs/`);
  await assert.rejects(createVectorStore(cfg(fs, 'docs')), (e: unknown) => {
    assert.ok(e instanceof VectorStoreConnectionError, String(e));
    assert.ok(e instanceof QuiverError);
    assert.ok(e.code === 'CORRUPT' || e.code === 'CHECKSUM_MISMATCH', e.code);
    assert.ok(e.message.includes(file), e.message);
    assert.ok(e.cause instanceof CorruptionError);
    assert.equal((e.cause as CorruptionError).file, file);
    return true;
  });
  assert.deepEqual(files(fs, `${ROOT}/docs/`), before, 'the damaged files are untouched');
  // And again: still failing, still untouched (never silently replaced by an empty store).
  await assert.rejects(createVectorStore(cfg(fs, 'docs')), VectorStoreConnectionError);
  assert.deepEqual(files(fs, `${ROOT}/docs/`), before);
});

test('recoverCorrupted moves the damaged directory aside, starts empty and says so', async () => {
  const { fs, file } = await damagedStore();
  const before = files(fs, `${ROOT}/docs/`);
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(' '));
  let info;
  try {
    const { manager, store } = await createVectorStore(cfg(fs, 'docs', { recoverCorrupted: true }));
    assert.equal((await store.list())[1], 0, 'the collection starts empty');
    await store.insert([[7, 8, 9]], ['new'], [{}]);
    info = manager.getInfo();
    await manager.disconnect();
  } finally {
    console.warn = warn;
  }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /WARNING: collection "docs" had damaged files .* STARTS EMPTY/);
  assert.doesNotMatch(warnings[0], /was not modified/, 'the damage, without advice that no longer holds');
  const rec = info.recoveredFromCorruption;
  assert.ok(rec);
  assert.equal(rec.file, file);
  assert.match(rec.movedTo, /^\/vs\/docs\.corrupt-/);
  assert.ok(warnings[0].includes(rec.movedTo));
  assert.deepEqual(files(fs, `${rec.movedTo}/`), before, 'the damaged files were moved, byte for byte, not deleted');
  const again = await createVectorStore(cfg(fs, 'docs'));
  assert.deepEqual((await again.store.list())[0].map((r) => r.id), ['new']);
  assert.equal(again.manager.getInfo().recoveredFromCorruption, undefined);
  await again.manager.disconnect();
});

test('a reference-004 directory is imported once, into the first collection that connects', async () => {
  const fs = new MemoryFileSystem();
  const meta = { dimension: 3, algorithm: 'brute-force', vectorCount: 3, faissAvailable: false, vectors: [[1, [1, 0, 0]], ['doc2', [0, 1, 0]], [3, [0, 0, 1]]] };
  const payloads = [[1, { title: 'one' }], ['doc2', { title: 'two', tags: ['x'] }]];
  fs.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from(JSON.stringify(meta, null, 2)));
  fs.writeFileSync(`${ROOT}/payloads.json`, Buffer.from(JSON.stringify(payloads, null, 2)));
  fs.writeFileSync(`${ROOT}/ann_index.faiss`, Buffer.from('placeholder'));
  const refBefore = files(fs, `${ROOT}/`);
  const a = await createVectorStore(cfg(fs, 'first'));
  const info = a.manager.getInfo();
  assert.equal(info.importedReference?.count, 3);
  assert.deepEqual(await a.store.get(1), { id: 1, score: 1, vector: [1, 0, 0], payload: { title: 'one' } });
  assert.deepEqual((await a.store.get('doc2'))?.payload, { title: 'two', tags: ['x'] });
  assert.deepEqual((await a.store.get(3))?.payload, {});
  await a.manager.disconnect();
  for (const name of ['ann_metadata.json', 'payloads.json', 'ann_index.faiss']) assert.equal(files(fs, `${ROOT}/`).get(name), refBefore.get(name), `${name} untouched`);
  assert.ok(fs.listAll().includes(`${ROOT}/${IMPORTED_MARKER}`));
  const b = await createVectorStore(cfg(fs, 'second'));
  assert.equal(b.manager.getInfo().importedReference, undefined);
  assert.equal((await b.store.list())[1], 0, 'the second collection does not import the same data again');
  await b.manager.disconnect();
  const a2 = await createVectorStore(cfg(fs, 'first'));
  assert.equal((await a2.store.list())[1], 3, 'the import is durable');
  assert.equal(a2.manager.getInfo().importedReference, undefined);
  await a2.manager.disconnect();
});

test('damaged reference-004 files: connect fails naming the file; recoverCorrupted moves them aside', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from('{"dimension": 3, "vectors": [[1, [1, 0'));
  const before = fs.listAll();
  await assert.rejects(createVectorStore(cfg(fs, 'c')), (e: unknown) => e instanceof VectorStoreConnectionError && e.code === 'CORRUPT' && e.message.includes(`${ROOT}/ann_metadata.json`));
  // Not even the import lock's directory (it was made before the files were read, while the error said
  // "Nothing was changed on disk").
  assert.deepEqual(fs.listAll(), before, 'nothing was created');
  fs.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from('{"dimension": 4, "vectors": []}'));
  // The interface's dimension error, as the README promises (it was a VectorStoreConnectionError).
  await assert.rejects(createVectorStore(cfg(fs, 'c')), (e: unknown) => e instanceof VectorDimensionError && e.code === 'DIMENSION_MISMATCH' && e.expectedDimension === 3 && e.actualDimension === 4);
  // The message names the file and the way out, not "embed with the collection's model".
  await assert.rejects(createVectorStore(cfg(fs, 'c')), (e: unknown) => e instanceof Error && e.message.includes(`${ROOT}/ann_metadata.json holds 4-dimensional`) && /importReferenceFiles: false/.test(e.message));
  const empty = await createVectorStore(cfg(fs, 'other', { importReferenceFiles: false }));
  assert.equal((await empty.store.list())[1], 0);
  await empty.manager.disconnect();
  fs.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from('not json'));
  const rec = await recoverQuietly(fs, 'c');
  assert.ok(rec && rec.movedTo.startsWith(`${ROOT}/ann_metadata.json.corrupt-`));
  assert.equal(Buffer.from(fs.readFileSync(rec.movedTo)).toString(), 'not json');
});

test('a damaged payloads.json moves the reference pair aside: no other collection imports the vectors without their payloads', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from('{"dimension": 3, "vectors": [[1, [1, 0, 0]], [2, [0, 1, 0]]]}'));
  fs.writeFileSync(`${ROOT}/payloads.json`, Buffer.from('[[1, {"title": "a"}], [2, {"ti'));
  const rec = await recoverQuietly(fs, 'c');
  assert.ok(rec && rec.movedTo.startsWith(`${ROOT}/payloads.json.corrupt-`), JSON.stringify(rec));
  assert.deepEqual(
    fs.listAll().filter((p) => p.startsWith(`${ROOT}/ann_metadata.json`) || p.startsWith(`${ROOT}/payloads.json`)).map((p) => p.replace(/corrupt-.*/, 'corrupt-*')).sort(),
    [`${ROOT}/ann_metadata.json.corrupt-*`, `${ROOT}/payloads.json.corrupt-*`],
  );
  const other = await createVectorStore(cfg(fs, 'b'));
  assert.equal(other.manager.getInfo().importedReference, undefined);
  assert.deepEqual((await other.store.list())[1], 0);
  await other.manager.disconnect();
});

test('a collection name that is a file in annIndexPath, or a reference file name, is refused and the file is left as it is', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from('{"dimension": 3, "vectors": [[1, [1, 0, 0]]]}'));
  fs.writeFileSync(`${ROOT}/payloads.json`, Buffer.from('[[1, {"title": "a"}]]'));
  fs.writeFileSync(`${ROOT}/ann_index.faiss`, Buffer.from('index bytes'));
  fs.writeFileSync(`${ROOT}/notes.txt`, Buffer.from('my notes'));
  const before = files(fs, `${ROOT}/`);
  for (const name of ['ann_index.faiss', 'notes.txt', 'payloads.json', 'ann_metadata.json', IMPORTED_MARKER]) {
    await assert.rejects(createVectorStore(cfg(fs, name)), (e: unknown) => e instanceof VectorStoreConnectionError && e.code === 'INVALID_ARGUMENT' && e.message.includes(`"${name}"`), name);
    assert.deepEqual(files(fs, `${ROOT}/`), before, `${name}: nothing changed`);
  }
  // Another name still imports the reference files.
  const ok = await createVectorStore(cfg(fs, 'docs'));
  assert.equal(ok.manager.getInfo().importedReference?.count, 1);
  await ok.manager.disconnect();
});

test('recoverCorrupted moves damaged reference files aside also for collections whose name is a prefix of theirs', async () => {
  for (const name of ['a', 'ann', 'ann_metadata', 'p', 'pay']) {
    const fs = new MemoryFileSystem();
    fs.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from('{"dimension": 3, "vectors": [[1, [1, 0'));
    fs.writeFileSync(`${ROOT}/payloads.json`, Buffer.from('[]'));
    const rec = await recoverQuietly(fs, name);
    assert.ok(rec && rec.movedTo.startsWith(`${ROOT}/ann_metadata.json.corrupt-`), `${name}: ${JSON.stringify(rec)}`);
    assert.ok(fs.listAll().some((p) => p.startsWith(`${ROOT}/payloads.json.corrupt-`)), `${name}: the pair moved together`);
  }
});

test('the reference import never touches another collection, and an interrupted one is finished by its own collection only', async () => {
  const mem = new MemoryFileSystem();
  const meta = { dimension: 3, vectors: [[1, [1, 0, 0]], [2, [0, 1, 0]]] };
  mem.writeFileSync(`${ROOT}/payloads.json`, Buffer.from(JSON.stringify([[1, { t: 'one' }]])));
  // A collection whose name looks like an import's staging directory: its data stays.
  const other = await createVectorStore(cfg(mem, 'first.importing-keep', { importReferenceFiles: false }));
  await other.store.insert([[0, 0, 1]], ['precious'], [{}]);
  await other.manager.disconnect();
  mem.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from(JSON.stringify(meta)));
  // The move into place fails once (as a crash between the marker and the rename would leave it).
  const fs = new FaultFileSystem(mem);
  fs.addFault({ at: 1, code: 'EIO', kinds: (op) => op.kind === 'rename' && /\.importing-[0-9a-f]+$/.test(op.path) });
  await assert.rejects(createVectorStore(cfg(fs as unknown as MemoryFileSystem, 'first')), (e: unknown) => e instanceof QuiverError && e.code === 'EIO');
  const kept = await createVectorStore(cfg(mem, 'first.importing-keep'));
  assert.equal((await kept.store.get('precious'))?.id, 'precious');
  assert.equal((await kept.store.list())[1], 1, 'it did not import the reference data either: the marker names "first"');
  await kept.manager.disconnect();
  const second = await createVectorStore(cfg(mem, 'second'));
  assert.equal((await second.store.list())[1], 0);
  await second.manager.disconnect();
  const first = await createVectorStore(cfg(mem, 'first'));
  assert.equal(first.manager.getInfo().importedReference?.count, 2, 'the collection the marker names imports on its next connect');
  assert.deepEqual((await first.store.get(1))?.payload, { t: 'one' });
  await first.manager.disconnect();
  assert.deepEqual(mem.listAll().filter((p) => p.includes('.importing-')).filter((p) => !p.startsWith(`${ROOT}/first.importing-keep`)), [], 'no staging directory is left');
});

test('two collections connecting at once: exactly one imports the reference files, and a finished import is never repeated', async () => {
  const mem = new MemoryFileSystem();
  mem.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from(JSON.stringify({ dimension: 3, vectors: [[1, [1, 0, 0]], [2, [0, 1, 0]]] })));
  const [x, y] = await Promise.all([createVectorStore(cfg(mem, 'x')), createVectorStore(cfg(mem, 'y'))]);
  const counts = [(await x.store.list())[1], (await y.store.list())[1]].sort();
  assert.deepEqual(counts, [0, 2]);
  await x.manager.disconnect();
  await y.manager.disconnect();
  const taker = counts[1] === (await createVectorStore(cfg(mem, 'x')).then(async (s) => { const n = (await s.store.list())[1]; await s.manager.disconnect(); return n; })) ? 'x' : 'y';
  await mem.rm(`${ROOT}/${taker}`, { recursive: true });
  const again = await createVectorStore(cfg(mem, taker));
  assert.equal((await again.store.list())[1], 0, 'its directory gone, the collection starts empty: the import was finished');
  await again.manager.disconnect();
});

test('two spellings of one annIndexPath are one directory: collections connecting at once through them import once', async () => {
  const mem = new MemoryFileSystem();
  mem.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from(JSON.stringify({ dimension: 3, vectors: [[1, [1, 0, 0]], [2, [0, 1, 0]]] })));
  const spellings = [ROOT, `${ROOT}/`, `${ROOT}/./`, `${ROOT}/x/..`];
  const stores = await Promise.all(spellings.map((annIndexPath, i) => createVectorStore(cfg(mem, `c${i}`, { annIndexPath }))));
  const counts = await Promise.all(stores.map(async (s) => (await s.store.list())[1]));
  assert.deepEqual(counts.sort(), [0, 0, 0, 2]);
  for (const s of stores) await s.manager.disconnect();
});

test('a staging directory left by a crashed import is removed when its collection connects, even after another collection imported', async () => {
  const mem = new MemoryFileSystem();
  mem.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from(JSON.stringify({ dimension: 3, vectors: [[1, [1, 0, 0]]] })));
  // "a" crashed after building its staging copy, before its marker; then "b" imported.
  mem.writeFileSync(`${ROOT}/.a.importing-0badc0de/CURRENT`, Buffer.from('a full copy of the data'));
  const b = await createVectorStore(cfg(mem, 'b'));
  assert.equal((await b.store.list())[1], 1);
  await b.manager.disconnect();
  assert.ok(mem.listAll().some((p) => p.startsWith(`${ROOT}/.a.importing-`)), 'not b\'s to remove');
  const a = await createVectorStore(cfg(mem, 'a'));
  assert.equal((await a.store.list())[1], 0);
  await a.manager.disconnect();
  assert.deepEqual(mem.listAll().filter((p) => p.includes('.importing-')), []);
});

test('collections of two processes connecting at once import the reference files once', async () => {
  const child = fileURLToPath(new URL('./fixtures/ref004-connect.js', import.meta.url));
  const run = promisify(execFile);
  const dim = 16;
  const vectors = Array.from({ length: 3000 }, (_, i) => [i, Array.from({ length: dim }, (_, d) => Math.sin(i + d))]);
  for (let round = 0; round < 3; round++) {
    const dir = await mkdtemp(join(tmpdir(), 'quiver-ref-import-'));
    try {
      await writeFile(join(dir, 'ann_metadata.json'), JSON.stringify({ dimension: dim, vectors }));
      const outs = await Promise.all(['p', 'q'].map((name) => run(process.execPath, [child, dir, name, String(dim)])));
      const seen = outs.map((o) => JSON.parse(o.stdout) as { total: number; imported: number });
      assert.deepEqual(seen.map((s) => s.total).sort((x, y) => x - y), [0, 3000], `round ${round}: ${JSON.stringify(seen)}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('reference payloads deeper than insert takes (the reference store took any depth) import; deeper than files may hold is damage', async () => {
  const nestedText = (levels: number): string => `{"d":${'['.repeat(levels - 1)}1${']'.repeat(levels - 1)}}`;
  for (const [levels, ok] of [[300, true], [1002, false]] as const) {
    const mem = new MemoryFileSystem();
    mem.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from(JSON.stringify({ dimension: 3, vectors: [[1, [1, 0, 0]]] })));
    mem.writeFileSync(`${ROOT}/payloads.json`, Buffer.from(`[[1,${nestedText(levels)}]]`));
    if (ok) {
      const { manager, store } = await createVectorStore(cfg(mem, 'deep'));
      assert.equal(manager.getInfo().importedReference?.count, 1);
      assert.ok((await store.get(1))?.payload, String(levels));
      await manager.disconnect();
    } else {
      await assert.rejects(createVectorStore(cfg(mem, 'deep')), (e: unknown) => e instanceof VectorStoreConnectionError && e.code === 'CORRUPT');
    }
  }
});

test('reference files beside a collection that already holds data are never read: damaged or of another dimension, they change nothing', async () => {
  for (const content of ['{"dimension": 3, "vectors": [[1, [1, 0', '{"dimension": 4, "vectors": [[1, [1, 0, 0, 0]]]}']) {
    const fs = new MemoryFileSystem();
    const a = await createVectorStore({ ...cfg(fs, 'a'), importReferenceFiles: false });
    await a.store.insert([[1, 2, 3], [4, 5, 6]], ['x', 'y'], [{}, {}]);
    await a.manager.disconnect();
    fs.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from(content));
    fs.writeFileSync(`${ROOT}/payloads.json`, Buffer.from('[]'));
    const before = fs.listAll();
    // A session's change read them first and failed this connect (CORRUPT, DIMENSION_MISMATCH), and with
    // recoverCorrupted moved them aside saying the collection starts empty.
    for (const recoverCorrupted of [false, true]) {
      const again = await createVectorStore({ ...cfg(fs, 'a'), recoverCorrupted });
      assert.equal((await again.store.list())[1], 2);
      assert.equal(again.manager.getInfo().importedReference, undefined);
      await again.manager.disconnect();
    }
    assert.deepEqual(fs.listAll().filter((p) => !p.startsWith(`${ROOT}/a/`)), before.filter((p) => !p.startsWith(`${ROOT}/a/`)), 'the reference files are where they were');
  }
});

test('reference files holding more vectors than maxVectors are not imported: LIMIT_EXCEEDED naming the file, nothing created', async () => {
  const fs = new MemoryFileSystem();
  const vectors = Array.from({ length: 8 }, (_, i) => [i, [i + 1, 1, 0]]);
  fs.writeFileSync(`${ROOT}/ann_metadata.json`, Buffer.from(JSON.stringify({ dimension: 3, vectors })));
  fs.writeFileSync(`${ROOT}/payloads.json`, Buffer.from(JSON.stringify(vectors.map(([id]) => [id, { i: id }]))));
  const before = fs.listAll();
  await assert.rejects(createVectorStore(cfg(fs, 'c', { maxVectors: 5 })), (e: unknown) => (e as { code?: string }).code === 'LIMIT_EXCEEDED' && (e as Error).message.includes(`${ROOT}/ann_metadata.json holds 8 vectors`));
  assert.deepEqual(fs.listAll(), before, 'nothing was created');
  const { store, manager } = await createVectorStore(cfg(fs, 'c', { maxVectors: 8 }));
  assert.equal((await store.list())[1], 8);
  await manager.disconnect();
});
