/** Random operation sequences for property tests of change tracking and images. */
import fc from 'fast-check';
import type { Id, Metadata } from '../../src/engine/types.js';
import type { VectorDB } from '../../src/engine/vector-db.js';

/** One mutation. */
export type Op =
  | { t: 'insert'; id: Id; v: number[]; md: Metadata | undefined }
  | { t: 'batch'; items: { id: Id; v: number[]; md: Metadata | undefined }[] }
  | { t: 'delete'; id: Id }
  | { t: 'meta'; id: Id; md: Metadata }
  | { t: 'clear' };

const idArb = fc.constantFrom<Id>('a', 'b', 'c', 'd', 'e', 'f', 1, 2, 3, '1');
const vecArb = fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 3, maxLength: 3 });
const mdArb = fc.record({ x: fc.integer(), s: fc.string({ maxLength: 3 }) });
const itemArb = fc.record({ id: idArb, v: vecArb, md: fc.option(mdArb, { nil: undefined }) });
/** A random mutation over a small id pool (so replaces, deletes and reuse are frequent). */
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: itemArb.map((x) => ({ t: 'insert' as const, ...x })) },
  { weight: 2, arbitrary: fc.array(itemArb, { maxLength: 4 }).map((items) => ({ t: 'batch' as const, items })) },
  { weight: 4, arbitrary: idArb.map((id) => ({ t: 'delete' as const, id })) },
  { weight: 2, arbitrary: fc.record({ id: idArb, md: mdArb }).map((x) => ({ t: 'meta' as const, ...x })) },
  { weight: 1, arbitrary: fc.constant({ t: 'clear' as const }) },
);

/** Applies mutations without awaiting (they apply synchronously). */
export function apply(db: VectorDB, ops: Op[]): void {
  for (const op of ops) {
    if (op.t === 'insert') void db.insert({ id: op.id, vector: op.v, metadata: op.md });
    else if (op.t === 'batch') void db.insertBatch(op.items.map((x) => ({ id: x.id, vector: x.v, metadata: x.md })));
    else if (op.t === 'delete') void db.delete(op.id);
    else if (op.t === 'meta') void db.updateMetadata(op.id, op.md);
    else void db.clear();
  }
}

