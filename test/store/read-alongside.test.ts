// A read-only open takes no lock: while it reads, the writer may publish a checkpoint and delete the log
// segments and checkpoint it was reading. That is a race, not damage: the open starts over from the new
// pointer and always sees a consistent prefix of the acknowledged writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openVectorDB } from '../../src/store/durable-db.js';
import { tempDir } from '../support/db.js';

test('read-only opens alongside a writer that checkpoints often all succeed, each with a prefix of the acknowledged writes', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const dim = 16;
    const vec = (i: number): Float32Array => Float32Array.from({ length: dim }, (_, j) => Math.sin(i * 31 + j));
    const w = await openVectorDB(dir, { dimension: dim, checkpointRecords: 200, maxSegmentBytes: 8192 });
    let acked = 0;
    let stop = false;
    const writer = (async () => {
      for (let i = 0; i < 5000 && !stop; i++) {
        await w.insert({ id: `k${i}`, vector: vec(i), metadata: { i } });
        acked = i + 1;
        if (i % 300 === 150) await w.checkpoint();
      }
    })();
    const failures: string[] = [];
    for (let t = 0; t < 80; t++) {
      const before = acked;
      try {
        const r = await openVectorDB(dir, { readOnly: true });
        const n = r.len();
        if (n < before) failures.push(`open ${t}: ${n} entries, ${before} were acknowledged before it`);
        for (let i = 0; i < n; i++) {
          if (r.get(`k${i}`)?.metadata?.i !== i) {
            failures.push(`open ${t}: not a prefix at k${i}`);
            break;
          }
        }
        await r.close();
      } catch (err) {
        failures.push(`open ${t}: ${(err as { code?: string }).code}: ${(err as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    stop = true;
    await writer;
    await w.close();
    assert.deepEqual(failures, []);
  } finally {
    cleanup();
  }
});
