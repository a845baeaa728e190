import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { normAt } from '../../src/engine/distance.js';
import { rememberNorms } from '../../src/util/hash-norms.js';
import { checkColumns, prepareIds } from '../../src/engine/load.js';
import { QuiverError } from '../../src/errors.js';
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

test('ids prepared by a reader are used only while the array is unchanged; otherwise checkColumns checks them itself', () => {
  const clean = columns(50);
  const p = prepareIds(clean.ids);
  const a = checkColumns(clean, DIM, false, 'columns');
  assert.equal(a.idMap, p?.idMap, 'the prepared map itself is taken');
  const b = checkColumns(columns(50), DIM, false, 'columns');
  assert.deepEqual(a.ids, b.ids);
  assert.deepEqual([...a.idMap], [...b.idMap]);

  // Changed after preparing: a duplicate must still be found.
  const dup = columns(50);
  prepareIds(dup.ids);
  dup.ids[7] = 'e3';
  const changed = columns(50);
  const q = prepareIds(changed.ids);
  changed.ids[7] = 'x7';
  assert.notEqual(checkColumns(changed, DIM, false, 'columns').idMap, q?.idMap, 'a changed array is checked again');
  assert.throws(() => checkColumns(dup, DIM, false, 'columns'), (err: unknown) => err instanceof QuiverError && err.code === 'INVALID_ARGUMENT' && /the id "e3" twice \(entries 3 and 7\)/.test(err.message));
  // An invalid id is not remembered by prepareIds (which never throws), and is reported as usual.
  const bad = { ...columns(3), ids: ['a', '', 'c'] };
  assert.equal(prepareIds(bad.ids), undefined);
  assert.throws(() => checkColumns(bad, DIM, false, 'columns'), (err: unknown) => err instanceof QuiverError && err.code === 'INVALID_ID' && /columns\.ids\[1\]/.test(err.message));
  // A -0 id read from a file comes out as 0 on the prepared path too.
  const zero = { ...columns(2), ids: [-0, 1] as number[] };
  prepareIds(zero.ids);
  assert.ok(Object.is(checkColumns(zero, DIM, false, 'columns').ids[0], 0));
  // Prepared ids are taken once: a second check of the same (unchanged) array builds them again, equal.
  const again = columns(5);
  prepareIds(again.ids);
  const first = checkColumns(again, DIM, false, 'columns');
  const second = checkColumns(again, DIM, false, 'columns');
  assert.notEqual(first.idMap, second.idMap);
  assert.deepEqual([...first.idMap], [...second.idMap]);
});

test('replaceAll and applyDelta refuse metadata that is not plain JSON at the call, and change nothing', async () => {
  const db = new VectorDB({ dimension: DIM });
  await db.insert({ id: 'keep', vector: [1, 2, 3, 4, 5, 6], metadata: { a: 1 } });
  const bad: unknown[] = [{ when: new Date(0) }, { n: Number.NaN }, { u: undefined }, { s: '\udc00' }, { ['\ud800']: 1 }, { nested: [1, { f: () => 1 }] }, { m: new Map() }];
  for (const meta of bad) {
    const c = columns(2) as unknown as { metadata: unknown[] };
    c.metadata[1] = meta;
    throwsCode(() => db.replaceAll(c as never), 'INVALID_METADATA', /columns\.metadata\[1\]/);
    throwsCode(() => db.applyDelta({ ...(c as object), cleared: false, deletedIds: [] } as never), 'INVALID_METADATA', /delta\.metadata\[1\]/);
  }
  assert.deepEqual(db.ids(), ['keep']);
  assert.deepEqual(db.get('keep')?.metadata, { a: 1 });
  // Plain JSON, nested, with a well-formed surrogate pair: accepted.
  const ok = columns(2) as unknown as { metadata: unknown[] };
  ok.metadata[0] = { title: 'Grüße 😀', tags: ['x', null, true, 1.5], deep: { a: [{ b: 'c' }] } };
  db.replaceAll(ok as never);
  assert.deepEqual(db.get('e0')?.metadata, ok.metadata[0]);
});
