/**
 * Snapshot test helpers: managers over memory and disk stores, small databases, state capture and
 * exact comparison.
 */
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import type { Id, Metadata, Metric } from '../../src/engine/types.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import type { SnapshotManagerOptions } from '../../src/snapshot/types.js';
import { MemorySnapshotStore } from '../../src/storage/memory-store.js';
import { clusteredDataset, prng } from '../../support/datasets.js';

/** A manager over a fresh in-memory store. */
export function memoryManager(options: Partial<SnapshotManagerOptions> = {}): { manager: SnapshotManager; store: MemorySnapshotStore } {
  const store = new MemorySnapshotStore();
  return { manager: new SnapshotManager({ store, ...options }), store };
}

/** A database of `n` clustered `dim`-d entries with small metadata (ids doc-0..). */
export function smallDb(n: number, dim = 16, metric: Metric = 'cosine', seed = 7): VectorDB {
  const db = new VectorDB({ dimension: dim, metric });
  const data = clusteredDataset(n, dim, seed, 8);
  db.replaceAll({ ...data, vectors: data.vectors.slice() });
  return db;
}

/** An exact copy of a database's state: id → [vector bytes, metadata JSON]. */
export type State = Map<Id, [string, string]>;

/** Captures the state of `db`. */
export function stateOf(db: VectorDB): State {
  const out: State = new Map();
  for (const e of db) out.set(e.id, [Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength).toString('base64'), JSON.stringify(e.metadata ?? null)]);
  return out;
}

/** Asserts `db` holds exactly `state` (ids with their types, vector bits, metadata with key order). */
export function assertState(db: VectorDB, state: State, label = ''): void {
  assert.equal(db.len(), state.size, `${label} entry count`);
  for (const [id, [vec, md]] of state) {
    const e = db.get(id);
    assert.ok(e, `${label} missing id ${JSON.stringify(id)}`);
    assert.equal(typeof e.id, typeof id, `${label} id type of ${String(id)}`);
    assert.equal(Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength).toString('base64'), vec, `${label} vector of ${String(id)}`);
    assert.equal(JSON.stringify(e.metadata ?? null), md, `${label} metadata of ${String(id)}`);
  }
}

/** Applies `count` random upserts/deletes/metadata updates to `db` (deterministic for a seed). */
export async function mutate(db: VectorDB, count: number, seed: number, idSpace = 1000): Promise<void> {
  const rnd = prng(seed);
  const dim = db.dimension;
  for (let i = 0; i < count; i++) {
    const r = rnd();
    const id: Id = rnd() < 0.2 ? Math.floor(rnd() * idSpace) : `doc-${Math.floor(rnd() * idSpace)}`;
    if (r < 0.6) {
      const v = Float32Array.from({ length: dim }, () => rnd() * 2 - 1);
      const md: Metadata | undefined = rnd() < 0.8 ? { n: i, s: `é${Math.floor(rnd() * 100)}`, nested: { a: [1, rnd() < 0.5] } } : undefined;
      await db.insert({ id, vector: v, metadata: md });
    } else if (r < 0.85) {
      await db.delete(id);
    } else {
      await db.updateMetadata(id, { updated: i });
    }
  }
}
