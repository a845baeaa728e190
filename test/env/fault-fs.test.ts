import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem, type OpKind } from '../../src/env/fault-fs.js';
import { rejectsWithCode } from './fs-suite.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** open, write x2, sync, close, rename, syncDir: 7 ops. */
async function script(fs: FaultFileSystem): Promise<void> {
  const h = await fs.open('/d/tmp', 'w');
  try {
    await h.write(enc('hello '), 0);
    await h.write(enc('world'), 6);
    await h.sync();
  } finally {
    await h.close();
  }
  await fs.rename('/d/tmp', '/d/file');
  await fs.syncDir('/d');
}

function setup(): { mem: MemoryFileSystem; fs: FaultFileSystem } {
  const mem = new MemoryFileSystem();
  mem.writeFileSync('/d/file', enc('previous'));
  return { mem, fs: new FaultFileSystem(mem) };
}

test('counts every operation and logs kind and path', async () => {
  const { fs } = setup();
  await script(fs);
  await fs.stat('/d/file');
  await fs.readdir('/d');
  await fs.readFile('/d/file');
  const h = await fs.open('/d/file', 'r+');
  await h.read(new Uint8Array(2), 0);
  await h.size();
  await h.truncate(5);
  await h.close();
  await fs.mkdir('/e');
  await fs.unlink('/d/file');
  await fs.rm('/e', { recursive: true });
  const kinds: OpKind[] = ['open', 'write', 'write', 'sync', 'close', 'rename', 'syncDir', 'stat', 'readdir', 'readFile',
    'open', 'read', 'size', 'truncate', 'close', 'mkdir', 'unlink', 'rm'];
  assert.deepEqual(fs.ops.map((o) => o.kind), kinds);
  assert.deepEqual(fs.ops.map((o) => o.n), kinds.map((_, i) => i + 1));
  assert.equal(fs.opCount, kinds.length);
  assert.deepEqual(fs.ops[1], { n: 2, kind: 'write', path: '/d/tmp' });
  assert.deepEqual(fs.ops[5], { n: 6, kind: 'rename', path: '/d/tmp', dest: '/d/file' });
  assert.equal(fs.bytesWritten, 11);
  fs.reset();
  assert.equal(fs.opCount, 0);
  assert.equal(fs.ops.length, 0);
  assert.equal(fs.bytesWritten, 0);
});

test('once: only the Nth operation fails, with a Node-shaped error, and never reaches the inner fs', async () => {
  const { mem, fs } = setup();
  fs.failAt(6, 'EXDEV');
  const err = await script(fs).then(() => undefined, (e: unknown) => e as NodeJS.ErrnoException & { dest?: string });
  assert.ok(err instanceof Error);
  assert.equal(err.code, 'EXDEV');
  assert.equal(err.syscall, 'rename');
  assert.equal(err.path, '/d/tmp');
  assert.equal(err.dest, '/d/file');
  assert.equal(err.errno, -18);
  assert.match(err.message, /injected by FaultFileSystem at op 6/);
  assert.equal(dec(mem.readFileSync('/d/file')), 'previous', 'the rename did not happen');
  assert.equal(fs.faultsInjected, 1);
  assert.equal(fs.ops[5].failed, 'EXDEV');
  await fs.rename('/d/tmp', '/d/file'); // op 8 passes
  assert.equal(dec(mem.readFileSync('/d/file')), 'hello world');
});

test('persistent: the Nth operation and every later one fail', async () => {
  const { fs } = setup();
  fs.failAt(3, 'EIO', { mode: 'persistent' });
  await fs.stat('/d');
  await fs.stat('/d');
  for (let i = 0; i < 4; i++) await rejectsWithCode(fs.stat('/d'), 'EIO');
  await rejectsWithCode(fs.readdir('/d'), 'EIO');
  assert.equal(fs.faultsInjected, 5);
  fs.clearFaults();
  await fs.stat('/d');
});

test('a kind filter counts and fails only matching operations', async () => {
  const { mem, fs } = setup();
  fs.failAt(2, 'ENOSPC', { kinds: ['write'] });
  await rejectsWithCode(script(fs), 'ENOSPC');
  assert.deepEqual(fs.ops.map((o) => o.kind), ['open', 'write', 'write', 'close']);
  assert.equal(fs.ops[2].failed, 'ENOSPC');
  assert.equal(dec(mem.readFileSync('/d/tmp')), 'hello ');
  fs.reset();
  await rejectsWithCode(script(fs), 'ENOSPC'); // reset restarts the fault's own count
  const byPath = new FaultFileSystem(mem).failAt(1, 'EACCES', { mode: 'persistent', kinds: (op) => op.path.startsWith('/locked') });
  await byPath.stat('/d');
  await rejectsWithCode(byPath.stat('/locked/x'), 'EACCES');
  await rejectsWithCode(byPath.mkdir('/locked'), 'EACCES');
});

test('a failing close still closes the inner handle', async () => {
  const { fs } = setup();
  fs.failAt(1, 'EIO', { kinds: ['close'] });
  const h = await fs.open('/d/file', 'r');
  await rejectsWithCode(h.close(), 'EIO');
  await rejectsWithCode(h.read(new Uint8Array(1), 0), 'EBADF');
});

test('quota: ENOSPC after N bytes in total; the part that fits is written first', async () => {
  const { mem, fs } = setup();
  fs.setQuota(8);
  await rejectsWithCode(script(fs), 'ENOSPC');
  assert.equal(dec(mem.readFileSync('/d/tmp')), 'hello wo');
  assert.equal(fs.bytesWritten, 8);
  const h = await fs.open('/d/other', 'w');
  await rejectsWithCode(h.write(enc('x'), 0), 'ENOSPC');
  await h.write(new Uint8Array(0), 0);
  await h.close();
  fs.setQuota(undefined);
  await script(fs);
  assert.equal(dec(mem.readFileSync('/d/file')), 'hello world');
});

test('beforeOp sees every operation first and can stop it', async () => {
  const { mem, fs } = setup();
  const seen: string[] = [];
  fs.beforeOp = (op) => {
    seen.push(`${op.n}:${op.kind}`);
    if (op.kind === 'rename') throw new Error('power cut');
  };
  await assert.rejects(script(fs), /power cut/);
  assert.deepEqual(seen, ['1:open', '2:write', '3:write', '4:sync', '5:close', '6:rename']);
  assert.equal(dec(mem.readFileSync('/d/file')), 'previous');
});

test('fault arguments are validated; several faults can be armed at once', async () => {
  const { fs } = setup();
  assert.throws(() => fs.failAt(0, 'EIO'), RangeError);
  fs.failAt(1, 'EIO', { kinds: ['stat'] }).failAt(1, 'EACCES', { kinds: ['readdir'] });
  await rejectsWithCode(fs.stat('/d'), 'EIO');
  await rejectsWithCode(fs.readdir('/d'), 'EACCES');
  await fs.stat('/d');
  const quiet = new FaultFileSystem(new MemoryFileSystem(), { log: false, quotaBytes: 0, faults: [{ at: 2, code: 'EIO' }] });
  await quiet.stat('/');
  await rejectsWithCode(quiet.stat('/'), 'EIO');
  assert.equal(quiet.ops.length, 0);
  assert.equal(quiet.opCount, 2);
});
