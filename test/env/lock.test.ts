// The directory lock within one process: exclusive, names its holder, read-only bypass, takeover of
// locks whose process is gone (dead pid, reused own pid, crashed mid-create), foreign hosts respected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { acquireLock, isProcessAlive, LOCK_FILE, TAKEOVER_FILE, type LockHolder } from '../../src/env/lock.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { currentBootId, processIdentity } from '../../src/env/process-alive.js';
import { QuiverError } from '../../src/errors.js';

const DIR = '/data/coll';
const LOCK = `${DIR}/${LOCK_FILE}`;

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  assert.ok(r.pid && !isProcessAlive(r.pid));
  return r.pid;
}

function holderOf(fs: MemoryFileSystem): LockHolder {
  return JSON.parse(Buffer.from(fs.readFileSync(LOCK)).toString('utf8')) as LockHolder;
}

function writeHolder(fs: MemoryFileSystem, h: Partial<LockHolder>, path = LOCK): void {
  fs.writeFileSync(path, Buffer.from(JSON.stringify({ hostname: hostname(), startedAt: '2020-01-01T00:00:00.000Z', token: 'old', ...h })));
}

async function lockedBy(p: Promise<unknown>, re: RegExp): Promise<QuiverError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof QuiverError && err.code === 'LOCKED', String(err));
    assert.match(err.message, re);
    return err;
  }
  assert.fail('expected LOCKED');
}

test('the lock file names pid, hostname and start time; a second acquire in the same process is LOCKED', async () => {
  const fs = new MemoryFileSystem();
  const lock = await acquireLock(fs, DIR);
  const h = holderOf(fs);
  assert.equal(h.pid, process.pid);
  assert.equal(h.hostname, hostname());
  assert.ok(Date.now() - Date.parse(h.startedAt) < 60_000);
  assert.ok(Date.parse(h.processStartedAt) <= Date.parse(h.startedAt));
  assert.deepEqual(lock.holder, h);
  assert.ok(fs.snapshotDurable().readFileSync(LOCK).length > 0, 'the lock is durable');
  const err = await lockedBy(acquireLock(fs, DIR), new RegExp(`this process \\(pid ${process.pid}\\)`));
  assert.equal(err.details.pid, process.pid);
  await lock.release();
  await lock.release();
  assert.deepEqual(await fs.readdir(DIR), []);
  const again = await acquireLock(fs, DIR);
  await again.release();
});

test('read-only opens take no lock and touch nothing, even while a writer holds it', async () => {
  const fs = new MemoryFileSystem();
  const ro = await acquireLock(fs, '/missing', { readOnly: true });
  assert.equal(ro.readOnly, true);
  assert.deepEqual(fs.listAll(), []);
  const w = await acquireLock(fs, DIR);
  const before = fs.readFileSync(LOCK);
  const ro2 = await acquireLock(fs, DIR, { readOnly: true });
  await ro2.release();
  assert.deepEqual(fs.readFileSync(LOCK), before);
  await w.release();
});

test('a lock whose process is dead is taken over: new content, durable, no takeover file left', async () => {
  const fs = new MemoryFileSystem();
  const pid = deadPid();
  writeHolder(fs, { pid });
  const lock = await acquireLock(fs, DIR);
  assert.equal(holderOf(fs).pid, process.pid);
  assert.equal(holderOf(fs).token, lock.holder?.token);
  assert.deepEqual(await fs.readdir(DIR), [LOCK_FILE]);
  assert.equal((JSON.parse(Buffer.from(fs.snapshotDurable().readFileSync(LOCK)).toString()) as LockHolder).pid, process.pid);
  await lockedBy(acquireLock(fs, DIR), /this process/);
  await lock.release();
});

test('a lock naming a pid no process can have (2^31 and above) is taken over', async () => {
  for (const pid of [2 ** 31, 2 ** 40]) {
    assert.equal(isProcessAlive(pid), false);
    const fs = new MemoryFileSystem();
    writeHolder(fs, { pid });
    const lock = await acquireLock(fs, DIR);
    assert.equal(holderOf(fs).pid, process.pid, `pid ${pid}`);
    await lock.release();
  }
});

test('a live process holding the lock: LOCKED naming its pid', async () => {
  const fs = new MemoryFileSystem();
  writeHolder(fs, { pid: process.ppid });
  const err = await lockedBy(acquireLock(fs, DIR), new RegExp(`locked by process ${process.ppid}\\b`));
  assert.equal(err.details.pid, process.ppid);
  assert.deepEqual(holderOf(fs).pid, process.ppid, 'the holder lock is untouched');
});

const linux = currentBootId() !== undefined && processIdentity(process.ppid) !== undefined;

test('the lock records the boot id and the holder\'s start ticks (Linux)', { skip: !linux && 'no /proc here' }, async () => {
  const fs = new MemoryFileSystem();
  const lock = await acquireLock(fs, DIR);
  const own = processIdentity(process.pid);
  assert.equal(holderOf(fs).bootId, currentBootId());
  assert.equal(holderOf(fs).processStartTicks, own?.startTicks);
  await lock.release();
});

test('a live pid with the holder\'s boot id and start ticks: LOCKED', { skip: !linux && 'no /proc here' }, async () => {
  const fs = new MemoryFileSystem();
  const id = processIdentity(process.ppid);
  writeHolder(fs, { pid: process.ppid, bootId: id?.bootId, processStartTicks: id?.startTicks });
  await lockedBy(acquireLock(fs, DIR), new RegExp(`locked by process ${process.ppid}\\b`));
});

test('a live pid that is not the holder (reused after a reboot, or started later) is taken over', { skip: !linux && 'no /proc here' }, async () => {
  const id = processIdentity(process.ppid);
  assert.ok(id);
  const cases: Array<Partial<LockHolder>> = [
    { bootId: '00000000-0000-4000-8000-000000000000', processStartTicks: id.startTicks },
    { bootId: id.bootId, processStartTicks: String(BigInt(id.startTicks) + 1n) },
    { bootId: '00000000-0000-4000-8000-000000000000' },
  ];
  for (const recorded of cases) {
    const fs = new MemoryFileSystem();
    writeHolder(fs, { pid: process.ppid, ...recorded });
    const lock = await acquireLock(fs, DIR);
    assert.equal(holderOf(fs).token, lock.holder?.token, JSON.stringify(recorded));
    await lock.release();
  }
});

test('a lock from another host is never taken over (its liveness cannot be checked)', async () => {
  const fs = new MemoryFileSystem();
  writeHolder(fs, { pid: deadPid(), hostname: 'other-host.example' });
  await lockedBy(acquireLock(fs, DIR), /on host other-host\.example.*delete/);
});

test('our own pid with a token we never issued is a leftover of an earlier process: taken over', async () => {
  const fs = new MemoryFileSystem();
  writeHolder(fs, { pid: process.pid, token: 'from-a-previous-boot' });
  const lock = await acquireLock(fs, DIR);
  assert.equal(holderOf(fs).token, lock.holder?.token);
  await lock.release();
});

test('an empty lock file (crash between create and write) is waited for, then taken over', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync(LOCK, new Uint8Array(0));
  const t0 = Date.now();
  const lock = await acquireLock(fs, DIR, { unreadableGraceMs: 80 });
  assert.ok(Date.now() - t0 >= 50, 'a young unreadable lock is given time to be completed');
  assert.equal(holderOf(fs).pid, process.pid);
  await lock.release();
});

test('a takeover file left by a dead process does not block takeovers forever', async () => {
  const fs = new MemoryFileSystem();
  writeHolder(fs, { pid: deadPid() });
  writeHolder(fs, { pid: deadPid(), token: 'dead-taker' }, `${DIR}/${TAKEOVER_FILE}`);
  const lock = await acquireLock(fs, DIR);
  assert.deepEqual(await fs.readdir(DIR), [LOCK_FILE]);
  await lock.release();
});

test('concurrent acquires in one process on a stale lock: exactly one wins', async () => {
  const fs = new MemoryFileSystem();
  writeHolder(fs, { pid: deadPid() });
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => acquireLock(fs, DIR)));
  const won = results.filter((r) => r.status === 'fulfilled');
  assert.equal(won.length, 1);
  for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as QuiverError).code, 'LOCKED');
  await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release();
});

test('release never removes a lock that is no longer ours', async () => {
  const fs = new MemoryFileSystem();
  const lock = await acquireLock(fs, DIR);
  writeHolder(fs, { pid: process.ppid, token: 'someone-else' });
  await lock.release();
  assert.equal(holderOf(fs).token, 'someone-else');
});

test('I/O errors while locking are typed and leave no half-written lock', async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem, { faults: [{ at: 1, code: 'EIO', kinds: ['write'] }] });
  await assert.rejects(acquireLock(fs, DIR), (e: unknown) => e instanceof QuiverError && e.code === 'EIO' && /lock file/.test(e.message));
  assert.deepEqual(await mem.readdir(DIR), []);
  const lock = await acquireLock(fs, DIR);
  await lock.release();
});

test('an acquire while a release in this process is still removing the file is LOCKED, and the released lock is not taken over', async () => {
  const mem = new MemoryFileSystem();
  let open: () => void = () => undefined;
  const gate = new Promise<void>((r) => (open = r));
  // The release's unlink of LOCK waits (a busy thread pool does the same to real I/O).
  const slow = new Proxy(mem, {
    get(target, prop, receiver) {
      if (prop === 'unlink') return async (p: string) => (p === LOCK ? gate.then(() => target.unlink(p)) : target.unlink(p));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const a = await acquireLock(slow, DIR);
  const releasing = a.release();
  await new Promise((r) => setTimeout(r, 10));
  await lockedBy(acquireLock(slow, DIR), /already open for writing in this process/);
  open();
  await releasing;
  const b = await acquireLock(slow, DIR);
  assert.equal(holderOf(mem).token, b.holder?.token);
  await lockedBy(acquireLock(slow, DIR), /already open for writing in this process/);
  await b.release();
});
