import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedSerialQueue, SerialQueue } from '../../src/util/serial.js';

const tick = () => new Promise((r) => setImmediate(r));

test('SerialQueue runs operations one at a time in call order, past failures', async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  const op = (name: string, fail = false) => async () => {
    log.push(`start ${name}`);
    await tick();
    log.push(`end ${name}`);
    if (fail) throw new Error(name);
    return name;
  };
  const results = await Promise.allSettled([q.run(op('a')), q.run(op('b', true)), q.run(op('c'))]);
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.equal(q.busy, false);
});

test('KeyedSerialQueue: one key at a time in call order, different keys side by side', async () => {
  const q = new KeyedSerialQueue<string>();
  const log: string[] = [];
  const op = (name: string) => async () => {
    log.push(`start ${name}`);
    await tick();
    log.push(`end ${name}`);
  };
  await Promise.all([q.run('x', op('x1')), q.run('y', op('y1')), q.run('x', op('x2'))]);
  assert.deepEqual(log.slice(0, 2), ['start x1', 'start y1'], 'y does not wait for x');
  assert.ok(log.indexOf('start x2') > log.indexOf('end x1'), 'x2 waits for x1');
  await assert.rejects(q.run('x', () => Promise.reject(new Error('boom'))), /boom/);
  assert.equal(await q.run('x', () => Promise.resolve(7)), 7, 'a failure does not stop the key');
});
