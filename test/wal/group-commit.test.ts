// Group commit and the durability modes: concurrent sync-mode appends share durable writes (the
// segment is opened with dsync, so each write is its own fsync), and each append resolves only once a
// durable image (what a power loss would leave) holds its record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { WalWriter } from '../../src/wal/writer.js';
import { assertPrefix, DIR, readAll, sampleRecord } from './helpers.js';
import type { WalRecord } from '../../src/wal/types.js';

const fsyncs = (fs: FaultFileSystem): number => fs.ops.filter((o) => o.kind === 'sync').length;
const writes = (fs: FaultFileSystem): number => fs.ops.filter((o) => o.kind === 'write').length;

async function durableSeqs(mem: MemoryFileSystem): Promise<Set<number>> {
  const { entries } = await readAll(mem.snapshotDurable());
  return new Set(entries.map((e) => e.seq));
}

test('100 concurrent sync appends share a few durable writes, and each resolves only after its record is durable', async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  const w = await WalWriter.open(fs, DIR, { durability: 'sync' });
  fs.reset();
  const records: WalRecord[] = Array.from({ length: 100 }, (_, i) => sampleRecord(i));
  const violations: string[] = [];
  const checks: Promise<void>[] = [];
  const acks = records.map((r) =>
    w.append(r).then((seq) => {
      // Taken synchronously at resolution: the durable image at this exact moment.
      const image = mem.snapshotDurable();
      checks.push(readAll(image).then(({ entries }) => {
        if (!entries.some((e) => e.seq === seq)) violations.push(`seq ${seq} resolved before it was durable`);
      }));
      return seq;
    }),
  );
  assert.deepEqual(await Promise.all(acks), records.map((_, i) => i + 1));
  await Promise.all(checks);
  assert.deepEqual(violations, []);
  const n = writes(fs);
  assert.ok(n >= 1 && n <= 5, `expected a handful of writes for 100 appends, got ${n}`);
  assert.equal(fsyncs(fs), 0, 'a dsync write needs no fsync after it');
  await w.close();
  assertPrefix((await readAll(mem)).entries, records);
});

test('32 concurrent writers appending in a loop: far fewer durable writes than appends, every ack durable', async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  const w = await WalWriter.open(fs, DIR, { durability: 'sync' });
  fs.reset();
  let appends = 0;
  const late: number[] = [];
  const writer = async (k: number): Promise<void> => {
    for (let i = 0; i < 10; i++) {
      const seq = await w.append(sampleRecord(k * 10 + i));
      appends++;
      if (seq > w.durableSeq) late.push(seq);
      if (i % 3 === 0 && !(await durableSeqs(mem)).has(seq)) late.push(seq);
    }
  };
  await Promise.all(Array.from({ length: 32 }, (_, k) => writer(k)));
  assert.equal(appends, 320);
  assert.deepEqual(late, []);
  const n = writes(fs);
  assert.ok(n < appends / 4, `group commit: ${n} writes for ${appends} appends`);
  assert.equal(fsyncs(fs), 0);
  await w.close();
  assert.equal((await readAll(mem)).entries.length, 320);
});

test("'none' never fsyncs on its own: appends resolve on write; sync() and close() make them durable", async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  const w = await WalWriter.open(fs, DIR, { durability: 'none' });
  fs.reset();
  for (let i = 0; i < 20; i++) await w.append(sampleRecord(i));
  assert.equal(fsyncs(fs), 0);
  assert.equal(w.writtenSeq, 20);
  assert.equal(w.durableSeq, 0);
  assert.equal((await durableSeqs(mem)).size, 0);
  // Written means the bytes reached the file (what survives kill -9).
  assert.equal((await readAll(mem)).entries.length, 20);
  await w.sync();
  assert.equal(fsyncs(fs), 1);
  assert.equal((await durableSeqs(mem)).size, 20);
  await w.append(sampleRecord(20));
  await w.close();
  assert.equal(fsyncs(fs), 2);
  assert.equal((await durableSeqs(mem)).size, 21);
});

test("'interval' resolves on write and fsyncs within intervalMs, at most once per interval", async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  const w = await WalWriter.open(fs, DIR, { durability: 'interval', intervalMs: 40 });
  fs.reset();
  const seq = await w.append(sampleRecord(0));
  assert.equal(w.durableSeq, 0);
  assert.equal(fsyncs(fs), 0);
  await sleep(120);
  assert.equal(w.durableSeq, seq);
  assert.equal(fsyncs(fs), 1);
  assert.ok((await durableSeqs(mem)).has(seq));
  // Continuous appends for ~300 ms: fsyncs stay near one per 40 ms, not one per append.
  fs.reset();
  const t0 = Date.now();
  let n = 0;
  while (Date.now() - t0 < 300) {
    await w.append(sampleRecord(++n));
    if (n % 20 === 0) await sleep(1);
  }
  const elapsed = Date.now() - t0;
  const syncs = fsyncs(fs);
  assert.ok(syncs <= Math.ceil(elapsed / 40) + 2, `${syncs} fsyncs in ${elapsed} ms with intervalMs 40`);
  assert.ok(syncs >= 1);
  assert.ok(n > syncs * 3, `${n} appends, ${syncs} fsyncs`);
  await w.close();
  assert.equal((await durableSeqs(mem)).size, n + 1);
});

test('the append order is the sequence order, across concurrent callers', async () => {
  const mem = new MemoryFileSystem();
  const w = await WalWriter.open(mem, DIR);
  const order: WalRecord[] = [];
  const ps: Promise<number>[] = [];
  for (let i = 0; i < 50; i++) {
    const r = sampleRecord(i);
    order.push(r);
    ps.push(w.append(r));
    if (i % 7 === 0) await sleep(0);
  }
  assert.deepEqual(await Promise.all(ps), order.map((_, i) => i + 1));
  await w.close();
  assertPrefix((await readAll(mem)).entries, order);
});

test('a sync writer continuing a segment that a none writer left unsynced makes those records durable before acknowledging its own', async () => {
  const mem = new MemoryFileSystem();
  const loose = await WalWriter.open(mem, DIR, { durability: 'none' });
  for (let i = 0; i < 5; i++) await loose.append(sampleRecord(i));
  // The process dies (kill -9: the OS keeps the written bytes in its cache, unsynced); a new one continues the log.
  const w = await WalWriter.open(mem, DIR, { durability: 'sync' });
  const seq = await w.append(sampleRecord(5));
  assert.equal(seq, 6);
  for (const image of [mem.snapshotDurable(), ...Array.from({ length: 20 }, (_, s) => mem.snapshotDurable({ seed: s }))]) {
    const { entries } = await readAll(image);
    assert.deepEqual(entries.map((e) => e.seq), [1, 2, 3, 4, 5, 6], 'no hole in front of the acknowledged record');
  }
  await w.close();
});
