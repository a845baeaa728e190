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
