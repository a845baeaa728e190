// Torn and damaged logs: a cut at every byte is a clean end with every complete record before it; a
// bit flip at every byte is either corruption (reported with file, offset and record number) or, in
// the final record, a clean end — never a wrong record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { CorruptionError, QuiverError } from '../../src/errors.js';
import { RECORD_HEADER_SIZE, segmentName } from '../../src/wal/constants.js';
import { decodePayload, readRecordHeader } from '../../src/wal/record-decode.js';
import { encodeRecord } from '../../src/wal/record-encode.js';
import { WalWriter } from '../../src/wal/writer.js';
import { assertPrefix, DIR, readAll, sampleRecord, writeLog } from './helpers.js';

const SEG1 = `${DIR}/${segmentName(1)}`;

/** Start offsets of the records of a segment, plus its end. */
function recordStarts(bytes: Uint8Array): number[] {
  const b = Buffer.from(bytes);
  const starts: number[] = [];
  for (let p = 32; p < b.length; p += 20 + b.readUInt32LE(p + 4)) starts.push(p);
  starts.push(b.length);
  return starts;
}

function diskWith(path: string, bytes: Uint8Array): MemoryFileSystem {
  const fs = new MemoryFileSystem();
  fs.writeFileSync(path, bytes);
  return fs;
}

test('a cut at every byte offset is the end of the log: all complete records before it are returned', async () => {
  const { fs, records } = await writeLog(12);
  const full = fs.readFileSync(SEG1);
  const starts = recordStarts(full);
  assert.equal(starts.length, 13);
  for (let cut = 0; cut < full.length; cut++) {
    const disk = diskWith(SEG1, full.subarray(0, cut));
    const { entries, summary } = await readAll(disk);
    const complete = starts.filter((s, i) => i > 0 && s <= cut).length;
    assert.equal(entries.length, complete, `cut at ${cut}`);
    assertPrefix(entries, records, 1, `cut at ${cut}`);
    const clean = starts.includes(cut);
    assert.equal(summary.tornTail === undefined, clean, `cut at ${cut}: torn tail reported iff mid-record`);
    if (!clean) assert.equal(summary.tornTail?.offset, cut < 32 ? 0 : starts[complete], `cut at ${cut}`);
  }
});

test('torn tail at every offset of the last record: the writer cuts it off and continues the sequence', async () => {
  const { fs, records } = await writeLog(5);
  const full = fs.readFileSync(SEG1);
  const starts = recordStarts(full);
  assert.ok(full.length - starts[4] > 40, 'the last record is longer than the one appended after the cut');
  for (let cut = starts[4]; cut < full.length; cut++) {
    const disk = diskWith(SEG1, full.subarray(0, cut));
    const w = await WalWriter.open(disk, DIR);
    // A record shorter than the torn one: nothing of the torn bytes may be left behind it.
    assert.equal(await w.append({ type: 'clear' }), 5, `cut at ${cut}`);
    await w.close();
    const { entries, summary } = await readAll(disk);
    assert.equal(entries.length, 5);
    assertPrefix(entries, [...records.slice(0, 4), { type: 'clear' }], 1, `cut at ${cut}`);
    assert.equal(summary.tornTail, undefined, `cut at ${cut}`);
    assert.equal(disk.readFileSync(SEG1).length, starts[4] + 20);
  }
});

/** True when some 512-byte-aligned piece of bytes[from, to) is all zeros (a sector a torn write never wrote). */
function zeroPiece(bytes: Uint8Array, from: number, to: number): boolean {
  for (let start = from; start < to; start = (Math.floor(start / 512) + 1) * 512) {
    const end = Math.min(to, (Math.floor(start / 512) + 1) * 512);
    // Slivers under 16 bytes do not count (a record's own trailing zeros, say).
    if (end - start >= 16 && bytes.subarray(start, end).every((b) => b === 0)) return true;
  }
  return false;
}

test('a bit flip at every byte: a CorruptionError naming file, offset and record; in the last record a clean end only where it looks torn', async () => {
  const { fs, records } = await writeLog(8);
  const full = fs.readFileSync(SEG1);
  const starts = recordStarts(full);
  const last = starts[starts.length - 2];
  let corrupt = 0;
  let lastCorrupt = 0;
  let tail = 0;
  for (let p = 0; p < full.length; p++) {
    for (const bit of [0, 3, 7]) {
      const bad = Uint8Array.from(full);
      bad[p] ^= 1 << bit;
      const where = `flip bit ${bit} of byte ${p}`;
      const disk = diskWith(SEG1, bad);
      let result;
      try {
        result = await readAll(disk);
      } catch (err) {
        assert.ok(err instanceof CorruptionError, `${where}: ${String(err)}`);
        if (p >= last) lastCorrupt++;
        assert.equal(err.file, SEG1);
        if (p < 32) {
          assert.equal(err.section, 'segment header', where);
          assert.equal(err.offset, 0);
        } else {
          const k = starts.findIndex((s, i) => s <= p && p < starts[i + 1]);
          assert.equal(err.section, `record ${k + 1}`, where);
          assert.equal(err.offset, starts[k], where);
          assert.match(err.message, new RegExp(`at byte ${starts[k]}`));
        }
        assert.deepEqual(disk.readFileSync(SEG1), bad, `${where}: the reader does not modify the file`);
        corrupt++;
        continue;
      }
      assert.ok(p >= last, `${where}: mid-log damage must be reported, got ${result.entries.length} records`);
      assert.equal(result.entries.length, records.length - 1, where);
      assertPrefix(result.entries, records, 1, where);
      assert.ok(result.summary.tornTail, where);
      // A clean end only where a torn write could have left the record so: its length now runs past the
      // end of the file, or a sector-aligned piece of what follows its start is zeros.
      const length = Buffer.from(bad).readUInt32LE(last + 4);
      assert.ok(last + 20 + length > bad.length || zeroPiece(bad, last, bad.length), `${where}: a whole final record with a bad checksum is damage, not a torn write`);
      tail++;
    }
  }
  assert.ok(corrupt > 0 && tail > 0);
  // Most flips of the final record are reported: it may hold an acknowledged write.
  assert.ok(lastCorrupt > tail, `final record: ${lastCorrupt} reported, ${tail} taken as torn`);
});

test('a final record with a sector that reads as zeros is a torn write; one with a flipped bit is damage that repair cuts', async () => {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR);
  const records = [0, 1, 6, 7].map((i) => sampleRecord(i, 384));
  for (const r of records) await w.append(r);
  await w.close();
  const full = fs.readFileSync(SEG1);
  const starts = recordStarts(full);
  const last = starts[3];
  assert.ok(full.length - last > 1100, 'the last record spans several sectors');
  // A sector inside the record that never reached the disk.
  const sector = (Math.floor(last / 512) + 1) * 512;
  const torn = Uint8Array.from(full);
  torn.fill(0, sector, sector + 512);
  const t = await readAll(diskWith(SEG1, torn));
  assert.equal(t.entries.length, 3);
  assert.equal(t.summary.tornTail?.offset, last);
  // The same record with one bit flipped and every sector written: the write was complete.
  const flipped = Uint8Array.from(full);
  flipped[sector + 100] ^= 0x10;
  const disk = diskWith(SEG1, flipped);
  await assert.rejects(readAll(disk), (e: unknown) => e instanceof CorruptionError && e.code === 'CHECKSUM_MISMATCH' && e.section === 'record 4' && e.offset === last && /checksum/.test(e.message) && /repair: true/.test(e.message));
  await assert.rejects(WalWriter.open(disk, DIR), (e: unknown) => e instanceof CorruptionError && e.code === 'CHECKSUM_MISMATCH');
  assert.deepEqual(disk.readFileSync(SEG1), flipped, 'nothing is cut without repair');
  const { entries, summary } = await readAll(disk, DIR, { repair: true });
  assertPrefix(entries, records);
  assert.equal(entries.length, 3);
  assert.equal(summary.repaired?.torn, false);
  assert.equal(summary.repaired?.truncatedAt, last);
  // A header that is not one, with the rest of the record present and written: damage too.
  const header = Uint8Array.from(full);
  header[last + 17] = 0x7f;
  await assert.rejects(readAll(diskWith(SEG1, header)), (e: unknown) => e instanceof CorruptionError && e.section === 'record 4');
});

test('damage in the last record of a non-last segment is corruption, not a torn tail', async () => {
  const { fs } = await writeLog(10, { maxSegmentBytes: 300 });
  const names = await fs.readdir(DIR);
  assert.ok(names.length >= 2, names.join());
  const path = `${DIR}/${names[0]}`;
  const bytes = Uint8Array.from(fs.readFileSync(path));
  bytes[bytes.length - 1] ^= 0x10;
  fs.writeFileSync(path, bytes);
  await assert.rejects(readAll(fs), (e: unknown) => e instanceof CorruptionError && e.file === path && /record \d+/.test(e.section));
  // Cut instead of flipped: still not a tail, since later segments exist.
  fs.writeFileSync(path, bytes.subarray(0, bytes.length - 3));
  await assert.rejects(readAll(fs), (e: unknown) => e instanceof CorruptionError && e.file === path);
});

test('a huge length field is never trusted: past the end of the file at the tail => clean end, past the record limit or mid-log => corruption, no allocation', async () => {
  const { fs, records } = await writeLog(5);
  const full = fs.readFileSync(SEG1);
  const starts = recordStarts(full);
  for (const [k, len] of [[4, 0xfffffff0], [1, 0xfffffff0], [1, 200 * 1024 * 1024], [4, 200 * 1024 * 1024]] as const) {
    const bad = Buffer.from(full);
    bad.writeUInt32LE(len, starts[k] + 4);
    const disk = diskWith(SEG1, bad);
    const before = process.memoryUsage().arrayBuffers;
    if (k === 4 && len < 256 * 1024 * 1024) {
      // A write cut short: the length names more bytes than the file holds.
      const { entries } = await readAll(disk);
      assertPrefix(entries, records);
      assert.equal(entries.length, 4);
    } else if (k === 4) {
      // No write of this log has such a length, and every byte after it is present: damage.
      await assert.rejects(readAll(disk), (e: unknown) => e instanceof CorruptionError && e.section === 'record 5' && /limit/.test(e.message));
    } else {
      await assert.rejects(readAll(disk), (e: unknown) => e instanceof CorruptionError && e.section === 'record 2' && /exceeds/.test(e.message));
    }
    assert.ok(process.memoryUsage().arrayBuffers - before < 50 * 1024 * 1024, 'no allocation from the length field');
  }
});

test('a CRC-valid record with the wrong sequence number is corruption even at the tail', async () => {
  const { fs } = await writeLog(4);
  const bad = Buffer.from(fs.readFileSync(SEG1));
  const starts = recordStarts(bad);
  bad.writeUInt32LE(9, starts[3] + 8);
  bad.writeUInt32LE(crc32(bad.subarray(starts[3] + 4, starts[4])), starts[3]);
  await assert.rejects(readAll(diskWith(SEG1, bad)), (e: unknown) => e instanceof CorruptionError && e.section === 'record 4' && /sequence number 9 where 4/.test(e.message));
});

test('foreign, renamed and newer-version segment files are detected', async () => {
  const { fs } = await writeLog(3);
  const full = Buffer.from(fs.readFileSync(SEG1));
  const foreign = diskWith(SEG1, Buffer.from('this is not a log file at all, just text that is long enough'));
  await assert.rejects(readAll(foreign), (e: unknown) => e instanceof CorruptionError && e.section === 'segment header' && /not a QuiverDB write-ahead log/.test(e.message));
  const renamed = diskWith(`${DIR}/${segmentName(5)}`, full);
  await assert.rejects(readAll(renamed), (e: unknown) => e instanceof CorruptionError && /renamed/.test(e.message));
  const newer = Buffer.from(full);
  newer.writeUInt16LE(2, 8);
  newer.writeUInt32LE(crc32(newer.subarray(0, 28)), 28);
  await assert.rejects(readAll(diskWith(SEG1, newer)), (e: unknown) => e instanceof QuiverError && e.code === 'UNSUPPORTED_VERSION');
  // Files that are not named like segments are ignored.
  fs.writeFileSync(`${DIR}/LOCK`, Buffer.from('x'));
  fs.writeFileSync(`${DIR}/wal-1.log`, Buffer.from('x'));
  assert.equal((await readAll(fs)).entries.length, 3);
});

test('repair truncates at the first bad record, reports what was dropped, and the log is usable again', async () => {
  const { fs, records } = await writeLog(10);
  const full = fs.readFileSync(SEG1);
  const starts = recordStarts(full);
  const bad = Uint8Array.from(full);
  bad[starts[3] + 25] ^= 0xff;
  fs.writeFileSync(SEG1, bad);
  // A checksum failure says so in its message (README, "Error codes").
  await assert.rejects(readAll(fs), (e: unknown) => e instanceof CorruptionError && e.code === 'CHECKSUM_MISMATCH' && /repair: true/.test(e.message) && /checksum/.test(e.message));
  const { entries, summary } = await readAll(fs, DIR, { repair: true });
  assertPrefix(entries, records);
  assert.equal(entries.length, 3);
  assert.deepEqual(summary.repaired, {
    segment: SEG1,
    truncatedAt: starts[3],
    droppedBytes: full.length - starts[3],
    droppedSegments: [],
    problem: 'the record CRC32 checksum does not match its bytes',
    torn: false,
  });
  assert.equal(fs.readFileSync(SEG1).length, starts[3]);
  // The repair is durable and the log continues at 4.
  const after = fs.snapshotDurable();
  assert.equal((await readAll(after)).entries.length, 3);
  const w = await WalWriter.open(after, DIR);
  assert.equal(await w.append(sampleRecord(3)), 4);
  await w.close();
  assertPrefix((await readAll(after)).entries, records);
});

test('repair in an early segment deletes the later segments and counts their bytes', async () => {
  const { fs, records } = await writeLog(12, { maxSegmentBytes: 300 });
  const names = await fs.readdir(DIR);
  assert.ok(names.length >= 3, names.join());
  const first = `${DIR}/${names[0]}`;
  const bytes = Uint8Array.from(fs.readFileSync(first));
  const starts = recordStarts(bytes);
  bytes[starts[1] + 2] ^= 1;
  fs.writeFileSync(first, bytes);
  let later = 0;
  for (const n of names.slice(1)) later += fs.readFileSync(`${DIR}/${n}`).length;
  const { entries, summary } = await readAll(fs, DIR, { repair: true });
  assert.equal(entries.length, 1);
  assertPrefix(entries, records);
  assert.equal(summary.repaired?.truncatedAt, starts[1]);
  assert.equal(summary.repaired?.droppedBytes, bytes.length - starts[1] + later);
  assert.deepEqual(summary.repaired?.droppedSegments, names.slice(1).map((n) => `${DIR}/${n}`));
  assert.deepEqual(await fs.readdir(DIR), [names[0]]);
});

test('repair of a torn tail reports it as torn; a segment with a torn header is removed', async () => {
  const { fs } = await writeLog(3);
  const full = fs.readFileSync(SEG1);
  fs.writeFileSync(SEG1, full.subarray(0, full.length - 5));
  const { summary } = await readAll(fs, DIR, { repair: true });
  assert.equal(summary.repaired?.torn, true);
  assert.equal(summary.repaired?.droppedBytes, recordStarts(full)[3] - recordStarts(full)[2] - 5);
  const seg2 = `${DIR}/${segmentName(3)}`;
  fs.writeFileSync(seg2, full.subarray(0, 10));
  const r2 = await readAll(fs, DIR, { repair: true });
  assert.equal(r2.entries.length, 2);
  assert.equal(r2.summary.repaired?.torn, true);
  assert.deepEqual(await fs.readdir(DIR), [segmentName(1)]);
});

test('a batch op whose length does not fit its payload is named by its number', () => {
  const rec = encodeRecord({ type: 'batch', ops: [{ type: 'delete', id: 'a' }, { type: 'delete', id: 'bb' }] }, 1);
  const h = readRecordHeader(rec, 0);
  const body = RECORD_HEADER_SIZE;
  const len1 = rec.readUInt32LE(body + 4 + 1);
  const op2Len = body + 4 + 1 + 4 + len1 + 1;
  const tooLong = Buffer.from(rec);
  tooLong.writeUInt32LE(tooLong.readUInt32LE(op2Len) + 1, op2Len);
  assert.throws(() => decodePayload(tooLong, 0, h), /^Error: batch op 2 needs \d+ bytes but only \d+ remain/);
  // One byte more in op 2 (and in the record): left over after its id.
  const padded = Buffer.concat([tooLong, Buffer.alloc(1)]);
  assert.throws(() => decodePayload(padded, 0, { ...h, length: h.length + 1 }), /^Error: 1 unexpected bytes after the batch op 2$/);
  assert.deepEqual(decodePayload(rec, 0, h), { type: 'batch', ops: [{ type: 'delete', id: 'a' }, { type: 'delete', id: 'bb' }] });
});

test('string ids are strict UTF-8: any id reads back exactly, and a CRC-valid record with malformed id bytes is corruption', async () => {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR);
  const ids = ['doc-1', '', 'a-much-longer-ascii-id-of-forty-characters', 'ünïcödé ✓ 𝄞', 'aé'];
  for (const id of ids) await w.append({ type: 'delete', id });
  await w.close();
  const { entries } = await readAll(fs);
  assert.deepEqual(entries.map((e) => (e.record as { id: string }).id), ids);
  const bad = Buffer.from(fs.readFileSync(SEG1));
  const starts = recordStarts(bad);
  const at = bad.indexOf(Buffer.from('aé'), starts[4]);
  bad[at + 2] = 0x28; // c3 28: a lead byte without its continuation
  bad.writeUInt32LE(crc32(bad.subarray(starts[4] + 4, starts[5])), starts[4]);
  await assert.rejects(readAll(diskWith(SEG1, bad)), (e: unknown) => e instanceof CorruptionError && e.section === 'record 5' && /not valid UTF-8/.test(e.message));
});

test('a whole final record ending in a few zero bytes (an upsert without metadata) with a flipped bit is damage, not a torn write', async () => {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR);
  // Pad with records until the next one ends 1..15 bytes past a sector boundary.
  let i = 0;
  const record = (k: number) => ({ type: 'upsert' as const, id: `p${k}`, vector: new Float32Array(8).fill(k + 1) });
  for (;;) {
    const size = fs.readFileSync(SEG1).length;
    const end = size + 20 + encodeRecord(record(i), 1).length - 20;
    if (end % 512 >= 1 && end % 512 <= 4 && size > 512) break;
    await w.append(record(i++));
    if (i > 500) assert.fail('no padding found');
  }
  await w.append(record(i));
  await w.close();
  const full = fs.readFileSync(SEG1);
  assert.ok(full.length % 512 <= 4 && full.length % 512 >= 1);
  assert.deepEqual([...full.subarray(full.length - 4)], [0, 0, 0, 0], 'the record ends with its zero metadata length');
  const bad = Uint8Array.from(full);
  bad[full.length - 20] ^= 0x08;
  await assert.rejects(readAll(diskWith(SEG1, bad)), (e: unknown) => e instanceof CorruptionError && e.code === 'CHECKSUM_MISMATCH');
});
