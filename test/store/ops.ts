// A deterministic stream of mutations (op k is a pure function of k) used by the damage, power-loss,
// reopen and kill tests, and the states it passes through.
import type { Id, Metadata, VectorEntry } from '../../src/engine/types.js';
import { VectorDB } from '../../src/engine/vector-db.js';
import { seededRandom } from '../../src/env/memory-crash.js';
import { digest, vecOf } from './helpers.js';

/** One mutation of the stream. */
export type Op =
  | { kind: 'upsert'; entry: VectorEntry }
  | { kind: 'batch'; entries: VectorEntry[] }
  | { kind: 'delete'; id: Id }
  | { kind: 'update'; id: Id; metadata: Metadata }
  | { kind: 'clear' };

/** Dimension used by the stream. */
export const OP_DIM = 4;

function idFor(n: number): Id {
  return n % 3 === 0 ? n : `doc-${n}`;
}

/** Op number `k` (1-based). `clears` allows the rare clear (default true). */
export function opAt(k: number, clears = true): Op {
  const r = seededRandom(k * 2654435761);
  const x = r();
  const id = idFor(Math.floor(r() * 40));
  if (clears && x < 0.01) return { kind: 'clear' };
  if (x < 0.2) return { kind: 'delete', id };
  if (x < 0.3) return { kind: 'update', id, metadata: { k, updated: true } };
  if (x < 0.38) {
    const entries = [0, 1, 2].map((j) => ({ id: idFor(Math.floor(r() * 40)), vector: vecOf(k * 10 + j, OP_DIM), metadata: { k, j } }));
    return { kind: 'batch', entries };
  }
  return { kind: 'upsert', entry: { id, vector: vecOf(k, OP_DIM), metadata: { k, tag: ['a', 'ü'][k % 2] } } };
}

/** Applies `op` to `db`; resolves when the db acknowledges it. */
export function applyOp(db: VectorDB, op: Op): Promise<unknown> {
  switch (op.kind) {
    case 'upsert':
      return db.insert(op.entry);
    case 'batch':
      return db.insertBatch(op.entries);
    case 'delete':
      return db.delete(op.id);
    case 'update':
      return db.updateMetadata(op.id, op.metadata);
    case 'clear':
      return db.clear();
  }
}

/** Digests of the states after ops 0..n (index i = after the first i ops), on a plain VectorDB. */
export async function prefixDigests(n: number, clears = true, from = 1, base?: VectorDB): Promise<string[]> {
  const db = base ?? new VectorDB({ dimension: OP_DIM });
  const out = [digest(db)];
  for (let k = from; k < from + n; k++) {
    await applyOp(db, opAt(k, clears));
    out.push(digest(db));
  }
  return out;
}
