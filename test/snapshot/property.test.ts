import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VectorDB } from '../../src/engine/vector-db.js';
import type { Id } from '../../src/engine/types.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { MemorySnapshotStore } from '../../src/storage/memory-store.js';
import { assertState, stateOf, type State } from './helpers.js';

const DIM = 4;
const idArb = fc.oneof(fc.constantFrom('a', 'b', 'c', 'd', 'é', 'f-1', ' '), fc.integer({ min: 0, max: 6 }));
const vecArb = fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: DIM, maxLength: DIM });
const mdArb = fc.option(fc.dictionary(fc.constantFrom('k', 'x', 'ü', 'z'), fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.boolean(), fc.constant(null)), { maxKeys: 3 }), { nil: undefined });

type Op =
  | { kind: 'insert'; id: Id; vector: number[]; metadata?: Record<string, unknown> }
  | { kind: 'delete'; id: Id }
  | { kind: 'meta'; id: Id; metadata: Record<string, unknown> }
  | { kind: 'clear' }
  | { kind: 'full' }
  | { kind: 'inc'; base: number; fresh: boolean }
  | { kind: 'drop'; pick: number; mode: 'cascade' | 'fold' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('insert' as const), id: idArb, vector: vecArb, metadata: mdArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), id: idArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('meta' as const), id: idArb, metadata: fc.dictionary(fc.string({ maxLength: 2 }), fc.integer(), { maxKeys: 2 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'full' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('inc' as const), base: fc.nat(), fresh: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick: fc.nat(), mode: fc.constantFrom('cascade' as const, 'fold' as const) }) },
);

test('property: restoring any snapshot gives exactly the database as it was when it was taken', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 50 }), fc.constantFrom('gzip' as const, 'none' as const), fc.integer({ min: 1, max: 4 }), async (ops, compression, maxChainDepth) => {
      const store = new MemorySnapshotStore();
      const manager = new SnapshotManager({ store, compression, maxChainDepth, maxConcurrentIo: 2 });
      const db = new VectorDB({ dimension: DIM, metric: 'euclidean' });
      const taken: { id: string; state: State }[] = [];
      for (const op of ops) {
        switch (op.kind) {
          case 'insert':
            await db.insert({ id: op.id, vector: op.vector, metadata: op.metadata });
            break;
          case 'delete':
            await db.delete(op.id);
            break;
          case 'meta':
            await db.updateMetadata(op.id, op.metadata);
            break;
          case 'clear':
            await db.clear();
            break;
          case 'full':
            taken.push({ id: (await manager.createSnapshot(db, 'full')).id, state: stateOf(db) });
            break;
          case 'inc': {
            if (taken.length === 0) break;
            const base = taken[op.base % taken.length].id;
            // `fresh`: a manager that never saw this db, so the content diff is used instead of change tracking.
            const m = op.fresh ? new SnapshotManager({ store, compression, maxChainDepth }) : manager;
            const info = await m.createIncrementalSnapshot(db, 'inc', base);
            assert.ok(info.chainDepth <= maxChainDepth);
            taken.push({ id: info.id, state: stateOf(db) });
            break;
          }
          case 'drop': {
            if (taken.length === 0) break;
            const victim = taken[op.pick % taken.length].id;
            const r = await manager.deleteSnapshot(victim, { dependents: op.mode });
            for (const gone of r.deleted) taken.splice(taken.findIndex((t) => t.id === gone), 1);
            break;
          }
        }
      }
      const reader = new SnapshotManager({ store });
      assert.deepEqual(new Set((await reader.listSnapshots()).map((s) => s.id)), new Set(taken.map((t) => t.id)));
      for (const t of taken) {
        assertState(await reader.restoreSnapshot(t.id), t.state, t.id);
        assert.equal(await reader.verifySnapshot(t.id), true);
      }
    }),
    { numRuns: Number(process.env.QUIVER_PROPERTY_RUNS ?? 150) },
  );
});
