// Damaged stores: a broken or missing pointer or checkpoint is a CorruptionError naming the file
// (nothing modified) unless `repair`; torn log tails are the end of the log; log damage before the
// tail is reported, and with `repair` the log is cut there. Every successful open yields a state the
// operation stream actually passed through, never anything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { CorruptionError, QuiverError } from '../../src/errors.js';
import { openVectorDB } from '../../src/store/durable-db.js';
import { digest, filesUnder } from './helpers.js';
import { applyOp, opAt, OP_DIM, prefixDigests } from './ops.js';

const DIR = '/s';
const N_BEFORE = 12;
const N_AFTER = 25;

/** A closed store: ops 1..12, a checkpoint, ops 13..37 in the log only. */
async function build(): Promise<{ fs: MemoryFileSystem; final: string; states: string[] }> {
  const fs = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs, dimension: OP_DIM, checkpointOnClose: false });
  for (let k = 1; k <= N_BEFORE; k++) await applyOp(db, opAt(k, false));
  await db.checkpoint();
  for (let k = N_BEFORE + 1; k <= N_BEFORE + N_AFTER; k++) await applyOp(db, opAt(k, false));
  const final = digest(db);
  await db.close();
  return { fs, final, states: await prefixDigests(N_BEFORE + N_AFTER, false) };
}

/** The data files and their bytes (the LOCK file is the lock's business: a failed open may take over and release it). */
function snapshot(fs: MemoryFileSystem): Map<string, string> {
  return new Map(filesUnder(fs, DIR).filter((p) => !p.endsWith('/LOCK')).map((p) => [p, Buffer.from(fs.readFileSync(p)).toString('hex')]));
}

/** The smallest index ≥ `from` whose state has digest `d`, or -1. */
function stateIndex(states: string[], d: string, from = 0): number {
  for (let i = from; i < states.length; i++) if (states[i] === d) return i;
  return -1;
}

function ckptPath(fs: MemoryFileSystem): string {
  const p = filesUnder(fs, DIR).find((x) => x.endsWith('.qvdb'));
  assert.ok(p);
  return p;
}

function segment(fs: MemoryFileSystem): string {
  const segs = filesUnder(fs, `${DIR}/wal/`);
  assert.equal(segs.length, 1);
  return segs[0];
}

test('the undamaged store reopens to the final state', async () => {
  const { fs, final, states } = await build();
  assert.equal(states[states.length - 1], final);
  const db = await openVectorDB(DIR, { fs: fs.snapshotDurable() });
  assert.equal(digest(db), final);
  assert.ok(db.recovery.replayedRecords > 0 && db.recovery.checkpointSeq > 0);
  await db.close();
});

test('a missing or damaged CURRENT is a CorruptionError naming it, files untouched; repair recovers everything', async () => {
  const { fs: base, final } = await build();
  for (const damage of ['missing', 'flipped'] as const) {
    const fs = base.snapshotDurable();
    if (damage === 'missing') await fs.unlink(`${DIR}/CURRENT`);
    else {
      const b = fs.readFileSync(`${DIR}/CURRENT`);
      b[40] ^= 0x04;
      fs.writeFileSync(`${DIR}/CURRENT`, b);
    }
    const before = snapshot(fs);
    await assert.rejects(openVectorDB(DIR, { fs }), (e: unknown) => e instanceof CorruptionError && e.file === `${DIR}/CURRENT` && e.section === 'pointer', damage);
    await assert.rejects(openVectorDB(DIR, { fs, readOnly: true }), CorruptionError);
    assert.deepEqual(snapshot(fs), before, 'nothing was modified');
    const db = await openVectorDB(DIR, { fs, repair: true });
    assert.equal(digest(db), final, 'the newest checkpoint plus the log hold everything');
    assert.ok(db.recovery.repairs.length > 0);
    await db.close();
    const again = await openVectorDB(DIR, { fs });
    assert.equal(digest(again), final);
    assert.deepEqual(again.recovery.repairs, []);
    await again.close();
  }
});

test('a damaged, missing or replaced checkpoint is a CorruptionError naming the checkpoint file', async () => {
  const { fs: base } = await build();
  const cases: [string, (fs: MemoryFileSystem, p: string) => Promise<void>][] = [
    ['flipped', async (fs, p) => {
      const b = fs.readFileSync(p);
      b[Math.floor(b.length / 2)] ^= 0x10;
      fs.writeFileSync(p, b);
    }],
    ['missing', async (fs, p) => fs.unlink(p)],
    ['replaced', async (fs, p) => {
      // A valid checkpoint of the same name from another store: its checksum is not the pointer's.
      const other = new MemoryFileSystem();
      const db = await openVectorDB(DIR, { fs: other, dimension: OP_DIM });
      await db.insert({ id: 'x', vector: [1, 2, 3, 4] });
      await db.close();
      const src = ckptPath(other);
      const bytes = other.readFileSync(src);
      fs.writeFileSync(p, bytes);
    }],
  ];
  for (const [name, damage] of cases) {
    const fs = base.snapshotDurable();
    const p = ckptPath(fs);
    await damage(fs, p);
    const before = snapshot(fs);
    await assert.rejects(openVectorDB(DIR, { fs }), (e: unknown) => e instanceof CorruptionError && e.file === p, name);
    assert.deepEqual(snapshot(fs), before, `${name}: nothing was modified`);
  }
});

test('repair without any valid checkpoint starts empty, replays the log it has, and says what was lost', async () => {
  const { fs } = await build();
  const p = ckptPath(fs);
  const b = fs.readFileSync(p);
  b[b.length - 40] ^= 0xff;
  fs.writeFileSync(p, b);
  const db = await openVectorDB(DIR, { fs, repair: true });
  assert.equal(db.recovery.checkpoint, undefined);
  assert.ok(db.recovery.repairs.some((r) => /no valid checkpoint/.test(r)), db.recovery.repairs.join('\n'));
  assert.ok(db.recovery.replayedRecords > 0);
  // The damaged checkpoint, the only copy of what it held, is kept aside byte for byte, and named.
  const name = p.slice(p.lastIndexOf('/') + 1);
  const aside = filesUnder(fs, DIR).filter((f) => f.includes(`${name}.corrupt-`));
  assert.equal(aside.length, 1, filesUnder(fs, DIR).join());
  assert.deepEqual(fs.readFileSync(aside[0]), b);
  assert.ok(db.recovery.repairs.some((r) => r.startsWith(`moved the damaged checkpoint ${name} aside to ${name}.corrupt-`)), db.recovery.repairs.join('\n'));
  const d = digest(db);
  await db.close();
  const again = await openVectorDB(DIR, { fs });
  assert.equal(digest(again), d, 'the repaired state was checkpointed');
  assert.equal(filesUnder(fs, DIR).filter((f) => f.includes('.corrupt-')).length, 1, 'a later open leaves it where it is');
  await again.close();
});

test('a log cut at every byte opens (torn tail) to a state of the stream, monotonically', async () => {
  const { fs: base, final, states } = await build();
  const seg = segment(base);
  const bytes = base.readFileSync(seg);
  let lastIndex = N_BEFORE;
  let torn = 0;
  for (let n = 0; n <= bytes.length; n++) {
    const fs = base.snapshotDurable();
    fs.writeFileSync(seg, bytes.subarray(0, n));
    const db = await openVectorDB(DIR, { fs, readOnly: true });
    // Monotonic: the state after a longer log is never an earlier state of the stream.
    const idx = stateIndex(states, digest(db), lastIndex);
    assert.ok(idx >= 0, `cut at ${n}: not a state the stream passed through at or after op ${lastIndex}`);
    lastIndex = idx;
    if (db.recovery.tornTail) torn++;
    await db.close();
  }
  assert.equal(states[lastIndex], final);
  assert.ok(torn > bytes.length / 2, `${torn} torn tails`);
});

test('a bit flipped anywhere in the log: a CorruptionError naming the segment, or a torn tail; repair opens a prefix', async () => {
  const { fs: base, states } = await build();
  const seg = segment(base);
  const bytes = base.readFileSync(seg);
  let corrupt = 0;
  let torn = 0;
  for (let i = 0; i < bytes.length; i++) {
    const fs = base.snapshotDurable();
    const b = Uint8Array.from(bytes);
    b[i] ^= 1 << (i % 8);
    fs.writeFileSync(seg, b);
    try {
      const db = await openVectorDB(DIR, { fs, readOnly: true });
      assert.ok(db.recovery.tornTail, `flip at ${i} was accepted without a torn tail`);
      assert.ok(stateIndex(states, digest(db), N_BEFORE) >= 0, `flip at ${i}: wrong state`);
      torn++;
      await db.close();
    } catch (e) {
      if (e instanceof QuiverError && e.code === 'UNSUPPORTED_VERSION') continue;
      assert.ok(e instanceof CorruptionError && e.file === seg, `flip at ${i}: ${String(e)}`);
      corrupt++;
    }
    const db = await openVectorDB(DIR, { fs, repair: true }).catch((e: unknown) => {
      // A flipped version field is a newer version, not damage: repair does not apply.
      if (e instanceof QuiverError && e.code === 'UNSUPPORTED_VERSION') return undefined;
      throw e;
    });
    if (!db) continue;
    assert.ok(states.indexOf(digest(db)) >= 0, `flip at ${i}: repair produced a state the stream never had`);
    await db.close();
  }
  assert.ok(corrupt > bytes.length / 2, `corrupt ${corrupt}, torn ${torn} of ${bytes.length}`);
  assert.ok(torn > 0);
});

test('a flipped bit in the last acknowledged record (sync mode) fails the open instead of dropping it; repair drops it and says so', async () => {
  const fs = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs, dimension: 384, durability: 'sync', checkpointOnClose: false });
  for (let k = 0; k < 5; k++) await db.insert({ id: `w${k}`, vector: new Float32Array(384).fill(k + 1) });
  const seg = segment(fs);
  const before = fs.readFileSync(seg).length;
  await db.insert({ id: 'acked-last', vector: new Float32Array(384).fill(9), metadata: { important: true } });
  await db.close();
  const bytes = Uint8Array.from(fs.readFileSync(seg));
  bytes[before + Math.floor((bytes.length - before) / 2)] ^= 0x20;
  fs.writeFileSync(seg, bytes);
  const files = snapshot(fs);
  await assert.rejects(openVectorDB(DIR, { fs }), (e: unknown) => e instanceof CorruptionError && e.code === 'CHECKSUM_MISMATCH' && e.file === seg && e.offset === before && /repair: true/.test(e.message));
  assert.deepEqual(snapshot(fs), files, 'a failed open changes no file');
  const repaired = await openVectorDB(DIR, { fs, repair: true });
  assert.equal(repaired.len(), 5);
  assert.equal(repaired.has('acked-last'), false);
  assert.equal(repaired.recovery.logRepair?.truncatedAt, before);
  assert.equal(repaired.recovery.logRepair?.torn, false);
  assert.equal(repaired.recovery.tornTail, undefined);
  await repaired.close();
});

test('a log record that passes its CRC but does not fit the store is a CorruptionError naming the record', async () => {
  const fs = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs, dimension: OP_DIM, checkpointOnClose: false });
  await db.insert({ id: 'ok', vector: [1, 2, 3, 4] });
  await db.close();
  // Another program appends a 3-d upsert: a well-formed record the 4-d store cannot apply.
  const { WalWriter } = await import('../../src/wal/writer.js');
  const w = await WalWriter.open(fs, `${DIR}/wal`);
  const seq = await w.append({ type: 'upsert', id: 'bad', vector: [1, 2, 3] });
  await w.close();
  await assert.rejects(openVectorDB(DIR, { fs, readOnly: true }), (e: unknown) => e instanceof CorruptionError && e.section === `record ${seq}` && e.file === `${DIR}/wal` && /DIMENSION|dimension/.test(e.message));
});

test('a log record that passes its CRC but holds a non-finite vector is a CorruptionError naming the record, for every metric', async () => {
  const { WalWriter } = await import('../../src/wal/writer.js');
  for (const metric of ['cosine', 'euclidean', 'dot', 'manhattan'] as const) {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const fs = new MemoryFileSystem();
      const db = await openVectorDB(DIR, { fs, dimension: OP_DIM, metric, checkpointOnClose: false });
      await db.insert({ id: 'ok', vector: [1, 2, 3, 4] });
      await db.close();
      // A well-formed record (its CRC is right) that the engine would never have logged.
      const w = await WalWriter.open(fs, `${DIR}/wal`);
      const seq = await w.append({ type: 'upsert', id: 'ok', vector: [1, bad, 3, 4] });
      await w.close();
      await assert.rejects(
        openVectorDB(DIR, { fs, readOnly: true }),
        (e: unknown) => e instanceof CorruptionError && e.section === `record ${seq}` && e.file === `${DIR}/wal` && /logged vector\[1\]/.test(e.message),
        `${metric}, ${bad}`,
      );
    }
  }
});

test('CRC-valid log records whose metadata does not decode fail the open before any metadata is kept encoded', async () => {
  const base = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs: base, dimension: 2, checkpointOnClose: false });
  await db.insert({ id: 'ok', vector: [1, 2], metadata: { keep: 1 } });
  await db.insert({ id: 'x', vector: [3, 4], metadata: { a: 'hello' } });
  await db.close();
  const seg = segment(base);
  const good = Buffer.from(base.readFileSync(seg));
  // msgpackr writes { a: 'hello' } with a map16 header: de 00 01, a1 'a', a5 'hello'.
  const md = Buffer.from([0xde, 0, 1, 0xa1, 0x61, 0xa5, ...Buffer.from('hello')]);
  const at = good.indexOf(md);
  assert.ok(at > 0);
  // The record holding it is the second, after the segment header (32 bytes) and the first record
  // (20-byte header and payload); its CRC covers everything after its own first 4 bytes.
  const recordAt = 32 + 20 + good.readUInt32LE(32 + 4);
  assert.equal(good.readUInt32LE(recordAt + 8), 2, 'seq 2');
  assert.ok(at > recordAt && at < good.length);
  const cases: [string, number[]][] = [
    ['an array, not a map', [0x9a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
    ['a string running past the payload', [0xde, 0, 1, 0xa1, 0x61, 0xa6, ...Buffer.from('hello')]],
    ['a trailing byte', [0xde, 0, 1, 0xa1, 0x61, 0xa4, ...Buffer.from('hello')]],
    ['byte 0xc1', [0xde, 0, 1, 0xa1, 0x61, 0xc1, ...Buffer.from('hello')]],
    ['an array as a key', [0xde, 0, 1, 0x91, 0x01, 0xa5, ...Buffer.from('hello')]],
  ];
  for (const [what, bytes] of cases) {
    const bad = Buffer.from(good);
    bad.set(bytes, at);
    bad.writeUInt32LE(crc32(bad.subarray(recordAt + 4)), recordAt);
    const fs = base.snapshotDurable();
    fs.writeFileSync(seg, bad);
    const before = snapshot(fs);
    await assert.rejects(
      openVectorDB(DIR, { fs }),
      (e: unknown) => e instanceof CorruptionError && e.section === 'record 2',
      what,
    );
    assert.deepEqual(snapshot(fs), before, `${what}: nothing modified`);
  }
  // Intact, the same log reopens.
  const reopened = await openVectorDB(DIR, { fs: base, readOnly: true });
  assert.deepEqual(reopened.get('x')?.metadata, { a: 'hello' });
  await reopened.close();
});

test('repair falling back to an older checkpoint the log no longer continues still cuts the log at its damage, so the store opens and reopens', async () => {
  const fs = new MemoryFileSystem();
  const db = await openVectorDB(DIR, { fs, dimension: 2, checkpointOnClose: false });
  for (let i = 0; i < 5; i++) await db.insert({ id: i, vector: [i, 1] });
  const oldCheckpoint = fs.readFileSync(`${DIR}/checkpoint-0000000000000001.qvdb`);
  await db.checkpoint();
  for (let i = 5; i < 10; i++) await db.insert({ id: i, vector: [i, 1] });
  await db.close();
  // Three faults at once: an older checkpoint left behind (its removal interrupted), the current one
  // damaged, and a damaged record in the newest log segment.
  fs.writeFileSync(`${DIR}/checkpoint-0000000000000001.qvdb`, oldCheckpoint);
  const current = Buffer.from(fs.readFileSync(`${DIR}/checkpoint-0000000000000002.qvdb`));
  current[current.length - 20] ^= 1;
  fs.writeFileSync(`${DIR}/checkpoint-0000000000000002.qvdb`, current);
  const segment = filesUnder(fs, `${DIR}/wal/`).find((p) => p.endsWith('.log')) as string;
  const log = Buffer.from(fs.readFileSync(segment));
  log[32 + 25] ^= 1;
  fs.writeFileSync(segment, log);
  await assert.rejects(openVectorDB(DIR, { fs }), (e: unknown) => e instanceof CorruptionError);
  const repaired = await openVectorDB(DIR, { fs, repair: true });
  assert.deepEqual(repaired.ids(), [], 'the older checkpoint (the one the store was created with) holds nothing');
  assert.ok(repaired.recovery.repairs.some((r) => /its records were not applied/.test(r)));
  assert.ok(repaired.recovery.repairs.some((r) => /the log was cut at/.test(r)), repaired.recovery.repairs.join('\n'));
  await repaired.insert({ id: 'after', vector: [7, 7] });
  await repaired.close();
  const again = await openVectorDB(DIR, { fs });
  assert.deepEqual(again.ids(), ['after']);
  await again.close();
});

test('repair cuts the log at a CRC-valid record the store cannot apply, applying none of it, and the store reopens without repair', async () => {
  const { WalWriter } = await import('../../src/wal/writer.js');
  let deep: Record<string, unknown> = {};
  const deepRoot = deep;
  for (let i = 0; i < 300; i++) deep = (deep.n = {}) as Record<string, unknown>;
  const records = [
    { type: 'upsert', id: 'bad', vector: [1, 2, 3] },
    { type: 'batch', ops: [{ type: 'upsert', id: 'first', vector: [1, 1, 1, 1] }, { type: 'upsert', id: 'bad', vector: [1, NaN, 3, 4] }] },
    // Metadata deeper than updateMetadata takes (files may nest deeper than insert: 1001 levels).
    { type: 'batch', ops: [{ type: 'upsert', id: 'first', vector: [1, 1, 1, 1] }, { type: 'updateMetadata', id: 'ok', metadata: deepRoot }] },
  ];
  for (const bad of records) {
    const fs = new MemoryFileSystem();
    const db = await openVectorDB(DIR, { fs, dimension: OP_DIM, checkpointOnClose: false });
    await db.insert({ id: 'ok', vector: [1, 2, 3, 4] });
    await db.close();
    const w = await WalWriter.open(fs, `${DIR}/wal`);
    await w.append(bad as never);
    await w.append({ type: 'upsert', id: 'after', vector: [1, 2, 3, 4] });
    await w.close();
    await assert.rejects(openVectorDB(DIR, { fs }), (e: unknown) => e instanceof CorruptionError && /cannot be applied/.test(e.message));
    const repaired = await openVectorDB(DIR, { fs, repair: true });
    assert.deepEqual(repaired.ids(), ['ok'], `${bad.type}: nothing of the bad record (a batch's first op included), nothing after it`);
    assert.match(repaired.recovery.logRepair?.problem ?? '', /the record cannot be applied \(logged (vector|metadata)/);
    await repaired.close();
    const again = await openVectorDB(DIR, { fs });
    assert.deepEqual(again.ids(), ['ok']);
    await again.close();
  }
});
