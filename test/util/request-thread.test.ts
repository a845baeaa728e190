import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestThread } from '../../src/util/request-thread.js';

interface EchoRequest {
  seq: number;
  value: number;
  bytes?: Uint8Array;
}
interface EchoReply {
  seq: number;
  value: number;
  bytes: Uint8Array;
}

function echoThread(): RequestThread<EchoRequest, EchoReply> {
  return new RequestThread<EchoRequest, EchoReply>(new URL('./echo-thread.js', import.meta.url), 'echo thread');
}

test('replies are matched to their requests, transferred buffers arrive', async () => {
  const t = echoThread();
  try {
    assert.ok(t.started && t.healthy);
    const sent = new Uint8Array([1, 2, 3]);
    const replies = await Promise.all([t.request({ value: 1 }), t.request({ value: 2, bytes: sent }, [sent.buffer]), t.request({ value: 3 })]);
    assert.deepEqual(replies.map((r) => r.value), [2, 4, 6]);
    assert.deepEqual([...replies[1].bytes], [1, 2, 3]);
    assert.equal(sent.byteLength, 0, 'the request buffer was transferred');
    assert.equal(t.pending, 0);
  } finally {
    await t.close();
  }
});

test('a thread that fails rejects what is pending and everything after, and is no longer healthy', async () => {
  const t = echoThread();
  try {
    assert.equal((await t.request({ value: 5 })).value, 10);
    const failing = t.request({ value: -1 });
    const queued = t.request({ value: 2 });
    await assert.rejects(failing, /cannot echo -1/);
    await assert.rejects(queued, /cannot echo -1/);
    assert.equal(t.healthy, false);
    await assert.rejects(t.request({ value: 7 }), /cannot echo -1/);
  } finally {
    await t.close();
  }
});

test('close rejects pending requests and later ones', async () => {
  const t = echoThread();
  const pending = t.request({ value: 9 });
  await t.close();
  await assert.rejects(pending, /echo thread was closed/);
  await assert.rejects(t.request({ value: 1 }), /echo thread was closed/);
  assert.equal(t.healthy, false);
});
