// Shared helpers of the store tests: deterministic vectors, a canonical digest of a database's
// content, and small file-system utilities.
import { createHash } from 'node:crypto';
import type { Id, Metadata } from '../../src/engine/types.js';
import type { VectorDB } from '../../src/engine/vector-db.js';
import type { MemoryFileSystem } from '../../src/env/memory-fs.js';

/** A deterministic float32 vector for `k`. */
export function vecOf(k: number, dim = 4): Float32Array {
  const v = new Float32Array(dim);
  for (let d = 0; d < dim; d++) v[d] = Math.sin(k * 12.9898 + d * 78.233) * 10 + d;
  return v;
}

/** Entries as sorted plain objects (vectors as arrays of float32 values). */
export function contents(db: VectorDB): { id: Id; vector: number[]; metadata?: Metadata }[] {
  const out = [...db.entries()].map((e) => (e.metadata === undefined ? { id: e.id, vector: Array.from(e.vector) } : { id: e.id, vector: Array.from(e.vector), metadata: e.metadata }));
  return out.sort((a, b) => (String(typeof a.id) + String(a.id) < String(typeof b.id) + String(b.id) ? -1 : 1));
}

/** A SHA-256 over the sorted content (id type included, vectors bit-exact). */
export function digest(db: VectorDB): string {
  const h = createHash('sha256');
  for (const e of contents(db)) {
    h.update(`${typeof e.id}:${String(e.id)}|${JSON.stringify(e.metadata ?? null)}|`);
    h.update(Buffer.from(Float32Array.from(e.vector).buffer));
  }
  return h.digest('hex');
}

/** Paths of files (not directories) under `prefix` in a memory file system. */
export function filesUnder(fs: MemoryFileSystem, prefix: string): string[] {
  return fs.listAll().filter((p) => p.startsWith(prefix) && !p.endsWith('/'));
}
