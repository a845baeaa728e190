/**
 * Validation of decoded columns before the engine adopts them (`replaceAll`, `applyDelta`). Checks are
 * cheap single passes: ids (type, duplicates), shapes, finiteness of every float, metadata shape (the
 * objects themselves are trusted: readers pass freshly decoded JSON). Nothing is modified on failure.
 */
import { QuiverError } from '../errors.js';
import { normAt } from './distance.js';
import { takeNorms } from '../util/hash-norms.js';
import { PACKED, takePacked, type PackedMetadata } from './packed-metadata.js';
import type { Id, Metadata } from './types.js';
import { checkId, describe } from './validate.js';
import { isJsonValue, isPlainObject, jsonProblem } from '../util/msgpack.js';
import { isDecodedMetadata } from '../util/json-text.js';

/** Columns that passed validation, in the engine's own arrays (vectors are the caller's, not copied). */
export interface CheckedColumns {
  ids: Id[];
  idMap: Map<Id, number>;
  vectors: Float32Array;
  metadata: (Metadata | undefined)[];
  /** Per-entry norms when requested (cosine), else empty. */
  norms: Float64Array;
  /** Where the PACKED cells of `metadata` are kept (a reader handed them over still encoded). */
  packed?: PackedMetadata;
}

function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new QuiverError('INVALID_ARGUMENT', message, details);
}

function label(id: Id): string {
  return typeof id === 'string' ? JSON.stringify(id) : String(id);
}

/** Validated ids (normalised) and their id → position map. */
export interface CheckedIds {
  ids: Id[];
  idMap: Map<Id, number>;
}

/** Validates ids (type, uniqueness) and builds their map; throws as {@link checkColumns} documents. */
function checkIds(rawIds: readonly unknown[], what: string): CheckedIds {
  const n = rawIds.length;
  const ids = new Array<Id>(n);
  const idMap = new Map<Id, number>();
  const item = `${what}.ids`;
  for (let i = 0; i < n; i++) {
    const id = checkId(rawIds[i], item, i);
    if (idMap.has(id)) invalid(`${what}.ids has the id ${label(id)} twice (entries ${idMap.get(id)} and ${i}); ids must be unique`, { id });
    idMap.set(id, i);
    ids[i] = id;
  }
  return { ids, idMap };
}

/** Ids checked by a reader ahead of `checkColumns`, keyed by the array they were checked from. */
const prepared = new WeakMap<readonly unknown[], CheckedIds>();

/**
 * Checks `rawIds` and builds their id map now, for {@link checkColumns} to take later instead of doing
 * it then: a reader calls this as soon as a file's ids are decoded, while its vectors are still being
 * read (building the map of 100,000 ids takes ~65 ms, which a load otherwise adds after the last read).
 * Ids that do not pass are not remembered (and undefined is returned), so that `checkColumns` reports
 * them exactly as it would.
 */
export function prepareIds(rawIds: readonly unknown[]): CheckedIds | undefined {
  try {
    const checked = checkIds(rawIds, 'ids');
    prepared.set(rawIds, checked);
    return checked;
  } catch {
    // checkColumns finds the problem again and reports it with its own wording.
    return undefined;
  }
}

/** The ids prepared for `rawIds`, if the array still holds exactly what they were prepared from. */
function takePreparedIds(rawIds: readonly unknown[]): CheckedIds | undefined {
  const p = prepared.get(rawIds);
  if (p === undefined) return undefined;
  prepared.delete(rawIds);
  // The caller may have changed the array since: one comparison per entry tells (=== also equates
  // the -0 a file may hold with the 0 it was normalised to).
  if (p.ids.length !== rawIds.length) return undefined;
  for (let i = 0; i < rawIds.length; i++) if (rawIds[i] !== p.ids[i]) return undefined;
  return p;
}

/** Checks a `Columns`-shaped value against `dim`; computes norms when `withNorms`. */
export function checkColumns(c: unknown, dim: number, withNorms: boolean, what: string): CheckedColumns {
  if (c === null || typeof c !== 'object') invalid(`${what} must be a Columns object, got ${describe(c)}`);
  const cols = c as { dimension?: unknown; ids?: unknown; vectors?: unknown; metadata?: unknown };
  if (cols.dimension !== dim) {
    throw new QuiverError(
      'DIMENSION_MISMATCH',
      `${what} holds ${String(cols.dimension)}-dimensional vectors but this database stores ${dim}-dimensional ones; load it into a database of dimension ${String(cols.dimension)}`,
      { expected: dim, actual: cols.dimension },
    );
  }
  if (!Array.isArray(cols.ids)) invalid(`${what}.ids must be an array, got ${describe(cols.ids)}`);
  if (!(cols.vectors instanceof Float32Array)) invalid(`${what}.vectors must be a Float32Array, got ${describe(cols.vectors)}`);
  if (!Array.isArray(cols.metadata)) invalid(`${what}.metadata must be an array, got ${describe(cols.metadata)}`);
  const rawIds = cols.ids as unknown[];
  const vectors = cols.vectors;
  const rawMeta = cols.metadata as unknown[];
  const n = rawIds.length;
  if (vectors.length !== n * dim) invalid(`${what}.vectors has ${vectors.length} floats; ${n} entries of dimension ${dim} need ${n * dim}`);
  if (rawMeta.length !== n) invalid(`${what}.metadata has ${rawMeta.length} items for ${n} ids; they must match`);

  const { ids, idMap } = takePreparedIds(rawIds) ?? checkIds(rawIds, what);

  const packed = takePacked(rawMeta);
  const decoded = isDecodedMetadata(rawMeta);
  const metadata = new Array<Metadata | undefined>(n);
  for (let i = 0; i < n; i++) {
    const m = rawMeta[i];
    if (m === undefined || m === null) metadata[i] = undefined;
    else if (m === PACKED && packed === undefined) invalid(`${what}.metadata[${i}] is a placeholder for encoded metadata that was not handed over with it`, { index: i });
    else if (decoded && typeof m === 'object' && !Array.isArray(m)) metadata[i] = m as Metadata;
    else if (isPlainObject(m) && isJsonValue(m)) metadata[i] = m;
    else if (typeof m === 'object' && !Array.isArray(m)) {
      // The objects are adopted, not copied: what is kept must be plain JSON (no Date, NaN, undefined,
      // class instance or unpaired surrogate), or it would be changed or refused by the next save.
      throw new QuiverError('INVALID_METADATA', `${what}.metadata[${i}] is not plain JSON: ${jsonProblem(m, `${what}.metadata[${i}]`) ?? 'it is not a plain object'}`, { index: i });
    } else throw new QuiverError('INVALID_METADATA', `${what}.metadata[${i}] must be an object or absent, got ${describe(m)}`, { index: i });
  }

  // Cosine needs the norms anyway, and a norm is finite exactly when every element is, so that pass
  // doubles as the check; other metrics use a bit test over the raw words. A reader may have had the
  // norms computed while it verified the bytes (off this thread): then only they are checked.
  const given = takeNorms(vectors);
  let norms: Float64Array = new Float64Array(0);
  let bad = -1;
  if (withNorms && given?.length === n) {
    norms = given;
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(norms[i])) {
        bad = findNonFinite(vectors, i * dim, (i + 1) * dim);
        break;
      }
    }
  } else if (withNorms) {
    norms = new Float64Array(n);
    for (let i = 0; i < n && bad < 0; i++) {
      norms[i] = normAt(vectors, i * dim, dim);
      if (!Number.isFinite(norms[i])) bad = findNonFinite(vectors, i * dim, (i + 1) * dim);
    }
  } else {
    bad = findNonFinite(vectors, 0, vectors.length);
  }
  if (bad >= 0) {
    const e = Math.floor(bad / dim);
    throw new QuiverError('INVALID_VECTOR', `${what}: vector of entry ${e} (id ${label(ids[e])}) element ${bad - e * dim} is ${vectors[bad]}; stored vectors must be finite`, { index: e });
  }
  return { ids, idMap, vectors, metadata, norms, packed };
}

/**
 * Index of the first NaN or ±Infinity in v[from, to), or -1. Works on the raw float32 words: the
 * exponent field is all ones exactly for non-finite values, and adding one exponent step to it carries
 * into the sign bit, so four words can be tested with one branch.
 */
export function findNonFinite(v: Float32Array, from: number, to: number): number {
  const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
  const E = 0x7f800000;
  const STEP = 0x00800000;
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const m = ((u[i] & E) + STEP) | ((u[i + 1] & E) + STEP) | ((u[i + 2] & E) + STEP) | ((u[i + 3] & E) + STEP);
    if (m & 0x80000000) break;
  }
  for (; i < to; i++) if ((u[i] & E) === E) return i;
  return -1;
}

/** Checks the `deletedIds` of a delta. */
function checkIdList(list: unknown, what: string): Id[] {
  if (!Array.isArray(list)) invalid(`${what} must be an array of ids, got ${describe(list)}`);
  return list.map((id, i) => checkId(id, what, i));
}

/** A delta that passed validation: its columns, deleted ids and clear flag. */
export interface CheckedDelta {
  columns: CheckedColumns;
  deletedIds: Id[];
  cleared: boolean;
}

/** Checks a `DeltaColumns`-shaped value against `dim` (as {@link checkColumns}, plus its deletions and clear flag). */
export function checkDelta(delta: unknown, dim: number, what: string): CheckedDelta {
  const columns = checkColumns(delta, dim, false, what);
  const deletedIds = checkIdList((delta as { deletedIds?: unknown }).deletedIds, `${what}.deletedIds`);
  const cleared = (delta as { cleared?: unknown }).cleared;
  if (typeof cleared !== 'boolean') invalid(`${what}.cleared must be a boolean, got ${describe(cleared)}`);
  return { columns, deletedIds, cleared };
}
