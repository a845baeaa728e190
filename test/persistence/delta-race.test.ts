// Two writers on one delta chain (two instances, or two processes, on the same files) that save
// incrementally at the same moment: both pass the check that the next delta is free, then both publish
// it. A delta never replaces a file, so one of them fails with BUSY and publishes nothing, instead of
// silently replacing the other's acknowledged delta.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { QuiverError } from '../../src/errors.js';

const BASE = '/data/db.qvdb';

async function writer(fs: MemoryFileSystem): Promise<{ db: VectorDB; p: DatabasePersistence }> {
  const db = new VectorDB({ dimension: 4, metric: 'euclidean' });
  const p = new DatabasePersistence(db, { baseDir: '/data', fs });
  await p.load({ path: BASE });
  return { db, p };
}

test('two writers saving the same next delta at once: one succeeds, the other gets BUSY, and the chain loads with the winner\'s changes', async () => {
  for (let round = 0; round < 20; round++) {
    const fs = new MemoryFileSystem();
    const first = new VectorDB({ dimension: 4, metric: 'euclidean' });
    for (let i = 0; i < 50; i++) void first.insert({ id: `doc-${i}`, vector: [i, 1, 2, 3] });
    await new DatabasePersistence(first, { baseDir: '/data', fs }).save({ path: BASE });
    const a = await writer(fs);
    const b = await writer(fs);
    void a.db.insert({ id: 'from-a', vector: [1, 0, 0, 0] });
    void b.db.insert({ id: 'from-b', vector: [0, 1, 0, 0] });
    const [ra, rb] = await Promise.allSettled([a.p.saveIncremental(), b.p.saveIncremental()]);
    const won = [ra, rb].filter((r) => r.status === 'fulfilled');
    const lost = [ra, rb].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1, `round ${round}: exactly one delta is acknowledged`);
    assert.ok(lost[0].reason instanceof QuiverError && lost[0].reason.code === 'BUSY', String(lost[0].reason));
    const winner = ra.status === 'fulfilled' ? 'from-a' : 'from-b';
    const loser = winner === 'from-a' ? 'from-b' : 'from-a';
    const back = new VectorDB({ dimension: 4, metric: 'euclidean' });
    await new DatabasePersistence(back, { baseDir: '/data', fs }).load({ path: BASE });
    assert.equal(back.len(), 51);
    assert.deepEqual([back.get(winner)?.id, back.get(loser)?.id, ra.status], [winner, undefined, ra.status], JSON.stringify([...back].map((e) => e.id).slice(-3)));
    // No temp file of the losing save is left behind.
    assert.deepEqual((await fs.readdir('/data')).filter((n) => n.endsWith('.quiver-tmp')), []);
  }
});
