// The reused read window (records straddling chunks, records bigger than a chunk, the read ahead) and
// WalReader.replay: same ops as batches(), what a failing record or sink delivers, no aliasing of the
// reused window by decoded values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { CorruptionError } from '../../src/errors.js';
import { segmentName } from '../../src/wal/constants.js';
import { readWal } from '../../src/wal/reader.js';
import { encodeRecord } from '../../src/wal/record-encode.js';
import { unpackMetadataAt } from '../../src/util/msgpack.js';
import { encodeSegmentHeader } from '../../src/wal/segment.js';
import type { DecodedOp, WalRecord } from '../../src/wal/types.js';
import { WalWriter } from '../../src/wal/writer.js';
import { ReadWindow } from '../../src/wal/window.js';
import { assertPrefix, DIR, readAll, sampleRecord, vec } from './helpers.js';

const SEG1 = `${DIR}/${segmentName(1)}`;

/** Sample records mixed with upserts of very different sizes (up to 24 KiB vectors). */
function mixedRecords(n: number): WalRecord[] {
  const dims = [8, 384, 1536, 3, 6000];
  return Array.from({ length: n }, (_, i) => (i % 3 === 0 ? { type: 'upsert', id: `big-${i}`, vector: vec(i, dims[i % dims.length]), metadata: { i, pad: 'x'.repeat(i % 50) } } : sampleRecord(i)));
}

async function writeRecords(records: WalRecord[], segmentBytes?: number): Promise<MemoryFileSystem> {
  const fs = new MemoryFileSystem();
  const w = await WalWriter.open(fs, DIR, segmentBytes === undefined ? {} : { maxSegmentBytes: segmentBytes });
  for (const r of records) await w.append(r);
  await w.close();
  return fs;
}

/** JSON-comparable form of an op with its vector's exact bits. */
function bits(seq: number, op: DecodedOp): unknown {
  return JSON.parse(JSON.stringify({ seq, op }, (_k, v: unknown) => (v instanceof Float32Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') : v)));
}

test('any chunk size reads the same records, across segments and with records larger than the window', async () => {
  const records = mixedRecords(90);
  const fs = await writeRecords(records, 64 * 1024);
  for (const chunkBytes of [1, 7, 64, 333, 4096, 20_000, 1 << 22]) {
    const { entries, summary } = await readAll(fs, DIR, { chunkBytes });
    assert.equal(entries.length, records.length, `chunk ${chunkBytes}`);
    assert.ok(summary.segments > 1, 'the log spans several segments');
    assertPrefix(entries, records, 1, `chunk ${chunkBytes}`);
  }
});

test('replay hands over the same ops as batches(), in order, with the same summary', async () => {
  const records = mixedRecords(70);
  const fs = await writeRecords(records, 48 * 1024);
  for (const chunkBytes of [64, 5000, undefined]) {
    const want: unknown[] = [];
    const { entries, summary } = await readAll(fs, DIR, { chunkBytes, fromSeq: 5 });
    for (const e of entries) for (const op of e.record.type === 'batch' ? e.record.ops : [e.record]) want.push(bits(e.seq, op));
    const got: unknown[] = [];
    let encoded = 0;
    const s = await readWal(fs, DIR, { chunkBytes, fromSeq: 5 }).replay((seq, op) => {
      // Metadata that decodes in place comes still encoded (the engine decodes it on first read).
      if (op.type === 'upsert' && op.metadataBytes !== undefined) {
        assert.equal(op.metadata, undefined);
        const { buf, start, end } = op.metadataBytes;
        const { metadataBytes: _, ...rest } = op;
        op = { ...rest, metadata: unpackMetadataAt(buf, start, end) };
        encoded++;
      }
      got.push(bits(seq, op));
    });
    assert.deepEqual(got, want, `chunk ${chunkBytes}`);
    assert.ok(encoded > 10, `upserts with metadata come encoded (${encoded})`);
    assert.deepEqual(s, summary);
  }
});

test('a CRC-valid batch that does not decode delivers none of its ops; repair cuts the log before it', async () => {
  const records = [sampleRecord(0), sampleRecord(1), sampleRecord(4)];
  const fs = await writeRecords(records);
  const bytes = Buffer.from(fs.readFileSync(SEG1));
  const r1 = 32;
  const r2 = r1 + 20 + bytes.readUInt32LE(r1 + 4);
  const r3 = r2 + 20 + bytes.readUInt32LE(r2 + 4);
  assert.equal(bytes[r3 + 16], 5, 'the third record is a batch');
  // Second op of the batch: after the count and the first op (type, length, body).
  const op2 = r3 + 20 + 4 + 5 + bytes.readUInt32LE(r3 + 20 + 4 + 1);
  bytes[op2] = 9;
  bytes.writeUInt32LE(crc32(bytes.subarray(r3 + 4)), r3);
  const bad = new MemoryFileSystem();
  bad.writeFileSync(SEG1, bytes);
  const seqs: number[] = [];
  await assert.rejects(
    readWal(bad, DIR).replay((seq) => seqs.push(seq)),
    (e: unknown) => e instanceof CorruptionError && e.section === 'record 3' && /unknown op type 9/.test(e.message),
  );
  assert.deepEqual(seqs, [1, 2], 'ops of records 1 and 2 only');
  seqs.length = 0;
  const s = await readWal(bad, DIR, { repair: true }).replay((seq) => seqs.push(seq));
  assert.deepEqual(seqs, [1, 2]);
  assert.equal(s.repaired?.truncatedAt, r3);
  assert.equal(s.lastSeq, 2);
});

test('an error thrown by the sink propagates unchanged and the segment is closed', async () => {
  const mem = await writeRecords(mixedRecords(40));
  const fs = new FaultFileSystem(mem);
  const boom = new Error('sink failed');
  let calls = 0;
  await assert.rejects(
    readWal(fs, DIR, { chunkBytes: 256 }).replay(() => {
      if (++calls === 17) throw boom;
    }),
    (e: unknown) => e === boom,
  );
  assert.equal(calls, 17);
  assert.equal(fs.ops.filter((o) => o.kind === 'open').length, fs.ops.filter((o) => o.kind === 'close').length);
});

test('decoded values never alias the reused window, even a hand-made bin value in metadata', async () => {
  // Encode metadata with a 5-character string (6 bytes), then turn it into a 4-byte bin (also 6).
  const first = encodeRecord({ type: 'upsert', id: 'a', vector: vec(1, 4), metadata: { b: 'zzzzz' } }, 1);
  const at = first.indexOf(Buffer.from([0xa5, 0x7a, 0x7a, 0x7a, 0x7a, 0x7a]));
  assert.ok(at > 0);
  first.set([0xc4, 0x04, 0x79, 0x79, 0x79, 0x79], at);
  first.writeUInt32LE(crc32(first.subarray(4)), 0);
  const rest = Array.from({ length: 30 }, (_, i) => encodeRecord({ type: 'upsert', id: `r${i}`, vector: vec(i, 300), metadata: { fill: 'q'.repeat(40) } }, i + 2));
  const fs = new MemoryFileSystem();
  fs.writeFileSync(SEG1, Buffer.concat([encodeSegmentHeader(1), first, ...rest]));
  for (const chunkBytes of [50, 2000]) {
    const { entries } = await readAll(fs, DIR, { chunkBytes });
    assert.equal(entries.length, 31);
    const r = entries[0].record;
    assert.ok(r.type === 'upsert');
    assert.deepEqual([...(r.metadata?.b as Uint8Array)], [0x79, 0x79, 0x79, 0x79], `chunk ${chunkBytes}: the bin value is intact after the window moved on`);
    let kept: Record<string, unknown> | undefined;
    await readWal(fs, DIR, { chunkBytes }).replay((seq, op) => {
      if (seq === 1 && op.type === 'upsert') kept = op.metadata;
    });
    assert.deepEqual([...(kept?.b as Uint8Array)], [0x79, 0x79, 0x79, 0x79], `chunk ${chunkBytes}: replay`);
  }
});

test('the window answers from its bytes without a read exactly when it holds the whole range', async () => {
  const fs = new MemoryFileSystem();
  const bytes = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
  await fs.mkdir(DIR, { recursive: true });
  const h = await fs.open(`${DIR}/w.bin`, 'w');
  await h.write(bytes, 0);
  await h.close();
  const r = await fs.open(`${DIR}/w.bin`, 'r');
  const win = new ReadWindow(16);
  win.attach(r, bytes.length, 'w.bin');
  assert.equal(win.at(0, 1), -1, 'nothing is held before the first read');
  const off = await win.ensure(10, 4);
  assert.equal(win.buf[off], 10);
  assert.equal(win.at(10, 4), off);
  assert.equal(win.buf[win.at(12, 2)], 12);
  assert.equal(win.at(9, 2), -1, 'a range starting before the window');
  assert.equal(win.at(20, 16), -1, 'a range running past the window');
  await win.detach();
  await r.close();
});
