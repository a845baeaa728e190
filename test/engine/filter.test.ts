import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, jsonEqual } from '../../src/engine/filter.js';
import type { Metadata } from '../../src/engine/types.js';
import { throwsCode } from './helpers.js';

const docs: Metadata[] = [
  { name: 'a', n: 1, s: 'apple', tags: ['x', 'y'], obj: { p: 1, q: [1, 2] }, nested: { deep: { v: 5 } }, 'dot.key': 'literal' },
  { name: 'b', n: 5, s: 'banana', tags: ['y'], obj: { q: [1, 2], p: 1 }, nested: { deep: { v: 10 } }, list: [{ k: 1 }, { k: 2 }] },
  { name: 'c', n: '5', s: 'cherry', tags: 'x', nested: { deep: 'str' }, dot: { key: 'traversed' } },
  { name: 'd', n: null, flag: true, tags: [] },
];
const match = (filter: unknown): string[] => {
  const f = compileFilter(filter);
  return docs.filter((d) => f(d)).map((d) => d.name as string);
};

test('equality: primitives by ===, arrays contain, objects deep (key order ignored)', () => {
  assert.deepEqual(match({ name: 'a' }), ['a']);
  assert.deepEqual(match({ n: 5 }), ['b'], 'number 5 is not string "5"');
  assert.deepEqual(match({ n: '5' }), ['c']);
  assert.deepEqual(match({ n: null }), ['d']);
  assert.deepEqual(match({ flag: true }), ['d']);
  assert.deepEqual(match({ tags: 'x' }), ['a', 'c'], 'array contains, or scalar equal');
  assert.deepEqual(match({ tags: ['x', 'y'] }), ['a'], 'array condition: deep equality');
  assert.deepEqual(match({ obj: { p: 1, q: [1, 2] } }), ['a', 'b']);
  assert.deepEqual(match({ obj: { p: 1 } }), []);
  assert.deepEqual(match({ list: { k: 2 } }), ['b'], 'array of objects contains a deep-equal element');
  assert.deepEqual(match({ missing: null }), [], 'a missing field never equals null');
  assert.deepEqual(match({ tags: [] }), ['d']);
  assert.equal(compileFilter({ a: {} })({ a: {} }), true, 'an empty object condition is deep equality');
  assert.equal(compileFilter({ a: {} })({ a: { b: 1 } }), false);
  assert.equal(compileFilter({ a: 1 })(undefined), false, 'entries without metadata never match a condition');
  assert.equal(compileFilter({})(undefined), true);
  assert.equal(compileFilter(undefined)({ a: 1 }), true);
  assert.equal(compileFilter(null)(undefined), true);
});

test('inherited properties are not metadata fields', () => {
  assert.deepEqual(match({ constructor: 'x' }), []);
  assert.deepEqual(match({ hasOwnProperty: { gte: '' } }), []);
  const f = compileFilter({ toString: { any: ['x'] } });
  assert.equal(f({}), false);
  const g = compileFilter(JSON.parse('{"__proto__": 1}') as Record<string, unknown>);
  assert.equal(g(JSON.parse('{"__proto__": 1}') as Metadata), true);
  assert.equal(g({}), false);
});

test('ranges: numbers numerically, strings lexicographically, type mismatch never matches', () => {
  assert.deepEqual(match({ n: { gte: 1 } }), ['a', 'b']);
  assert.deepEqual(match({ n: { gt: 1 } }), ['b']);
  assert.deepEqual(match({ n: { lt: 5 } }), ['a']);
  assert.deepEqual(match({ n: { lte: 5, gt: 1 } }), ['b']);
  assert.deepEqual(match({ n: { gte: '0' } }), ['c'], 'string bound only matches strings');
  assert.deepEqual(match({ s: { gte: 'b', lt: 'c' } }), ['b']);
  assert.deepEqual(match({ s: { gt: 'banana' } }), ['c']);
  assert.deepEqual(match({ missing: { gte: 0 } }), []);
  assert.deepEqual(match({ tags: { gte: 'a' } }), ['c'], 'arrays do not compare; the scalar string does');
  assert.deepEqual(match({ n: { gte: 0, lte: 100 } }), ['a', 'b']);
});

test('any and all', () => {
  assert.deepEqual(match({ name: { any: ['a', 'c', 'zz'] } }), ['a', 'c']);
  assert.deepEqual(match({ tags: { any: ['y'] } }), ['a', 'b'], 'array field intersects');
  assert.deepEqual(match({ tags: { any: ['x'] } }), ['a', 'c']);
  assert.deepEqual(match({ n: { any: [5, null] } }), ['b', 'd']);
  assert.deepEqual(match({ name: { any: [] } }), []);
  assert.deepEqual(match({ list: { any: [{ k: 2 }, 'q'] } }), ['b'], 'object elements compare deeply');
  assert.deepEqual(match({ tags: { all: ['x', 'y'] } }), ['a']);
  assert.deepEqual(match({ tags: { all: ['y'] } }), ['a', 'b']);
  assert.deepEqual(match({ tags: { all: ['x'] } }), ['a', 'c'], 'a scalar field is a one-element set');
  assert.deepEqual(match({ tags: { all: [] } }), ['a', 'b', 'c', 'd'], 'all of nothing: any present field');
  assert.deepEqual(match({ missing: { all: [] } }), []);
  assert.deepEqual(match({ n: { any: [1, 5], gte: 2 } }), ['b'], 'operators in one condition are AND-ed');
});

test('dotted keys address nested fields; a literal dotted key wins; numeric segments index arrays', () => {
  assert.deepEqual(match({ 'nested.deep.v': 5 }), ['a']);
  assert.deepEqual(match({ 'nested.deep.v': { gte: 5 } }), ['a', 'b']);
  assert.deepEqual(match({ 'nested.deep': 'str' }), ['c']);
  assert.deepEqual(match({ 'nested.deep.v.w': 1 }), []);
  assert.deepEqual(match({ 'dot.key': 'literal' }), ['a']);
  assert.deepEqual(match({ 'dot.key': 'traversed' }), ['c']);
  assert.deepEqual(match({ 'list.1.k': 2 }), ['b']);
  assert.deepEqual(match({ 'list.5.k': 2 }), []);
  assert.deepEqual(match({ 'tags.0': 'x' }), ['a']);
});

test('all keys are AND-ed', () => {
  assert.deepEqual(match({ tags: 'y', n: { gte: 2 } }), ['b']);
  assert.deepEqual(match({ tags: 'y', n: 1, name: 'a' }), ['a']);
  assert.deepEqual(match({ tags: 'y', name: 'c' }), []);
});

test('bad filter shapes are rejected up front with INVALID_ARGUMENT', () => {
  const bad: unknown[] = [
    'x', 5, [], new Map(), { '': 1 }, { a: undefined }, { a: () => 1 }, { a: Symbol('s') }, { a: NaN }, { a: 1n },
    { a: { gte: 1, foo: 2 } }, { a: { gte: null } }, { a: { lt: NaN } }, { a: { gt: [1] } }, { a: { any: 'x' } },
    { a: { all: 3 } }, { a: { any: [() => 1] } }, { a: { x: new Date() } },
  ];
  for (const f of bad) throwsCode(() => compileFilter(f), 'INVALID_ARGUMENT');
  throwsCode(() => compileFilter({ a: { gte: 1, foo: 2 } }), 'INVALID_ARGUMENT', /filter\.a.*foo/);
  // A condition whose every operator is undefined says nothing: refused, not read as "match all".
  throwsCode(() => compileFilter({ a: { lte: undefined } }), 'INVALID_ARGUMENT', /no operator with a value/);
  throwsCode(() => compileFilter({ a: { gte: undefined, any: undefined } }), 'INVALID_ARGUMENT', /gte, any are undefined/);
});

test('an operator given as undefined is absent (filters built from optional bounds)', () => {
  const min = 2;
  const max: number | undefined = undefined;
  const f = compileFilter({ price: { gte: min, lte: max } });
  assert.deepEqual([1, 2, 3, 100].map((price) => f({ price })), [false, true, true, true]);
  const g = compileFilter({ tags: { any: ['x'], all: undefined } });
  assert.equal(g({ tags: ['x', 'y'] }), true);
  assert.equal(g({ tags: ['y'] }), false);
});

test('jsonEqual', () => {
  assert.equal(jsonEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), true);
  assert.equal(jsonEqual({ a: 1, b: 2 }, { b: 2, a: 1 }), true);
  assert.equal(jsonEqual([1, 2], [2, 1]), false);
  assert.equal(jsonEqual({ a: 1 }, { a: 1, b: undefined }), false);
  assert.equal(jsonEqual([], {}), false);
  assert.equal(jsonEqual(null, {}), false);
});
