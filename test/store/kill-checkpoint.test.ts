// kill -9 at random moments while a child writes in sync mode with a checkpoint every 3 records, so
// kills land inside checkpoints (file write, rotation, pointer publish, segment and checkpoint deletion).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { killSweep } from './kill-sweep.js';

const KILLS = Number(process.env.QUIVER_KILLS ?? 100);

test(`kill -9 during checkpoints (${KILLS} kills): every acknowledged write survives and the state is a prefix`, async () => {
  const r = await killSweep(KILLS, 3, 7);
  assert.ok(r.totalAcks > KILLS, `only ${r.totalAcks} acknowledgements`);
  assert.ok(r.checkpointsSeen > KILLS / 4, `only ${r.checkpointsSeen} distinct checkpoints were recovered`);
});
