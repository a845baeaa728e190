/**
 * Metadata validation and copying. Metadata is plain JSON; the engine stores its own deep copy, made in
 * the same pass as validation, and never mutates a stored object afterwards (updates replace it), so
 * writers and images can share the references safely.
 */
import { QuiverError } from '../errors.js';
import type { Metadata } from './types.js';
import { describe, isWellFormedString } from './validate.js';

export { MAX_METADATA_DEPTH, MAX_METADATA_KEYS } from '../util/msgpack.js';
import { MAX_METADATA_DEPTH, MAX_METADATA_KEYS } from '../util/msgpack.js';

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** Sets `obj[key] = value` as an own data property, even for the key `__proto__`. */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

function isPlainObject(v: object): boolean {
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
}

/** One validate-and-copy pass; keeps the path for error messages and a rough size estimate. */
class Cloner {
  bytes = 0;
  private readonly path: (string | number)[] = [];
  private readonly ancestors: object[] = [];

  constructor(private readonly root: string) {}

  fail(problem: string): never {
    let p = this.root;
    for (const seg of this.path) {
      if (typeof seg === 'number') p += `[${seg}]`;
      else p += IDENT.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`;
    }
    throw new QuiverError('INVALID_METADATA', `${p} ${problem}; metadata must be plain JSON (objects, arrays, strings, finite numbers, booleans, null)`, { path: p });
  }

  value(v: unknown): unknown {
    switch (typeof v) {
      case 'string':
        if (!isWellFormedString(v)) this.fail('contains an unpaired UTF-16 surrogate');
        this.bytes += 16 + 2 * v.length;
        return v;
      case 'number':
        if (v - v !== 0) this.fail(`is ${String(v)}`);
        this.bytes += 8;
        // -0 becomes 0: JSON and MessagePack integers cannot hold it, so it would change at the first save.
        return v === 0 ? 0 : v;
      case 'boolean':
        this.bytes += 4;
        return v;
      case 'object':
        if (v === null) {
          this.bytes += 4;
          return null;
        }
        return this.container(v);
      default:
        return this.fail(`is ${describe(v)}`);
    }
  }

  container(v: object): unknown {
    if (this.ancestors.includes(v)) this.fail('is a circular reference');
    if (this.ancestors.length >= MAX_METADATA_DEPTH) this.fail(`is nested deeper than ${MAX_METADATA_DEPTH} levels`);
    this.ancestors.push(v);
    const out = Array.isArray(v) ? this.array(v) : this.object(v);
    this.ancestors.pop();
    return out;
  }

  private array(a: unknown[]): unknown[] {
    const n = a.length;
    const out = new Array<unknown>(n);
    this.bytes += 16 + 8 * n;
    for (let i = 0; i < n; i++) {
      const x = a[i];
      this.path.push(i);
      if (x === undefined) this.fail('is undefined (arrays may not contain undefined or holes)');
      out[i] = this.value(x);
      this.path.pop();
    }
    return out;
  }

  private object(o: object): Record<string, unknown> {
    if (!isPlainObject(o)) this.fail(`is ${describe(o)}`);
    if (Object.getOwnPropertySymbols(o).length > 0) this.fail('has a symbol key');
    const out: Record<string, unknown> = {};
    const keys = Object.keys(o);
    if (keys.length > MAX_METADATA_KEYS) this.fail(`has ${keys.length} members, more than the ${MAX_METADATA_KEYS} one object may have`);
    this.bytes += 32;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const x = (o as Record<string, unknown>)[k];
      // Like JSON.stringify, an undefined member means "absent".
      if (x === undefined) continue;
      this.path.push(k);
      if (!isWellFormedString(k)) this.fail('key contains an unpaired UTF-16 surrogate');
      this.bytes += 24 + 2 * k.length;
      setOwn(out, k, this.value(x));
      this.path.pop();
    }
    return out;
  }
}

/** A validated deep copy plus a rough estimate of its memory footprint in bytes. */
export interface ClonedMetadata {
  value: Metadata;
  bytes: number;
}

/**
 * Validates `md` as metadata and returns a deep copy. `what` names it in errors (e.g. `entries[3].metadata`).
 * Throws INVALID_METADATA with the path of the first offending value.
 */
export function cloneMetadata(md: unknown, what = 'metadata'): ClonedMetadata {
  const c = new Cloner(what);
  if (md === null || typeof md !== 'object' || Array.isArray(md)) c.fail(`must be a plain object, got ${describe(md)}`);
  const value = c.container(md as object) as Metadata;
  return { value, bytes: c.bytes };
}

/** Deep copy of already-validated JSON (the engine's stored metadata), `__proto__` keys kept as own data. */
export function copyJson<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const n = v.length;
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = copyJson(v[i] as unknown);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  const src = v as Record<string, unknown>;
  for (const k of Object.keys(src)) setOwn(out, k, copyJson(src[k]));
  return out as T;
}

/** Rough memory estimate of a JSON value (same scale as `cloneMetadata().bytes`). */
export function estimateJsonBytes(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return 16 + 2 * v.length;
    case 'number':
      return 8;
    case 'object': {
      if (v === null) return 4;
      if (Array.isArray(v)) {
        let n = 16 + 8 * v.length;
        for (const x of v) n += estimateJsonBytes(x);
        return n;
      }
      let n = 32;
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) n += 24 + 2 * k.length + estimateJsonBytes(o[k]);
      return n;
    }
    default:
      return 4;
  }
}
