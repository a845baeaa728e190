/**
 * Input validation for the engine: options, ids, vectors and search parameters. Every check throws a
 * QuiverError with a stable code synchronously, so an un-awaited loop of inserts fails loudly at the bad
 * call instead of leaving a rejected promise nobody looks at.
 */
import { QuiverError } from '../errors.js';
import { isWellFormedString } from '../util/msgpack.js';
import type { Id, Metric, VectorDBOptions } from './types.js';

/** Largest dimension a database accepts. */
export const MAX_DIMENSION = 65536;
/** Largest string id, in UTF-8 bytes (ids are length-prefixed with a u16 in some formats). */
export const MAX_ID_BYTES = 65535;
/** The supported metrics. */
export const METRICS: readonly Metric[] = ['cosine', 'euclidean', 'dot', 'manhattan'];

const FLOAT32_MAX = 3.4028234663852886e38;

/** Short human description of a value's type for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') {
    const ctor = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name;
    return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
  }
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  return typeof v;
}

export { isWellFormedString } from '../util/msgpack.js';

/** `what` naming item `index` of a list: its first `[]` filled in, or `[index]` appended. */
function itemLabel(what: string, index: number | undefined): string {
  if (index === undefined) return what;
  return what.includes('[]') ? what.replace('[]', `[${index}]`) : `${what}[${index}]`;
}

/**
 * Validates an id and returns it normalised (-0 becomes 0). Throws INVALID_ID naming `what`, with
 * `index` filled into its `[]` (or appended): the label is built only for a bad id, since building it
 * for every id of a list cost 0.02-0.2 ms per 1,000.
 */
export function checkId(id: unknown, what = 'id', index?: number): Id {
  if (typeof id === 'string' && id.length > 0 && id.length * 3 <= MAX_ID_BYTES && isWellFormedString(id)) return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return id === 0 ? 0 : id;
  return badId(id, itemLabel(what, index));
}

/**
 * Checks that `id` is a string or a safe integer: what the record streams of .qvdb files and snapshots
 * can hold (an empty string included; the engine's own rules are {@link checkId}'s). Throws INVALID_ID
 * naming `what` with `index` filled in as checkId does.
 */
export function checkIdType(id: unknown, what: string, index?: number): Id {
  if (typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id))) return id;
  throw new QuiverError('INVALID_ID', `${itemLabel(what, index)} is ${describe(id)}; ids must be strings or safe integers`);
}

function badId(id: unknown, what: string): Id {
  if (typeof id === 'string') {
    if (id.length === 0) {
      throw new QuiverError('INVALID_ID', `${what} is an empty string; use a non-empty string or a safe integer`, { what });
    }
    if (!isWellFormedString(id)) {
      throw new QuiverError('INVALID_ID', `${what} contains an unpaired UTF-16 surrogate and cannot be stored as UTF-8; fix the string`, { what });
    }
    if (id.length * 3 > MAX_ID_BYTES && Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES) {
      throw new QuiverError('INVALID_ID', `${what} is longer than ${MAX_ID_BYTES} UTF-8 bytes; use a shorter id (e.g. a hash)`, { what });
    }
    return id;
  }
  if (typeof id === 'number') {
    throw new QuiverError('INVALID_ID', `${what} ${String(id)} is not a safe integer; numeric ids must be integers within ±(2^53-1), or use a string`, { what });
  }
  throw new QuiverError('INVALID_ID', `${what} must be a non-empty string or a safe integer, got ${describe(id)}`, { what });
}

function badElement(what: string, i: number, x: unknown): QuiverError {
  let problem: string;
  if (typeof x !== 'number') problem = `is ${describe(x)}, not a number`;
  else if (Number.isNaN(x)) problem = 'is NaN';
  else if (!Number.isFinite(x)) problem = `is ${x > 0 ? 'Infinity' : '-Infinity'}`;
  else problem = `is ${x}, which overflows float32 (largest finite value ±${FLOAT32_MAX})`;
  return new QuiverError('INVALID_VECTOR', `${what}[${i}] ${problem}; every element must be a finite number in float32 range`, { what, index: i });
}

/**
 * True for a vector checkVector reads in place: a real typed array (a Proxy is not one: isView is false
 * for it) not over shared memory, which another thread may change between the check and the copy.
 */
export function readsInPlace(v: unknown): v is ArrayBufferView {
  return ArrayBuffer.isView(v) && !(typeof SharedArrayBuffer !== 'undefined' && v.buffer instanceof SharedArrayBuffer);
}

/**
 * Checks that `v` is an array-like of `dim` numbers that are all finite once converted to float32.
 * Throws INVALID_VECTOR (not array-like, empty, bad element naming its index) or DIMENSION_MISMATCH.
 * Returns a typed array as it is (its elements read the same every time, unless it is over a
 * SharedArrayBuffer, which is copied like the rest); any other array-like is
 * read exactly once, into `into` (a Float32Array of `dim` elements) or a new one, which is returned:
 * an element getter or Proxy that answered differently on a second read would otherwise put values
 * that were never checked (NaN, say) into the database and its log.
 */
export function checkVector(v: unknown, dim: number, what = 'vector', into?: Float32Array): ArrayLike<number> {
  if (v === null || typeof v !== 'object') {
    throw new QuiverError('INVALID_VECTOR', `${what} must be an array of numbers or a Float32Array, got ${describe(v)}`, { what });
  }
  const len = (v as { length?: unknown }).length;
  if (typeof len !== 'number' || v instanceof DataView || v instanceof BigInt64Array || v instanceof BigUint64Array) {
    throw new QuiverError('INVALID_VECTOR', `${what} must be an array of numbers or a Float32Array, got ${describe(v)}`, { what });
  }
  if (len === 0) throw new QuiverError('INVALID_VECTOR', `${what} is empty; pass ${dim} numbers`, { what });
  if (len !== dim) {
    throw new QuiverError(
      'DIMENSION_MISMATCH',
      `${what} has ${len} dimensions but this database stores ${dim}-dimensional vectors; pass exactly ${dim} numbers`,
      { what, expected: dim, actual: len },
    );
  }
  const inPlace = readsInPlace(v);
  if (inPlace && v instanceof Float32Array) {
    for (let i = 0; i < dim; i++) {
      const x = v[i];
      if (x - x !== 0) throw badElement(what, i, x);
    }
    return v;
  }
  if (inPlace) {
    const a = v as unknown as ArrayLike<number>;
    for (let i = 0; i < dim; i++) {
      const f = Math.fround(a[i]);
      if (f - f !== 0) throw badElement(what, i, a[i]);
    }
    return a;
  }
  const a = v as ArrayLike<unknown>;
  const out = into ?? new Float32Array(dim);
  for (let i = 0; i < dim; i++) {
    const x = a[i];
    if (typeof x !== 'number') throw badElement(what, i, x);
    const f = Math.fround(x);
    if (f - f !== 0) throw badElement(what, i, x);
    out[i] = f;
  }
  return out;
}

/** Normalised constructor options. */
export interface ResolvedOptions {
  dimension: number;
  metric: Metric;
  initialCapacity: number | undefined;
}

/** The option given under either name (null counts as given, so `metric: null` is refused, not the default). */
function pickAlias<T>(a: T | undefined, b: T | undefined, names: string): T | undefined {
  if (a !== undefined && b !== undefined && a !== b) {
    throw new QuiverError('INVALID_ARGUMENT', `${names} disagree (${String(a)} vs ${String(b)}); pass only one of them`);
  }
  return a !== undefined ? a : b;
}

/** Metric names are taken in any letter case, so two spellings of one name agree. */
function lowerCased(v: unknown): unknown {
  return typeof v === 'string' ? v.toLowerCase() : v;
}

/** Validates `new VectorDB(options)`. Throws INVALID_ARGUMENT naming the bad option. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new QuiverError('INVALID_ARGUMENT', `VectorDB options must be an object such as { dimension: 384 }, got ${describe(options)}`);
  }
  const o = options as VectorDBOptions;
  const dimension = pickAlias<unknown>(o.dimension, o.dimensions, 'options.dimension and options.dimensions');
  if (dimension === undefined) {
    throw new QuiverError('INVALID_ARGUMENT', 'VectorDB options need a dimension, e.g. { dimension: 384 }');
  }
  if (typeof dimension !== 'number' || !Number.isInteger(dimension) || dimension < 1 || dimension > MAX_DIMENSION) {
    throw new QuiverError('INVALID_ARGUMENT', `dimension must be an integer from 1 to ${MAX_DIMENSION}, got ${describe(dimension)}`);
  }
  const given = pickAlias<unknown>(lowerCased(o.metric), lowerCased(o.distanceMetric), 'options.metric and options.distanceMetric');
  const rawMetric = given === undefined ? 'cosine' : given;
  const metric = typeof rawMetric === 'string' ? (rawMetric as Metric) : undefined;
  if (metric === undefined || !METRICS.includes(metric)) {
    throw new QuiverError('INVALID_ARGUMENT', `metric must be one of ${METRICS.join(', ')}; got ${describe(rawMetric)}`);
  }
  const cap = o.initialCapacity;
  if (cap !== undefined && (typeof cap !== 'number' || !Number.isSafeInteger(cap) || cap < 0)) {
    throw new QuiverError('INVALID_ARGUMENT', `initialCapacity must be a non-negative integer, got ${describe(cap)}`);
  }
  return { dimension, metric, initialCapacity: cap };
}

/** Validates a search `k` (default 10). */
export function checkK(k: unknown): number {
  if (k === undefined) return 10;
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 1) {
    throw new QuiverError('INVALID_ARGUMENT', `k must be a positive integer, got ${describe(k)}`);
  }
  return k;
}

/** Validates a search threshold (undefined/null = none). */
export function checkThreshold(t: unknown): number | undefined {
  if (t === undefined || t === null) return undefined;
  if (typeof t !== 'number' || !Number.isFinite(t)) {
    throw new QuiverError('INVALID_ARGUMENT', `threshold must be a finite number, got ${describe(t)}`);
  }
  return t;
}

/** Validates a sequence number argument against the current sequence. */
export function checkSeq(s: unknown, current: number, what: string): number {
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0 || s > current) {
    throw new QuiverError('INVALID_ARGUMENT', `${what} must be an integer from 0 to the current seq ${current}, got ${describe(s)}`);
  }
  return s;
}
