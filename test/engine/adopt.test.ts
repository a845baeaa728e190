import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { normAt } from '../../src/engine/distance.js';
import { rememberNorms } from '../../src/util/hash-norms.js';
import { bytes, throwsCode } from './helpers.js';

const DIM = 6;

function columns(n: number, room = n): { ids: string[]; vectors: Float32Array; metadata: undefined[]; dimension: number; metric: 'cosine' } {
  const buf = new Float32Array(room * DIM);
  for (let i = 0; i < n * DIM; i++) buf[i] = ((i * 7) % 11) - 5 + 0.25;
  return { dimension: DIM, metric: 'cosine', ids: Array.from({ length: n }, (_, i) => `e${i}`), vectors: buf.subarray(0, n * DIM), metadata: new Array<undefined>(n) };
}

test('replaceAll with a capacity adopts the buffer\'s spare room and appends into it without copying', async () => {
  const db = new VectorDB({ dimension: DIM });
  const c = columns(10, 25);
  const buffer = c.vectors.buffer;
  db.replaceAll(c, { capacity: 25 });
  assert.equal(db.len(), 10);
  for (let i = 0; i < 15; i++) await db.insert({ id: `new${i}`, vector: [1, 2, 3, 4, 5, i] });
  // Still the caller's buffer: the appended vectors went into the room behind the loaded ones.
  assert.deepEqual(Array.from(new Float32Array(buffer, 10 * DIM * 4, DIM)), [1, 2, 3, 4, 5, 0]);
  assert.deepEqual(Array.from(new Float32Array(buffer, 11 * DIM * 4, DIM)), [1, 2, 3, 4, 5, 1]);
  assert.equal(db.len(), 25);
  const hit = db.search({ vector: [1, 2, 3, 4, 5, 14], k: 1 });
  assert.equal(hit[0].id, 'new14');
  assert.ok(Math.abs(hit[0].score - 1) < 1e-6);
  // Growing past the room moves to a new slab; everything survives.
  await db.insert({ id: 'past', vector: [1, 1, 1, 1, 1, 1] });
  assert.equal(db.len(), 26);
  assert.ok(bytes(db.get('e3')!.vector).equals(bytes(columns(10).vectors.subarray(3 * DIM, 4 * DIM))));
});

test('replaceAll refuses a capacity below the entries or beyond the buffer, changing nothing', async () => {
  const db = new VectorDB({ dimension: DIM });
  await db.insert({ id: 'keep', vector: [1, 0, 0, 0, 0, 0] });
  throwsCode(() => db.replaceAll(columns(4, 8), { capacity: 9 }), 'INVALID_ARGUMENT', /capacity/);
  throwsCode(() => db.replaceAll(columns(4, 8), { capacity: 3 }), 'INVALID_ARGUMENT', /capacity/);
  throwsCode(() => db.replaceAll(columns(4, 8), { capacity: 4.5 }), 'INVALID_ARGUMENT', /capacity/);
  assert.deepEqual(db.ids(), ['keep']);
  db.replaceAll(columns(4, 8), { capacity: 4 });
  assert.equal(db.len(), 4);
});

test('norms a reader remembered are used by replaceAll (and still checked for finiteness)', () => {
  const c = columns(3);
  // Deliberately different norms: the engine must take them as given (they come from the reader).
  const given = new Float64Array([normAt(c.vectors, 0, DIM), 1e9, normAt(c.vectors, 2 * DIM, DIM)]);
  rememberNorms(c.vectors, given);
  const db = new VectorDB({ dimension: DIM });
  db.replaceAll(c);
  const q = Array.from(c.vectors.subarray(DIM, 2 * DIM));
  const hits = db.search({ vector: q, k: 3 });
  assert.notEqual(hits[0].id, 'e1', 'e1 scores near 0 with the remembered norm');
  // A non-finite remembered norm makes the engine find and name the bad element.
  const bad = columns(3);
  bad.vectors[2 * DIM + 4] = Number.NaN;
  rememberNorms(bad.vectors, new Float64Array([1, 1, Number.NaN]));
  throwsCode(() => new VectorDB({ dimension: DIM }).replaceAll(bad), 'INVALID_VECTOR', /entry 2 .* element 4 is NaN/);
  // Remembered norms of another length are ignored (computed afresh).
  const other = columns(3);
  rememberNorms(other.vectors, new Float64Array(2));
  const db2 = new VectorDB({ dimension: DIM });
  db2.replaceAll(other);
  assert.equal(db2.search({ vector: Array.from(other.vectors.subarray(DIM, 2 * DIM)), k: 1 })[0].id, 'e1');
});
