// Record CRCs checked on the helper thread ahead of the scan: the walk counts only records it matched,
// stops at anything else, never writes a withdrawn count; a scan with the thread ahead skips CRCs yet
// returns exactly what a scan without it returns, damage included, while its window buffers are reused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { CorruptionError } from '../../src/errors.js';
import { RECORD_CRC_COVERS_FROM, RECORD_HEADER_SIZE, segmentName } from '../../src/wal/constants.js';
import { CrcAhead } from '../../src/wal/crc-ahead.js';
import { scanSegment, type SegmentScan } from '../../src/wal/scan.js';
import { listSegments } from '../../src/wal/segment.js';
import { ReadWindow } from '../../src/wal/window.js';
import { verifyRecordCrcs, WITHDRAWN, type RecordFraming } from '../../src/util/framed-crc.js';
import { startSha256, stopHashThreadForTests } from '../../src/util/hash-worker.js';
import type { WalRecord } from '../../src/wal/types.js';
import { WalWriter } from '../../src/wal/writer.js';
import { assertPrefix, DIR, readAll, vec } from './helpers.js';

const SEG1 = `${DIR}/${segmentName(1)}`;
const FRAMING: RecordFraming = { headerSize: RECORD_HEADER_SIZE, lengthAt: 4, crcAt: 0, coversFrom: RECORD_CRC_COVERS_FROM };

/** Upserts of 384-d vectors (~1.6 KB records), with metadata on every other one. */
function upserts(n: number): WalRecord[] {
  return Array.from({ length: n }, (_, i) => ({ type: 'upsert', id: `doc-${i}`, vector: vec(i, 384), ...(i % 2 === 0 ? { metadata: { i, tag: 'β' } } : {}) }));
}

async function logOf(records: WalRecord[]): Promise<MemoryFileSystem> {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR, { maxSegmentBytes: 1 << 30 });
  for (const r of records) void w.append(r);
  await w.close();
  return fs;
}

/** Record start offsets of a segment's bytes, and its end. */
function starts(bytes: Uint8Array): number[] {
  const b = Buffer.from(bytes);
  const out: number[] = [];
  for (let p = 32; p < b.length; p += RECORD_HEADER_SIZE + b.readUInt32LE(p + 4)) out.push(p);
  out.push(b.length);
  return out;
}

function shared(bytes: Uint8Array): Uint8Array {
  const s = new Uint8Array(new SharedArrayBuffer(bytes.length));
  s.set(bytes);
  return s;
}

/** Makes sure the helper thread is up and ready (a SHA-256 job answered by it). */
async function readyThread(): Promise<void> {
  const job = startSha256({ offload: true });
  assert.ok(job.offloaded, 'the helper thread can run here');
  job.update(new Uint8Array(new SharedArrayBuffer(8)));
  await job.digest();
}

/**
 * Scans the log's one segment through `window`, visiting each record slowly enough for the thread to
 * get ahead; `onVisit` runs before each visit.
 */
async function scanSlowly(fs: MemoryFileSystem, window: ReadWindow, visitMicros: number, onVisit?: (seq: number) => void): Promise<{ scan: SegmentScan; seqs: number[] }> {
  const [seg] = await listSegments(fs, DIR);
  const seqs: number[] = [];
  const gen = scanSegment(fs, seg, {
    isLast: true,
    window,
    visit: (seq) => {
      onVisit?.(seq);
      const until = performance.now() + visitMicros / 1000;
      while (performance.now() < until) {
        // a consumer that takes its time
      }
      seqs.push(seq);
      return undefined;
    },
  });
  for (;;) {
    const r = await gen.next();
    if (r.done) return { scan: r.value, seqs };
  }
}

test('the walk counts the records that match their CRC, from the first, and stops at the first that does not', async () => {
  const fs = await logOf(upserts(40));
  const bytes = fs.readFileSync(SEG1);
  const at = starts(bytes);
  const words = new Int32Array(new SharedArrayBuffer(16));
  verifyRecordCrcs(shared(bytes), 32, bytes.length, FRAMING, words, 0);
  assert.equal(words[0], 40, 'every record counted (published in batches, the last one too)');
  for (const bad of [0, 1, 7, 8, 9, 39]) {
    for (const where of [0, 4, 19, 20, 900]) {
      const damaged = shared(bytes);
      damaged[at[bad] + where] ^= 0x10;
      const w = new Int32Array(new SharedArrayBuffer(4));
      verifyRecordCrcs(damaged, 32, damaged.length, FRAMING, w, 0);
      // A flip in the length field may make the record run past the end, or end elsewhere: either way
      // the walk stops there, and nothing after it is counted.
      assert.equal(w[0], bad, `flip in record ${bad} at +${where}`);
    }
  }
  // A window that ends inside record 12 counts the 12 before it; one that starts mid-log counts from there.
  const w2 = new Int32Array(new SharedArrayBuffer(8));
  verifyRecordCrcs(shared(bytes), 32, at[12] + 100, FRAMING, w2, 0);
  assert.equal(w2[0], 12);
  verifyRecordCrcs(shared(bytes), at[30], bytes.length, FRAMING, w2, 1);
  assert.equal(w2[1], 10);
});

test('a withdrawn count is never written again, whatever the walk finds', async () => {
  const fs = await logOf(upserts(30));
  const bytes = shared(fs.readFileSync(SEG1));
  const words = new Int32Array(new SharedArrayBuffer(4));
  words[0] = WITHDRAWN;
  verifyRecordCrcs(bytes, 32, bytes.length, FRAMING, words, 0);
  assert.equal(words[0], WITHDRAWN);
  // The scan side: a window that was withdrawn (its buffer about to be rewritten) vouches for nothing.
  await readyThread();
  const crc = new CrcAhead();
  const view = Buffer.from(bytes.buffer, 0, bytes.length);
  crc.begin(view, 32);
  const until = Date.now() + 2000;
  while (!crc.good(29) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  assert.ok(crc.good(0) && crc.good(29), 'the thread counted the window');
  assert.equal(crc.good(30), false, 'nothing past the last record');
  crc.withdraw(bytes.buffer);
  assert.equal(crc.good(0), false, 'withdrawn: the scan checks CRCs itself');
  // A buffer that is not shared memory is never handed to the thread.
  crc.begin(Buffer.from(bytes), 32);
  assert.equal(crc.good(0), false);
});

test('with the thread ahead, a scan skips most CRCs and reads exactly the records, through reused windows', async () => {
  const records = upserts(600);
  const fs = await logOf(records);
  await readyThread();
  for (const chunk of [64 * 1024, 256 * 1024]) {
    const crc = new CrcAhead();
    const { scan, seqs } = await scanSlowly(fs, new ReadWindow(chunk, crc), 40);
    assert.equal(scan.damage, undefined);
    assert.equal(scan.records, 600);
    assert.deepEqual(seqs, Array.from({ length: 600 }, (_, i) => i + 1));
    assert.ok(crc.skipped > 150, `chunk ${chunk}: ${crc.skipped} of 600 CRCs were checked ahead`);
  }
  // The full reader, with the thread running, returns the records bit for bit.
  const { entries, summary } = await readAll(fs, DIR, { chunkBytes: 64 * 1024 });
  assert.equal(entries.length, 600);
  assert.equal(summary.tornTail, undefined);
  assertPrefix(entries, records);
});

test('with the thread ahead, damage anywhere is found where a scan without it finds it', async () => {
  const fs = await logOf(upserts(300));
  const bytes = fs.readFileSync(SEG1);
  const at = starts(bytes);
  await readyThread();
  for (const bad of [3, 100, 150, 298, 299]) {
    for (const where of [0, 6, 25, 700]) {
      const damaged = Buffer.from(bytes);
      damaged[at[bad] + where] ^= 0x04;
      const disk = new MemoryFileSystem();
      disk.writeFileSync(SEG1, damaged);
      const ahead = await scanSlowly(disk, new ReadWindow(32 * 1024, new CrcAhead()), 20);
      const plain = await scanSlowly(disk, new ReadWindow(32 * 1024), 0);
      const label = `record ${bad + 1}, byte +${where}`;
      assert.equal(ahead.scan.records, bad, label);
      assert.deepEqual(ahead.scan.damage, plain.scan.damage, label);
      assert.deepEqual(ahead.seqs, plain.seqs, label);
      assert.ok(ahead.scan.damage, label);
    }
  }
  // Through the reader: a flipped payload byte mid-log is a checksum error naming the record.
  const damaged = Buffer.from(bytes);
  damaged[at[120] + 500] ^= 0x01;
  const disk = new MemoryFileSystem();
  disk.writeFileSync(SEG1, damaged);
  await assert.rejects(readAll(disk, DIR, { chunkBytes: 64 * 1024 }), (err: unknown) => err instanceof CorruptionError && err.code === 'CHECKSUM_MISMATCH' && err.section === "record 121");
});

test('a thread that stops in the middle of a read leaves the scan to check the rest itself', async () => {
  const records = upserts(500);
  const fs = await logOf(records);
  await readyThread();
  const crc = new CrcAhead();
  let skippedAtStop = -1;
  const { scan, seqs } = await scanSlowly(fs, new ReadWindow(64 * 1024, crc), 40, (seq) => {
    if (seq !== 200) return;
    skippedAtStop = crc.skipped;
    stopHashThreadForTests();
  });
  assert.equal(scan.damage, undefined);
  assert.deepEqual(seqs, Array.from({ length: 500 }, (_, i) => i + 1));
  assert.ok(skippedAtStop > 20, `${skippedAtStop} CRCs were checked ahead before the thread stopped`);
  // What the thread counted before it stopped may still be used; no window after that is asked of it.
  assert.ok(crc.skipped < skippedAtStop + 120, `${crc.skipped - skippedAtStop} CRCs skipped after the stop`);
  const { entries } = await readAll(fs, DIR, { chunkBytes: 64 * 1024 });
  assertPrefix(entries, records);
});
