/**
 * The expected-contents form of the golden snapshot set: every entry with its id (and id type), the
 * hex of its float32 little-endian vector, and its metadata as JSON text (key order included).
 */
import type { VectorDB } from '../../../src/engine/vector-db.js';

/** One expected entry. */
export interface ExpectedEntry {
  id: string | number;
  vectorHex: string;
  metadataJson: string;
}

/** The entries of `db`, sorted by (id type, id). */
export function expectedEntries(db: VectorDB): ExpectedEntry[] {
  const out: ExpectedEntry[] = [];
  for (const e of db) {
    out.push({ id: e.id, vectorHex: Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength).toString('hex'), metadataJson: JSON.stringify(e.metadata ?? null) });
  }
  const key = (x: ExpectedEntry): string => `${typeof x.id}:${String(x.id)}`;
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
