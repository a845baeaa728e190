// Power loss at random points while concurrent writers append (with segment rotations): every image
// a power cut could leave holds every record whose sync-mode append had resolved, and the log is a
// prefix of the appended sequence. In 'none' and 'interval' modes the prefix property still holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { seededRandom } from '../../src/env/memory-crash.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import type { Durability, WalRecord } from '../../src/wal/types.js';
import { WalWriter } from '../../src/wal/writer.js';
import { deleteSegmentsBefore } from '../../src/wal/segment-files.js';
import { assertPrefix, DIR, readAll, sampleRecord } from './helpers.js';

interface Image {
  fs: MemoryFileSystem;
  /** Seqs whose appends had resolved when the image was taken. */
  acked: number[];
  what: string;
}

async function run(seed: number, durability: Durability): Promise<{ images: Image[]; appended: WalRecord[] }> {
  const rand = seededRandom(seed);
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem, { log: false });
  const w = await WalWriter.open(fs, DIR, { durability, maxSegmentBytes: 1500, intervalMs: 2 });
  const appended: WalRecord[] = [];
  const acked: number[] = [];
  const images: Image[] = [];
  fs.beforeOp = (op) => {
    if (rand() < 0.15) {
      const crashSeed = Math.floor(rand() * 1e9);
      const keep = rand() < 0.3 ? undefined : { seed: crashSeed };
      images.push({ fs: mem.snapshotDurable(keep), acked: [...acked], what: `seed ${seed}, before op ${op.n} (${op.kind} ${op.path}), crash ${keep ? crashSeed : 'durable-only'}` });
    }
  };
  const writer = async (k: number): Promise<void> => {
    for (let i = 0; i < 12; i++) {
      const r = sampleRecord(k * 12 + i);
      const seq = w.nextSeq;
      appended[seq - 1] = r;
      const p = w.append(r);
      if (rand() < 0.3) await new Promise((res) => setImmediate(res));
      acked.push(await p);
    }
  };
  await Promise.all(Array.from({ length: 6 }, (_, k) => writer(k)));
  await w.close();
  images.push({ fs: mem.snapshotDurable({ seed }), acked: [...acked], what: `seed ${seed}, after close` });
  return { images, appended };
}

for (const durability of ['sync', 'interval', 'none'] as const) {
  test(`power loss at random points (${durability}): the log is a prefix${durability === 'sync' ? ' holding every acknowledged append' : ''}`, async () => {
    let checked = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const { images, appended } = await run(seed * 7919, durability);
      assert.equal(appended.length, 72);
      for (const img of images) {
        const { entries } = await readAll(img.fs);
        assertPrefix(entries, appended, 1, img.what);
        if (durability === 'sync') {
          const missing = img.acked.filter((s) => s > entries.length);
          assert.deepEqual(missing, [], `${img.what}: acknowledged records lost (log has ${entries.length})`);
        }
        if (img.what.endsWith('after close')) assert.equal(entries.length, 72, img.what);
        // The survivor is writable: the writer cuts any torn tail and continues the sequence.
        const w = await WalWriter.open(img.fs, DIR);
        assert.equal(await w.append({ type: 'clear' }), entries.length + 1, img.what);
        await w.close();
        const again = await readAll(img.fs);
        assert.equal(again.entries.length, entries.length + 1, img.what);
        assertPrefix(again.entries.slice(0, -1), appended, 1, img.what);
        checked++;
      }
    }
    assert.ok(checked > 100, `checked ${checked} images`);
  });
}

test('power loss while deleting old segments leaves a readable contiguous log from the checkpoint on', async () => {
  const mem = new MemoryFileSystem();
  const w = await WalWriter.open(mem, DIR, { maxSegmentBytes: 400 });
  const records: WalRecord[] = [];
  for (let i = 0; i < 40; i++) {
    records.push(sampleRecord(i));
    await w.append(records[i]);
  }
  const before = await mem.readdir(DIR);
  assert.ok(before.length >= 5, before.join());
  const fs = new FaultFileSystem(mem);
  const images: MemoryFileSystem[] = [];
  fs.beforeOp = () => {
    for (let s = 0; s < 4; s++) images.push(mem.snapshotDurable({ seed: images.length * 31 + s }));
  };
  const deleted = await deleteSegmentsBefore(fs, DIR, 30);
  fs.beforeOp = undefined;
  assert.ok(deleted.length >= 3);
  images.push(mem.snapshotDurable({ seed: 5 }));
  for (const img of images) {
    const { entries } = await readAll(img, DIR, { fromSeq: 31 });
    assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: 10 }, (_, i) => 31 + i));
    assertPrefix(entries, records.slice(30), 31);
  }
  await w.close();
});
