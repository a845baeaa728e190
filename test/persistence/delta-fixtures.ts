/** Shared fixtures of the delta-file tests: a 128-d database of about 2,000 ids and seeded changes to it. */
import type { VectorDB } from '../../src/engine/vector-db.js';
import { prng } from '../../support/datasets.js';

export const DIM = 128;
export const N = 2000;

/** `count` seeded upserts of random ids `doc-0` .. `doc-1999` (not awaited, as the reference examples do). */
export function change(db: VectorDB, count: number, seed: number): void {
  const rnd = prng(seed);
  for (let i = 0; i < count; i++) {
    const v = new Float32Array(DIM);
    for (let d = 0; d < DIM; d++) v[d] = rnd() - 0.5;
    void db.insert({ id: `doc-${Math.floor(rnd() * N)}`, vector: v, metadata: { seed, i } });
  }
}
