/**
 * Issue-4 figures: durable single inserts per second in each durability mode with 1 and 32 concurrent
 * writers next to better-sqlite3 (WAL, synchronous=FULL, one transaction per insert) measured in the
 * same run; bulk load through the store; reopen (checkpoint, checkpoint + log) against raw reads of
 * the same bytes; log replay rate; and 1,000 single inserts through the reference-004 store against a
 * faithful re-implementation of the reference's persistence (every vector and payload rewritten as
 * pretty JSON after every insert).
 */
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Metadata } from '../src/engine/types.js';
import { openVectorDB, type DurableVectorDB } from '../src/store/durable-db.js';
import { createVectorStore } from '../src/store/ref004/factory.js';
import type { Durability } from '../src/wal/types.js';
import { clusteredDataset, prng, smallMetadata } from '../support/datasets.js';
import type { BenchSettings } from './persistence.js';
import { rawRead, rawWrite } from './raw.js';
import { median, Report, settleFs, settleMemory } from './report.js';

/** The part of better-sqlite3's API used here (the package ships no types). */
interface SqliteDb {
  pragma(p: string): unknown;
  exec(sql: string): void;
  prepare(sql: string): { run(...args: unknown[]): unknown };
  transaction(fn: () => void): () => void;
  close(): void;
}

const SUITE = 'store';
const DIM = 384;

function randomVectors(count: number, dim: number, seed: number): Float32Array[] {
  const rnd = prng(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: dim }, () => rnd() * 2 - 1));
}

/** Inserts per second over `ms` of inserts from `writers` concurrent loops (each awaits its own insert). */
async function storeRate(dir: string, durability: Durability, writers: number, ms: number, vectors: Float32Array[]): Promise<number> {
  rmSync(dir, { recursive: true, force: true });
  const db = await openVectorDB(dir, { dimension: DIM, durability });
  let next = 0;
  const stopAt = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: writers }, async () => {
    while (performance.now() < stopAt) {
      const i = next++;
      await db.insert({ id: `doc-${i}`, vector: vectors[i % vectors.length], metadata: smallMetadata(i) });
    }
  }));
  const rate = next / ((performance.now() - t0) / 1000);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

/** better-sqlite3 single inserts per second: WAL, synchronous=FULL, one transaction per insert. */
function sqliteRate(file: string, ms: number, vectors: Float32Array[]): number {
  const Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => SqliteDb;
  rmSync(file, { force: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE vectors (id TEXT PRIMARY KEY, vector BLOB NOT NULL, metadata TEXT)');
  const stmt = db.prepare('INSERT OR REPLACE INTO vectors (id, vector, metadata) VALUES (?, ?, ?)');
  let n = 0;
  const stopAt = performance.now() + ms;
  const t0 = performance.now();
  while (performance.now() < stopAt) {
    const i = n++;
    const v = vectors[i % vectors.length];
    db.transaction(() => stmt.run(`doc-${i}`, Buffer.from(v.buffer, v.byteOffset, v.byteLength), JSON.stringify(smallMetadata(i))))();
  }
  const rate = n / ((performance.now() - t0) / 1000);
  db.close();
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  return rate;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    total += s.isDirectory() ? dirBytes(p) : s.size;
  }
  return total;
}

/** Raw read of every file of a directory tree (the bytes a reopen must read), ms. */
function rawReadDir(dir: string): number {
  let ms = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    ms += statSync(p).isDirectory() ? rawReadDir(p) : rawRead(p);
  }
  return ms;
}

async function timeOpen(dir: string, rounds: number, raw?: () => number): Promise<{ ms: number; rawMs: number; db: DurableVectorDB; opens: number[]; raws: number[] }> {
  // The directory was just written (without fsync in durability 'none'): have it written back first,
  // as it has been by the time a process restarts, instead of during the timed opens.
  await settleFs(dir);
  const times: number[] = [];
  const raws: number[] = [];
  let last: DurableVectorDB | undefined;
  for (let r = 0; r < rounds; r++) {
    await settleMemory();
    if (raw) {
      raws.push(raw());
      await settleMemory();
    }
    const t0 = performance.now();
    const db = await openVectorDB(dir, { readOnly: true });
    times.push(performance.now() - t0);
    // Only the last one is kept (checked by the caller); the others are closed outside the timing.
    if (r < rounds - 1) await db.close();
    else last = db;
  }
  return { ms: median(times), rawMs: raws.length ? median(raws) : NaN, db: last!, opens: times.map(Math.round), raws: raws.map(Math.round) };
}

/** Each round's open and raw read, ms (for the JSON: the spread behind a median). */
function roundsOf(t: { opens: number[]; raws: number[] }): Record<string, string> {
  return { opens: t.opens.join(' '), rawReads: t.raws.join(' ') };
}

async function singleInserts(report: Report, s: BenchSettings, quick: boolean): Promise<void> {
  const ms = quick ? 300 : 2000;
  const vectors = randomVectors(256, DIM, 11);
  const sqlite = sqliteRate(join(s.dir, 'sqlite.db'), ms, vectors);
  report.add({ suite: SUITE, name: 'better-sqlite3 single inserts (WAL, synchronous=FULL, 1 txn each)', value: sqlite, unit: 'inserts/s' });
  for (const durability of ['sync', 'interval', 'none'] as const) {
    for (const writers of [1, 32]) {
      const rate = await storeRate(join(s.dir, `single-${durability}-${writers}`), durability, writers, ms, vectors);
      const row = report.add({ suite: SUITE, name: `durable single inserts, ${durability}, ${writers} writer${writers > 1 ? 's' : ''}`, value: rate, unit: 'inserts/s', baseline: sqlite, baselineName: 'sqlite' });
      if (durability === 'sync' && writers === 32) {
        row.target = '≥ 3× sqlite';
        row.pass = (row.ratio ?? 0) >= 3;
      }
    }
  }
}

async function bulkAndReopen(report: Report, s: BenchSettings): Promise<void> {
  const data = clusteredDataset(s.n, DIM, 7);
  const bytes = new Uint8Array(data.vectors.buffer, data.vectors.byteOffset, data.vectors.byteLength);
  const rawFile = join(s.dir, 'raw.bin');
  const rawW = median(Array.from({ length: Math.max(3, s.rounds) }, () => rawWrite(rawFile, bytes)));
  rmSync(rawFile, { force: true });
  const mb = (bytes.length / 1e6).toFixed(1);

  const dir = join(s.dir, 'bulk');
  rmSync(dir, { recursive: true, force: true });
  const t0 = performance.now();
  const db = await openVectorDB(dir, { dimension: DIM, durability: 'sync' });
  for (let i = 0; i < s.n; i += 1000) {
    const end = Math.min(s.n, i + 1000);
    const batch = [];
    for (let j = i; j < end; j++) batch.push({ id: data.ids[j], vector: data.vectors.subarray(j * DIM, (j + 1) * DIM), metadata: data.metadata[j] as Metadata });
    await db.insertBatch(batch);
  }
  await db.close();
  const loadMs = performance.now() - t0;
  report.ratio(SUITE, `bulk load ${s.n}×${DIM} (batches of 1000, sync) + close`, loadMs, 'ms', rawW, `raw write+fsync ${mb} MB`, undefined, { bytes: dirBytes(dir) });

  const ckpt = readdirSync(dir).find((n) => n.endsWith('.qvdb'))!;
  const reopen = await timeOpen(dir, s.pairedRounds, () => rawRead(join(dir, ckpt)));
  if (reopen.db.len() !== s.n) throw new Error(`reopen found ${reopen.db.len()} entries, expected ${s.n}`);
  report.ratio(SUITE, 'reopen after close (checkpoint only) until searchable', reopen.ms, 'ms', reopen.rawMs, 'raw read of the checkpoint, same rounds', 2, roundsOf(reopen));
  await reopen.db.close();

  // Checkpoint + a log tail of 10% single upserts.
  const tail = Math.max(1, Math.floor(s.n / 10));
  const w = await openVectorDB(dir, { durability: 'none', checkpointOnClose: false, checkpointBytes: Infinity, checkpointRecords: Infinity });
  for (let i = 0; i < tail; i++) void w.insert({ id: `tail-${i}`, vector: data.vectors.subarray(i * DIM, (i + 1) * DIM), metadata: smallMetadata(i) });
  await w.close();
  const mixed = await timeOpen(dir, s.pairedRounds, () => rawReadDir(dir));
  if (mixed.db.recovery.replayedRecords !== tail) throw new Error(`replayed ${mixed.db.recovery.replayedRecords}, expected ${tail}`);
  report.ratio(SUITE, `reopen: checkpoint + log of ${tail} records`, mixed.ms, 'ms', mixed.rawMs, 'raw read of the same files, same rounds', 2, roundsOf(mixed));
  await mixed.db.close();
  rmSync(dir, { recursive: true, force: true });
}

/** Writes a log-only store directory of `records` upserts (the dataset is garbage once this returns). */
async function writeLogOnly(dir: string, records: number): Promise<void> {
  const data = clusteredDataset(records, DIM, 7);
  const l = await openVectorDB(dir, { dimension: DIM, durability: 'none', checkpointOnClose: false, checkpointBytes: Infinity, checkpointRecords: Infinity });
  for (let i = 0; i < records; i++) void l.insert({ id: data.ids[i], vector: data.vectors.subarray(i * DIM, (i + 1) * DIM), metadata: data.metadata[i] as Metadata });
  await l.close();
}

/**
 * Replay rate: a directory whose content is all in the log, opened with nothing else of the benchmark's
 * alive (a process replaying its log at startup holds no other copy of the data; leftover databases
 * in the heap would make every garbage collection during the replay longer).
 */
async function logReplay(report: Report, s: BenchSettings): Promise<void> {
  const logOnly = join(s.dir, 'log-only');
  const records = Math.min(s.n, 100_000);
  await writeLogOnly(logOnly, records);
  // The baseline, as a rate: reading the same files into a fresh buffer of their size in the same
  // rounds. Its first touches of fresh memory cost what the replay's slab costs on this machine at
  // that moment, which on a virtual machine can change several-fold within minutes.
  const replay = await timeOpen(logOnly, s.pairedRounds, () => rawReadDir(logOnly));
  const replayed = replay.db.recovery.replayedRecords;
  if (replayed !== records) throw new Error(`replayed ${replayed} of ${records} records`);
  const rate = replayed / (replay.ms / 1000);
  const rawRate = replayed / (replay.rawMs / 1000);
  report.add({
    suite: SUITE,
    name: `log replay, ${records} upserts of ${DIM}-d (log-only directory)`,
    value: rate,
    unit: 'records/s',
    baseline: rawRate,
    baselineName: 'raw read of the log, same rounds',
    target: '≥ 200000',
    pass: rate >= 200_000,
    extra: { ms: Math.round(replay.ms), rawReadMs: Math.round(replay.rawMs), ...roundsOf(replay), logBytes: dirBytes(logOnly) },
  });
  await replay.db.close();
  rmSync(logOnly, { recursive: true, force: true });
}

/** The reference-004 persistence, faithfully: every insert rewrites all vectors and payloads as pretty JSON, in place. */
function referenceInserts(dir: string, count: number, vectors: Float32Array[]): number {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const stored = new Map<string, number[]>();
  const payloads = new Map<string, Record<string, unknown>>();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    stored.set(`doc-${i}`, Array.from(vectors[i % vectors.length]));
    payloads.set(`doc-${i}`, smallMetadata(i));
    const meta = { dimension: DIM, algorithm: 'brute-force', vectorCount: stored.size, faissAvailable: false, vectors: [...stored.entries()] };
    writeFileSync(join(dir, 'ann_metadata.json'), JSON.stringify(meta, null, 2));
    writeFileSync(join(dir, 'payloads.json'), JSON.stringify([...payloads.entries()], null, 2));
    writeFileSync(join(dir, 'ann_index.faiss'), 'placeholder');
  }
  const ms = performance.now() - t0;
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

async function reference004(report: Report, s: BenchSettings, quick: boolean): Promise<void> {
  const count = quick ? 100 : 1000;
  const vectors = randomVectors(64, DIM, 5);
  const root = join(s.dir, 'ref004');
  rmSync(root, { recursive: true, force: true });
  const t0 = performance.now();
  const { manager, store } = await createVectorStore({ type: 'in-memory', collectionName: 'bench', dimension: DIM, maxVectors: count, annIndexPath: root });
  for (let i = 0; i < count; i++) await store.insert([Array.from(vectors[i % vectors.length])], [`doc-${i}`], [smallMetadata(i)]);
  await manager.disconnect();
  const ours = performance.now() - t0;
  rmSync(root, { recursive: true, force: true });
  const theirs = referenceInserts(join(s.dir, 'ref004-json'), count, vectors);
  report.add({ suite: SUITE, name: `reference-004 behaviour: ${count} single inserts, JSON rewrite each (no fsync)`, value: theirs, unit: 'ms' });
  report.add({ suite: SUITE, name: `reference-004 API on the durable store: ${count} single inserts (sync, fsynced)`, value: ours, unit: 'ms', baseline: theirs, baselineName: 'JSON rewrite' });
}

/** Runs the store suite into `report`. `settings.rounds === 1` is taken as quick mode. */
export async function benchStore(report: Report, settings: BenchSettings): Promise<void> {
  const s = { ...settings, dir: join(settings.dir, 'store') };
  const quick = settings.rounds <= 1;
  rmSync(s.dir, { recursive: true, force: true });
  mkdirSync(s.dir, { recursive: true });
  try {
    await singleInserts(report, s, quick);
    await bulkAndReopen(report, s);
    await logReplay(report, s);
    await reference004(report, s, quick);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
}
