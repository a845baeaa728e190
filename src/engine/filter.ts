/**
 * The metadata filter language of reference 004, compiled once per search into a predicate:
 *   { field: value }                 equality (=== for primitives, deep for objects/arrays); when the
 *                                    stored value is an array it matches if the array contains the value
 *   { field: { gte, gt, lte, lt } }  range; numbers compare numerically, strings by UTF-16 code units;
 *                                    a missing field or a value of another type never matches
 *   { field: { any: [...] } }        the value is one of the list (an array value: shares an element)
 *   { field: { all: [...] } }        the array value contains every listed element
 * Keys are AND-ed. `a.b` addresses a nested field (a literal key "a.b" wins when present); a numeric
 * segment indexes into an array. An object condition without a recognised operator is deep equality.
 */
import { QuiverError } from '../errors.js';
import type { Metadata } from './types.js';
import { describe } from './validate.js';

/** A compiled filter. */
export type MetadataPredicate = (metadata: Metadata | undefined) => boolean;

const MISSING: unique symbol = Symbol('missing');
type Getter = (md: Metadata | undefined) => unknown;
type Test = (v: unknown) => boolean;

const RANGE_OPS = ['gte', 'gt', 'lte', 'lt'] as const;
const OPS = new Set<string>([...RANGE_OPS, 'any', 'all']);
const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function invalid(path: string, problem: string): never {
  throw new QuiverError('INVALID_ARGUMENT', `filter${path} ${problem}; see the filter language in README "Semantics" (Filters)`, { path: `filter${path}` });
}

function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
}

// Condition values must be JSON so that they can be compared with stored JSON.
function checkValue(v: unknown, path: string, depth = 0): void {
  if (depth > 64) invalid(path, 'is nested too deeply');
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) invalid(path, `is ${v}, which never matches stored metadata`);
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkValue(x, `${path}[${i}]`, depth + 1));
    return;
  }
  if (isPlain(v)) {
    for (const k of Object.keys(v)) checkValue(v[k], `${path}.${k}`, depth + 1);
    return;
  }
  invalid(path, `is ${describe(v)}, which is not a JSON value`);
}

/** Structural equality of JSON values (object key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!hasOwn(b, k) || !jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

function compilePath(key: string): Getter {
  const parts = key.split('.');
  const direct: Getter = (md) => (md !== undefined && hasOwn(md, key) ? md[key] : MISSING);
  if (parts.length === 1 || parts.some((p) => p === '')) return direct;
  return (md) => {
    if (md === undefined) return MISSING;
    if (hasOwn(md, key)) return md[key];
    let cur: unknown = md;
    for (const p of parts) {
      if (cur === null || typeof cur !== 'object') return MISSING;
      if (Array.isArray(cur)) {
        const i = /^\d+$/.test(p) ? Number(p) : -1;
        if (i < 0 || i >= cur.length) return MISSING;
        cur = cur[i];
      } else {
        if (!hasOwn(cur, p)) return MISSING;
        cur = (cur as Record<string, unknown>)[p];
      }
    }
    return cur;
  };
}

// Equality with containment: a stored array matches when it contains the condition value.
function equalityTest(c: unknown): Test {
  if (c === null || typeof c !== 'object') return (v) => v === c || (Array.isArray(v) && v.includes(c));
  return (v) => jsonEqual(v, c) || (Array.isArray(v) && v.some((x) => jsonEqual(x, c)));
}

// Membership in a fixed list: a Set for primitives, deep comparison for objects and arrays.
function memberTest(list: unknown[]): Test {
  const prims = new Set<unknown>();
  const objs: unknown[] = [];
  for (const x of list) {
    if (x !== null && typeof x === 'object') objs.push(x);
    else prims.add(x);
  }
  if (objs.length === 0) return (x) => prims.has(x);
  return (x) => (x !== null && typeof x === 'object' ? objs.some((o) => jsonEqual(x, o)) : prims.has(x));
}

function rangeTest(path: string, cond: Record<string, unknown>): Test | undefined {
  const bounds: { op: (typeof RANGE_OPS)[number]; b: number | string }[] = [];
  for (const op of RANGE_OPS) {
    // An operator given as undefined is absent (filters built from optional bounds: { gte: min, lte: max }).
    if (!hasOwn(cond, op) || cond[op] === undefined) continue;
    const b = cond[op];
    if (typeof b === 'string' || (typeof b === 'number' && Number.isFinite(b))) bounds.push({ op, b });
    else invalid(`${path}.${op}`, `must be a finite number or a string, got ${describe(b)}`);
  }
  if (bounds.length === 0) return undefined;
  return (v) => {
    for (const { op, b } of bounds) {
      if (typeof v !== typeof b) return false;
      const x = v as number | string;
      if (op === 'gte' ? !(x >= b) : op === 'gt' ? !(x > b) : op === 'lte' ? !(x <= b) : !(x < b)) return false;
    }
    return true;
  };
}

function listOf(path: string, cond: Record<string, unknown>, op: 'any' | 'all'): unknown[] | undefined {
  if (!hasOwn(cond, op) || cond[op] === undefined) return undefined;
  const list = cond[op];
  if (!Array.isArray(list)) invalid(`${path}.${op}`, `must be an array, got ${describe(list)}`);
  return list;
}

function compileCondition(path: string, c: unknown): Test {
  if (c === undefined) invalid(path, 'is undefined; remove the key or give a value to compare with');
  if (!isPlain(c)) {
    checkValue(c, path);
    return equalityTest(c);
  }
  const keys = Object.keys(c);
  const ops = keys.filter((k) => OPS.has(k));
  if (ops.length === 0) {
    checkValue(c, path);
    return equalityTest(c);
  }
  if (ops.length !== keys.length) {
    const bad = keys.filter((k) => !OPS.has(k));
    invalid(path, `mixes operators with unknown keys (${bad.join(', ')}); operators are gte, gt, lte, lt, any, all`);
  }
  const tests: Test[] = [];
  const range = rangeTest(path, c);
  if (range) tests.push(range);
  const any = listOf(path, c, 'any');
  if (any) {
    checkValue(any, `${path}.any`);
    const member = memberTest(any);
    tests.push((v) => member(v) || (Array.isArray(v) && v.some(member)));
  }
  const all = listOf(path, c, 'all');
  if (all) {
    checkValue(all, `${path}.all`);
    tests.push((v) => {
      const arr = Array.isArray(v) ? v : [v];
      return all.every((want) => arr.some((x) => (want !== null && typeof want === 'object' ? jsonEqual(x, want) : x === want)));
    });
  }
  if (tests.length === 0) invalid(path, `has no operator with a value (${ops.join(', ')} ${ops.length === 1 ? 'is' : 'are'} undefined); remove the key or give a bound`);
  return tests.length === 1 ? tests[0] : (v) => tests.every((t) => t(v));
}

/**
 * Compiles a filter (undefined/null = match everything). The shape is validated up front: a non-object
 * filter, an undefined or non-JSON value, a bad range bound or a non-array any/all throws INVALID_ARGUMENT.
 */
export function compileFilter(filter: unknown): MetadataPredicate {
  if (filter === undefined || filter === null) return () => true;
  if (!isPlain(filter)) invalid('', `must be an object like { field: value }, got ${describe(filter)}`);
  const checks: { get: Getter; test: Test }[] = [];
  for (const key of Object.keys(filter)) {
    if (key === '') invalid('', 'has an empty field name');
    const path = /^[A-Za-z_$][\w$.]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    checks.push({ get: compilePath(key), test: compileCondition(path, filter[key]) });
  }
  if (checks.length === 0) return () => true;
  if (checks.length === 1) {
    const { get, test } = checks[0];
    return (md) => {
      const v = get(md);
      return v !== MISSING && test(v);
    };
  }
  return (md) => {
    for (const { get, test } of checks) {
      const v = get(md);
      if (v === MISSING || !test(v)) return false;
    }
    return true;
  };
}
