/**
 * Test helpers for the SQLite export format: awkward sample content, column comparison, raw-SQL file
 * surgery and "resealing" (recomputing digests and checksum after surgery, so a test can reach the
 * checks that run after verification).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Id, Metadata } from '../../../src/engine/types.js';
import { nodeFs } from '../../../src/env/node-fs.js';
import { writeSqliteState } from '../../../src/format/sqlite/index.js';
import { StoredBuckets } from '../../../src/format/sqlite/bucket-db.js';
import { fileChecksum } from '../../../src/format/sqlite/digest.js';
import { EXTREME_FLOATS } from '../../support/columns.js';
import { tempDir as sharedTempDir } from '../../support/db.js';
import { makeImage, randomVectors, type ImageSpec } from '../../support/image.js';

export { assertColumnsEqual, EXTREME_FLOATS } from '../../support/columns.js';
export { makeImage, makeChangeImage, randomVectors, bytesOf, type ImageSpec } from '../../support/image.js';

/** A fresh temp directory and its cleanup. */
export const tempDir = (): { dir: string; cleanup: () => void } => sharedTempDir('quiver-sqlite-');

/** Runs `fn` with a fresh temp directory, removed afterwards. */
export async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const { dir, cleanup } = tempDir();
  try {
    return await fn(dir);
  } finally {
    cleanup();
  }
}

/** A small sample with unicode and numeric ids (42 and "42" both), nested metadata and extreme floats. */
export function awkwardSpec(): ImageSpec {
  const dim = 8;
  const ids: Id[] = ['ünïcødé-🚀-文档', 42, '42', 'no-metadata', 'proto', 'extremes', 'quote"back\\slash\n', -7, 0, Number.MAX_SAFE_INTEGER];
  const vectors = randomVectors(ids.length, dim, 7);
  vectors.set(EXTREME_FLOATS, 5 * dim);
  const metadata = ids.map((id, i): Metadata | undefined => (i === 3 ? undefined : { i, label: `entry ${String(id)}`, nested: { list: [1, 2.5, -0.125, null, true, { x: 'ÿ' }] }, z: 1, a: 2 }));
  metadata[4] = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "c", "b": 1}') as Metadata;
  return { dimension: dim, metric: 'euclidean', ids, vectors, metadata, seq: 99 };
}

/** Writes `spec` to `dir/name` on the real file system and returns the path. */
export async function writeSample(dir: string, spec: ImageSpec = awkwardSpec(), name = 's.sqlite'): Promise<string> {
  const path = join(dir, name);
  await writeSqliteState(nodeFs, path, makeImage(spec), { user: { note: 'ü' } });
  return path;
}

/** Runs raw SQL surgery on a file (read-write, no checks). */
export function surgery(path: string, fn: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    fn(db);
  } finally {
    db.close();
  }
}

/** Recomputes every bucket digest and the checksum of a file after surgery, as if the writer made it. */
export function reseal(path: string): void {
  surgery(path, (db) => {
    const bucketRows = Number(db.prepare("SELECT value FROM quiver_meta WHERE key = 'bucketRows'").pluck().get());
    const buckets = new StoredBuckets(db, path, bucketRows);
    const used = db.prepare(`SELECT DISTINCT pos / ${bucketRows} FROM entries UNION SELECT bucket FROM quiver_digests`).pluck().all() as number[];
    for (const b of used) buckets.refresh(b);
    const meta = db.prepare('SELECT key, value FROM quiver_meta').raw().all() as [string, string][];
    const digests = db.prepare('SELECT bucket, digest FROM quiver_digests').raw().all() as [number, Buffer][];
    db.prepare("UPDATE quiver_meta SET value = ? WHERE key = 'checksum'").run(fileChecksum(meta, digests));
  });
}

/** The little-endian bytes of one float32 vector, for raw-SQL updates. */
export function vectorBlob(values: number[]): Buffer {
  return Buffer.from(Float32Array.from(values).buffer);
}

/** The state after upserts and deletions applied to `base`, in a SQLite export's order (updates in place, inserts at the end). */
export function expectedAfter(base: ImageSpec, upserts: ImageSpec, deleted: Id[]): ImageSpec {
  const ids: Id[] = [];
  const meta: (Metadata | undefined)[] = [];
  const vecs: Float32Array[] = [];
  const at = new Map(upserts.ids.map((id, i) => [id, i]));
  const row = (s: ImageSpec, i: number) => s.vectors.subarray(i * base.dimension, (i + 1) * base.dimension);
  base.ids.forEach((id, i) => {
    if (deleted.includes(id)) return;
    const u = at.get(id);
    ids.push(id);
    meta.push(u === undefined ? base.metadata![i] : upserts.metadata![u]);
    vecs.push(u === undefined ? row(base, i) : row(upserts, u));
  });
  upserts.ids.forEach((id, u) => {
    if (base.ids.includes(id)) return;
    ids.push(id);
    meta.push(upserts.metadata![u]);
    vecs.push(row(upserts, u));
  });
  const vectors = new Float32Array(ids.length * base.dimension);
  vecs.forEach((v, i) => vectors.set(v, i * base.dimension));
  return { dimension: base.dimension, ids, vectors, metadata: meta };
}
