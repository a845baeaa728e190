// kill -9 at random moments while a child writes in sync mode, checkpointing rarely (QUIVER_KILLS sets the number of kills
// per file, default 100; kill-checkpoint.test.ts adds as many during constant checkpoints).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { killSweep } from './kill-sweep.js';

const KILLS = Number(process.env.QUIVER_KILLS ?? 100);

test(`kill -9 sweep (${KILLS} kills): every acknowledged write survives and the state is a prefix of the stream`, async () => {
  const r = await killSweep(KILLS, 400, 42);
  assert.ok(r.totalAcks > KILLS, `only ${r.totalAcks} acknowledgements over ${KILLS} runs: the children barely wrote`);
});
