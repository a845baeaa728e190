// The upsert log answers "which slots changed after seq s" without a scan; where it does not reach back,
// the engine scans. Either way a change view must list exactly the entries written after s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpsertLog } from '../../src/engine/upsert-log.js';
import { VectorDB } from '../../src/engine/vector-db.js';
import type { Id } from '../../src/engine/types.js';
import { prng } from '../../support/datasets.js';

test('UpsertLog: last write per slot, live slots only, ascending; undefined before its start', () => {
  const log = new UpsertLog();
  const slotSeq = new Float64Array(8);
  const write = (slot: number, seq: number) => {
    slotSeq[slot] = seq;
    log.record(slot, seq, 8);
  };
  write(5, 1);
  write(2, 2);
  write(5, 3);
  write(7, 4);
  const live = (s: number) => s !== 7;
  assert.deepEqual([...(log.slotsSince(0, slotSeq, live) ?? [])], [2, 5]);
  assert.deepEqual([...(log.slotsSince(2, slotSeq, live) ?? [])], [5]);
  assert.deepEqual([...(log.slotsSince(4, slotSeq, live) ?? [])], []);
  log.restart(10);
  assert.equal(log.slotsSince(9, slotSeq, live), undefined, 'before the restart: unknown');
  write(1, 11);
  assert.deepEqual([...(log.slotsSince(10, slotSeq, live) ?? [])], [1]);
});

test('UpsertLog: past its bound it drops its older half', () => {
  const log = new UpsertLog();
  const slotSeq = new Float64Array(10);
  let seq = 0;
  for (let i = 0; i < 4096; i++) {
    slotSeq[i % 10] = ++seq;
    log.record(i % 10, seq, 10);
  }
  assert.deepEqual([...(log.slotsSince(0, slotSeq, () => true) ?? [])], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  slotSeq[3] = ++seq;
  log.record(3, seq, 10); // the 4097th entry: over the bound, entries of seqs 1..2048 go
  assert.equal(log.slotsSince(2047, slotSeq, () => true), undefined);
  assert.deepEqual([...(log.slotsSince(2048, slotSeq, () => true) ?? [])], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...(log.slotsSince(seq - 1, slotSeq, () => true) ?? [])], [3]);
});

test('change views list exactly the entries written after s, from the log or from a scan', async () => {
  const dim = 4;
  const db = new VectorDB({ dimension: dim, metric: 'cosine' });
  const lastWrite = new Map<Id, number>();
  const rnd = prng(5);
  const checkpoints: number[] = [0];
  const n = 3000;
  for (let round = 0; round < 6; round++) {
    // Round 3 writes more than the log holds (its older entries go); later rounds use it again.
    const writes = round === 3 ? 9000 : 400;
    for (let i = 0; i < writes; i++) {
      const id: Id = rnd() < 0.5 ? `doc-${Math.floor(rnd() * n)}` : Math.floor(rnd() * n);
      if (rnd() < 0.1) {
        if (await db.delete(id)) lastWrite.delete(id);
        continue;
      }
      await db.insert({ id, vector: [rnd(), rnd(), rnd(), 1], metadata: { round } });
      lastWrite.set(id, db.seq);
    }
    checkpoints.push(db.seq);
    for (const since of checkpoints) {
      const view = db.openChanges(since);
      const expected = [...lastWrite].filter(([, seq]) => seq > since).map(([id]) => id);
      assert.deepEqual(new Set(view.ids), new Set(expected), `round ${round}, since ${since}`);
      assert.equal(view.count, expected.length, 'each entry once');
      view.release();
    }
  }
});
