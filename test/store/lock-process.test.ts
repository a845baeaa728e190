// One writer per directory across processes: a second writer gets LOCKED naming the holder's pid,
// read-only opens work meanwhile, and the lock of a killed writer is taken over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { QuiverError } from '../../src/errors.js';
import { openVectorDB } from '../../src/store/durable-db.js';

const HOLDER = fileURLToPath(new URL('./fixtures/holder.js', import.meta.url));

function holder(dir: string, id: string): ChildProcess {
  return spawn(process.execPath, [HOLDER, dir, id], { stdio: ['ignore', 'pipe', 'inherit'] });
}

async function firstLine(c: ChildProcess): Promise<string> {
  let buf = '';
  for await (const chunk of c.stdout!) {
    buf += String(chunk);
    if (buf.includes('\n')) break;
  }
  return buf.split('\n')[0];
}

test('two processes on one directory: LOCKED; read-only works; a killed holder is taken over', async () => {
  const root = await mkdtemp(join(tmpdir(), 'quiver-store-lock-'));
  const dir = join(root, 'db');
  try {
    const c = holder(dir, 'from-child');
    assert.equal(await firstLine(c), `open ${c.pid}`);
    await assert.rejects(openVectorDB(dir, { dimension: 3 }), (e: unknown) => e instanceof QuiverError && e.code === 'LOCKED' && e.message.includes(`process ${c.pid}`));
    const ro = await openVectorDB(dir, { readOnly: true });
    assert.ok(ro.has('from-child'), 'a read-only open sees the holder\'s acknowledged write');
    await ro.close();
    // A second child is refused too.
    const c2 = holder(dir, 'second');
    assert.match(await firstLine(c2), new RegExp(`^LOCKED .*process ${c.pid}\\b`));
    await once(c2, 'exit');
    c.kill('SIGKILL');
    await once(c, 'exit');
    const db = await openVectorDB(dir);
    assert.ok(db.has('from-child'));
    await db.insert({ id: 'parent', vector: [3, 2, 1] });
    // Now the child is the one refused.
    const c3 = holder(dir, 'third');
    assert.match(await firstLine(c3), new RegExp(`^LOCKED .*process ${process.pid}\\b`));
    await once(c3, 'exit');
    await db.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
