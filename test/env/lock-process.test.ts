// The directory lock across processes on the real file system: a child holding the lock makes us
// LOCKED with its pid (and we make it LOCKED with ours), a lock left by a killed or exited child is
// taken over, and children racing for one stale lock produce exactly one winner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { acquireLock, LOCK_FILE } from '../../src/env/lock.js';
import { NodeFileSystem } from '../../src/env/node-fs.js';
import { QuiverError } from '../../src/errors.js';

const LOCK_MODULE = new URL('../../src/env/lock.js', import.meta.url).href;
const FS_MODULE = new URL('../../src/env/node-fs.js', import.meta.url).href;
const fs = new NodeFileSystem();

/**
 * A child that tries to lock `dir`, prints "ok <pid>" or "LOCKED <message>", then holds the lock
 * for `holdMs` and exits ('release') or exits without releasing ('exit') or waits to be killed.
 */
function child(dir: string, then: 'release' | 'exit' | 'wait', holdMs = 0, startAt = 0): ChildProcess {
  const src = `
    import { acquireLock } from ${JSON.stringify(LOCK_MODULE)};
    import { NodeFileSystem } from ${JSON.stringify(FS_MODULE)};
    // Racing children all start at the same wall-clock moment.
    while (Date.now() < ${startAt}) await new Promise((r) => setTimeout(r, 1));
    let lock;
    try { lock = await acquireLock(new NodeFileSystem(), ${JSON.stringify(dir)}); }
    catch (e) { console.log(e.code + ' ' + e.message); process.exit(0); }
    console.log('ok ' + process.pid);
    await new Promise((r) => setTimeout(r, ${holdMs}));
    if (${JSON.stringify(then)} === 'release') { await lock.release(); process.exit(0); }
    if (${JSON.stringify(then)} === 'exit') process.exit(0);
    setInterval(() => {}, 1000);
  `;
  return spawn(process.execPath, ['--input-type=module', '-e', src], { stdio: ['ignore', 'pipe', 'inherit'] });
}

async function firstLine(c: ChildProcess): Promise<string> {
  let buf = '';
  for await (const chunk of c.stdout!) {
    buf += String(chunk);
    if (buf.includes('\n')) break;
  }
  return buf.split('\n')[0];
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'quiver-lock-'));
  try {
    await fn(join(root, 'store'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

test('a child holding the lock: we get LOCKED naming its pid; it is taken over after kill -9', async () => {
  await withDir(async (dir) => {
    const c = child(dir, 'wait');
    const line = await firstLine(c);
    assert.equal(line, `ok ${c.pid}`);
    await assert.rejects(acquireLock(fs, dir), (e: unknown) => e instanceof QuiverError && e.code === 'LOCKED' && e.message.includes(`process ${c.pid}`) && e.details.pid === c.pid);
    const ro = await acquireLock(fs, dir, { readOnly: true });
    await ro.release();
    c.kill('SIGKILL');
    await once(c, 'exit');
    const lock = await acquireLock(fs, dir);
    const h = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as { pid: number };
    assert.equal(h.pid, process.pid);
    await lock.release();
  });
});

test('we hold the lock: a child gets LOCKED naming our pid; after release it can lock', async () => {
  await withDir(async (dir) => {
    const lock = await acquireLock(fs, dir);
    const c1 = child(dir, 'release');
    assert.match(await firstLine(c1), new RegExp(`^LOCKED .*process ${process.pid}\\b`));
    await once(c1, 'exit');
    await lock.release();
    const c2 = child(dir, 'release');
    assert.equal(await firstLine(c2), `ok ${c2.pid}`);
    await once(c2, 'exit');
  });
});

test('a stale lock left by an exited child is taken over', async () => {
  await withDir(async (dir) => {
    const c = child(dir, 'exit');
    assert.equal(await firstLine(c), `ok ${c.pid}`);
    await once(c, 'exit');
    const stale = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as { pid: number };
    assert.equal(stale.pid, c.pid, 'the exited child left its lock behind');
    const lock = await acquireLock(fs, dir);
    assert.equal((JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as { pid: number }).pid, process.pid);
    await lock.release();
  });
});

test('children racing for one stale lock: exactly one wins, the others get LOCKED', async () => {
  await withDir(async (dir) => {
    const dead = spawn(process.execPath, ['-e', '0']);
    await once(dead, 'exit');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: dead.pid, hostname: hostname(), startedAt: 'x', token: 'stale' }));
    const startAt = Date.now() + 1000;
    // The winner keeps the lock until every child has answered, however slowly they started.
    const kids = Array.from({ length: 5 }, () => child(dir, 'wait', 0, startAt));
    const lines = await Promise.all(kids.map(firstLine));
    for (const k of kids) k.kill('SIGKILL');
    await Promise.all(kids.map((k) => (k.exitCode === null && k.signalCode === null ? once(k, 'exit') : undefined)));
    const winners = lines.filter((l) => l.startsWith('ok '));
    assert.equal(winners.length, 1, lines.join('\n'));
    for (const l of lines) if (!l.startsWith('ok ')) assert.match(l, /^LOCKED /);
  });
});
