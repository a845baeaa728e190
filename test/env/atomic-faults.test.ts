// SQLite-style I/O-error loops over publishAtomically: fail operation N = 1, 2, ... until the publish
// completes, once and persistently, and check what is left on disk after every failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { publishAtomically } from '../../src/env/atomic.js';
import { cleanTempFiles, TEMP_SUFFIX, tempPathFor, tempTarget } from '../../src/env/temp-files.js';
import { processIdentity } from '../../src/env/process-alive.js';
import { FaultFileSystem, type FaultMode, type OpKind } from '../../src/env/fault-fs.js';
import { NodeFileSystem } from '../../src/env/node-fs.js';
import { QuiverError } from '../../src/errors.js';
import { DIR, freshDisk, NEW, OLD, PUBLISH_OPS, publishNew, TARGET, targetState } from './publish-helpers.js';

interface LoopResult {
  failures: number;
  failedKinds: OpKind[];
  leftTemps: number;
}

/** Runs the I/O-error loop and checks the disk after each failed publish. */
async function errorLoop(code: string, mode: FaultMode, opts: { withOld?: boolean; kinds?: OpKind[] } = {}): Promise<LoopResult> {
  const withOld = opts.withOld ?? true;
  const result: LoopResult = { failures: 0, failedKinds: [], leftTemps: 0 };
  for (let n = 1; ; n++) {
    assert.ok(n < 100, 'the loop must end: a fault past the last operation lets the publish complete');
    const mem = freshDisk(withOld);
    const fs = new FaultFileSystem(mem).failAt(n, code, { mode, kinds: opts.kinds });
    const ctx = `${code} ${mode} at op ${n}`;
    let err: unknown;
    try {
      assert.equal(await publishNew(fs), 'published');
    } catch (e) {
      err = e;
    }
    if (fs.faultsInjected === 0) {
      assert.equal(err, undefined, `${ctx}: no fault was injected, the publish must succeed`);
      assert.equal(targetState(mem, ctx), 'new');
      assert.deepEqual(await mem.readdir(DIR), withOld ? ['target'] : ['.keep', 'target']);
      return result;
    }
    const first = fs.ops.find((o) => o.failed !== undefined);
    assert.ok(first, ctx);
    assert.ok(err instanceof QuiverError, `${ctx}: expected a QuiverError, got ${String(err)}`);
    assert.equal(err.code, code, `${ctx}: the OS code is kept`);
    assert.match(err.message, /\/db\/target/, `${ctx}: the message names the file`);
    result.failures++;
    result.failedKinds.push(first.kind);

    const atDirSync = first.kind === 'syncDir';
    const expected = atDirSync ? 'new' : withOld ? 'old' : 'missing';
    assert.equal(targetState(mem, ctx), expected, `${ctx} (${first.kind})`);
    const leftovers = (await mem.readdir(DIR)).filter((name) => name !== 'target' && name !== '.keep');
    if (mode === 'once' || opts.kinds) {
      assert.deepEqual(leftovers, [], `${ctx} (${first.kind}): temp files left behind`);
    } else {
      // A disk failing every operation also refuses the cleanup; the leftover must be recognisable.
      for (const name of leftovers) assert.ok(name.endsWith(TEMP_SUFFIX), `${ctx}: unexpected file ${name}`);
      result.leftTemps += leftovers.length;
      assert.deepEqual((await cleanTempFiles(mem, DIR)).sort(), leftovers.sort());
    }
    // What is on disk must be old-or-new after a power loss now, too.
    const img = mem.snapshotDurable();
    const durable = targetState(img, `${ctx} durable`);
    assert.ok(durable === expected || (atDirSync && durable === (withOld ? 'old' : 'missing')), `${ctx}: durable ${durable}`);
    // And a retry on the healed disk completes.
    fs.clearFaults();
    await publishNew(fs);
    assert.equal(targetState(mem, `${ctx} retry`), 'new');
  }
}

for (const code of ['EIO', 'ENOSPC', 'EACCES', 'EXDEV']) {
  for (const mode of ['once', 'persistent'] as const) {
    test(`publishAtomically under ${code}, ${mode}: old or new content, never a temp file left by a failure it could clean`, async () => {
      const r = await errorLoop(code, mode);
      assert.equal(r.failures, PUBLISH_OPS, 'every operation of the publish was failed once');
      assert.deepEqual(r.failedKinds, ['open', 'write', 'write', 'write', 'sync', 'close', 'rename', 'syncDir']);
      if (mode === 'persistent') assert.ok(r.leftTemps > 0, 'a persistent fault also blocks the cleanup');
    });
  }
}

test('publishAtomically with no previous file: missing or new after each failure', async () => {
  for (const mode of ['once', 'persistent'] as const) {
    const r = await errorLoop('EIO', mode, { withOld: false });
    assert.equal(r.failures, PUBLISH_OPS);
  }
});

test('a full disk (ENOSPC on every write from the Nth) leaves no temp file', async () => {
  const r = await errorLoop('ENOSPC', 'persistent', { kinds: ['write'] });
  assert.deepEqual(r.failedKinds, ['write', 'write', 'write']);
});

test('a byte quota hit anywhere in the file fails the publish cleanly', async () => {
  for (const quota of [0, 1, 999, 1000, 2500, 4999]) {
    const mem = freshDisk();
    const fs = new FaultFileSystem(mem, { quotaBytes: quota });
    await assert.rejects(publishNew(fs), (e: unknown) => e instanceof QuiverError && e.code === 'ENOSPC');
    assert.equal(targetState(mem, `quota ${quota}`), 'old');
    assert.deepEqual(await mem.readdir(DIR), ['target']);
  }
  const mem = freshDisk();
  await publishNew(new FaultFileSystem(mem, { quotaBytes: NEW.length }));
  assert.equal(targetState(mem, 'exact quota'), 'new');
});

test('the I/O-error loop on a real directory: old content byte-exact, no temp files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-atomic-'));
  try {
    const target = join(dir, 'target');
    for (let n = 1; ; n++) {
      await writeFile(target, OLD);
      const fs = new FaultFileSystem(new NodeFileSystem()).failAt(n, 'EIO');
      const write = publishAtomically(fs, target, async (h) => {
        await h.write(NEW.subarray(0, 2000), 0);
        await h.write(NEW.subarray(2000), 2000);
      });
      const err = await write.then(() => undefined, (e: unknown) => e);
      const content = await readFile(target);
      if (fs.faultsInjected === 0) {
        assert.equal(err, undefined);
        assert.ok(content.equals(NEW));
        break;
      }
      assert.ok(err instanceof QuiverError && err.code === 'EIO', `op ${n}`);
      const atDirSync = fs.ops.find((o) => o.failed)?.kind === 'syncDir';
      assert.ok(content.equals(atDirSync ? NEW : OLD), `op ${n}: content`);
      assert.deepEqual(await readdir(dir), ['target'], `op ${n}: leftovers`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the error loop notices a publisher that leaves temp files behind', async () => {
  // A deliberately careless publisher: no cleanup on failure.
  const careless = async (fs: FaultFileSystem): Promise<void> => {
    const h = await fs.open(`${TARGET}.tmp`, 'w');
    await h.write(NEW, 0);
    await h.sync();
    await h.close();
    await fs.rename(`${TARGET}.tmp`, TARGET);
    await fs.syncDir(DIR);
  };
  const mem = freshDisk();
  const fs = new FaultFileSystem(mem).failAt(3, 'EIO');
  await assert.rejects(careless(fs));
  assert.deepEqual(await mem.readdir(DIR), ['target', 'target.tmp'], 'the loop above would report this leftover');
  assert.equal(targetState(mem, 'careless'), 'old');
});

test('tempTarget names the file a temp name was made for, and nothing else', () => {
  for (const target of ['x.qvdb', 'database.qvdb.delta-000002', 'a.b.quiver-tmp']) {
    assert.equal(tempTarget(basename(tempPathFor(`/d/${target}`))), target);
  }
  for (const name of ['x.qvdb', '.x.qvdb.quiver-tmp', '.x.qvdb.0123456789a.quiver-tmp', '.x.qvdb.0123456789AB.quiver-tmp', 'x.qvdb.0123456789ab.quiver-tmp']) {
    assert.equal(tempTarget(name), undefined, name);
  }
});

test('cleanTempFiles leaves the temp files of another live process alone and removes those of dead ones', async () => {
  const mem = freshDisk();
  const { spawn } = await import('node:child_process');
  // A process that is surely alive while the cleanup runs, and a pid that is surely not (a child that
  // has exited and been reaped).
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => dead.once('exit', r));
  try {
    const liveTicks = processIdentity(live.pid!)?.startTicks;
    const names = {
      live: `.target.p${live.pid}-0123456789ab${TEMP_SUFFIX}`,
      // With its start ticks: the same process (kept), and a process that started at another time under
      // the same pid (a leftover, as after a reboot), whatever the files' times say.
      liveTicks: `.target.p${live.pid}s${liveTicks ?? 0}-0123456789ab${TEMP_SUFFIX}`,
      reused: `.target.p${live.pid}s${BigInt(liveTicks ?? 0) + 1n}-0123456789ab${TEMP_SUFFIX}`,
      dead: `.target.p${dead.pid}-0123456789ab${TEMP_SUFFIX}`,
      old: `.target.0123456789ab${TEMP_SUFFIX}`,
      mine: `.target.p${process.pid}-0123456789ab${TEMP_SUFFIX}`,
    };
    for (const n of Object.values(names)) mem.writeFileSync(join(DIR, n), Buffer.from('x'));
    const removed = await cleanTempFiles(mem, DIR);
    const linux = liveTicks !== undefined;
    assert.deepEqual(removed.sort(), [names.dead, names.old, names.mine, ...(linux ? [names.reused] : [])].sort(), 'leftovers: a dead process, an older version, this process (not in use), a reused pid');
    assert.ok((await mem.readdir(DIR)).includes(names.live));
    if (linux) assert.ok((await mem.readdir(DIR)).includes(names.liveTicks));
    assert.equal(tempTarget(names.live), 'target');
    assert.match(basename(tempPathFor(`${DIR}/x.qvdb`)), new RegExp(`^\\.x\\.qvdb\\.p${process.pid}(s[0-9]+)?-[0-9a-f]{12}\\.quiver-tmp$`));
  } finally {
    live.kill();
  }
});

test('cleanTempFiles removes the side files SQLite leaves beside a dead writer\'s temp file (-journal, -wal, -shm), and keeps those of live ones', async () => {
  const mem = freshDisk();
  const { spawn } = await import('node:child_process');
  const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => dead.once('exit', r));
  const deadTemp = `.big.sqlite.p${dead.pid}-0123456789ab${TEMP_SUFFIX}`;
  // This process's temp file being written by SQLite (registered live), with its journal.
  const liveTemp = tempPathFor(`${DIR}/other.sqlite`);
  const sides = ['-journal', '-wal', '-shm'];
  const files = [deadTemp, ...sides.map((s) => deadTemp + s), basename(liveTemp), `${basename(liveTemp)}-journal`, 'keep.sqlite-journal'];
  for (const n of files) mem.writeFileSync(join(DIR, n), Buffer.from('x'));
  const removed = await cleanTempFiles(mem, DIR);
  // Before the fix the dead writer's -journal (131 KB after a killed SQLite export) stayed forever.
  assert.deepEqual(removed.sort(), [deadTemp, ...sides.map((s) => deadTemp + s)].sort());
  const left = await mem.readdir(DIR);
  for (const n of [basename(liveTemp), `${basename(liveTemp)}-journal`, 'keep.sqlite-journal']) assert.ok(left.includes(n), n);
  // A side file is never taken for a temp file of its own target (a load recovers deltas by that).
  assert.equal(tempTarget(`${deadTemp}-journal`), undefined);
  assert.equal(tempTarget(deadTemp), 'big.sqlite');
});
