// Simulated power loss at random points of a concurrent workload with frequent checkpoints and
// segment rotations: each image a power cut could leave (unsynced bytes torn or dropped, unsynced
// renames kept or lost at random) reopens to a state the operation stream passed through, and in
// sync mode to one that includes every acknowledged operation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { seededRandom } from '../../src/env/memory-crash.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { openVectorDB } from '../../src/store/durable-db.js';
import type { Durability } from '../../src/wal/types.js';
import { digest } from './helpers.js';
import { applyOp, opAt, OP_DIM, prefixDigests } from './ops.js';

const DIR = '/p';
const OPS = 80;

interface Image {
  fs: MemoryFileSystem;
  /** Highest op whose promise had resolved (ops resolve in order). */
  acked: number;
  /** Ops issued so far. */
  issued: number;
  what: string;
}

async function run(seed: number, durability: Durability, stopAt?: number): Promise<Image[]> {
  const rand = seededRandom(seed);
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem, { log: false });
  let acked = 0;
  let issued = 0;
  const images: Image[] = [];
  fs.beforeOp = (op) => {
    if (rand() < 0.06) {
      const crash = rand() < 0.25 ? undefined : { seed: Math.floor(rand() * 1e9) };
      images.push({ fs: mem.snapshotDurable(crash), acked, issued, what: `seed ${seed} ${durability}: before op ${op.n} (${op.kind} ${op.path}), crash ${crash ? crash.seed : 'durable-only'}` });
    }
  };
  if (stopAt !== undefined) fs.addFault({ at: stopAt, code: 'EIO', mode: 'persistent' });
  try {
    const db = await openVectorDB(DIR, { fs, dimension: OP_DIM, durability, intervalMs: 1, checkpointRecords: 7, maxSegmentBytes: 600 });
    const inflight: Promise<unknown>[] = [];
    for (let k = 1; k <= OPS; k++) {
      issued = k;
      const p = applyOp(db, opAt(k)).then(() => {
        acked = Math.max(acked, k);
      });
      inflight.push(p.catch(() => undefined));
      if (rand() < 0.3) await new Promise((r) => setImmediate(r));
      if (inflight.length > 6 || rand() < 0.1) await inflight.shift();
    }
    await Promise.all(inflight);
    await db.close().catch(() => undefined);
  } catch {
    // The injected fault may stop the open itself.
  }
  images.push({ fs: mem.snapshotDurable({ seed }), acked, issued, what: `seed ${seed} ${durability}: at the end` });
  return images;
}

async function check(images: Image[], states: string[], durability: Durability): Promise<number> {
  let checked = 0;
  for (const img of images) {
    const db = await openVectorDB(DIR, { fs: img.fs, dimension: OP_DIM }).catch((e: unknown) => {
      // Before the first checkpoint is published the directory holds no store yet (nothing was acknowledged).
      assert.equal(img.acked, 0, `${img.what}: ${String(e)}`);
      return undefined;
    });
    if (!db) continue;
    const from = durability === 'sync' ? img.acked : 0;
    let idx = -1;
    const d = digest(db);
    for (let i = from; i <= img.issued; i++) if (states[i] === d) idx = i;
    assert.ok(idx >= 0, `${img.what}: the state is not the stream's state after any op in ${from}..${img.issued}`);
    // The survivor accepts writes and keeps them.
    await db.insert({ id: 'probe', vector: [1, 2, 3, 4] });
    await db.close();
    const again = await openVectorDB(DIR, { fs: img.fs.snapshotDurable() });
    assert.ok(again.has('probe'), img.what);
    await again.close();
    checked++;
  }
  return checked;
}

for (const durability of ['sync', 'interval', 'none'] as const) {
  test(`power loss at random points (${durability}): a state of the stream${durability === 'sync' ? ' with every acknowledged op' : ''}`, async () => {
    const states = await prefixDigests(OPS);
    let checked = 0;
    for (let seed = 1; seed <= 6; seed++) checked += await check(await run(seed * 7919, durability), states, durability);
    assert.ok(checked >= 40, `checked ${checked} images`);
  });
}

test('the process stops at op N (every later operation fails): the durable image is consistent and has every acknowledged op', async () => {
  const states = await prefixDigests(OPS);
  let checked = 0;
  for (let n = 5; n < 700; n += 37) checked += await check(await run(n, 'sync', n), states, 'sync');
  assert.ok(checked > 60, `checked ${checked} images`);
});
