// A large publish retires the file it replaces (a hard link under a temp name, unlinked after the
// publish) so the rename frees nothing. The contract stays "old or new": these tests cut the power at
// every operation of a large publish, fail each of its operations, and check the leftovers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanTempFiles, publishAtomically, RETIRE_MIN_BYTES, settleRetired, TEMP_SUFFIX } from '../../src/env/atomic.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import type { FileSystem } from '../../src/env/fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { NodeFileSystem } from '../../src/env/node-fs.js';

const DIR = '/db';
const TARGET = '/db/big';
const OLD = new Uint8Array(RETIRE_MIN_BYTES + 10).fill(1);
const NEW = new Uint8Array(RETIRE_MIN_BYTES + 20).fill(2);

function publishBig(fs: FileSystem, path = TARGET): Promise<string> {
  return publishAtomically(fs, path, async (h) => {
    const half = NEW.length >> 1;
    await h.write(NEW.subarray(0, half), 0);
    await h.write(NEW.subarray(half), half);
    return 'ok';
  });
}

function stateOf(fs: MemoryFileSystem): 'old' | 'new' | 'missing' | 'mixed' {
  let b: Uint8Array;
  try {
    b = fs.readFileSync(TARGET);
  } catch {
    return 'missing';
  }
  if (b.length === OLD.length && b.every((x) => x === 1)) return 'old';
  if (b.length === NEW.length && b.every((x) => x === 2)) return 'new';
  return 'mixed';
}

test('a large publish links the old file aside, renames, syncs, and unlinks the old name afterwards', async () => {
  const mem = new MemoryFileSystem();
  mem.writeFileSync(TARGET, OLD);
  const fs = new FaultFileSystem(mem);
  assert.equal(await publishBig(fs), 'ok');
  await settleRetired();
  const kinds = fs.ops.map((o) => o.kind);
  assert.deepEqual(kinds.slice(-4), ['link', 'rename', 'syncDir', 'unlink']);
  const link = fs.ops.find((o) => o.kind === 'link');
  assert.equal(link?.path, TARGET);
  assert.ok(link?.dest?.endsWith(TEMP_SUFFIX), 'the retired name is a temp name');
  assert.equal(fs.ops.at(-1)?.path, link?.dest, 'the retired name is the one unlinked');
  assert.equal(stateOf(mem), 'new');
  assert.deepEqual(await mem.readdir(DIR), ['big']);
});

test('a small publish or one with nothing to replace retires nothing', async () => {
  const mem = new MemoryFileSystem();
  const fs = new FaultFileSystem(mem);
  await mem.mkdir(DIR);
  await publishBig(fs);
  assert.ok(!fs.ops.some((o) => o.kind === 'unlink'), 'no old file: the link fails (ENOENT) and nothing is retired');
  fs.reset();
  await publishAtomically(fs, TARGET, (h) => h.write(new Uint8Array(10), 0));
  assert.ok(!fs.ops.some((o) => o.kind === 'link'), 'a small new file does not retire the old one');
  await settleRetired();
  assert.deepEqual(await mem.readdir(DIR), ['big']);
});

test('a large publish survives a power cut before any operation: old or new, new once acknowledged, leftovers are temp files', async () => {
  for (let n = 1; ; n++) {
    const mem = new MemoryFileSystem();
    mem.writeFileSync(TARGET, OLD);
    const fs = new FaultFileSystem(mem, { log: true });
    let cut = false;
    fs.beforeOp = (op) => {
      if (op.n >= n) {
        cut = true;
        throw new Error(`power cut before op ${op.n}`);
      }
    };
    const acknowledged = await publishBig(fs).then(() => true, () => false);
    await settleRetired();
    for (const seed of [undefined, 1, 2, 3, 4]) {
      const img = mem.snapshotDurable(seed === undefined ? undefined : { seed });
      const state = stateOf(img);
      const where = `cut before op ${n} (${fs.ops[n - 1]?.kind ?? 'after the end'}), seed ${String(seed)}`;
      assert.ok(state === 'old' || state === 'new', `${where}: target is ${state}`);
      if (acknowledged) assert.equal(state, 'new', where);
      for (const name of await img.readdir(DIR)) assert.ok(name === 'big' || name.endsWith(TEMP_SUFFIX), `${where}: ${name}`);
      await cleanTempFiles(img, DIR);
      assert.deepEqual(await img.readdir(DIR), ['big'], where);
    }
    if (!cut) break;
  }
});

test('a failure at any operation of a large publish leaves the old or new file and no temp file', async () => {
  for (let n = 1; ; n++) {
    const mem = new MemoryFileSystem();
    mem.writeFileSync(TARGET, OLD);
    const fs = new FaultFileSystem(mem).failAt(n, 'EIO');
    const err = await publishBig(fs).then(() => undefined, (e: unknown) => e);
    await settleRetired();
    const failed = fs.ops.find((o) => o.failed !== undefined);
    const where = `EIO at op ${n} (${failed?.kind ?? 'none'})`;
    const state = stateOf(mem);
    if (failed === undefined) {
      assert.equal(err, undefined);
      assert.equal(state, 'new');
      break;
    }
    if (failed.kind === 'link' || (failed.kind === 'unlink' && err === undefined)) {
      // Retiring is an optimisation: without it the rename frees the old file as usual.
      assert.equal(err, undefined, `${where}: the publish still succeeds`);
      assert.equal(state, 'new', where);
    } else {
      assert.ok(state === 'old' || state === 'new', `${where}: ${state}`);
    }
    const names = await mem.readdir(DIR);
    if (failed.kind === 'unlink') {
      // The background unlink of the retired name failed: a temp file the next cleanup removes.
      assert.equal(names.length, 2, where);
      await cleanTempFiles(mem, DIR);
    }
    assert.deepEqual(await mem.readdir(DIR), ['big'], where);
  }
});

test('on the real file system the replaced file is gone once settled, and the new one is in place', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-retire-'));
  try {
    const path = join(dir, 'big');
    await writeFile(path, OLD);
    await publishBig(new NodeFileSystem(), path);
    await settleRetired();
    assert.deepEqual(await readdir(dir), ['big']);
    const got = await readFile(path);
    assert.equal(got.length, NEW.length);
    assert.equal(got[0], 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
