/**
 * Snapshot ids and names. Ids are generated: `YYYYMMDDTHHMMSSmmmZ-<8 hex>` (UTC creation time to the
 * millisecond, then 32 random bits), so they sort by time as plain strings and never collide across
 * processes in practice; within one process the time part is forced to increase strictly. Every id a
 * caller passes is validated before it is used in a key, so no id can point outside the snapshot root.
 * Names are free text shown to people and never used in paths.
 */
import { randomBytes } from 'node:crypto';
import { QuiverError } from '../errors.js';

/** Longest id accepted (generated ids are 28 characters). */
export const MAX_ID_LENGTH = 128;
/** Longest snapshot name accepted, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 256;

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const GENERATED_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-f]{8}$/;

let lastMs = 0;

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/** A new id and its creation time (ms since the epoch); times strictly increase within a process. */
export function newSnapshotId(now = Date.now()): { id: string; createdAt: number } {
  const ms = Math.max(now, lastMs + 1);
  lastMs = ms;
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const stamp = `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}${p(d.getUTCMilliseconds(), 3)}Z`;
  return { id: `${stamp}-${randomBytes(4).toString('hex')}`, createdAt: ms };
}

/** The creation time encoded in a generated id, or undefined for other ids. */
export function timeOfId(id: string): number | undefined {
  const m = GENERATED_RE.exec(id);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number);
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  return Number.isFinite(t) ? t : undefined;
}

/**
 * Returns `id` when it is a valid snapshot id: 1..128 characters of [A-Za-z0-9_-] starting with a
 * letter or digit (so no `/`, `\`, `.`, `..`, NUL, spaces or absolute paths). Anything else is
 * QuiverError INVALID_ARGUMENT.
 */
export function checkSnapshotId(id: unknown, what = 'snapshot id'): string {
  if (typeof id !== 'string') throw new QuiverError('INVALID_ARGUMENT', `${what} must be a string, got ${describe(id)}`);
  if (id.length === 0 || id.length > MAX_ID_LENGTH || !ID_RE.test(id)) {
    throw new QuiverError(
      'INVALID_ARGUMENT',
      `${what} ${describe(id)} is not a snapshot id: ids are 1..${MAX_ID_LENGTH} letters, digits, "-" or "_" (as listSnapshots returns them); paths, "..", "/", "\\" and NUL are never accepted`,
      { id: id.length > 200 ? id.slice(0, 200) : id },
    );
  }
  return id;
}

/** True when `id` passes {@link checkSnapshotId}. */
export function isSnapshotId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH && ID_RE.test(id);
}

/** Returns `name` when it is a valid snapshot name: a string of 1..256 UTF-16 units without NUL. */
export function checkSnapshotName(name: unknown, what = 'snapshot name'): string {
  if (typeof name !== 'string') throw new QuiverError('INVALID_ARGUMENT', `${what} must be a string, got ${describe(name)}`);
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new QuiverError('INVALID_ARGUMENT', `${what} must be 1..${MAX_NAME_LENGTH} characters long, got ${name.length}; shorten it`, { length: name.length });
  }
  if (name.includes('\0')) throw new QuiverError('INVALID_ARGUMENT', `${what} ${describe(name)} contains a NUL character; remove it`);
  return name;
}

/** Returns `tags` when it is an array of at most 64 distinct names (same rules as snapshot names). */
export function checkTags(tags: unknown, what = 'tags'): string[] {
  if (!Array.isArray(tags)) throw new QuiverError('INVALID_ARGUMENT', `${what} must be an array of strings, got ${describe(tags)}`);
  if (tags.length > 64) throw new QuiverError('INVALID_ARGUMENT', `${what} holds ${tags.length} tags; at most 64 are allowed`);
  const out = tags.map((t, i) => checkSnapshotName(t, `${what}[${i}]`));
  return [...new Set(out)];
}
