// Round trip of every record type through the writer and reader, in every durability mode, and
// the encoding contract: records are copied at append time, bad input is a typed error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { NodeFileSystem } from '../../src/env/node-fs.js';
import { CorruptionError } from '../../src/errors.js';
import { WalWriter } from '../../src/wal/writer.js';
import { segmentName } from '../../src/wal/constants.js';
import type { WalRecord } from '../../src/wal/types.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertPrefix, DIR, readAll, rejectsCode, sampleRecord, vec } from './helpers.js';

for (const durability of ['sync', 'interval', 'none'] as const) {
  test(`every record type round-trips bit-exactly (${durability})`, async () => {
    const fs = new MemoryFileSystem();
    const w = await WalWriter.open(fs, DIR, { durability, intervalMs: 5 });
    const records: WalRecord[] = [];
    for (let i = 0; i < 30; i++) records.push(sampleRecord(i));
    const seqs: number[] = [];
    for (const r of records) seqs.push(await w.append(r));
    assert.deepEqual(seqs, records.map((_, i) => i + 1));
    await w.close();
    const { entries, summary } = await readAll(fs);
    assert.equal(entries.length, records.length);
    assertPrefix(entries, records);
    assert.equal(summary.lastSeq, 30);
    assert.equal(summary.tornTail, undefined);
  });
}

test('ids keep their type and value: unicode strings, empty string, integers, floats, negatives', async () => {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR);
  const ids = ['', 'plain', 'ünïcødé', '😀🇩🇪', 'a\u0000b', 0, -1, 42, 2 ** 53 - 1, 1.5, -0.25, '42'];
  const records: WalRecord[] = ids.map((id, i) => ({ type: 'upsert', id, vector: vec(i, 3) }));
  await w.append(records);
  await w.close();
  const { entries } = await readAll(fs);
  assert.deepEqual(entries.map((e) => (e.record as { id: unknown }).id), ids);
  assert.equal(typeof (entries[11].record as { id: unknown }).id, 'string');
  assertPrefix(entries, records);
});

test('vectors are bit-exact float32, including NaN payloads, infinities, -0 and subnormals, at 384 and 1536 dims', async () => {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR);
  const odd = new Float32Array(new Uint32Array([0x7fc00001, 0xff800000, 0x7f800000, 0x80000000, 0x00000001, 0x7f7fffff]).buffer);
  const big = new Float32Array(1536).map((_, i) => Math.cos(i) * 1e-3);
  const records: WalRecord[] = [
    { type: 'upsert', id: 'odd', vector: odd },
    { type: 'upsert', id: 'v384', vector: vec(3, 384) },
    { type: 'upsert', id: 'v1536', vector: big },
    { type: 'upsert', id: 'empty', vector: [] },
  ];
  await w.append(records);
  await w.close();
  const { entries } = await readAll(fs);
  const got = entries[0].record as { vector: Float32Array };
  assert.deepEqual(new Uint32Array(got.vector.buffer, got.vector.byteOffset, got.vector.length), new Uint32Array(odd.buffer));
  assertPrefix(entries, records);
});

test('metadata survives exactly: nesting, arrays, unicode keys, key order, __proto__ as a plain key', async () => {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR);
  const meta = JSON.parse('{"z":1,"a":{"b":[1,2.5,-3e-300,"x",null,true,{"deep":["😀"]}]},"ключ":"значение","__proto__":{"polluted":true},"":0}') as Record<string, unknown>;
  await w.append({ type: 'upsert', id: 1, vector: [1, 2], metadata: meta });
  await w.append({ type: 'updateMetadata', id: 1, metadata: meta });
  await w.append({ type: 'updateMetadata', id: 1 });
  await w.close();
  const { entries } = await readAll(fs);
  const m = (entries[0].record as { metadata: Record<string, unknown> }).metadata;
  assert.deepEqual(Object.keys(m), ['z', 'a', 'ключ', '__proto__', '']);
  assert.equal(Object.getPrototypeOf(m), Object.prototype);
  assert.deepEqual(JSON.stringify(m), JSON.stringify(meta));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(JSON.stringify((entries[1].record as { metadata: unknown }).metadata), JSON.stringify(meta));
  assert.deepEqual(entries[2].record, { type: 'updateMetadata', id: 1 });
});

test('records are encoded at append time: mutating the caller arrays afterwards changes nothing', async () => {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR, { durability: 'none' });
  const v = [1, 2, 3];
  const f = new Float32Array([4, 5, 6]);
  const meta = { tags: ['x'] };
  const batch: WalRecord = { type: 'batch', ops: [{ type: 'upsert', id: 'b', vector: f }] };
  const p1 = w.append({ type: 'upsert', id: 'a', vector: v, metadata: meta });
  const p2 = w.append(batch);
  v[0] = 99;
  f[0] = 99;
  meta.tags.push('y');
  batch.ops.push({ type: 'clear' });
  await Promise.all([p1, p2]);
  await w.close();
  const { entries } = await readAll(fs);
  assert.deepEqual(entries[0].record, { type: 'upsert', id: 'a', vector: new Float32Array([1, 2, 3]), metadata: { tags: ['x'] } });
  assert.deepEqual(entries[1].record, { type: 'batch', ops: [{ type: 'upsert', id: 'b', vector: new Float32Array([4, 5, 6]) }] });
});

test('an empty batch and a batch of every op type round-trip', async () => {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR);
  const records: WalRecord[] = [
    { type: 'batch', ops: [] },
    { type: 'batch', ops: [{ type: 'clear' }, { type: 'upsert', id: 7, vector: vec(1, 4), metadata: { a: 1 } }, { type: 'delete', id: 'x' }, { type: 'updateMetadata', id: 7, metadata: { b: [2] } }] },
  ];
  await w.append(records);
  await w.close();
  assertPrefix((await readAll(fs)).entries, records);
});

test('appending several records at once gives consecutive seqs and resolves with the last', async () => {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR);
  assert.equal(await w.append([sampleRecord(0), sampleRecord(1), sampleRecord(2)]), 3);
  assert.equal(await w.append(sampleRecord(3)), 4);
  assert.equal(w.nextSeq, 5);
  assert.equal(w.durableSeq, 4);
  await w.close();
  assert.deepEqual((await readAll(fs)).entries.map((e) => e.seq), [1, 2, 3, 4]);
});

test('invalid records reject with typed errors and use no sequence number', async () => {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR);
  const bad: Array<[unknown, string]> = [
    [{ type: 'upsert', id: { x: 1 }, vector: [1] }, 'INVALID_ID'],
    [{ type: 'upsert', id: NaN, vector: [1] }, 'INVALID_ID'],
    [{ type: 'delete', id: 'lone \uD800 surrogate' }, 'INVALID_ID'],
    [{ type: 'upsert', id: 'a', vector: 5 }, 'INVALID_VECTOR'],
    [{ type: 'upsert', id: 'a', vector: [1], metadata: [1, 2] }, 'INVALID_METADATA'],
    [{ type: 'upsert', id: 'a', vector: [1], metadata: { d: new Date() } }, 'INVALID_METADATA'],
    [{ type: 'upsert', id: 'a', vector: [1], metadata: { n: Infinity } }, 'INVALID_METADATA'],
    [{ type: 'upsert', id: 'a', vector: [1], metadata: { f: () => 1 } }, 'INVALID_METADATA'],
    [{ type: 'bogus' }, 'INVALID_ARGUMENT'],
    [{ type: 'batch', ops: [{ type: 'batch', ops: [] }] }, 'INVALID_ARGUMENT'],
    [[], 'INVALID_ARGUMENT'],
  ];
  for (const [rec, code] of bad) await rejectsCode(w.append(rec as WalRecord), code, JSON.stringify(rec));
  // A list with one bad record appends nothing.
  await rejectsCode(w.append([sampleRecord(0), { type: 'delete', id: NaN }]), 'INVALID_ID');
  assert.equal(await w.append({ type: 'clear' }), 1);
  await w.close();
  await rejectsCode(w.append({ type: 'clear' }), 'CLOSED');
  assert.equal((await readAll(fs)).entries.length, 1);
});

test('an empty or missing directory is an empty log; the writer starts at startSeq', async () => {
  const fs = new MemoryFileSystem();
  assert.deepEqual((await readAll(fs, '/nope')).entries, []);
  const w = await WalWriter.open(fs, DIR, { startSeq: 101 });
  assert.equal(await w.append({ type: 'clear' }), 101);
  await w.close();
  assert.deepEqual(await fs.readdir(DIR), [segmentName(101)]);
  assert.deepEqual((await readAll(fs, DIR, { fromSeq: 101 })).entries.map((e) => e.seq), [101]);
});

test('reopening continues after the last record; startSeq beyond the end starts a new segment', async () => {
  const fs = new MemoryFileSystem();
  let w = await WalWriter.open(fs, DIR);
  await w.append([sampleRecord(0), sampleRecord(1)]);
  await w.close();
  w = await WalWriter.open(fs, DIR);
  assert.equal(await w.append(sampleRecord(2)), 3);
  await w.close();
  assert.deepEqual(await fs.readdir(DIR), [segmentName(1)]);
  // A checkpoint at 10 (records 4..10 lost from the log) must never let numbers be reused.
  w = await WalWriter.open(fs, DIR, { startSeq: 11 });
  assert.equal(await w.append(sampleRecord(3)), 11);
  await w.close();
  assert.deepEqual(await fs.readdir(DIR), [segmentName(1), segmentName(11)]);
  assert.deepEqual((await readAll(fs, DIR, { fromSeq: 11 })).entries.map((e) => e.seq), [11]);
  // Read from the start, the gap is reported, not skipped.
  await assert.rejects(readAll(fs, DIR), (e: unknown) => e instanceof CorruptionError && /records 4\.\.10 are missing/.test(e.message));
});

test('works on the real file system (NodeFileSystem)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-wal-'));
  try {
    const fs = new NodeFileSystem();
    const w = await WalWriter.open(fs, join(dir, 'wal'), { maxSegmentBytes: 600 });
    const records: WalRecord[] = [];
    for (let i = 0; i < 20; i++) records.push(sampleRecord(i));
    await Promise.all(records.slice(0, 10).map((r) => w.append(r)));
    for (const r of records.slice(10)) await w.append(r);
    await w.close();
    const { entries } = await readAll(fs, join(dir, 'wal'));
    assertPrefix(entries, records);
    assert.equal(entries.length, 20);
    assert.ok((await fs.readdir(join(dir, 'wal'))).length > 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
