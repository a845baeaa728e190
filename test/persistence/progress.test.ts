import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import type { PersistenceFormat } from '../../src/persistence/types.js';
import type { ExportFormat } from '../../src/persistence/types.js';
import type { Progress } from '../../src/util/progress.js';
import { tempDir } from '../support/db.js';

const N = 1200;
const DIM = 8;

/** The reference's habit: un-awaited inserts with ids like doc-1, then a save. */
function filledDb(): VectorDB {
  const db = new VectorDB({ dimension: DIM });
  for (let i = 1; i <= N; i++) void db.insert({ id: `doc-${i}`, vector: Array.from({ length: DIM }, (_, j) => Math.sin(i * 7 + j)), metadata: { i } });
  return db;
}

/** Reports that count `items` entries: integers that never go backwards, ending at items/items and 100%. */
function assertCountsItems(seen: Progress[], items: number, what: string): void {
  assert.ok(seen.length > 0, `${what}: no reports`);
  for (const [i, p] of seen.entries()) {
    assert.equal(p.total, items, `${what}: report ${i} has total ${p.total}, expected ${items} items`);
    assert.ok(Number.isInteger(p.current) && p.current >= 0 && p.current <= items, `${what}: report ${i} has current ${p.current}`);
    if (i > 0) {
      assert.ok(p.current >= seen[i - 1].current, `${what}: current went backwards`);
      assert.ok(p.percentage >= seen[i - 1].percentage, `${what}: percentage went backwards`);
    }
  }
  const last = seen.at(-1)!;
  assert.deepEqual([last.current, last.total, last.percentage], [items, items, 100], what);
}

for (const format of ['binary', 'json', 'sqlite'] as PersistenceFormat[]) {
  test(`${format}: save, saveIncremental and load report current/total in entries (reference example 4)`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const db = filledDb();
      const p = new DatabasePersistence(db, { baseDir: dir, format, incremental: true });
      const saves: Progress[] = [];
      const path = await p.save({ onProgress: (x) => saves.push(x) });
      assertCountsItems(saves, N, `${format} save`);
      for (let i = 1; i <= 30; i++) await db.updateMetadata(`doc-${i}`, { i, changed: true });
      await db.delete('doc-31');
      const deltas: Progress[] = [];
      await p.saveIncremental({ onProgress: (x) => deltas.push(x) });
      assertCountsItems(deltas, 31, `${format} saveIncremental`);
      const loads: Progress[] = [];
      const copy = new VectorDB({ dimension: DIM });
      await new DatabasePersistence(copy, { baseDir: dir }).load({ path, onProgress: (x) => loads.push(x) });
      // A load counts the entries of its base file: the delta file after it changes a few of them, while
      // SQLite files took the incremental save in place.
      assertCountsItems(loads, format === 'sqlite' ? N - 1 : N, `${format} load`);
      assert.equal(copy.len(), N - 1);
    } finally {
      cleanup();
    }
  });
}

for (const format of ['parquet', 'npy', 'msgpack', 'binary', 'json'] as ExportFormat[]) {
  test(`${format}: export and import report current/total in entries`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const db = filledDb();
      const path = join(dir, `out.${format}`);
      const exports: Progress[] = [];
      await new DatabasePersistence(db, { baseDir: dir }).export({ path, format, onProgress: (x) => exports.push(x) });
      assertCountsItems(exports, N, `${format} export`);
      const imports: Progress[] = [];
      await new DatabasePersistence(new VectorDB({ dimension: DIM }), { baseDir: dir }).import({ path, onProgress: (x) => imports.push(x) });
      assertCountsItems(imports, N, `${format} import`);
    } finally {
      cleanup();
    }
  });
}

test('jsonl import, whose entry count is known only at its end, reports out of 100 and ends at 100', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'out.jsonl');
    await new DatabasePersistence(filledDb(), { baseDir: dir }).export({ path, format: 'jsonl' });
    const imports: Progress[] = [];
    await new DatabasePersistence(new VectorDB({ dimension: DIM }), { baseDir: dir }).import({ path, onProgress: (x) => imports.push(x) });
    assert.ok(imports.every((p) => p.total === 100));
    assert.deepEqual([imports.at(-1)!.current, imports.at(-1)!.percentage], [100, 100]);
  } finally {
    cleanup();
  }
});

test('snapshots: create and restore report current/total in entries', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = filledDb();
    const m = new SnapshotManager({ snapshotDir: join(dir, 'snaps') });
    const creates: Progress[] = [];
    const snap = await m.createSnapshot(db, 's', undefined, { onProgress: (x) => creates.push(x) });
    assertCountsItems(creates, N, 'snapshot create');
    const restores: Progress[] = [];
    const into = new VectorDB({ dimension: DIM });
    await new SnapshotManager({ snapshotDir: join(dir, 'snaps') }).restoreSnapshotInto(snap.id, into, { onProgress: (x) => restores.push(x) });
    assert.equal(into.len(), N);
    assertCountsItems(restores, N, 'snapshot restore');
  } finally {
    cleanup();
  }
});

test('a progress callback that throws: the call rejects with its error (never dressed up as damage) and changes nothing; one that throws at 100% cannot undo the finished work', async () => {
  const { dir, cleanup } = tempDir();
  const warn = process.emitWarning;
  try {
    const db = filledDb();
    const boom = new Error('callback failed');
    const throwsMidway = (p: Progress): void => {
      if (p.percentage > 0 && p.percentage < 100) throw boom;
    };
    for (const format of ['binary', 'json', 'sqlite'] as PersistenceFormat[]) {
      const p = new DatabasePersistence(db, { baseDir: dir, format });
      const path = join(dir, `db-${format}`);
      await p.save({ path });
      await assert.rejects(p.save({ path: `${path}-2`, onProgress: throwsMidway }), (e: unknown) => e === boom, `${format} save`);
      const target = new VectorDB({ dimension: DIM });
      await target.insert({ id: 'keep', vector: new Float32Array(DIM).fill(1) });
      await assert.rejects(new DatabasePersistence(target, { baseDir: dir }).load({ path, onProgress: throwsMidway }), (e: unknown) => e === boom, `${format} load`);
      assert.deepEqual(target.ids(), ['keep'], `${format}: the database is untouched`);
      // Throwing on the final report: the load is done and stays done; the call resolves with a warning.
      process.emitWarning = () => undefined;
      await new DatabasePersistence(target, { baseDir: dir }).load({ path, onProgress: (pr) => {
        if (pr.percentage === 100) throw boom;
      } });
      process.emitWarning = warn;
      assert.equal(target.len(), N, `${format}: loaded`);
    }
  } finally {
    process.emitWarning = warn;
    cleanup();
  }
});
