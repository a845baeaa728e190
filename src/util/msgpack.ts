/**
 * The one MessagePack codec (plain: no records, no extensions, maps decoded as plain objects in key
 * order, `__proto__` kept as data) and the one plain-JSON value check, shared by .qvdb, the WAL and
 * snapshots so a writer never emits what a reader would reject.
 */
import { Packr, Unpackr } from 'msgpackr';

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });
// msgpackr renames a "__proto__" key to "__proto_" when building objects; frames containing that key
// are decoded as Maps instead and converted here with defineProperty, so the key survives verbatim.
const mapUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: false });
const PROTO_KEY = Buffer.from('__proto__', 'latin1');

/** Encodes one value. The result stays valid after later calls (msgpackr never reuses returned bytes). */
export function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes exactly one value occupying all of `bytes`; throws (any Error) on malformed input. */
export function unpackOne(bytes: Uint8Array): unknown {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.indexOf(PROTO_KEY) === -1) return unpackr.unpack(buf);
  return mapsToObjects(mapUnpackr.unpack(buf));
}

function mapsToObjects(v: unknown): unknown {
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of v) {
      Object.defineProperty(out, String(k), { value: mapsToObjects(val), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = mapsToObjects(v[i]);
  }
  return v;
}

/** True for a non-null object that is neither an array nor a class instance (prototype Object or null). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const LONE_SURROGATE = /\p{Cs}/u;

/** True when `s` survives UTF-8 encoding unchanged (no unpaired surrogate halves). */
export function isWellFormedString(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** True when `value` is plain JSON (see {@link jsonProblem}); the fast check, without descriptions. */
export function isJsonValue(value: unknown, depth = 0): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (depth > 1000) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isJsonValue(value[i], depth + 1)) return false;
        return true;
      }
      if (!isPlainObject(value)) return false;
      for (const key in value) if (!isJsonValue(value[key], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

/**
 * Describes why `value` is not plain JSON (null, booleans, finite numbers, strings, arrays, plain
 * objects), or returns undefined when it is. `path` names the value in the description.
 */
export function jsonProblem(value: unknown, path: string, depth = 0): string | undefined {
  if (depth > 1000) return `${path} is nested more than 1000 levels deep`;
  switch (typeof value) {
    case 'string':
      return isWellFormedString(value) ? undefined : `${path} contains an unpaired surrogate (not valid UTF-8)`;
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value} (only finite numbers are JSON)`;
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const p = jsonProblem(value[i], `${path}[${i}]`, depth + 1);
          if (p) return p;
        }
        return undefined;
      }
      if (!isPlainObject(value)) return `${path} is a ${value.constructor?.name ?? 'non-plain object'}, not a plain JSON object`;
      for (const key of Object.keys(value)) {
        if (!isWellFormedString(key)) return `${path} has a key with an unpaired surrogate`;
        const p = jsonProblem(value[key], `${path}.${key}`, depth + 1);
        if (p) return p;
      }
      return undefined;
    }
    default:
      return `${path} is ${typeof value}, not a JSON value`;
  }
}
