// Power loss at every operation of a publish: cut the power before operation N (N = 1 .. past the
// end), then look at what the disk holds, both with only durable state and with seeded random
// survival of unsynced writes and directory operations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { publishAtomically } from '../../src/env/atomic.js';
import { dropSpares } from '../../src/env/spares.js';
import { cleanTempFiles, settleRetired } from '../../src/env/temp-files.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import type { FileSystem } from '../../src/env/fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { bigContent, DIR, freshDisk, LARGE, NEW, PUBLISH_OPS, publishInChunks, publishNew, SMALL, TARGET, targetState, type Contents } from './publish-helpers.js';

const SEEDS = 24;

class PowerCut extends Error {}

type Publisher = (fs: FileSystem) => Promise<unknown>;

/** Every way `publish` breaks the contract "old or new, and new once acknowledged". */
async function powerLossViolations(publish: Publisher, withOld = true, contents: Contents = SMALL, seeds = SEEDS): Promise<{ violations: string[]; cuts: number }> {
  const violations: string[] = [];
  for (let n = 1; ; n++) {
    const mem = freshDisk(withOld, contents);
    const fs = new FaultFileSystem(mem);
    fs.beforeOp = (op) => {
      if (op.n >= n) throw new PowerCut(`power cut before op ${op.n}`);
    };
    const acknowledged = await publish(fs).then(() => true, () => false);
    // A large publish keeps or unlinks the replaced file in the background (which meets the power cut too).
    await settleRetired();
    await dropSpares();
    const images: Array<[string, MemoryFileSystem]> = [['durable only', mem.snapshotDurable()]];
    for (let seed = 0; seed < seeds; seed++) images.push([`seed ${seed}`, mem.snapshotDurable({ seed })]);
    for (const [how, img] of images) {
      const where = `cut before op ${n} (${fs.ops[n - 1]?.kind ?? 'after the end'}), ${how}`;
      let state: string;
      try {
        state = targetState(img, where, contents);
      } catch (err) {
        violations.push((err as Error).message);
        continue;
      }
      if (acknowledged && state !== 'new') violations.push(`${where}: acknowledged, yet the target is ${state}`);
      if (!withOld && state === 'old') violations.push(`${where}: impossible old content`);
      if (withOld && state === 'missing') violations.push(`${where}: the target vanished`);
      // Recovery: leftovers are temp files that cleanTempFiles removes.
      await cleanTempFiles(img, DIR);
      const rest = (await img.readdir(DIR)).filter((x) => x !== '.keep');
      if (rest.join() !== (state === 'missing' ? '' : 'target')) violations.push(`${where}: after cleanup ${rest.join()}`);
    }
    if (acknowledged) return { violations, cuts: n };
  }
}

test('publishAtomically survives a power cut at every operation: old or new, new once acknowledged', async () => {
  const { violations, cuts } = await powerLossViolations(publishNew);
  assert.deepEqual(violations, []);
  assert.equal(cuts, PUBLISH_OPS + 1);
});

test('a large publish (which retires the file it replaces) survives a power cut at every operation, the background unlink included', async () => {
  const { violations, cuts } = await powerLossViolations((fs) => publishNew(fs, LARGE), true, LARGE, 4);
  assert.deepEqual(violations, []);
  // Two more operations (link before the rename, the background unlink after the directory fsync); the
  // loop ends at the first acknowledged publish, which is the cut before that unlink: the retired name
  // is left, a temp file for the next cleanup.
  assert.equal(cuts, PUBLISH_OPS + 2);
});

test('two large publishes in a row survive a power cut at every operation; the second never opens the file the first replaced', async () => {
  const twice = async (fs: FileSystem): Promise<unknown> => {
    await publishAtomically(fs, TARGET, (h) => h.write(LARGE.old, 0));
    await settleRetired();
    return publishAtomically(fs, TARGET, (h) => h.write(LARGE.new, 0));
  };
  const probe = new FaultFileSystem(freshDisk(true, LARGE));
  await twice(probe);
  await settleRetired();
  const ops = probe.ops.map((o) => `${o.kind} ${o.path}`);
  const retired = probe.ops.filter((o) => o.kind === 'link').map((o) => o.dest);
  const opened = probe.ops.filter((o) => o.kind === 'open').map((o) => o.path);
  assert.equal(opened.length, 2);
  for (const r of retired) assert.ok(r !== undefined && !opened.includes(r), `a replaced file is never written again: ${ops.join(', ')}`);
  assert.ok(!ops.some((o) => o.startsWith('truncate ')));
  const { violations, cuts } = await powerLossViolations(twice, true, LARGE, 4);
  assert.deepEqual(violations, []);
  assert.ok(cuts > 2 * PUBLISH_OPS - 2, `${cuts} cuts`);
});

test('publishAtomically with no previous file: missing or new at every cut', async () => {
  const { violations } = await powerLossViolations(publishNew, false);
  assert.deepEqual(violations, []);
});

test('after a crash at any point, cleanup and a second publish reach the new content', async () => {
  for (let n = 1; n <= PUBLISH_OPS; n++) {
    for (const seed of [undefined, 1, 2, 3]) {
      const mem = freshDisk();
      const fs = new FaultFileSystem(mem, { faults: [{ at: n, code: 'EIO', mode: 'persistent' }] });
      await publishNew(fs).catch(() => undefined);
      mem.crash(seed === undefined ? undefined : { seed });
      await cleanTempFiles(mem, DIR);
      await publishNew(mem);
      mem.crash({ seed: 42 });
      assert.equal(targetState(mem, `cut ${n} seed ${seed}`), 'new');
      assert.deepEqual(await mem.readdir(DIR), ['target']);
    }
  }
});

// Control publishers with one step missing each: the harness must catch every one of them.
const writeAll = async (fs: FileSystem, path: string, sync: boolean): Promise<void> => {
  const h = await fs.open(path, 'w');
  await h.write(NEW.subarray(0, 2500), 0);
  await h.write(NEW.subarray(2500), 2500);
  if (sync) await h.sync();
  await h.close();
};

test('control: writing in place is caught (torn or empty target)', async () => {
  const { violations } = await powerLossViolations((fs) => writeAll(fs, TARGET, true));
  assert.ok(violations.some((v) => /neither the old nor the new/.test(v)), violations.join('\n'));
});

test('control: renaming an unsynced temp file is caught (the zero-byte manifest)', async () => {
  const { violations } = await powerLossViolations(async (fs) => {
    await writeAll(fs, `${TARGET}.quiver-tmp`, false);
    await fs.rename(`${TARGET}.quiver-tmp`, TARGET);
    await fs.syncDir(DIR);
  });
  assert.ok(violations.some((v) => /neither the old nor the new/.test(v)), violations.join('\n'));
});

test('control: skipping the directory fsync is caught (acknowledged but lost)', async () => {
  const { violations } = await powerLossViolations(async (fs) => {
    await writeAll(fs, `${TARGET}.quiver-tmp`, true);
    await fs.rename(`${TARGET}.quiver-tmp`, TARGET);
  });
  assert.ok(violations.some((v) => /acknowledged, yet the target is old/.test(v)), violations.join('\n'));
  assert.ok(!violations.some((v) => /neither/.test(v)), 'a synced temp file is never torn');
});

test('a publish long enough for background fsyncs survives a power cut at every operation, those fsyncs included', async () => {
  // Five chunks: the fifth is written after the background fsync that the first 32 MiB start.
  const big: Contents = { old: LARGE.old, new: bigContent(5) };
  const publishBig = (fs: FileSystem): Promise<unknown> => publishInChunks(fs, big.new);
  const probe = new FaultFileSystem(freshDisk(true, big));
  await publishBig(probe);
  await settleRetired();
  await dropSpares();
  const kinds = probe.ops.map((o) => o.kind);
  assert.ok(kinds.slice(0, kinds.lastIndexOf('write')).includes('sync'), `a background fsync between the writes: ${kinds.join(' ')}`);
  const { violations } = await powerLossViolations(publishBig, true, big, 1);
  assert.deepEqual(violations, []);
});
