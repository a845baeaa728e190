// The CURRENT pointer: exact bytes, round trip, and every truncation and bit flip is a typed error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptionError, QuiverError } from '../../src/errors.js';
import { decodePointer, encodePointer, type StorePointer } from '../../src/store/pointer.js';
import { crc32 } from 'node:zlib';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { openVectorDB } from '../../src/store/durable-db.js';

const P: StorePointer = {
  checkpoint: 'checkpoint-0000000000000003.qvdb', generation: 3, walSeq: 42, checksum: 'ab'.repeat(32),
  dimension: 384, metric: 'cosine', count: 1000, createdAt: 1_700_000_000_000,
};

test('encodes to the documented three lines and decodes back', () => {
  const bytes = encodePointer(P);
  const text = Buffer.from(bytes).toString('utf8');
  const lines = text.split('\n');
  assert.equal(lines.length, 4);
  assert.equal(lines[0], 'QVDB-CURRENT 1');
  assert.deepEqual(JSON.parse(lines[1]), P);
  const crc = crc32(Buffer.from(`${lines[0]}\n${lines[1]}\n`)).toString(16).padStart(8, '0');
  assert.equal(lines[2], `crc32 ${crc}`);
  assert.equal(lines[3], '');
  assert.deepEqual(decodePointer(bytes, '/d/CURRENT'), P);
});

test('every truncation and every single bit flip is a CorruptionError naming the file', () => {
  const bytes = encodePointer(P);
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => decodePointer(bytes.subarray(0, n), '/d/CURRENT'), (e: unknown) => e instanceof CorruptionError && e.file === '/d/CURRENT' && e.section === 'pointer', `prefix ${n}`);
  }
  for (let i = 0; i < bytes.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = Uint8Array.from(bytes);
      b[i] ^= 1 << bit;
      assert.throws(() => decodePointer(b, '/d/CURRENT'), (e: unknown) => e instanceof CorruptionError && e.file === '/d/CURRENT', `byte ${i} bit ${bit}`);
    }
  }
});

test('a valid pointer of another version is UNSUPPORTED_VERSION; bad fields under a valid CRC are damage', () => {
  const make = (first: string, body: unknown): Uint8Array => {
    const head = `${first}\n${JSON.stringify(body)}\n`;
    return Buffer.from(`${head}crc32 ${crc32(Buffer.from(head)).toString(16).padStart(8, '0')}\n`);
  };
  assert.throws(() => decodePointer(make('QVDB-CURRENT 2', P), 'f'), (e: unknown) => e instanceof QuiverError && e.code === 'UNSUPPORTED_VERSION');
  assert.throws(() => decodePointer(make('QVDB-CURRENT 1', { ...P, generation: 4 }), 'f'), CorruptionError);
  assert.throws(() => decodePointer(make('QVDB-CURRENT 1', { ...P, walSeq: -1 }), 'f'), CorruptionError);
  assert.throws(() => decodePointer(make('QVDB-CURRENT 1', { ...P, metric: 'hamming' }), 'f'), CorruptionError);
  assert.throws(() => decodePointer(make('OTHER 1', P), 'f'), CorruptionError);
  assert.throws(() => decodePointer(new Uint8Array(5000), 'f'), CorruptionError);
});

test('creations that failed before their pointer, twice, leave empty checkpoints that the next open replaces', async () => {
  const mem = new MemoryFileSystem();
  for (let i = 0; i < 2; i++) {
    const fs = new FaultFileSystem(mem, { log: false, faults: [{ at: 1, code: 'ENOSPC', kinds: (op) => op.kind === 'write' && op.path.includes('.CURRENT.') }] });
    await assert.rejects(openVectorDB('/s', { fs, dimension: 4 }), (e: unknown) => e instanceof QuiverError && e.code === 'ENOSPC');
  }
  assert.equal(mem.listAll().filter((p) => /checkpoint-\d+\.qvdb$/.test(p)).length, 2, 'one empty checkpoint per attempt');
  const db = await openVectorDB('/s', { fs: mem, dimension: 4 });
  assert.equal(db.recovery.created, true);
  await db.insert({ id: 'a', vector: [1, 2, 3, 4] });
  await db.close();
  assert.equal(mem.listAll().filter((p) => /checkpoint-\d+\.qvdb$/.test(p)).length, 1, 'the empty ones are gone');
  // A checkpoint with entries and no pointer is never taken for an interrupted creation.
  await mem.rm('/s/CURRENT');
  await mem.rm('/s/wal', { recursive: true });
  await assert.rejects(openVectorDB('/s', { fs: mem, dimension: 4 }), (e: unknown) => e instanceof QuiverError && e.code === 'CORRUPT');
});
