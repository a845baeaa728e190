import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keeper, type Keepable } from '../../../src/format/json/keeper.js';

class FakePool implements Keepable {
  healthy = true;
  refs = 0;
  closed = false;
  ref(): void {
    this.refs++;
  }
  unref(): void {
    this.refs--;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

test('keeper: one shared pool, referenced while used, unref-ed when idle, replaced after a failure', async () => {
  const made: FakePool[] = [];
  const keeper = new Keeper(() => {
    const p = new FakePool();
    made.push(p);
    return p;
  });
  const a = keeper.acquire();
  const b = keeper.acquire();
  assert.equal(a, b);
  assert.equal(a.refs, 1);
  await keeper.release(a);
  assert.equal(a.refs, 1, 'still used by b');
  await keeper.release(b);
  assert.equal(a.refs, 0, 'idle pools do not keep the process alive');
  assert.equal(a.closed, false, 'kept warm for the next user');
  const c = keeper.acquire();
  assert.equal(c, a);
  assert.equal(made.length, 1);
  // A failing pool in use: others get a private pool, closed on release; the failed one is dropped.
  c.healthy = false;
  const d = keeper.acquire();
  assert.notEqual(d, c);
  await keeper.release(d);
  assert.equal(d.closed, true);
  await keeper.release(c);
  assert.equal(c.closed, true);
  const e = keeper.acquire();
  assert.notEqual(e, c);
  assert.equal(made.length, 3);
  await keeper.release(e);
});
