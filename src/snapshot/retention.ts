/**
 * Snapshot retention as a pure function, after restic's `forget` (the physical delete, restic's `prune`,
 * is a separate step owned by the SnapshotManager). `applyRetention` reads nothing but its arguments,
 * never deletes anything and returns which snapshot ids to keep, which to remove and why.
 *
 * Semantics (also in docs/RETENTION.part.md):
 * - Snapshots are ordered newest first: `createdAt` descending, ties broken by id in ascending code-unit
 *   order. `keep` and `remove` come out in that order; the input order never matters.
 * - `keepLast: n` keeps the n newest snapshots.
 * - `keepHourly|Daily|Weekly|Monthly|Yearly: n` walk that order and keep the newest snapshot of each UTC
 *   hour / day / ISO-8601 week / month / year, for the n most recent buckets that contain a snapshot
 *   (empty buckets do not count). Buckets are UTC, so DST and the host's time zone never matter.
 * - `keepWithin` (milliseconds, or a string such as `'2d'`, `'1w3d'`, `'12h'`; see parseDuration) keeps
 *   every snapshot with `now - createdAt <= keepWithin`; it is measured from `now`, not from the newest
 *   snapshot (restic measures from the newest).
 * - `keepTags` keeps every snapshot carrying at least one of the listed tags.
 * - Every snapshot is tested against every rule, so one snapshot may satisfy several (and use up a
 *   bucket of each), exactly as in restic.
 * - Always kept, whatever the policy: the newest snapshot, pinned snapshots, incrementals whose base is
 *   absent from the input (reason `orphan: base X missing`; reported, never silently dropped), and every
 *   base, transitively through `baseId`, of a kept incremental.
 * - An empty policy (no count above 0, no keepWithin above 0, no keepTags) keeps everything, with reason
 *   `policy is empty`: forgetting to configure a rule must never delete snapshots.
 * - Monotonic: raising any count, lengthening keepWithin or adding a tag to a non-empty policy never
 *   removes a snapshot that was kept. (Going from an empty policy to a non-empty one is the exception.)
 * - `reasons[id]` lists every rule keeping `id`, in this order: `newest`, `policy is empty`, `last`,
 *   `hourly 2026-11-24T13:00Z`, `daily 2026-11-24`, `weekly 2026-W48`, `monthly 2026-11`, `yearly 2026`,
 *   `within 2d`, `pinned`, `tag:prod`, `orphan: base X missing`, `base of <id>` (kept dependents, newest
 *   first). An id is a key of `reasons` exactly when it is in `keep`.
 * - Invalid input throws QuiverError INVALID_ARGUMENT: negative or non-integer counts, bad durations,
 *   unknown policy keys (a typo such as `keepDayly` would otherwise silently drop a rule), duplicate ids,
 *   non-finite times, an incremental without `baseId`, a full snapshot with one, or a `baseId` loop.
 */
import { QuiverError } from '../errors.js';
import { bucketKey, bucketLabel, formatDuration, MAX_TIME, parseDuration, type BucketKind } from './retention-buckets.js';

export { parseDuration, formatDuration } from './retention-buckets.js';

/** One snapshot as retention sees it: identity, creation time (ms since 1970, UTC), chain link and labels. */
export interface RetentionInput {
  id: string;
  createdAt: number;
  type: 'full' | 'incremental';
  baseId?: string;
  pinned?: boolean;
  tags?: string[];
}

/** Which snapshots to keep; see the module comment for exact semantics. Counts are non-negative integers. */
export interface RetentionPolicy {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  /** Milliseconds, or a duration string such as `'2d'`, `'1w3d'`, `'12h'`. */
  keepWithin?: number | string;
  keepTags?: string[];
  /** Carried through for the caller's delete step; this function never deletes anything anyway. */
  dryRun?: boolean;
}

/** Ids to keep and to remove (each newest first) and, for every kept id, the rules that keep it. */
export interface RetentionResult {
  keep: string[];
  remove: string[];
  reasons: Record<string, string[]>;
}

type CountRule = 'last' | BucketKind;

const COUNT_KEYS: readonly (readonly [keyof RetentionPolicy, CountRule])[] = [
  ['keepLast', 'last'],
  ['keepHourly', 'hourly'],
  ['keepDaily', 'daily'],
  ['keepWeekly', 'weekly'],
  ['keepMonthly', 'monthly'],
  ['keepYearly', 'yearly'],
];
const POLICY_KEYS = new Set<string>([...COUNT_KEYS.map(([k]) => k), 'keepWithin', 'keepTags', 'dryRun']);

interface Rules {
  counts: { rule: CountRule; n: number }[];
  withinMs: number;
  withinLabel: string;
  tags: string[];
  empty: boolean;
}

function invalid(message: string, details: Record<string, unknown> = {}): QuiverError {
  return new QuiverError('INVALID_ARGUMENT', message, details);
}

function readWithin(value: unknown): { ms: number; label: string } {
  if (value === undefined) return { ms: 0, label: '' };
  if (typeof value === 'string') {
    try {
      return { ms: parseDuration(value), label: value.trim() };
    } catch (err) {
      if (err instanceof QuiverError) throw invalid(`policy.keepWithin: ${err.message}`, { keepWithin: value });
      throw err;
    }
  }
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return { ms: value, label: formatDuration(value) };
  throw invalid(`policy.keepWithin must be a whole number of milliseconds >= 0 or a duration string such as '2d'; got ${String(value)}.`, { keepWithin: value });
}

function readPolicy(policy: RetentionPolicy): Rules {
  if (policy === null || typeof policy !== 'object' || Array.isArray(policy)) {
    throw invalid('The retention policy must be an object; pass {} to keep every snapshot.');
  }
  for (const key of Object.keys(policy)) {
    if (!POLICY_KEYS.has(key)) {
      throw invalid(`Unknown retention policy key "${key}"; known keys: ${[...POLICY_KEYS].join(', ')}.`, { key });
    }
  }
  const counts: Rules['counts'] = [];
  for (const [key, rule] of COUNT_KEYS) {
    const n: unknown = policy[key];
    if (n === undefined) continue;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw invalid(`policy.${key} must be a whole number >= 0; got ${String(n)}.`, { [key]: n });
    }
    if (n > 0) counts.push({ rule, n });
  }
  const within = readWithin(policy.keepWithin);
  const tagsIn: unknown = policy.keepTags;
  if (tagsIn !== undefined && (!Array.isArray(tagsIn) || !tagsIn.every((t) => typeof t === 'string' && t !== ''))) {
    throw invalid('policy.keepTags must be an array of non-empty strings.', { keepTags: tagsIn });
  }
  const dryRun: unknown = policy.dryRun;
  if (dryRun !== undefined && typeof dryRun !== 'boolean') throw invalid('policy.dryRun must be a boolean.', { dryRun });
  const tags = [...new Set((tagsIn as string[] | undefined) ?? [])];
  return { counts, withinMs: within.ms, withinLabel: within.label, tags, empty: counts.length === 0 && within.ms === 0 && tags.length === 0 };
}

function compareNewestFirst(a: RetentionInput, b: RetentionInput): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function checkSnapshot(s: RetentionInput, i: number): void {
  const at = `snapshots[${i}]`;
  if (s === null || typeof s !== 'object') throw invalid(`${at} must be an object.`);
  if (typeof s.id !== 'string' || s.id === '') throw invalid(`${at}.id must be a non-empty string.`);
  const where = `${at} (id "${s.id}")`;
  if (typeof s.createdAt !== 'number' || !Number.isFinite(s.createdAt) || Math.abs(s.createdAt) > MAX_TIME) {
    throw invalid(`${where}.createdAt must be milliseconds since 1970 (UTC) within the Date range; got ${String(s.createdAt)}.`, { id: s.id });
  }
  if (s.type === 'incremental') {
    if (typeof s.baseId !== 'string' || s.baseId === '') throw invalid(`${where} is incremental but has no baseId.`, { id: s.id });
  } else if (s.type === 'full') {
    if (s.baseId !== undefined && s.baseId !== null) throw invalid(`${where} is a full snapshot but names baseId "${String(s.baseId)}".`, { id: s.id });
  } else {
    throw invalid(`${where}.type must be 'full' or 'incremental'; got ${String(s.type)}.`, { id: s.id });
  }
  if (s.pinned !== undefined && typeof s.pinned !== 'boolean') throw invalid(`${where}.pinned must be a boolean.`, { id: s.id });
  if (s.tags !== undefined && (!Array.isArray(s.tags) || !s.tags.every((t) => typeof t === 'string'))) {
    throw invalid(`${where}.tags must be an array of strings.`, { id: s.id });
  }
}

/** Refuses a baseId loop: such a chain can never be restored, and walking it would not end. */
function checkNoLoops(sorted: readonly RetentionInput[], byId: ReadonlyMap<string, RetentionInput>): void {
  const done = new Set<string>();
  for (const start of sorted) {
    const path = new Set<string>();
    let cur: RetentionInput | undefined = start;
    while (cur !== undefined && !done.has(cur.id)) {
      if (path.has(cur.id)) {
        throw invalid(`The baseId chain of snapshot "${start.id}" loops back to "${cur.id}"; the catalog is inconsistent.`, { id: start.id, loop: [...path] });
      }
      path.add(cur.id);
      cur = cur.type === 'incremental' ? byId.get(cur.baseId as string) : undefined;
    }
    for (const id of path) done.add(id);
  }
}

/**
 * Decides which snapshots a retention policy keeps, like restic `forget` but with buckets in UTC and
 * `keepWithin` measured from `now` (ms). Pure and deterministic; see the module comment for the rules
 * and the invariants (newest, pinned, tagged, orphans and bases of kept incrementals are always kept;
 * an empty policy keeps everything). Invalid input → QuiverError INVALID_ARGUMENT.
 */
export function applyRetention(snapshots: readonly RetentionInput[], policy: RetentionPolicy, now: number): RetentionResult {
  if (!Array.isArray(snapshots)) throw invalid('snapshots must be an array.');
  if (typeof now !== 'number' || !Number.isFinite(now)) throw invalid(`now must be a finite time in milliseconds; got ${String(now)}.`);
  const rules = readPolicy(policy);
  snapshots.forEach(checkSnapshot);
  const sorted = [...snapshots].sort(compareNewestFirst);
  const byId = new Map<string, RetentionInput>();
  for (const s of sorted) {
    if (byId.has(s.id)) throw invalid(`Snapshot id "${s.id}" appears more than once.`, { id: s.id });
    byId.set(s.id, s);
  }
  checkNoLoops(sorted, byId);

  const reasons = new Map<string, string[]>();
  const add = (id: string, reason: string): void => {
    const list = reasons.get(id);
    if (list === undefined) reasons.set(id, [reason]);
    else list.push(reason);
  };

  if (sorted.length > 0) add(sorted[0].id, 'newest');
  if (rules.empty) for (const s of sorted) add(s.id, 'policy is empty');
  for (const { rule, n } of rules.counts) {
    let left = n;
    let lastKey: number | undefined;
    for (const s of sorted) {
      if (left === 0) break;
      if (rule === 'last') {
        add(s.id, 'last');
        left--;
        continue;
      }
      // Newest first, so buckets arrive contiguously and the first snapshot seen in one is its newest.
      const key = bucketKey(rule, s.createdAt);
      if (key === lastKey) continue;
      lastKey = key;
      left--;
      add(s.id, `${rule} ${bucketLabel(rule, s.createdAt)}`);
    }
  }
  for (const s of sorted) {
    if (rules.withinMs > 0 && now - s.createdAt <= rules.withinMs) add(s.id, `within ${rules.withinLabel}`);
    if (s.pinned === true) add(s.id, 'pinned');
    for (const t of rules.tags) if (s.tags?.includes(t)) add(s.id, `tag:${t}`);
    if (s.type === 'incremental' && !byId.has(s.baseId as string)) add(s.id, `orphan: base ${String(s.baseId)} missing`);
  }
  keepBases(sorted, byId, reasons);

  const keep = sorted.filter((s) => reasons.has(s.id)).map((s) => s.id);
  const remove = sorted.filter((s) => !reasons.has(s.id)).map((s) => s.id);
  // fromEntries defines own properties, so an id such as "__proto__" stays an ordinary key.
  return { keep, remove, reasons: Object.fromEntries(keep.map((id) => [id, reasons.get(id) as string[]])) };
}

/** Adds every base (transitively) of a kept incremental, with one `base of <child>` per kept child. */
function keepBases(sorted: readonly RetentionInput[], byId: ReadonlyMap<string, RetentionInput>, reasons: Map<string, string[]>): void {
  const rank = new Map(sorted.map((s, i) => [s.id, i]));
  const children = new Map<string, string[]>();
  const queue = sorted.filter((s) => reasons.has(s.id));
  for (let i = 0; i < queue.length; i++) {
    const s = queue[i];
    const base = s.type === 'incremental' ? byId.get(s.baseId as string) : undefined;
    if (base === undefined) continue;
    const list = children.get(base.id);
    if (list === undefined) children.set(base.id, [s.id]);
    else list.push(s.id);
    if (!reasons.has(base.id)) {
      reasons.set(base.id, []);
      queue.push(base);
    }
  }
  for (const [baseId, kids] of children) {
    kids.sort((a, b) => (rank.get(a) as number) - (rank.get(b) as number));
    (reasons.get(baseId) as string[]).push(...kids.map((k) => `base of ${k}`));
  }
}
