import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { CorruptionError } from '../../../src/errors.js';
import { readQvdb, readQvdbInfo, writeQvdb } from '../../../src/format/qvdb/index.js';
import { Codec, SectionType } from '../../../src/format/qvdb/constants.js';
import { VectorDB } from '../../../src/engine/vector-db.js';
import type { Metric } from '../../../src/engine/types.js';
import { DatabasePersistence } from '../../../src/persistence/database-persistence.js';
import { normAt, takeNorms } from '../../../src/util/hash-norms.js';
import { makeImage, randomVectors } from '../../support/image.js';
import { assembleFile, parseFile } from './surgery.js';

const DIM = 12;
const N = 300;

function database(metric: Metric = 'cosine'): VectorDB {
  const db = new VectorDB({ dimension: DIM, metric });
  const v = randomVectors(N, DIM, 17);
  for (let i = 0; i < N; i++) db.insert({ id: `doc-${i}`, vector: v.subarray(i * DIM, (i + 1) * DIM), metadata: { i } });
  // Reused and overwritten slots: the image's norms must follow its view order, not slot numbers.
  for (let i = 0; i < N; i += 7) db.delete(`doc-${i}`);
  for (let i = 0; i < N; i += 11) db.insert({ id: `doc-${i}`, vector: v.subarray(((i + 5) % N) * DIM, (((i + 5) % N) + 1) * DIM) });
  return db;
}

async function save(db: VectorDB, fs: MemoryFileSystem, path = '/db.qvdb', compression?: 'gzip'): Promise<void> {
  const image = db.openWriterImage();
  try {
    await writeQvdb(fs, path, image, { compression });
  } finally {
    image.release();
  }
}

function storedNorms(fs: MemoryFileSystem, path = '/db.qvdb'): Float64Array | undefined {
  const s = parseFile(fs.readFileSync(path)).sections.find((x) => x.type === SectionType.NORMS);
  return s && new Float64Array(Uint8Array.from(s.stored).buffer);
}

/** The file at `path` with its NORMS section's bytes replaced (hashes, directory and footer made anew). */
function withNorms(fs: MemoryFileSystem, path: string, norms: Float64Array | undefined, rawLength?: number): void {
  const f = parseFile(fs.readFileSync(path));
  const sections = f.sections.filter((s) => s.type !== SectionType.NORMS);
  if (norms) {
    const stored = new Uint8Array(norms.buffer.slice(norms.byteOffset, norms.byteOffset + norms.byteLength));
    sections.push({ type: SectionType.NORMS, codec: Codec.NONE, level: 0, stored, rawLength: rawLength ?? stored.length });
  }
  fs.writeFileSync(path, assembleFile(f.kind, sections));
}

async function topScores(db: VectorDB, fs: MemoryFileSystem, verifyChecksum: boolean): Promise<string> {
  const loaded = new VectorDB({ dimension: DIM, metric: db.stats().metric as Metric });
  await new DatabasePersistence(loaded, { baseDir: '/', fs }).load({ path: '/db.qvdb', verifyChecksum });
  const q = randomVectors(3, DIM, 99);
  return JSON.stringify([0, 1, 2].map((j) => loaded.search({ vector: q.subarray(j * DIM, (j + 1) * DIM), k: 10 }).map((h) => [h.id, h.score])));
}

test('a full save of a cosine database stores the engine\'s norms in view order, bit for bit what normAt gives', async () => {
  const db = database();
  const fs = new MemoryFileSystem();
  await save(db, fs);
  const info = await readQvdbInfo(fs, '/db.qvdb');
  const entry = info.directory.find((d) => d.section === 'norms');
  assert.ok(entry, 'a NORMS section is written');
  assert.equal(entry.rawLength, db.len() * 8);
  assert.equal(entry.compression, 'none');
  const norms = storedNorms(fs);
  assert.ok(norms);
  const r = await readQvdb(fs, '/db.qvdb', { verifyChecksum: false });
  assert.ok(r.kind === 'full');
  for (let i = 0; i < r.columns.ids.length; i++) assert.equal(norms[i], normAt(r.columns.vectors, i * DIM, DIM), `entry ${i} (${String(r.columns.ids[i])})`);
  // Compressed saves carry them too (stored plain).
  const gz = new MemoryFileSystem();
  await save(db, gz, '/db.qvdb', 'gzip');
  assert.deepEqual(storedNorms(gz), norms);
});

test('no NORMS for other metrics, for deltas, or for images that have no norms', async () => {
  const fs = new MemoryFileSystem();
  await save(database('euclidean'), fs);
  assert.equal((await readQvdbInfo(fs, '/db.qvdb')).directory.some((d) => d.section === 'norms'), false);
  const db = database();
  const p = new DatabasePersistence(db, { baseDir: '/', fs, incremental: true });
  const base = await p.save({ path: '/inc.qvdb' });
  db.insert({ id: 'doc-new', vector: randomVectors(1, DIM, 3) });
  const delta = await p.saveIncremental();
  assert.ok(delta && delta !== base);
  assert.equal((await readQvdbInfo(fs, delta)).directory.some((d) => d.section === 'norms'), false);
  assert.ok((await readQvdbInfo(fs, base)).directory.some((d) => d.section === 'norms'));
  const v = randomVectors(4, DIM, 1);
  await writeQvdb(fs, '/plain.qvdb', makeImage({ dimension: DIM, ids: ['a', 'b', 'c', 'd'], vectors: v }));
  assert.equal((await readQvdbInfo(fs, '/plain.qvdb')).directory.some((d) => d.section === 'norms'), false);
});

test('a verified load takes the stored norms; without verification it computes them, and both search alike', async () => {
  const db = database();
  const fs = new MemoryFileSystem();
  await save(db, fs);
  const stored = storedNorms(fs);
  const r = await readQvdb(fs, '/db.qvdb');
  assert.ok(r.kind === 'full');
  assert.deepEqual(takeNorms(r.columns.vectors), stored, 'the stored norms are handed to the engine');
  const before = JSON.stringify([0, 1, 2].map((j) => db.search({ vector: randomVectors(3, DIM, 99).subarray(j * DIM, (j + 1) * DIM), k: 10 }).map((h) => [h.id, h.score])));
  assert.equal(await topScores(db, fs, true), before);
  assert.equal(await topScores(db, fs, false), before);
});

test('stored norms are trusted only with verification: unverified loads compute them from the vectors', async () => {
  const db = database();
  const fs = new MemoryFileSystem();
  await save(db, fs);
  const expected = await topScores(db, fs, false);
  // Finite, non-negative, wrong norms with fresh checksums (a forged file): an unverified load ignores them.
  const wrong = (storedNorms(fs) as Float64Array).map((x) => x * 3);
  withNorms(fs, '/db.qvdb', wrong);
  assert.equal(await topScores(db, fs, false), expected);
  const r = await readQvdb(fs, '/db.qvdb', { verifyChecksum: false });
  assert.ok(r.kind === 'full' && takeNorms(r.columns.vectors) === undefined);
});

test('damaged NORMS: a flipped byte is a checksum mismatch, a wrong length or a non-finite or negative norm is corruption', async () => {
  const db = database();
  const fs = new MemoryFileSystem();
  await save(db, fs);
  const good = fs.readFileSync('/db.qvdb');
  const entry = (await readQvdbInfo(fs, '/db.qvdb')).directory.find((d) => d.section === 'norms');
  assert.ok(entry);
  const flipped = Uint8Array.from(good);
  flipped[entry.offset + 13] ^= 0x10;
  fs.writeFileSync('/db.qvdb', flipped);
  await assert.rejects(readQvdb(fs, '/db.qvdb'), (e: unknown) => e instanceof CorruptionError && e.section === 'norms' && e.code === 'CHECKSUM_MISMATCH');

  const norms = storedNorms(fs) as Float64Array;
  for (const bad of [NaN, Infinity, -1]) {
    fs.writeFileSync('/db.qvdb', good);
    const forged = Float64Array.from(norms);
    forged[5] = bad;
    withNorms(fs, '/db.qvdb', forged);
    await assert.rejects(readQvdb(fs, '/db.qvdb'), (e: unknown) => e instanceof CorruptionError && e.section === 'norms' && /entry 5/.test(e.message), String(bad));
  }
  fs.writeFileSync('/db.qvdb', good);
  withNorms(fs, '/db.qvdb', norms.subarray(0, norms.length - 1));
  for (const verifyChecksum of [true, false]) {
    await assert.rejects(readQvdb(fs, '/db.qvdb', { verifyChecksum }), (e: unknown) => e instanceof CorruptionError && e.section === 'norms' && /x 8/.test(e.message));
  }
});

test('files without NORMS (older writers) load with computed norms; a NORMS section in a delta is ignored', async () => {
  const db = database();
  const fs = new MemoryFileSystem();
  await save(db, fs);
  const expected = await topScores(db, fs, true);
  withNorms(fs, '/db.qvdb', undefined);
  assert.equal((await readQvdbInfo(fs, '/db.qvdb')).directory.some((d) => d.section === 'norms'), false);
  assert.equal(await topScores(db, fs, true), expected);

  const p = new DatabasePersistence(db, { baseDir: '/', fs, incremental: true });
  await p.save({ path: '/inc.qvdb' });
  db.insert({ id: 'doc-new', vector: randomVectors(1, DIM, 3) });
  const deltaPath = await p.saveIncremental();
  assert.ok(deltaPath);
  // Any bytes will do: readers do not look at NORMS in a delta (but the chain links by file checksum,
  // so only the delta is read directly here).
  withNorms(fs, deltaPath, new Float64Array([NaN, NaN, NaN]));
  const r = await readQvdb(fs, deltaPath);
  assert.ok(r.kind === 'delta');
  assert.deepEqual(r.delta.ids, ['doc-new']);
});
