import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { cloneMetadata, copyJson } from '../../src/engine/metadata.js';
import type { Metadata } from '../../src/engine/types.js';

test('__proto__ keys are stored as own data and never pollute prototypes', async () => {
  const db = new VectorDB({ dimension: 1 });
  const md = JSON.parse('{"a": 1, "__proto__": {"polluted": true}, "nested": {"__proto__": {"polluted": 2}}, "z": 0}') as Metadata;
  await db.insert({ id: 'p', vector: [1], metadata: md });
  await db.insertBatch([{ id: 'q', vector: [1], metadata: md }]);
  await db.updateMetadata('q', md);
  const got = db.get('p')?.metadata as Record<string, unknown>;
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(got), Object.prototype);
  assert.deepEqual(Object.keys(got), ['a', '__proto__', 'nested', 'z'], 'key order kept, __proto__ included');
  assert.ok(Object.prototype.hasOwnProperty.call(got, '__proto__'));
  assert.deepEqual(Object.getOwnPropertyDescriptor(got, '__proto__')?.value, { polluted: true });
  assert.equal(got.polluted, undefined, 'not inherited through a swapped prototype');
  const nested = got.nested as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(nested), Object.prototype);
  assert.equal(nested.polluted, undefined);
  const hit = db.search({ vector: [1], k: 1 })[0];
  assert.ok(Object.prototype.hasOwnProperty.call(hit.metadata, '__proto__'));
  assert.equal(JSON.stringify(db.get('q')?.metadata), JSON.stringify(md), 'JSON text round-trips exactly');
});

test('stored metadata is independent from the caller in both directions', async () => {
  const db = new VectorDB({ dimension: 1 });
  const md = { tags: ['a', 'b'], inner: { n: 1 } };
  await db.insert({ id: 'x', vector: [1], metadata: md });
  md.tags.push('c');
  md.inner.n = 2;
  assert.deepEqual(db.get('x')?.metadata, { tags: ['a', 'b'], inner: { n: 1 } });
  const a = db.get('x')?.metadata as { tags: string[] };
  a.tags.push('zzz');
  const b = db.get('x')?.metadata as { tags: string[] };
  assert.notEqual(a, b);
  assert.deepEqual(b.tags, ['a', 'b']);
  const hit = db.search({ vector: [1] })[0].metadata as { inner: { n: number } };
  hit.inner.n = 99;
  assert.deepEqual(db.get('x')?.metadata, { tags: ['a', 'b'], inner: { n: 1 } });
  const upd = { v: 1 };
  await db.updateMetadata('x', upd);
  upd.v = 2;
  assert.deepEqual(db.get('x')?.metadata, { v: 1 });
});

test('the engine never mutates a stored metadata object (writers share them)', async () => {
  const db = new VectorDB({ dimension: 1 });
  await db.insert({ id: 'x', vector: [1], metadata: { v: 1 } });
  const img = db.openImage();
  const held = img.metadata[0];
  await db.updateMetadata('x', { v: 2 });
  await db.insert({ id: 'x', vector: [2], metadata: { v: 3 } });
  await db.delete('x');
  assert.deepEqual(held, { v: 1 });
  img.release();
});

test('JSON edge cases: undefined members dropped, null-prototype objects, shared references, unicode, key order', () => {
  const np = Object.create(null) as Record<string, unknown>;
  np.k = 'v';
  const shared = { s: 1 };
  const { value, bytes } = cloneMetadata({ b: 1, a: undefined, np, x: [shared, shared], u: 'Grüße 👋 文档', '10': 'int-like', n: null, f: false, neg: -0.5 });
  assert.deepEqual(Object.keys(value), ['10', 'b', 'np', 'x', 'u', 'n', 'f', 'neg']);
  assert.equal(Object.getPrototypeOf(value.np), Object.prototype, 'null-prototype objects become plain objects');
  assert.deepEqual(value.x, [{ s: 1 }, { s: 1 }]);
  assert.notEqual((value.x as unknown[])[0], shared);
  assert.equal(value.u, 'Grüße 👋 文档');
  assert.ok(bytes > 0);
  const copy = copyJson(value);
  assert.deepEqual(copy, value);
  assert.notEqual(copy.x, value.x);
});
