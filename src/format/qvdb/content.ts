/**
 * What a `.qvdb` file's checksums cannot vouch for: a file written by another program (or edited and
 * resealed) can hold valid checksums over an empty id, a duplicate id or a NaN vector, which every other
 * reader refuses as damage. Checked where a file is imported, converted or verified; a load leaves it to
 * the engine, which checks the same while it takes the columns (without a second pass over the vectors).
 */
import { CorruptionError } from '../../errors.js';
import type { Columns, Id } from '../../engine/types.js';
import { findNonFinite } from '../../engine/load.js';

function idText(id: Id): string {
  return typeof id === 'string' ? JSON.stringify(id) : `${id} (a number)`;
}

/** Throws a CorruptionError naming `file` unless every id is valid and unique and every vector finite. */
export function checkQvdbContent(file: string, columns: Columns): void {
  const { ids, vectors, dimension } = columns;
  const first = new Map<Id, number>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id === 'string' ? id.length === 0 : !Number.isSafeInteger(id)) {
      throw new CorruptionError({ file, section: 'ids' }, `entry ${i} has the id ${idText(id)}; ids are non-empty strings or safe integers`);
    }
    const at = first.get(id);
    if (at !== undefined) throw new CorruptionError({ file, section: 'ids' }, `duplicate id ${idText(id)}: entries ${at} and ${i} both hold it`);
    first.set(id, i);
  }
  const bad = findNonFinite(vectors, 0, ids.length * dimension);
  if (bad >= 0) {
    const e = Math.floor(bad / dimension);
    throw new CorruptionError({ file, section: 'vectors' }, `the vector of entry ${e} (id ${idText(ids[e])}) has ${vectors[bad]} at element ${bad - e * dimension}; stored vectors are finite`);
  }
}
