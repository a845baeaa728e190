import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isQuiverError } from '../../src/errors.js';
import { applyRetention, formatDuration, parseDuration, type RetentionInput, type RetentionPolicy } from '../../src/snapshot/retention.js';

const H = 3_600_000;
const D = 24 * H;
const T0 = Date.UTC(2026, 10, 1);

function full(id: string, day: number, extra: Partial<RetentionInput> = {}): RetentionInput {
  return { id, createdAt: T0 + day * D, type: 'full', ...extra };
}

function inc(id: string, day: number, baseId: string, extra: Partial<RetentionInput> = {}): RetentionInput {
  return { id, createdAt: T0 + day * D, type: 'incremental', baseId, ...extra };
}

function invalidArg(fn: () => unknown, mention?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isQuiverError(err, 'INVALID_ARGUMENT'), `expected INVALID_ARGUMENT, got ${String(err)}`);
    if (mention) assert.match(err.message, mention);
    return true;
  });
}

test('parseDuration reads every unit, combined largest first', () => {
  assert.equal(parseDuration('2d'), 2 * D);
  assert.equal(parseDuration('1w3d'), 10 * D);
  assert.equal(parseDuration('12h'), 12 * H);
  assert.equal(parseDuration('90min'), 90 * 60_000);
  assert.equal(parseDuration('1h30min'), 90 * 60_000);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1w2d3h4min5s6ms'), 9 * D + 3 * H + 4 * 60_000 + 5_000 + 6);
  assert.equal(parseDuration('  2d\n'), 2 * D);
  assert.equal(parseDuration('0d'), 0);
  assert.equal(parseDuration('007h'), 7 * H);
});

test('parseDuration refuses malformed and ambiguous strings with a hint', () => {
  invalidArg(() => parseDuration(''), /empty/);
  invalidArg(() => parseDuration('   '), /empty/);
  invalidArg(() => parseDuration('2'), /needs a unit/);
  invalidArg(() => parseDuration('6m'), /ambiguous.*min/);
  invalidArg(() => parseDuration('6mo'), /ambiguous/);
  invalidArg(() => parseDuration('1y'), /365d/);
  invalidArg(() => parseDuration('1.5h'), /fractions/);
  invalidArg(() => parseDuration('3d1w'), /"w"/);
  invalidArg(() => parseDuration('1d1d'), /"d"/);
  invalidArg(() => parseDuration('2 d'), /spaces/);
  invalidArg(() => parseDuration('-1d'));
  invalidArg(() => parseDuration('d'));
  invalidArg(() => parseDuration('2days'), /unknown unit "days"/);
  invalidArg(() => parseDuration('99999999999999999999w'), /too long/);
  invalidArg(() => parseDuration(5 as unknown as string), /string/);
});

test('formatDuration writes what parseDuration reads back', () => {
  assert.equal(formatDuration(10 * D), '1w3d');
  assert.equal(formatDuration(25 * H), '1d1h');
  assert.equal(formatDuration(0), '0ms');
  assert.equal(formatDuration(61_001), '1min1s1ms');
  fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (ms) => parseDuration(formatDuration(ms)) === ms));
});

test('invalid policy values are INVALID_ARGUMENT naming the key', () => {
  const snaps = [full('a', 0)];
  const bad: [RetentionPolicy, RegExp][] = [
    [{ keepLast: -1 }, /keepLast/],
    [{ keepDaily: 1.5 }, /keepDaily/],
    [{ keepHourly: Number.NaN }, /keepHourly/],
    [{ keepWeekly: Number.POSITIVE_INFINITY }, /keepWeekly/],
    [{ keepMonthly: '3' as unknown as number }, /keepMonthly/],
    [{ keepYearly: -0.5 }, /keepYearly/],
    [{ keepWithin: -1 }, /keepWithin/],
    [{ keepWithin: 1.5 }, /keepWithin/],
    [{ keepWithin: '2 days' }, /keepWithin.*2 days/],
    [{ keepWithin: true as unknown as number }, /keepWithin/],
    [{ keepTags: 'prod' as unknown as string[] }, /keepTags/],
    [{ keepTags: [''] }, /keepTags/],
    [{ dryRun: 'yes' as unknown as boolean }, /dryRun/],
    [{ keepDayly: 7 } as unknown as RetentionPolicy, /Unknown retention policy key "keepDayly"/],
    [null as unknown as RetentionPolicy, /pass \{\}/],
    [[] as unknown as RetentionPolicy, /object/],
  ];
  for (const [policy, mention] of bad) invalidArg(() => applyRetention(snaps, policy, T0), mention);
});

test('invalid snapshots and times are INVALID_ARGUMENT', () => {
  const p: RetentionPolicy = { keepLast: 1 };
  invalidArg(() => applyRetention('x' as unknown as RetentionInput[], p, T0), /array/);
  invalidArg(() => applyRetention([full('a', 0)], p, Number.NaN), /now/);
  invalidArg(() => applyRetention([full('a', 0), full('a', 1)], p, T0), /"a" appears more than once/);
  invalidArg(() => applyRetention([full('', 0)], p, T0), /id/);
  invalidArg(() => applyRetention([null as unknown as RetentionInput], p, T0), /object/);
  invalidArg(() => applyRetention([{ ...full('a', 0), createdAt: Number.NaN }], p, T0), /createdAt/);
  invalidArg(() => applyRetention([{ ...full('a', 0), createdAt: '2026-01-01' as unknown as number }], p, T0), /createdAt/);
  invalidArg(() => applyRetention([{ ...full('a', 0), createdAt: 8.64e15 }], p, T0), /createdAt/);
  invalidArg(() => applyRetention([{ ...full('a', 0), type: 'delta' as 'full' }], p, T0), /type/);
  invalidArg(() => applyRetention([{ id: 'a', createdAt: T0, type: 'incremental' }], p, T0), /no baseId/);
  invalidArg(() => applyRetention([full('a', 0, { baseId: 'b' })], p, T0), /full snapshot but names baseId/);
  invalidArg(() => applyRetention([full('a', 0, { pinned: 1 as unknown as boolean })], p, T0), /pinned/);
  invalidArg(() => applyRetention([full('a', 0, { tags: 'prod' as unknown as string[] })], p, T0), /tags/);
  invalidArg(() => applyRetention([inc('a', 0, 'a')], p, T0), /loops/);
  invalidArg(() => applyRetention([full('f', 0), inc('a', 1, 'b'), inc('b', 2, 'c'), inc('c', 3, 'a')], p, T0), /loops/);
});

test('no snapshots: nothing to keep or remove, whatever the policy', () => {
  for (const policy of [{}, { keepLast: 3 }, { keepTags: ['x'] }]) {
    assert.deepEqual(applyRetention([], policy, T0), { keep: [], remove: [], reasons: {} });
  }
});

test('the newest survives a policy that matches nothing else', () => {
  const snaps = [full('old', 0), full('new', 1), full('mid', 0.5)];
  const r = applyRetention(snaps, { keepTags: ['prod'] }, T0 + 10 * D);
  assert.deepEqual(r, { keep: ['new'], remove: ['mid', 'old'], reasons: { new: ['newest'] } });
});

test('dryRun does not change the decision', () => {
  const snaps = [full('a', 0), full('b', 1), full('c', 2)];
  const plain = applyRetention(snaps, { keepLast: 1 }, T0);
  assert.deepEqual(applyRetention(snaps, { keepLast: 1, dryRun: true }, T0), plain);
  assert.deepEqual(plain.remove, ['b', 'a']);
});

test('the input is not mutated and ids such as __proto__ stay ordinary keys', () => {
  const snaps = [full('__proto__', 0, { tags: ['prod'] }), full('constructor', 1), inc('toString', 2, '__proto__'), full('z', 3)];
  const frozen = snaps.map((s) => Object.freeze({ ...s, tags: s.tags && Object.freeze([...s.tags]) })) as RetentionInput[];
  const before = structuredClone(frozen);
  const policy = Object.freeze({ keepLast: 1, keepTags: Object.freeze(['prod']) as string[] });
  const r = applyRetention(Object.freeze(frozen), policy, T0);
  assert.deepEqual(frozen, before);
  assert.deepEqual(r.keep, ['z', '__proto__']);
  assert.deepEqual(r.remove, ['toString', 'constructor']);
  assert.ok(Object.hasOwn(r.reasons, '__proto__'));
  assert.deepEqual(r.reasons['__proto__'], ['tag:prod']);
  assert.equal(Object.getPrototypeOf(r.reasons), Object.prototype);
});

test('duplicate keepTags entries give one reason each', () => {
  const r = applyRetention([full('a', 0, { tags: ['prod', 'prod'] }), full('b', 1)], { keepTags: ['prod', 'prod'] }, T0);
  assert.deepEqual(r.reasons, { b: ['newest'], a: ['tag:prod'] });
});

test('a keepWithin of 0 is no rule at all beside other rules', () => {
  const r = applyRetention([full('a', 0), full('b', 1)], { keepLast: 1, keepWithin: 0 }, T0 + D);
  assert.deepEqual(r, { keep: ['b'], remove: ['a'], reasons: { b: ['newest', 'last'] } });
});

test('a base newer than its incremental is still kept for it', () => {
  const r = applyRetention([inc('i', 0, 'f'), full('f', 1), full('n', 2)], { keepYearly: 1, keepTags: ['t'] }, T0);
  assert.deepEqual(r.keep, ['n']);
  const pinned = applyRetention([inc('i', 0, 'f', { pinned: true }), full('f', 1), full('n', 2)], { keepLast: 1 }, T0);
  assert.deepEqual(pinned, { keep: ['n', 'f', 'i'], remove: [], reasons: { n: ['newest', 'last'], f: ['base of i'], i: ['pinned'] } });
});

test('a very long chain is walked without recursion: keeping the tip keeps every link', () => {
  const n = 20_000;
  const snaps: RetentionInput[] = [{ id: 'c0', createdAt: T0, type: 'full' }];
  for (let i = 1; i < n; i++) snaps.push({ id: `c${i}`, createdAt: T0 + i * 1000, type: 'incremental', baseId: `c${i - 1}` });
  snaps.push({ id: 'other', createdAt: T0 - 1000, type: 'full' });
  const r = applyRetention(snaps, { keepLast: 1 }, T0);
  assert.equal(r.keep.length, n);
  assert.deepEqual(r.remove, ['other']);
  assert.equal(r.keep[0], `c${n - 1}`);
  assert.deepEqual(r.reasons.c0, ['base of c1']);
});
