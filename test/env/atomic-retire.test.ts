// A large publish retires the file it replaces (a hard link under a temp name) so the rename frees
// nothing, and unlinks it in the background; a published file is never written again, so a reader that
// opened it reads it unchanged to the end. Spares are only files written ahead (prepareSpare), never
// published. Power cuts at every operation of a large publish are covered by atomic-powerloss.test.ts;
// here: the order of operations, when nothing is retired, readers of a replaced file, failures of the
// retiring steps themselves (which must never fail the publish), and the lifetime of prepared spares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publishAtomically, RETIRE_MIN_BYTES, RETIRE_UNLINK_DELAY_MS } from '../../src/env/atomic.js';
import { dropSpares, PREPARE_MIN_BYTES, prepareSpare, SPARE_KEEP_MS } from '../../src/env/spares.js';
import { cleanTempFiles, settleRetired, TEMP_SUFFIX } from '../../src/env/temp-files.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { NodeFileSystem } from '../../src/env/node-fs.js';
import { DIR, freshDisk, LARGE, publishNew, TARGET, targetState } from './publish-helpers.js';

test('a large publish links the old file aside, renames, syncs and unlinks the old file; the next publish writes a new file', async () => {
  const mem = freshDisk(true, LARGE);
  const fs = new FaultFileSystem(mem);
  assert.equal(await publishNew(fs, LARGE), 'published');
  await settleRetired();
  assert.deepEqual(fs.ops.map((o) => o.kind).slice(-4), ['link', 'rename', 'syncDir', 'unlink']);
  const link = fs.ops.find((o) => o.kind === 'link');
  assert.equal(link?.path, TARGET);
  assert.ok(link?.dest?.endsWith(TEMP_SUFFIX), 'the retired name is a temp name');
  assert.equal(fs.ops.at(-1)?.path, link?.dest, 'the retired name is what is unlinked');
  assert.equal(targetState(mem, 'after publish', LARGE), 'new');
  assert.deepEqual(await mem.readdir(DIR), ['target']);
  fs.reset();
  await publishAtomically(fs, TARGET, (h) => h.write(LARGE.old, 0));
  await settleRetired();
  assert.deepEqual(fs.ops.map((o) => o.kind), ['open', 'write', 'sync', 'close', 'link', 'rename', 'syncDir', 'unlink']);
  assert.notEqual(fs.ops[0].path, link?.dest, 'a new temp file, not the replaced one');
  assert.equal(targetState(mem, 'after the second publish', LARGE), 'old');
});

test('a small publish or one with nothing to replace retires nothing', async () => {
  const mem = freshDisk(false, LARGE);
  const fs = new FaultFileSystem(mem);
  await publishNew(fs, LARGE);
  assert.ok(!fs.ops.some((o) => o.kind === 'unlink'), 'no old file: the link fails (ENOENT) and nothing is retired');
  fs.reset();
  await publishAtomically(fs, TARGET, (h) => h.write(new Uint8Array(10), 0));
  assert.ok(!fs.ops.some((o) => o.kind === 'link'), 'a small new file does not retire the old one');
  await settleRetired();
  assert.deepEqual(await mem.readdir(DIR), ['.keep', 'target']);
});

test('a failure at any operation of a large publish leaves the old or new file; a failed retire step never fails the publish', async () => {
  for (let n = 1; ; n++) {
    const mem = freshDisk(true, LARGE);
    const fs = new FaultFileSystem(mem).failAt(n, 'EIO');
    const err = await publishNew(fs, LARGE).then(() => undefined, (e: unknown) => e);
    await settleRetired();
    const failed = fs.ops.find((o) => o.failed !== undefined);
    const where = `EIO at op ${n} (${failed?.kind ?? 'none'})`;
    const state = targetState(mem, where, LARGE);
    if (failed === undefined) {
      assert.equal(err, undefined);
      assert.equal(state, 'new');
      break;
    }
    if (failed.kind === 'link' || failed.kind === 'unlink') {
      // Retiring is an optimisation: without it the rename frees the old file as usual.
      assert.equal(err, undefined, `${where}: the publish still succeeds`);
      assert.equal(state, 'new', where);
    } else {
      assert.ok(err !== undefined, `${where}: the publish fails`);
      assert.equal(state, failed.kind === 'syncDir' ? 'new' : 'old', where);
    }
    if (failed.kind === 'unlink') {
      // The background unlink of the retired name failed: a temp file the next cleanup removes.
      assert.equal((await mem.readdir(DIR)).length, 2, where);
      await cleanTempFiles(mem, DIR);
    }
    assert.deepEqual(await mem.readdir(DIR), ['target'], where);
  }
});

test('on the real file system a reader of a replaced file reads it unchanged while the path is published again and again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-retire-'));
  try {
    const path = join(dir, 'big');
    await writeFile(path, LARGE.old);
    // The reader opens the published file, then reads it only after several more publishes: it must
    // still see every byte of the file it opened (a backup copying the file, a load in another process).
    const reader = await open(path, 'r');
    try {
      const fs = new NodeFileSystem();
      for (let i = 0; i < 4; i++) {
        await publishAtomically(fs, path, (h) => h.write(i % 2 ? LARGE.old : LARGE.new, 0));
        await settleRetired();
      }
      const seen = Buffer.alloc(LARGE.old.length);
      const { bytesRead } = await reader.read(seen, 0, seen.length, 0);
      assert.equal(bytesRead, LARGE.old.length);
      assert.ok(seen.equals(Buffer.from(LARGE.old)), 'the opened file is unchanged');
    } finally {
      await reader.close();
    }
    assert.ok((await readFile(path)).equals(Buffer.from(LARGE.old)));
    assert.deepEqual(await readdir(dir), ['big'], 'the replaced files are gone');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a prepared spare left unused for SPARE_KEEP_MS is unlinked', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const mem = freshDisk(false);
  prepareSpare(mem, `${DIR}/next`, PREPARE_MIN_BYTES);
  await settleRetired();
  assert.equal((await mem.readdir(DIR)).filter((n) => n.endsWith(TEMP_SUFFIX)).length, 1, 'the spare is written');
  t.mock.timers.tick(SPARE_KEEP_MS - 1);
  await settleRetired();
  assert.equal((await mem.readdir(DIR)).filter((n) => n.endsWith(TEMP_SUFFIX)).length, 1, 'still kept just before the deadline');
  t.mock.timers.tick(1);
  await settleRetired();
  assert.deepEqual(await mem.readdir(DIR), ['.keep']);
  await dropSpares();
});

test('a process that exits while it keeps a prepared spare leaves none behind on the real file system', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-spare-exit-'));
  try {
    const spares = fileURLToPath(new URL('../../src/env/spares.js', import.meta.url));
    const tempFiles = fileURLToPath(new URL('../../src/env/temp-files.js', import.meta.url));
    const nodeFsModule = fileURLToPath(new URL('../../src/env/node-fs.js', import.meta.url));
    const script = `
      const { prepareSpare } = await import(${JSON.stringify(spares)});
      const { settleRetired } = await import(${JSON.stringify(tempFiles)});
      const { NodeFileSystem } = await import(${JSON.stringify(nodeFsModule)});
      prepareSpare(new NodeFileSystem(), ${JSON.stringify(join(dir, 'next'))}, ${PREPARE_MIN_BYTES});
      await settleRetired();
      const { readdirSync } = await import('node:fs');
      console.log(readdirSync(${JSON.stringify(dir)}).length);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '1', 'while running: the spare');
    assert.deepEqual(await readdir(dir), [], 'after exit: nothing');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the retired file is unlinked only RETIRE_UNLINK_DELAY_MS after the publish, not as it returns', async () => {
  const mem = freshDisk(true, LARGE);
  const fs = new FaultFileSystem(mem);
  const started = performance.now();
  await publishNew(fs, LARGE);
  // Checked as the publish returns (no timer can have fired in between): the unlink has not started.
  assert.ok(!fs.ops.some((o) => o.kind === 'unlink'), `not unlinked yet: ${fs.ops.map((o) => o.kind).join(', ')}`);
  await settleRetired();
  assert.ok(performance.now() - started >= RETIRE_UNLINK_DELAY_MS - 1, 'settleRetired waited for the delay');
  assert.deepEqual(fs.ops.map((o) => o.kind).slice(-3), ['rename', 'syncDir', 'unlink']);
  assert.deepEqual(await mem.readdir(DIR), ['target']);
});

test('a process that exits right after a large publish (naturally or by process.exit) leaves no retired file behind on the real file system', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-retire-exit-'));
  try {
    const atomic = fileURLToPath(new URL('../../src/env/atomic.js', import.meta.url));
    const target = join(dir, 'target');
    for (const exit of ['', 'process.exit(0);']) {
      await writeFile(target, new Uint8Array(RETIRE_MIN_BYTES + 1));
      const script = `
        const { readdirSync } = await import('node:fs');
        const { publishAtomically } = await import(${JSON.stringify(atomic)});
        const { NodeFileSystem } = await import(${JSON.stringify(fileURLToPath(new URL('../../src/env/node-fs.js', import.meta.url)))});
        await publishAtomically(new NodeFileSystem(), ${JSON.stringify(target)}, (h) => h.write(new Uint8Array(${RETIRE_MIN_BYTES + 2}), 0));
        console.log(readdirSync(${JSON.stringify(dir)}).length);
        ${exit}
      `;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), '2', 'right after the publish: the file and its retired predecessor');
      assert.deepEqual(await readdir(dir), ['target'], `after exit (${exit || 'natural'}): only the file`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
