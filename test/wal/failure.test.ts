// A failed write or fsync fails the writer for good: the appends it covered and every later one
// reject with the OS code, nothing is acknowledged after the error, and close() reports it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { QuiverError } from '../../src/errors.js';
import { WalWriter } from '../../src/wal/writer.js';
import { assertPrefix, DIR, readAll, rejectsCode, sampleRecord } from './helpers.js';
import type { WalRecord } from '../../src/wal/types.js';

async function setup(durability: 'sync' | 'interval' | 'none' = 'sync'): Promise<{ mem: MemoryFileSystem; fs: FaultFileSystem; w: WalWriter }> {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  const w = await WalWriter.open(fs, DIR, { durability, intervalMs: 10 });
  return { mem, fs, w };
}

// In sync mode the durable step is the O_DSYNC write itself (its bytes handed over, or their flush);
// with `none`, the fsync of sync().
for (const [durability, kind] of [['sync', 'write'], ['sync', 'dsync'], ['none', 'sync']] as const) {
  test(`${durability} mode: a failed durable ${kind} rejects the pending appends and every later one, even after the fault clears`, async () => {
    const { mem, fs, w } = await setup(durability);
    const records: WalRecord[] = Array.from({ length: 12 }, (_, i) => sampleRecord(i));
    assert.equal(await w.append(records[0]), 1);
    await w.sync();
    fs.failAt(1, 'EIO', { kinds: [kind] });
    const outcomes: string[] = [];
    const pending = records.slice(1, 11).map((r) =>
      w.append(r).then(
        (seq) => outcomes.push(`resolved ${seq}`),
        (err: unknown) => outcomes.push(`rejected ${(err as QuiverError).code}`),
      ),
    );
    const synced = w.sync().then(() => 'resolved', (err: unknown) => `rejected ${(err as QuiverError).code}`);
    await Promise.all(pending);
    // With `none` an append resolves once written, unless it shares its group with the failed fsync
    // of sync(): resolved ones come first, in order, then only rejections.
    const resolved = outcomes.filter((o) => o.startsWith('resolved'));
    assert.deepEqual(outcomes, [...resolved.map((_, i) => `resolved ${i + 2}`), ...Array(10 - resolved.length).fill('rejected EIO')]);
    if (durability === 'sync') assert.equal(resolved.length, 0);
    assert.equal(await synced, 'rejected EIO');
    assert.ok(w.failure instanceof QuiverError);
    assert.match(w.failure.message, /accepts no more writes/);
    assert.equal(w.failure.details.durableSeq, 1);
    fs.clearFaults();
    // No retry: after a failed fsync the kernel may have dropped the dirty pages already (fsyncgate).
    const ioBefore = fs.ops.filter((o) => o.kind === 'sync' || o.kind === 'write').length;
    await rejectsCode(w.append(records[11]), 'EIO', 'later append');
    await rejectsCode(w.sync(), 'EIO', 'sync');
    await rejectsCode(w.rotate(), 'EIO', 'rotate');
    await rejectsCode(w.close(), 'EIO', 'close');
    await rejectsCode(w.close(), 'EIO', 'close again');
    assert.equal(fs.ops.filter((o) => o.kind === 'sync' || o.kind === 'write').length, ioBefore);
    // The acknowledged record is there; the log is a prefix of what was appended.
    const { entries } = await readAll(mem.snapshotDurable());
    assert.ok(entries.length >= 1);
    assertPrefix(entries, records);
  });
}

test('a failed write (ENOSPC mid-record) fails the writer; reopening cuts the partial record', async () => {
  const { mem, fs, w } = await setup();
  const records: WalRecord[] = Array.from({ length: 5 }, (_, i) => sampleRecord(i));
  await w.append(records[0]);
  await w.append(records[1]);
  fs.setQuota(fs.bytesWritten + 30);
  await rejectsCode(w.append(records[2]), 'ENOSPC');
  await rejectsCode(w.append(records[3]), 'ENOSPC');
  await rejectsCode(w.close(), 'ENOSPC');
  fs.clearFaults();
  const { entries, summary } = await readAll(mem);
  assert.equal(entries.length, 2);
  assert.ok(summary.tornTail, 'the partial record is a torn tail');
  const w2 = await WalWriter.open(mem, DIR);
  assert.equal(await w2.append(records[2]), 3);
  await w2.close();
  assertPrefix((await readAll(mem)).entries, records);
});

test('interval mode: a failed background fsync fails the writer; the next append and close report it', async () => {
  const { fs, w } = await setup('interval');
  fs.failAt(1, 'EIO', { kinds: ['sync'] });
  assert.equal(await w.append(sampleRecord(0)), 1);
  await sleep(60);
  assert.equal(w.failure?.code, 'EIO');
  await rejectsCode(w.append(sampleRecord(1)), 'EIO');
  await rejectsCode(w.close(), 'EIO');
});

test('a failure while creating the next segment at rotation fails the writer', async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  const w = await WalWriter.open(fs, DIR, { maxSegmentBytes: 100 });
  await w.append(sampleRecord(0));
  fs.failAt(1, 'EACCES', { kinds: ['open'] });
  await rejectsCode(w.append(sampleRecord(1)), 'EACCES');
  await rejectsCode(w.append(sampleRecord(2)), 'EACCES');
  await rejectsCode(w.close(), 'EACCES');
  assert.equal((await readAll(mem)).entries.length, 1);
});

test('after close: appends, sync and rotate reject with CLOSED; close is idempotent', async () => {
  const { w } = await setup();
  await w.append(sampleRecord(0));
  await w.close();
  await w.close();
  await rejectsCode(w.append(sampleRecord(1)), 'CLOSED');
  await rejectsCode(w.sync(), 'CLOSED');
  await rejectsCode(w.rotate(), 'CLOSED');
});

test('opening a log whose newest segment is damaged before its tail is a CorruptionError', async () => {
  const { mem, w } = await setup();
  for (let i = 0; i < 4; i++) await w.append(sampleRecord(i));
  await w.close();
  const path = `${DIR}/${(await mem.readdir(DIR))[0]}`;
  const bytes = Uint8Array.from(mem.readFileSync(path));
  bytes[40] ^= 0x55;
  mem.writeFileSync(path, bytes);
  await rejectsCode(WalWriter.open(mem, DIR), 'CHECKSUM_MISMATCH');
  assert.deepEqual(mem.readFileSync(path), bytes, 'the file is not modified');
});

test('bad writer options are INVALID_ARGUMENT', async () => {
  const mem = new MemoryFileSystem();
  for (const opts of [{ durability: 'fast' }, { intervalMs: 0 }, { maxSegmentBytes: -1 }, { startSeq: 0 }, { startSeq: 1.5 }]) {
    await rejectsCode(WalWriter.open(mem, DIR, opts as never), 'INVALID_ARGUMENT', JSON.stringify(opts));
  }
});
