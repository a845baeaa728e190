// Segment rotation at the size threshold and on request, reading from a sequence number, and
// deleting the segments a checkpoint made obsolete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { readWal } from '../../src/wal/reader.js';
import { CorruptionError } from '../../src/errors.js';
import { parseSegmentName, segmentName } from '../../src/wal/constants.js';
import { deleteSegmentsBefore } from '../../src/wal/segment-files.js';
import type { WalRecord } from '../../src/wal/types.js';
import { WalWriter } from '../../src/wal/writer.js';
import { assertPrefix, DIR, readAll, sampleRecord } from './helpers.js';

async function build(n: number, maxSegmentBytes: number): Promise<{ fs: MemoryFileSystem; records: WalRecord[]; w: WalWriter }> {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR, { maxSegmentBytes });
  const records: WalRecord[] = [];
  for (let i = 0; i < n; i++) {
    records.push(sampleRecord(i));
    await w.append(records[i]);
  }
  return { fs, records, w };
}

/** [firstSeq, lastSeq] of each segment, from its name and the next one's. */
async function ranges(fs: MemoryFileSystem, last: number): Promise<Array<[number, number]>> {
  const firsts = (await fs.readdir(DIR)).map((n) => parseSegmentName(n)!).sort((a, b) => a - b);
  return firsts.map((f, i) => [f, i + 1 < firsts.length ? firsts[i + 1] - 1 : last]);
}

test('segments rotate at the size threshold; names carry the first seq; the log reads back whole', async () => {
  const { fs, records, w } = await build(40, 600);
  await w.close();
  const names = await fs.readdir(DIR);
  assert.ok(names.length >= 4, names.join());
  for (const [i, name] of names.entries()) {
    const size = fs.readFileSync(`${DIR}/${name}`).length;
    if (i < names.length - 1) assert.ok(size >= 600, `${name}: a segment is sealed only once it reached the threshold (${size})`);
  }
  const { entries } = await readAll(fs);
  assert.equal(entries.length, 40);
  assertPrefix(entries, records);
  for (const [first, last] of await ranges(fs, 40)) {
    const { entries: part } = await readAll(fs, DIR, { fromSeq: first });
    assert.equal(part[0].seq, first);
    assert.ok(last >= first);
  }
});

test('rotate() seals the current segment and starts one at the next seq; on an empty segment it does nothing', async () => {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR);
  await w.rotate();
  assert.deepEqual(await fs.readdir(DIR), [segmentName(1)]);
  await w.append([sampleRecord(0), sampleRecord(1)]);
  const p = w.rotate();
  const after = w.append(sampleRecord(2));
  await p;
  assert.equal(await after, 3);
  assert.deepEqual(await fs.readdir(DIR), [segmentName(1), segmentName(3)]);
  assert.equal(w.segmentPath, `${DIR}/${segmentName(3)}`);
  await w.close();
  assert.deepEqual((await readAll(fs)).entries.map((e) => e.seq), [1, 2, 3]);
});

test('fromSeq skips whole segments and records before it, and reports a log that starts too late', async () => {
  const { fs, records, w } = await build(30, 500);
  await w.close();
  for (const from of [1, 2, 7, 15, 29, 30, 31, 40]) {
    const { entries, summary } = await readAll(fs, DIR, { fromSeq: from });
    assert.deepEqual(entries.map((e) => e.seq), records.map((_, i) => i + 1).filter((s) => s >= from), `from ${from}`);
    assertPrefix(entries, records.slice(from - 1), from, `from ${from}`);
    assert.equal(summary.lastSeq, 30);
  }
  const [[, firstEnd]] = await ranges(fs, 30);
  await deleteSegmentsBefore(fs, DIR, firstEnd);
  await assert.rejects(readAll(fs, DIR, { fromSeq: 1 }), (e: unknown) => e instanceof CorruptionError && e.section === 'segment list');
});

test('deleteSegmentsBefore removes exactly the segments whose records are all <= seq, never the newest', async () => {
  for (const seq of [0, 1, 5, 12, 17, 25, 29, 30, 100]) {
    const { fs, records, w } = await build(30, 500);
    const segs = await ranges(fs, 30);
    const expectDeleted = segs.filter(([, last], i) => last <= seq && i < segs.length - 1).map(([first]) => `${DIR}/${segmentName(first)}`);
    assert.deepEqual(await w.deleteSegmentsBefore(seq), expectDeleted, `seq ${seq}`);
    const left = await ranges(fs, 30);
    assert.equal(left.length, segs.length - expectDeleted.length);
    // Everything after seq is still readable, and writing continues.
    const from = Math.min(seq + 1, 31);
    assertPrefix((await readAll(fs, DIR, { fromSeq: from })).entries, records.slice(from - 1), from, `seq ${seq}`);
    assert.equal(await w.append({ type: 'clear' }), 31);
    await w.close();
    // Durable: a power loss right after does not bring deleted segments back.
    assert.equal((await fs.snapshotDurable().readdir(DIR)).length, left.length);
  }
});

test('checkpoint pattern: rotate, then delete everything before; the log restarts at the right seq', async () => {
  const { fs, w } = await build(10, 1 << 20);
  await w.rotate();
  assert.deepEqual(await w.deleteSegmentsBefore(10), [`${DIR}/${segmentName(1)}`]);
  assert.deepEqual(await fs.readdir(DIR), [segmentName(11)]);
  await w.close();
  const w2 = await WalWriter.open(fs, DIR);
  assert.equal(w2.nextSeq, 11);
  assert.equal(await w2.append({ type: 'clear' }), 11);
  await w2.close();
  assert.deepEqual((await readAll(fs, DIR, { fromSeq: 11 })).entries.map((e) => e.seq), [11]);
});

test('a reader abandoned mid-way closes its segment file', async () => {
  const { fs: mem, w } = await build(600, 1 << 20);
  await w.close();
  const fs = new FaultFileSystem(mem);
  let n = 0;
  for await (const e of readWal(fs, DIR)) {
    if (++n === 300 || e.seq < 0) break;
  }
  const opens = fs.ops.filter((o) => o.kind === 'open').length;
  const closes = fs.ops.filter((o) => o.kind === 'close').length;
  assert.equal(opens, 1);
  assert.equal(closes, 1);
});
