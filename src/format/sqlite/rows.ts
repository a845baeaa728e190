/**
 * How one entry becomes SQL values and back: ids bound as INTEGER (via BigInt, since better-sqlite3
 * binds every JS number as REAL) or TEXT, metadata as JSON text or NULL, vectors as little-endian
 * float32 BLOBs.
 */
import { QuiverError } from '../../errors.js';
import type { Id, Metadata } from '../../engine/types.js';
import { describe } from '../../engine/validate.js';
import { isPlainObject } from '../../util/msgpack.js';

/** The value bound for an id: TEXT for strings, INTEGER (a BigInt) for numbers. */
export function idParam(id: Id, index: number, what = 'entry'): string | bigint {
  if (typeof id === 'string' && id.length > 0) return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return BigInt(id);
  throw new QuiverError('INVALID_ID', `${what} ${index}: id ${describe(id)} is not a non-empty string or a safe integer`, { id });
}

/** The stored text of an entry's metadata: JSON of a plain object, or null when there is none. */
export function metadataText(metadata: Metadata | undefined | null, index: number): string | null {
  if (metadata === undefined || metadata === null) return null;
  if (!isPlainObject(metadata)) throw new QuiverError('INVALID_METADATA', `entry ${index}: metadata must be a plain object or absent, got ${describe(metadata)}`);
  return JSON.stringify(metadata);
}

/** A printable id for messages. */
export function idLabel(id: unknown): string {
  if (typeof id === 'string') return JSON.stringify(id.length > 60 ? `${id.slice(0, 60)}…` : id);
  if (typeof id === 'number') return String(id);
  return describe(id);
}
