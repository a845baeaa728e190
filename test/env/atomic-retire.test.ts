// A large publish retires the file it replaces (a hard link under a temp name) so the rename frees
// nothing, and keeps it as the spare the next publish of that path writes over in place. Power cuts at
// every operation of a large publish, over a spare or not, are covered by atomic-powerloss.test.ts;
// here: the order of operations, when nothing is retired, a file with another name is never written
// over, and failures of the retiring steps themselves (which must never fail the publish).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { link, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanTempFiles, dropSpares, publishAtomically, RETIRE_MIN_BYTES, settleRetired, SPARE_KEEP_MS, TEMP_SUFFIX } from '../../src/env/atomic.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { NodeFileSystem } from '../../src/env/node-fs.js';
import { DIR, freshDisk, LARGE, publishNew, TARGET, targetState } from './publish-helpers.js';

/** A size that still retires the file it replaces. */
const RETIRE_BYTES = RETIRE_MIN_BYTES + 1;

test('a large publish links the old file aside, renames, syncs, keeps the old file as a spare, and the next publish writes over it', async () => {
  const mem = freshDisk(true, LARGE);
  const fs = new FaultFileSystem(mem);
  assert.equal(await publishNew(fs, LARGE), 'published');
  await settleRetired();
  assert.deepEqual(fs.ops.map((o) => o.kind).slice(-4), ['link', 'rename', 'syncDir', 'stat']);
  const link = fs.ops.find((o) => o.kind === 'link');
  assert.equal(link?.path, TARGET);
  const spare = link?.dest ?? '';
  assert.ok(spare.endsWith(TEMP_SUFFIX), 'the retired name is a temp name');
  assert.equal(targetState(mem, 'after publish', LARGE), 'new');
  assert.deepEqual(await mem.readdir(DIR), [spare.slice(DIR.length + 1), 'target'].sort());
  assert.ok(Buffer.from(mem.readFileSync(spare)).equals(Buffer.from(LARGE.old)), 'the spare is the old file');

  // The next publish of the path opens the spare read-write, writes, cuts it to the new length and
  // renames it over the target; the file it replaces becomes the new spare.
  fs.reset();
  const shorter = LARGE.old.subarray(0, LARGE.old.length - 5);
  await publishAtomically(fs, TARGET, (h) => h.write(shorter, 0));
  await settleRetired();
  const open = fs.ops.find((o) => o.kind === 'open');
  assert.equal(open?.path, spare, 'written over the spare');
  assert.deepEqual(fs.ops.map((o) => o.kind), ['open', 'write', 'truncate', 'sync', 'close', 'link', 'rename', 'syncDir', 'stat']);
  assert.ok(Buffer.from(mem.readFileSync(TARGET)).equals(Buffer.from(shorter)), 'no old byte past the new end');
  const names = await mem.readdir(DIR);
  assert.equal(names.length, 2);
  const next = names.find((n) => n !== 'target') ?? '';
  assert.ok(Buffer.from(mem.readFileSync(`${DIR}/${next}`)).equals(Buffer.from(LARGE.new)), 'the replaced (new) file is the next spare');
  await dropSpares();
  assert.deepEqual(await mem.readdir(DIR), ['target']);
});

test('a replaced file that has another name is never kept as a spare (nor written over)', async () => {
  const mem = freshDisk(true, LARGE);
  await mem.link(TARGET, `${DIR}/backup`);
  const fs = new FaultFileSystem(mem);
  await publishNew(fs, LARGE);
  await settleRetired();
  assert.equal(fs.ops.at(-1)?.kind, 'unlink', 'the retired name is unlinked, not kept');
  await publishAtomically(fs, TARGET, (h) => h.write(LARGE.new.subarray(0, RETIRE_BYTES), 0));
  await settleRetired();
  assert.ok(Buffer.from(mem.readFileSync(`${DIR}/backup`)).equals(Buffer.from(LARGE.old)), 'the other name still holds the old content');
  await dropSpares();
  assert.deepEqual(await mem.readdir(DIR), ['backup', 'target']);
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
    if (failed.kind === 'link' || failed.kind === 'stat' || failed.kind === 'unlink') {
      // Retiring is an optimisation: without it the rename frees the old file as usual.
      assert.equal(err, undefined, `${where}: the publish still succeeds`);
      assert.equal(state, 'new', where);
    } else {
      assert.ok(err !== undefined, `${where}: the publish fails`);
      assert.equal(state, failed.kind === 'syncDir' ? 'new' : 'old', where);
    }
    await dropSpares();
    if (failed.kind === 'unlink') {
      // The background unlink of the retired name failed: a temp file the next cleanup removes.
      assert.equal((await mem.readdir(DIR)).length, 2, where);
      await cleanTempFiles(mem, DIR);
    }
    assert.deepEqual(await mem.readdir(DIR), ['target'], where);
  }
});

test('a failure at any operation of a publish over a spare leaves the old or new file, and no stray file after cleanup', async () => {
  for (let n = 1; ; n++) {
    const mem = freshDisk(true, LARGE);
    const fs = new FaultFileSystem(mem);
    // The first publish (the old content again) leaves a spare; the second is the one that fails.
    await publishAtomically(fs, TARGET, (h) => h.write(LARGE.old, 0));
    await settleRetired();
    fs.reset();
    fs.failAt(n, 'EIO');
    const err = await publishNew(fs, LARGE).then(() => undefined, (e: unknown) => e);
    await settleRetired();
    const failed = fs.ops.find((o) => o.failed !== undefined);
    const where = `EIO at op ${n} (${failed?.kind ?? 'none'}) of a publish over a spare`;
    const state = targetState(mem, where, LARGE);
    await dropSpares();
    await cleanTempFiles(mem, DIR);
    assert.deepEqual(await mem.readdir(DIR), ['target'], where);
    if (failed === undefined) {
      assert.equal(err, undefined);
      assert.equal(state, 'new');
      break;
    }
    if (failed.kind === 'open') {
      // The spare could not be opened: a new temp file is written instead.
      assert.equal(err, undefined, where);
      assert.equal(state, 'new', where);
    } else if (['link', 'stat', 'unlink'].includes(failed.kind)) {
      assert.equal(err, undefined, where);
      assert.equal(state, 'new', where);
    } else {
      assert.ok(err !== undefined, `${where}: the publish fails`);
      assert.equal(state, failed.kind === 'syncDir' ? 'new' : 'old', where);
    }
  }
});

test('on the real file system the replaced file becomes the spare, the next publish reuses its inode, and dropSpares removes it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-retire-'));
  try {
    const path = join(dir, 'big');
    await writeFile(path, LARGE.old);
    const oldIno = (await stat(path)).ino;
    const fs = new NodeFileSystem();
    await publishAtomically(fs, path, (h) => h.write(LARGE.new, 0));
    await settleRetired();
    assert.equal((await readdir(dir)).length, 2, 'the target and its spare');
    assert.ok((await readFile(path)).equals(Buffer.from(LARGE.new)));
    const shorter = LARGE.old.subarray(0, RETIRE_BYTES);
    await publishAtomically(fs, path, (h) => h.write(shorter, 0));
    await settleRetired();
    assert.equal((await stat(path)).ino, oldIno, 'the first file, written over in place, is the target again');
    assert.ok((await readFile(path)).equals(Buffer.from(shorter)));
    // Another name on the target: it is never written over.
    await link(path, join(dir, 'backup'));
    await publishAtomically(fs, path, (h) => h.write(LARGE.new, 0));
    await settleRetired();
    await publishAtomically(fs, path, (h) => h.write(LARGE.old, 0));
    await settleRetired();
    assert.ok((await readFile(join(dir, 'backup'))).equals(Buffer.from(shorter)));
    await dropSpares();
    assert.deepEqual((await readdir(dir)).sort(), ['backup', 'big']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a spare left unused for SPARE_KEEP_MS is unlinked', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const mem = freshDisk(true, LARGE);
  await publishNew(mem, LARGE);
  await settleRetired();
  assert.equal((await mem.readdir(DIR)).length, 2, 'the target and its spare');
  t.mock.timers.tick(SPARE_KEEP_MS - 1);
  await settleRetired();
  assert.equal((await mem.readdir(DIR)).length, 2, 'still kept just before the deadline');
  t.mock.timers.tick(1);
  await settleRetired();
  assert.deepEqual(await mem.readdir(DIR), ['target']);
  // Nothing is left to reuse: the next publish writes a new file.
  const fs = new FaultFileSystem(mem);
  await publishAtomically(fs, TARGET, (h) => h.write(LARGE.old, 0));
  assert.ok(!fs.ops.some((o) => o.kind === 'truncate'), 'no spare written over');
  await dropSpares();
});

test('a process that exits while it keeps spares leaves none behind on the real file system', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-spare-exit-'));
  try {
    const atomic = fileURLToPath(new URL('../../src/env/atomic.js', import.meta.url));
    const nodeFsModule = fileURLToPath(new URL('../../src/env/node-fs.js', import.meta.url));
    const script = `
      const { publishAtomically, settleRetired } = await import(${JSON.stringify(atomic)});
      const { NodeFileSystem } = await import(${JSON.stringify(nodeFsModule)});
      const fs = new NodeFileSystem();
      const path = ${JSON.stringify(join(dir, 'big'))};
      const bytes = new Uint8Array(${RETIRE_BYTES});
      for (let i = 0; i < 3; i++) await publishAtomically(fs, path, (h) => h.write(bytes.fill(i), 0));
      await settleRetired();
      const { readdirSync } = await import('node:fs');
      console.log(readdirSync(${JSON.stringify(dir)}).length);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '2', 'while running: the target and one spare');
    assert.deepEqual(await readdir(dir), ['big'], 'after exit: the target alone');
    assert.ok((await readFile(join(dir, 'big'))).every((b) => b === 2));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('publishes that overlap their background retire steps still keep exactly one spare, which dropSpares removes', async () => {
  const mem = freshDisk(true, LARGE);
  // A slow stat and no settling in between: each publish starts before the previous one's spare is kept.
  const slowStat = new Proxy(mem, {
    get(target, prop, receiver) {
      if (prop !== 'stat') return Reflect.get(target, prop, receiver) as unknown;
      return async (path: string) => {
        await new Promise((r) => setTimeout(r, 20));
        return target.stat(path);
      };
    },
  });
  for (let i = 0; i < 4; i++) await publishAtomically(slowStat, TARGET, (h) => h.write(i % 2 ? LARGE.new : LARGE.old, 0));
  await settleRetired();
  assert.equal((await mem.readdir(DIR)).length, 2, 'the target and one spare');
  await dropSpares();
  assert.deepEqual(await mem.readdir(DIR), ['target']);
  assert.equal(targetState(mem, 'after four publishes', LARGE), 'new');
});
