// The kill -9 sweep shared by kill.test.ts (mostly log) and kill-checkpoint.test.ts (a checkpoint
// every few records): children write the op stream in sync mode and are SIGKILLed at random moments;
// after each kill the directory is opened read-only and must hold the stream's state after some op at
// or after the last acknowledged one. The next child continues from there on the same directory.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../../src/env/memory-crash.js';
import { VectorDB } from '../../src/engine/vector-db.js';
import { openVectorDB } from '../../src/store/durable-db.js';
import { digest } from './helpers.js';
import { runUntilKilled } from '../support/kill.js';
import { applyOp, opAt, OP_DIM } from './ops.js';

const CHILD = fileURLToPath(new URL('./fixtures/kill-writer.js', import.meta.url));

/** Runs one child until it is killed `delayMs` after opening; returns the highest acknowledged op. */
async function oneRun(dir: string, start: number, ckptRecords: number, delayMs: number): Promise<{ maxAck: number; acks: number }> {
  let maxAck = start - 1;
  let acks = 0;
  const end = await runUntilKilled(CHILD, [dir, String(start), '8', String(ckptRecords)], 'open', delayMs, (line) => {
    if (line.startsWith('ack ')) {
      maxAck = Math.max(maxAck, Number(line.slice(4)));
      acks++;
    }
  });
  assert.equal(end.code, null, `the child exited by itself (code ${String(end.code)}): ${end.stderr}`);
  return { maxAck, acks };
}

/** Runs `kills` kill -9 cycles on one directory; `ckptRecords` sets how often checkpoints run. */
export async function killSweep(kills: number, ckptRecords: number, seed: number): Promise<{ totalAcks: number; checkpointsSeen: number }> {
  const root = await mkdtemp(join(tmpdir(), 'quiver-kill-'));
  const dir = join(root, 'store');
  const rand = seededRandom(seed);
  // states[i]: digest after ops 1..i, extended on demand.
  const model = new VectorDB({ dimension: OP_DIM });
  const states = [digest(model)];
  const extendTo = async (n: number): Promise<void> => {
    while (states.length <= n) {
      await applyOp(model, opAt(states.length));
      states.push(digest(model));
    }
  };
  let at = 0;
  let totalAcks = 0;
  const checkpoints = new Set<string>();
  try {
    for (let i = 0; i < kills; i++) {
      // Up to 60 ms: long enough that, even on a loaded machine with slow fsyncs, most runs get past a few
      // checkpoints (kill-checkpoint.test.ts counts the distinct ones recovered).
      const { maxAck, acks } = await oneRun(dir, at + 1, ckptRecords, Math.floor(rand() * 60));
      totalAcks += acks;
      const db = await openVectorDB(dir, { readOnly: true });
      const d = digest(db);
      if (db.recovery.checkpoint) checkpoints.add(db.recovery.checkpoint);
      await db.close();
      await extendTo(maxAck + 64);
      let found = -1;
      for (let k = Math.max(at, maxAck); k <= maxAck + 64; k++) {
        if (states[k] === d) {
          found = k;
          break;
        }
      }
      assert.ok(found >= 0, `kill ${i}: the reopened state is not the stream's state after any op from ${Math.max(at, maxAck)} (last acknowledged ${maxAck}) on`);
      at = found;
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return { totalAcks, checkpointsSeen: checkpoints.size };
}
