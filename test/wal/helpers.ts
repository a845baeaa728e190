// Shared helpers of the WAL tests: sample records, reading a whole log, and comparing what was
// appended with what was read back (vectors bit-exact as float32).
import assert from 'node:assert/strict';
import type { FileSystem } from '../../src/env/fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { readWal, type ReadWalOptions, type WalReadSummary } from '../../src/wal/reader.js';
import type { DecodedRecord, WalEntry, WalOp, WalRecord } from '../../src/wal/types.js';
import { WalWriter, type WalWriterOptions } from '../../src/wal/writer.js';

export const DIR = '/db/wal';

/** Reads the whole log; returns the entries and the reader's summary. */
export async function readAll(fs: FileSystem, dir = DIR, options: ReadWalOptions = {}): Promise<{ entries: WalEntry[]; summary: WalReadSummary }> {
  const reader = readWal(fs, dir, options);
  const entries: WalEntry[] = [];
  for await (const e of reader) entries.push(e);
  assert.ok(reader.summary, 'a completed read has a summary');
  return { entries, summary: reader.summary };
}

/** A deterministic vector whose float32 bits depend on `i` (includes -0, subnormals and big values). */
export function vec(i: number, dim = 8): Float32Array {
  const v = new Float32Array(dim);
  for (let d = 0; d < dim; d++) v[d] = Math.sin(i * 31 + d) * 10 ** ((d % 5) - 2);
  if (dim > 2) {
    v[1] = -0;
    v[2] = 1.4e-45 * (i + 1);
  }
  return v;
}

/** The i-th record of a deterministic stream covering every record type. */
export function sampleRecord(i: number, dim = 8): WalRecord {
  switch (i % 6) {
    case 0:
      return { type: 'upsert', id: `doc-${i}-é😀`, vector: vec(i, dim), metadata: { i, tag: ['a', 'β'], nested: { ok: true, n: null } } };
    case 1:
      return { type: 'upsert', id: i * 1000 + 7, vector: Array.from(vec(i, dim)) };
    case 2:
      return { type: 'updateMetadata', id: `doc-${i - 2}-é😀`, metadata: { i, updated: 'yes' } };
    case 3:
      return { type: 'delete', id: (i - 2) * 1000 + 7 };
    case 4:
      return { type: 'batch', ops: [{ type: 'upsert', id: `b${i}`, vector: vec(i, dim) }, { type: 'delete', id: `doc-${i - 4}-é😀` }, { type: 'updateMetadata', id: `b${i}` }] };
    default:
      return { type: 'clear' };
  }
}

function expectedOp(op: WalOp): unknown {
  if (op.type === 'upsert') {
    const o: Record<string, unknown> = { type: 'upsert', id: op.id, vector: Float32Array.from(op.vector) };
    if (op.metadata !== undefined) o.metadata = op.metadata;
    return o;
  }
  if (op.type === 'updateMetadata' && op.metadata === undefined) return { type: 'updateMetadata', id: op.id };
  return op;
}

/** What a reader must return for `record`. */
export function expected(record: WalRecord): DecodedRecord {
  if (record.type === 'batch') return { type: 'batch', ops: record.ops.map(expectedOp) } as DecodedRecord;
  return expectedOp(record) as DecodedRecord;
}

/** Asserts bit-exact equality of decoded records (Float32Array contents compared as bytes). */
export function assertSameRecord(actual: DecodedRecord, record: WalRecord, where: string): void {
  const bits = (r: unknown): unknown =>
    JSON.parse(JSON.stringify(r, (_k, v: unknown) => (v instanceof Float32Array ? { f32: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') } : v)));
  assert.deepEqual(bits(actual), bits(expected(record)), where);
  const walk = (r: DecodedRecord): void => {
    const ops = r.type === 'batch' ? r.ops : [r];
    for (const op of ops) if (op.type === 'upsert') assert.ok(op.vector instanceof Float32Array, `${where}: vectors come back as Float32Array`);
  };
  walk(actual);
}

/** Asserts `entries` are exactly records[0..n) with seqs first..first+n-1. */
export function assertPrefix(entries: WalEntry[], records: WalRecord[], firstSeq = 1, where = ''): void {
  for (let i = 0; i < entries.length; i++) {
    assert.equal(entries[i].seq, firstSeq + i, `${where} entry ${i} seq`);
    assertSameRecord(entries[i].record, records[i], `${where} entry ${i}`);
  }
}

/** Writes `n` sample records one append each in a fresh memory fs; returns the fs and the records. */
export async function writeLog(n: number, options: WalWriterOptions = {}, dir = DIR): Promise<{ fs: MemoryFileSystem; records: WalRecord[] }> {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, dir, options);
  const records: WalRecord[] = [];
  for (let i = 0; i < n; i++) {
    records.push(sampleRecord(i));
    await w.append(records[i]);
  }
  await w.close();
  return { fs, records };
}

/** Rejects-with-code assertion for QuiverErrors and OS errors. */
export async function rejectsCode(p: Promise<unknown>, code: string, where = ''): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    assert.equal((err as { code?: unknown }).code, code, `${where}: ${(err as Error).message}`);
    return err;
  }
  assert.fail(`${where}: expected a rejection with ${code}`);
}
