import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { applyRetention, type RetentionInput, type RetentionPolicy, type RetentionResult } from '../../src/snapshot/retention.js';

// Compiled to build/test/snapshot/; the golden timelines stay in the source tree. Their expectations were
// worked out by hand from the rules (ISO weeks checked against `date -u +%G-W%V`), not copied from output.
const DIR = fileURLToPath(new URL('../../../test/snapshot/golden-retention/', import.meta.url));

interface GoldenSnapshot extends Omit<RetentionInput, 'createdAt'> {
  createdAt: string;
}

interface Golden {
  description: string;
  now: string;
  policy: RetentionPolicy;
  snapshots: GoldenSnapshot[];
  expected: RetentionResult;
}

function time(iso: string): number {
  const ms = Date.parse(iso);
  assert.ok(Number.isFinite(ms) && iso.endsWith('Z'), `golden time "${iso}" must be an ISO UTC string`);
  return ms;
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
const goldens = files.map((f) => ({ file: f, g: JSON.parse(readFileSync(`${DIR}${f}`, 'utf8')) as Golden }));

function run(g: Golden): RetentionResult {
  const snaps = g.snapshots.map((s) => ({ ...s, createdAt: time(s.createdAt) }));
  return applyRetention(snaps, g.policy, time(g.now));
}

test('the golden set covers every rule, chains, ties and calendar edges', () => {
  assert.ok(files.length >= 20, `expected at least 20 golden timelines, found ${files.length}`);
  const policies = goldens.map(({ g }) => g.policy);
  for (const key of ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly', 'keepWithin', 'keepTags'] as const) {
    assert.ok(policies.some((p) => p[key] !== undefined), `no golden uses ${key}`);
  }
  const all = goldens.flatMap(({ g }) => Object.values(g.expected.reasons).flat());
  for (const prefix of ['newest', 'policy is empty', 'pinned', 'tag:', 'within ', 'base of ', 'orphan: ']) {
    assert.ok(all.some((r) => r.startsWith(prefix)), `no golden expects a "${prefix}" reason`);
  }
  assert.ok(goldens.some(({ g }) => g.expected.remove.length > 0 && g.expected.keep.length > 0));
});

for (const { file, g } of goldens) {
  test(`golden ${file} is self-consistent`, () => {
    const ids = g.snapshots.map((s) => s.id).sort();
    assert.deepEqual([...g.expected.keep, ...g.expected.remove].sort(), ids, 'keep + remove must partition the input');
    assert.deepEqual(Object.keys(g.expected.reasons).sort(), [...g.expected.keep].sort(), 'reasons must name exactly the kept ids');
  });

  test(`golden ${file}: ${g.description}`, () => {
    assert.deepEqual(run(g), g.expected);
  });

  test(`golden ${file} does not depend on input order`, () => {
    const reversed = { ...g, snapshots: [...g.snapshots].reverse() };
    assert.deepEqual(run(reversed), g.expected);
  });
}

test('every golden gives the same answer in any host time zone (buckets are UTC)', () => {
  const saved = process.env.TZ;
  const probe = Date.UTC(2026, 2, 29, 23, 59);
  try {
    for (const zone of ['America/New_York', 'Europe/Berlin', 'Pacific/Chatham', 'Asia/Kolkata']) {
      process.env.TZ = zone;
      // Guard against a vacuous pass: the zone change must really move local time.
      assert.notEqual(new Date(probe).getTimezoneOffset(), 0, `TZ=${zone} did not take effect`);
      for (const { file, g } of goldens) assert.deepEqual(run(g), g.expected, `${file} under TZ=${zone}`);
    }
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});
