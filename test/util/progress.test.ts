import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressReporter, type Progress } from '../../src/util/progress.js';
import { ioError, QuiverError, CorruptionError } from '../../src/errors.js';

test('progress never goes backwards and ends at 100 exactly once', () => {
  const seen: Progress[] = [];
  const r = new ProgressReporter('save', 10, (p) => seen.push(p));
  r.update(5, 'half');
  r.update(3, 'backwards is ignored');
  r.advance(1, 'six');
  r.update(40, 'total grows');
  r.finish('done');
  r.finish('again');
  const pcts = seen.map((p) => p.percentage);
  for (let i = 1; i < pcts.length; i++) assert.ok(pcts[i] > pcts[i - 1], `non-monotonic: ${pcts.join(',')}`);
  assert.equal(pcts.at(-1), 100);
  assert.equal(pcts.filter((p) => p === 100).length, 1);
  assert.equal(seen[0].operation, 'save');
});

test('ioError keeps the OS code and passes QuiverErrors through', () => {
  const e = ioError(Object.assign(new Error('x'), { code: 'ENOSPC' }), 'write', '/a/b');
  assert.ok(e instanceof QuiverError);
  assert.equal(e.code, 'ENOSPC');
  assert.match(e.message, /\/a\/b/);
  const c = new CorruptionError({ file: 'f', section: 'vectors', offset: 12 }, 'checksum mismatch', 'CHECKSUM_MISMATCH');
  assert.equal(ioError(c, 'read', 'f'), c);
  assert.equal(ioError(new Error('weird'), 'read', 'f').code, 'IO_ERROR');
});

test('with an item count, current/total count items; a sub-operation feeds its parent exactly', () => {
  const seen: Progress[] = [];
  const parent = new ProgressReporter('load', 100, (p) => seen.push(p));
  const child = new ProgressReporter('load', 2000, parent.child(0, 80));
  child.update(100, 'before the count is known');
  assert.deepEqual([seen[0].current, seen[0].total], [4, 100], 'work units of the parent until a count is declared');
  child.countItems(40);
  child.update(1000, 'half of the first file');
  // 0.5 of the first 80 units: 40% of the 40 items.
  assert.deepEqual({ pct: seen.at(-1)!.percentage, current: seen.at(-1)!.current, total: seen.at(-1)!.total }, { pct: 40, current: 16, total: 40 });
  child.update(1001, 'a step far below one item still moves the percentage');
  assert.equal(seen.at(-1)!.percentage, 40);
  child.finish('first file done');
  assert.deepEqual([seen.at(-1)!.current, seen.at(-1)!.total, seen.at(-1)!.percentage], [32, 40, 80]);
  const second = new ProgressReporter('load', 10, parent.child(80, 20));
  second.countItems(7); // a later file's count does not replace the first
  second.update(5, 'half of the second file');
  assert.deepEqual([seen.at(-1)!.current, seen.at(-1)!.total, seen.at(-1)!.percentage], [36, 40, 90]);
  second.finish('second done');
  parent.finish('all done');
  const last = seen.at(-1)!;
  assert.deepEqual([last.current, last.total, last.percentage, last.message], [40, 40, 100, 'all done']);
  assert.equal(seen.filter((p) => p.percentage === 100).length, 1, 'a child finishing does not finish its parent');
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i].percentage > seen[i - 1].percentage);
    assert.ok(Number.isInteger(seen[i].current) && seen[i].current >= (seen[i - 1].total === seen[i].total ? seen[i - 1].current : 0));
  }
});

test('an item count of 0 reports 0/0 and still ends at 100; invalid counts are ignored', () => {
  const seen: Progress[] = [];
  const r = new ProgressReporter('save', 1, (p) => seen.push(p));
  r.countItems(Number.NaN);
  r.countItems(-3);
  r.countItems(0);
  r.update(0.5, 'half');
  r.finish('done');
  assert.deepEqual(seen.map((p) => [p.current, p.total, p.percentage]), [[0, 0, 50], [0, 0, 100]]);
});

test('a throwing callback stops the operation with its own error, once; a throw on the final 100% report is a warning', async () => {
  const boom = new Error('boom');
  let calls = 0;
  const r = new ProgressReporter('load', 10, () => {
    calls++;
    throw boom;
  });
  assert.throws(() => r.update(5, 'half'), (e: unknown) => e === boom);
  r.update(8, 'later');
  r.finish('done');
  assert.equal(calls, 1, 'not called again after it threw');
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    const last = new ProgressReporter('save', 2, (p) => {
      if (p.percentage === 100) throw new Error('late');
    });
    last.update(1, 'half');
    last.finish('done'); // does not throw: the work it reports is done
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].name, 'QuiverProgressWarning');
  assert.match(warnings[0].message, /late/);
});
