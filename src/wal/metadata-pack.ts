/**
 * Metadata payloads of WAL records: plain MessagePack (no records, no extensions). Only plain JSON is
 * accepted, checked before encoding, so that what a reader returns is exactly what was appended.
 */
import { Packr, Unpackr } from 'msgpackr';
import { QuiverError } from '../errors.js';

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });
// msgpackr renames a "__proto__" key while building objects; payloads holding that key are decoded as
// Maps and rebuilt with defineProperty so the key comes back verbatim and never touches a prototype.
const mapUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: false });
const PROTO = Buffer.from('__proto__', 'latin1');
const LONE_SURROGATE = /\p{Cs}/u;
const MAX_DEPTH = 512;

/** True when `s` encodes to UTF-8 and back unchanged (no unpaired surrogate halves). */
export function isWellFormedString(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

function problem(v: unknown, path: string, depth: number): string | undefined {
  switch (typeof v) {
    case 'boolean':
      return undefined;
    case 'string':
      return isWellFormedString(v) ? undefined : `${path} contains an unpaired surrogate (not valid UTF-8)`;
    case 'number':
      return Number.isFinite(v) ? undefined : `${path} is ${v}; only finite numbers are JSON`;
    case 'object': {
      if (v === null) return undefined;
      if (depth > MAX_DEPTH) return `${path} is nested more than ${MAX_DEPTH} levels deep`;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const p = problem(v[i], `${path}[${i}]`, depth + 1);
          if (p) return p;
        }
        return undefined;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return `${path} is not a plain object`;
      for (const key of Object.keys(v)) {
        if (!isWellFormedString(key)) return `${path} has a key with an unpaired surrogate`;
        const p = problem((v as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
        if (p) return p;
      }
      return undefined;
    }
    default:
      return `${path} is ${typeof v}, not a JSON value`;
  }
}

/** Encodes metadata (a plain JSON object); throws QuiverError INVALID_METADATA otherwise. */
export function packMetadata(metadata: unknown): Uint8Array {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new QuiverError('INVALID_METADATA', 'metadata must be a plain JSON object (or omitted)');
  }
  const p = problem(metadata, 'metadata', 0);
  if (p) throw new QuiverError('INVALID_METADATA', `${p}; pass plain JSON metadata`);
  return packr.pack(metadata);
}

function rebuild(v: unknown): unknown {
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of v) Object.defineProperty(out, String(k), { value: rebuild(val), enumerable: true, writable: true, configurable: true });
    return out;
  }
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) v[i] = rebuild(v[i]);
  return v;
}

/** Decodes metadata occupying all of `bytes`; throws a plain Error when they are not one JSON object. */
export function unpackMetadata(bytes: Uint8Array): Record<string, unknown> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const value = buf.indexOf(PROTO) === -1 ? unpackr.unpack(buf) : rebuild(mapUnpackr.unpack(buf));
  // Only the top level is checked: the bytes passed the record CRC, so they are what packMetadata
  // produced from checked plain JSON.
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('metadata payload is not a plain JSON object');
  return value as Record<string, unknown>;
}
