/**
 * Child of big.test.ts, run with --max-old-space-size=1024: exports a database whose JSON text is over
 * 512 MB (past V8's string limit) in the given format, imports it back and prints a JSON summary.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { randomVectors } from '../support/image.js';

const [format, dir] = process.argv.slice(2);
const n = 130_000;
const dim = 384;
const vectors = randomVectors(n, dim, 29);
const ids = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? i : `doc-${i}`));
const metadata = ids.map((_, i) => (i % 3 === 0 ? { i, tag: `t${i % 7}` } : undefined));
const db = new VectorDB({ dimension: dim, metric: 'dot' });
db.replaceAll({ dimension: dim, metric: 'dot', ids, vectors: vectors.slice(), metadata });
const path = join(dir, `huge.${format}`);
await new DatabasePersistence(db, { baseDir: dir }).export({ path, format: format as 'json' });
const bytes = statSync(path).size;
const back = new VectorDB({ dimension: dim, metric: 'dot' });
await new DatabasePersistence(back, { baseDir: dir }).import({ path, clear: true });
const hash = (d: VectorDB) => {
  const h = createHash('sha256');
  for (const id of ids) {
    const e = d.get(id);
    if (!e) return `missing ${String(id)}`;
    h.update(Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength));
    h.update(JSON.stringify([typeof e.id, e.metadata ?? null]));
  }
  return h.digest('hex');
};
process.stdout.write(JSON.stringify({ bytes, count: back.len(), same: hash(back) === hash(db), heapLimitMB: Math.round((await import('node:v8')).getHeapStatistics().heap_size_limit / 2 ** 20) }) + '\n');
