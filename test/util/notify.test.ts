import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { notify } from '../../src/util/notify.js';
import { capturing } from '../support/warnings.js';

test('notify: every listener hears, in order, even after one throws; throwing and rejecting listeners become warnings; once listeners go', () => capturing(async ({ warnings, rejections }) => {
  const e = new EventEmitter();
  const heard: string[] = [];
  e.on('x', (p: number) => {
    heard.push(`first ${p}`);
    throw new Error('sync boom');
  });
  e.on('x', async (p: number) => {
    heard.push(`second ${p}`);
    throw new Error('async boom');
  });
  e.once('x', (p: number) => void heard.push(`once ${p}`));
  assert.equal(notify(e, 'x', 1, 'a test'), true);
  assert.equal(notify(e, 'x', 2, 'a test'), true);
  assert.equal(notify(e, 'nobody', 3, 'a test'), false);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(heard, ['first 1', 'second 1', 'once 1', 'first 2', 'second 2']);
  assert.deepEqual(rejections, []);
  assert.equal(warnings.filter((w) => w.startsWith('QuiverListenerWarning') && /: sync boom$/.test(w)).length, 2);
  assert.equal(warnings.filter((w) => w.startsWith('QuiverListenerWarning') && /: async boom$/.test(w)).length, 2);
}));
