/**
 * Test helpers: temp dirs, small databases with awkward content, and exact database comparison.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import type { Metric } from '../../src/engine/types.js';
import { loadFioriEmbeddings } from '../../support/datasets.js';

/** A fresh temp directory and its cleanup. */
export function tempDir(prefix = 'quiver-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Entries with the content that breaks naive formats: unicode, numeric ids, nesting, odd keys. */
export async function addAwkwardEntries(db: VectorDB): Promise<void> {
  const dim = db.dimension;
  const v = (seed: number) => Float32Array.from({ length: dim }, (_, i) => Math.sin(seed * 7.13 + i) * (i % 3 === 0 ? 1e-7 : 3.5));
  await db.insert({ id: 'ünïcødé-🚀-文档', vector: v(1), metadata: { title: 'Grüße 👋 — "quoted" \\ back\nslash', tags: ['a', 'ß', '🚀'] } });
  await db.insert({ id: 42, vector: v(2), metadata: { nested: { deep: { list: [1, 2.5, -0.125, null, true, { x: 'y' }] } }, z: 1, a: 2, m: 3 } });
  await db.insert({ id: 'no-metadata', vector: v(3) });
  await db.insert({ id: 'proto', vector: v(4), metadata: JSON.parse('{"__proto__": {"polluted": true}, "constructor": "c", "b": 1}') as Record<string, unknown> });
  await db.insert({ id: 'extremes', vector: Float32Array.from({ length: dim }, (_, i) => [3.4028234663852886e38, -1.401298464324817e-45, 1.1754943508222875e-38, -0, 0.1, 1 / 3][i % 6]) });
}

/** A database of the 778 real embeddings (or the first `limit`) plus awkward entries. */
export async function realDb(limit = 778, metric: Metric = 'cosine'): Promise<VectorDB> {
  const data = loadFioriEmbeddings(metric);
  const db = new VectorDB({ dimension: 384, metric });
  await db.insertBatch(data.ids.slice(0, limit).map((id, i) => ({ id, vector: data.vectors.subarray(i * 384, (i + 1) * 384), metadata: data.metadata[i] })));
  await addAwkwardEntries(db);
  return db;
}

function bytesOf(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Asserts two databases hold the same ids (with types), bit-identical vectors and metadata (with key order). */
export function assertSameDb(actual: VectorDB, expected: VectorDB): void {
  assert.equal(actual.len(), expected.len(), 'entry count');
  assert.equal(actual.dimension, expected.dimension);
  for (const e of expected) {
    const a = actual.get(e.id);
    assert.ok(a, `missing id ${JSON.stringify(e.id)} (${typeof e.id})`);
    assert.equal(typeof a.id, typeof e.id);
    assert.ok(bytesOf(a.vector).equals(bytesOf(e.vector)), `vector bytes differ for ${String(e.id)}`);
    assert.equal(JSON.stringify(a.metadata ?? null), JSON.stringify(e.metadata ?? null), `metadata differs for ${String(e.id)}`);
    assert.deepEqual(a.metadata, e.metadata);
  }
}

/** Asserts both databases answer a few queries identically. */
export function assertSameSearch(actual: VectorDB, expected: VectorDB, queries = 5): void {
  const ids = expected.ids().slice(0, queries);
  for (const id of ids) {
    const q = expected.get(id)!.vector;
    const a = actual.search({ vector: q, k: 10 });
    const e = expected.search({ vector: q, k: 10 });
    assert.deepEqual(a.map((r) => [r.id, r.score]), e.map((r) => [r.id, r.score]));
  }
}
