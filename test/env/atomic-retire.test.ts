// A large publish retires the file it replaces (a hard link under a temp name, unlinked after the
// publish) so the rename frees nothing. Power cuts at every operation of a large publish are covered by
// atomic-powerloss.test.ts; here: the order of operations, when nothing is retired, and failures of the
// retiring steps themselves (which must never fail the publish).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanTempFiles, publishAtomically, settleRetired, TEMP_SUFFIX } from '../../src/env/atomic.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { NodeFileSystem } from '../../src/env/node-fs.js';
import { DIR, freshDisk, LARGE, publishNew, TARGET, targetState } from './publish-helpers.js';

test('a large publish links the old file aside, renames, syncs, and unlinks the old name afterwards', async () => {
  const mem = freshDisk(true, LARGE);
  const fs = new FaultFileSystem(mem);
  assert.equal(await publishNew(fs, LARGE), 'published');
  await settleRetired();
  assert.deepEqual(fs.ops.map((o) => o.kind).slice(-4), ['link', 'rename', 'syncDir', 'unlink']);
  const link = fs.ops.find((o) => o.kind === 'link');
  assert.equal(link?.path, TARGET);
  assert.ok(link?.dest?.endsWith(TEMP_SUFFIX), 'the retired name is a temp name');
  assert.equal(fs.ops.at(-1)?.path, link?.dest, 'the retired name is the one unlinked');
  assert.equal(targetState(mem, 'after publish', LARGE), 'new');
  assert.deepEqual(await mem.readdir(DIR), ['target']);
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

test('on the real file system the replaced file is gone once settled, and the new one is in place', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-retire-'));
  try {
    const path = join(dir, 'big');
    await writeFile(path, LARGE.old);
    await publishAtomically(new NodeFileSystem(), path, (h) => h.write(LARGE.new, 0));
    await settleRetired();
    assert.deepEqual(await readdir(dir), ['big']);
    assert.ok((await readFile(path)).equals(Buffer.from(LARGE.new)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
