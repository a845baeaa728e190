// The scripted workload of the reopen tests: writes, batches, deletes, metadata updates and a clear,
// with concurrent and sequential phases. Run on any VectorDB; the result is deterministic.
import type { VectorDB } from '../../src/engine/vector-db.js';
import { vecOf } from './helpers.js';

/** Dimension of the scripted workload. */
export const SCRIPT_DIM = 8;

/** Runs the workload on `db`. */
export async function runScript(db: VectorDB): Promise<void> {
  const v = (k: number) => vecOf(k, SCRIPT_DIM);
  await Promise.all(Array.from({ length: 40 }, (_, i) => db.insert({ id: i % 2 ? `doc-${i}` : i, vector: v(i), metadata: { i, title: `títle ${i}`, tags: ['a', i % 3] } })));
  await db.insertBatch(Array.from({ length: 10 }, (_, i) => ({ id: `batch-${i}`, vector: v(100 + i) })));
  for (let i = 0; i < 10; i++) await db.delete(i * 2);
  await Promise.all(Array.from({ length: 10 }, (_, i) => db.updateMetadata(`doc-${2 * i + 1}`, { updated: i, nested: { deep: [1, 2, { x: null }] } })));
  const snapshotBeforeClear = db.len();
  if (snapshotBeforeClear !== 40) throw new Error(`script: expected 40 entries before clear, got ${snapshotBeforeClear}`);
  await db.clear();
  await Promise.all(Array.from({ length: 30 }, (_, i) => db.insert({ id: `after-${i}`, vector: v(200 + i), metadata: { i } })));
  await Promise.all([db.delete('after-0'), db.delete('after-1'), db.delete('missing'), db.updateMetadata('after-5', { five: 5 }), db.updateMetadata('missing', { no: true })]);
  await db.insert({ id: 'after-2', vector: v(999), metadata: { replaced: true } });
}
