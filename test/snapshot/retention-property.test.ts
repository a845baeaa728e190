import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyRetention, parseDuration, type RetentionInput, type RetentionPolicy } from '../../src/snapshot/retention.js';

const H = 3_600_000;
const D = 24 * H;
const EPOCH = Date.UTC(2024, 0, 1);
const TAGS = ['prod', 'dev', 'nightly'];
const COUNT_KEYS = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const;
type CountKey = (typeof COUNT_KEYS)[number];

// Times mix a 3-year spread (weeks, months, years) with a coarse 3-day hour grid (ties, same-hour buckets).
const arbTime = fc.oneof(fc.integer({ min: 0, max: 3 * 365 * D }), fc.integer({ min: 0, max: 72 }).map((h) => h * H));

const arbRow = fc.record({
  t: arbTime,
  incremental: fc.boolean(),
  pick: fc.nat(),
  missingBase: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
  pinned: fc.integer({ min: 0, max: 7 }).map((x) => x === 0),
  tags: fc.subarray(TAGS),
});

/** Random snapshots; an incremental's base is an earlier-generated one (any time) or, rarely, missing. */
const arbSnapshots = fc.array(arbRow, { maxLength: 24 }).map((rows) =>
  rows.map((r, i): RetentionInput => {
    const s: RetentionInput = { id: `s${i}`, createdAt: EPOCH + r.t, type: 'full', pinned: r.pinned, tags: r.tags };
    if (r.incremental && (i > 0 || r.missingBase)) {
      s.type = 'incremental';
      s.baseId = r.missingBase || i === 0 ? `gone${i}` : `s${r.pick % i}`;
    }
    return s;
  }),
);

const arbPolicy: fc.Arbitrary<RetentionPolicy> = fc.record(
  {
    keepLast: fc.integer({ min: 0, max: 6 }),
    keepHourly: fc.integer({ min: 0, max: 6 }),
    keepDaily: fc.integer({ min: 0, max: 6 }),
    keepWeekly: fc.integer({ min: 0, max: 6 }),
    keepMonthly: fc.integer({ min: 0, max: 6 }),
    keepYearly: fc.integer({ min: 0, max: 4 }),
    keepWithin: fc.oneof(fc.integer({ min: 0, max: 30 * D }), fc.constantFrom('12h', '1d', '2d', '1w3d', '0d', '90min')),
    keepTags: fc.subarray(TAGS),
  },
  { requiredKeys: [] },
);

const arbNow = fc.integer({ min: 0, max: 4 * 365 * D }).map((x) => EPOCH + x);

function withinMs(p: RetentionPolicy): number {
  return typeof p.keepWithin === 'string' ? parseDuration(p.keepWithin) : (p.keepWithin ?? 0);
}

function isEmpty(p: RetentionPolicy): boolean {
  return COUNT_KEYS.every((k) => !p[k]) && withinMs(p) === 0 && (p.keepTags ?? []).length === 0;
}

function newestFirst(a: RetentionInput, b: RetentionInput): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** ISO week, written independently of the implementation (the classic "shift to Thursday" recipe). */
function isoWeek(ms: number): string {
  const d = new Date(ms);
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - dow);
  const week = Math.ceil(((day.getTime() - Date.UTC(day.getUTCFullYear(), 0, 1)) / D + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

const LABEL: Record<Exclude<CountKey, 'keepLast'>, [string, (ms: number) => string]> = {
  keepHourly: ['hourly', (ms) => `${new Date(ms).toISOString().slice(0, 13)}:00Z`],
  keepDaily: ['daily', (ms) => new Date(ms).toISOString().slice(0, 10)],
  keepWeekly: ['weekly', isoWeek],
  keepMonthly: ['monthly', (ms) => new Date(ms).toISOString().slice(0, 7)],
  keepYearly: ['yearly', (ms) => new Date(ms).toISOString().slice(0, 4)],
};

/** A second, deliberately different formulation: group by bucket label, take the newest of the n newest groups. */
function modelKeep(snaps: readonly RetentionInput[], p: RetentionPolicy, now: number): Set<string> {
  const sorted = [...snaps].sort(newestFirst);
  if (isEmpty(p)) return new Set(sorted.map((s) => s.id));
  const keep = new Set<string>(sorted.slice(0, 1).map((s) => s.id));
  for (const s of sorted.slice(0, p.keepLast ?? 0)) keep.add(s.id);
  for (const [key, [, label]] of Object.entries(LABEL) as [keyof typeof LABEL, [string, (ms: number) => string]][]) {
    const groups = new Map<string, RetentionInput>();
    for (const s of sorted) if (!groups.has(label(s.createdAt))) groups.set(label(s.createdAt), s);
    for (const s of [...groups.values()].slice(0, p[key] ?? 0)) keep.add(s.id);
  }
  const ids = new Set(sorted.map((s) => s.id));
  for (const s of sorted) {
    if (withinMs(p) > 0 && now - s.createdAt <= withinMs(p)) keep.add(s.id);
    if (s.pinned || (p.keepTags ?? []).some((t) => s.tags?.includes(t))) keep.add(s.id);
    if (s.type === 'incremental' && !ids.has(s.baseId as string)) keep.add(s.id);
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const s of sorted) {
      if (keep.has(s.id) && s.type === 'incremental' && ids.has(s.baseId as string) && !keep.has(s.baseId as string)) {
        keep.add(s.baseId as string);
        changed = true;
      }
    }
  }
  return keep;
}

test('invariants hold for random timelines, chains and policies', () => {
  fc.assert(
    fc.property(arbSnapshots, arbPolicy, arbNow, (snaps, policy, now) => {
      const r = applyRetention(snaps, policy, now);
      const sorted = [...snaps].sort(newestFirst).map((s) => s.id);
      // Partition, newest-first order, no duplicates.
      assert.deepEqual([...r.keep, ...r.remove].sort(), [...sorted].sort());
      assert.deepEqual(r.keep, sorted.filter((id) => r.keep.includes(id)));
      assert.deepEqual(r.remove, sorted.filter((id) => r.remove.includes(id)));
      const kept = new Set(r.keep);
      const byId = new Map(snaps.map((s) => [s.id, s]));
      if (sorted.length > 0) {
        assert.ok(kept.has(sorted[0]), 'the newest is kept');
        assert.equal(r.reasons[sorted[0]][0], 'newest');
      }
      if (isEmpty(policy)) assert.deepEqual(r.remove, [], 'an empty policy keeps everything');
      assert.deepEqual(Object.keys(r.reasons).sort(), [...r.keep].sort());
      for (const s of snaps) {
        if (s.pinned) assert.ok(r.reasons[s.id]?.includes('pinned'), `${s.id} is pinned`);
        for (const t of policy.keepTags ?? []) if (s.tags?.includes(t)) assert.ok(r.reasons[s.id]?.includes(`tag:${t}`));
        if (s.type !== 'incremental') continue;
        const base = byId.get(s.baseId as string);
        if (base === undefined) assert.ok(r.reasons[s.id]?.includes(`orphan: base ${s.baseId} missing`), `${s.id} is an orphan`);
        else if (kept.has(s.id)) assert.ok(r.reasons[base.id].includes(`base of ${s.id}`), `${base.id} is needed by ${s.id}`);
      }
      for (const id of r.keep) assert.ok(r.reasons[id].length > 0);
    }),
    { numRuns: 300 },
  );
});

test('the kept set equals an independent group-by model, and bucket labels are the UTC calendar', () => {
  fc.assert(
    fc.property(arbSnapshots, arbPolicy, arbNow, (snaps, policy, now) => {
      const r = applyRetention(snaps, policy, now);
      assert.deepEqual(new Set(r.keep), modelKeep(snaps, policy, now));
      const byId = new Map(snaps.map((s) => [s.id, s]));
      for (const [id, reasons] of Object.entries(r.reasons)) {
        for (const [name, label] of Object.values(LABEL)) {
          for (const reason of reasons.filter((x) => x.startsWith(`${name} `))) {
            assert.equal(reason, `${name} ${label((byId.get(id) as RetentionInput).createdAt)}`);
          }
        }
      }
    }),
    { numRuns: 300 },
  );
});

test('the answer does not depend on input order', () => {
  fc.assert(
    fc.property(arbSnapshots, arbPolicy, arbNow, fc.nat(), (snaps, policy, now, seed) => {
      const shuffled = [...snaps];
      for (let i = shuffled.length - 1, x = seed; i > 0; i--, x = (x * 1103515245 + 12345) % 2 ** 31) {
        const j = x % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      assert.deepEqual(applyRetention(shuffled, policy, now), applyRetention(snaps, policy, now));
    }),
  );
});

type Raise = { kind: 'count'; key: CountKey; by: number } | { kind: 'within'; by: number } | { kind: 'tag'; tag: string };

const arbRaise: fc.Arbitrary<Raise> = fc.oneof(
  fc.record({ kind: fc.constant('count' as const), key: fc.constantFrom(...COUNT_KEYS), by: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('within' as const), by: fc.integer({ min: 1, max: 60 * D }) }),
  fc.record({ kind: fc.constant('tag' as const), tag: fc.constantFrom(...TAGS) }),
);

function raise(p: RetentionPolicy, r: Raise): RetentionPolicy {
  if (r.kind === 'count') return { ...p, [r.key]: (p[r.key] ?? 0) + r.by };
  if (r.kind === 'within') return { ...p, keepWithin: withinMs(p) + r.by };
  return { ...p, keepTags: [...(p.keepTags ?? []), r.tag] };
}

test('monotonic: raising a count, lengthening keepWithin or adding a tag never removes a kept snapshot', () => {
  fc.assert(
    fc.property(arbSnapshots, arbPolicy.filter((p) => !isEmpty(p)), arbRaise, arbNow, (snaps, policy, step, now) => {
      const before = applyRetention(snaps, policy, now);
      const after = new Set(applyRetention(snaps, raise(policy, step), now).keep);
      for (const id of before.keep) assert.ok(after.has(id), `${id} was kept before ${JSON.stringify(step)} and removed after`);
    }),
    { numRuns: 300 },
  );
});
