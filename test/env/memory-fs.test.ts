import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { rejectsWithCode } from './fs-suite.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test('errors look like Node errors: code, errno, syscall, path, dest', async () => {
  const fs = new MemoryFileSystem();
  const err = await fs.open('/nope/x', 'r').catch((e: unknown) => e as NodeJS.ErrnoException);
  assert.ok(err instanceof Error);
  assert.equal(err.code, 'ENOENT');
  assert.equal(err.errno, -2);
  assert.equal(err.syscall, 'open');
  assert.equal(err.path, '/nope/x');
  assert.match(err.message, /^ENOENT: no such file or directory, open '\/nope\/x'$/);
  const r = (await fs.rename('/a', '/b').then(() => ({}), (e: unknown) => e)) as NodeJS.ErrnoException & { dest?: string };
  assert.equal(r.code, 'ENOENT');
  assert.equal(r.dest, '/b');
});

test('paths are normalised: relative, dot segments, duplicate and trailing slashes', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('data//sub/', { recursive: true });
  fs.writeFileSync('/data/./sub/../f', enc('x'));
  assert.deepEqual(fs.listAll(), ['/data/', '/data/f', '/data/sub/']);
  assert.deepEqual(await fs.readdir('data/'), ['f', 'sub']);
  await rejectsWithCode(fs.stat('/data/f/'), 'ENOTDIR');
  await rejectsWithCode(fs.open('', 'r'), 'ENOENT');
  await assert.rejects(fs.open(42 as unknown as string, 'r'), TypeError);
  await assert.rejects(fs.open('/data/f', 'rw' as 'r'), TypeError);
});

test('readdir is sorted; the root is a directory that cannot be removed or renamed', async () => {
  const fs = new MemoryFileSystem();
  for (const n of ['zeta', 'Alpha', 'beta', '10', '9']) fs.writeFileSync(`/${n}`, enc(n));
  assert.deepEqual(await fs.readdir('/'), ['10', '9', 'Alpha', 'beta', 'zeta']);
  assert.equal((await fs.stat('/')).isDirectory, true);
  await rejectsWithCode(fs.rm('/', { recursive: true }), 'EPERM');
  await rejectsWithCode(fs.rename('/', '/x'), 'EBUSY');
  await rejectsWithCode(fs.mkdir('/'), 'EEXIST');
  await fs.mkdir('/', { recursive: true });
});

test('helpers: writeFileSync replaces content, refuses directories, readFileSync copies', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/a/b', enc('one'));
  fs.writeFileSync('/a/b', enc('two'));
  const got = fs.readFileSync('/a/b');
  got[0] = 0;
  assert.deepEqual(fs.readFileSync('/a/b'), enc('two'));
  assert.throws(() => fs.writeFileSync('/a', enc('x')), { code: 'EISDIR' });
  assert.throws(() => fs.writeFileSync('/a/b/c', enc('x')), { code: 'ENOTDIR' });
  assert.throws(() => fs.readFileSync('/a'), { code: 'EISDIR' });
  assert.throws(() => fs.readFileSync('/zz'), { code: 'ENOENT' });
});

test('a write copies its buffer: reusing it afterwards changes nothing, live or after a crash', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/f', new Uint8Array(0));
  const h = await fs.open('/f', 'r+');
  const buf = enc('abcd');
  await h.write(buf, 0);
  buf.fill(0);
  assert.deepEqual(fs.readFileSync('/f'), enc('abcd'));
  for (let seed = 0; seed < 16; seed++) {
    const torn = fs.snapshotDurable({ seed }).readFileSync('/f');
    assert.deepEqual(torn, enc('abcd').subarray(0, torn.length));
  }
  await h.sync();
  assert.deepEqual(fs.snapshotDurable().readFileSync('/f'), enc('abcd'));
  await h.close();
});

test('a directory handle reads EISDIR and its sync makes entries durable', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d');
  const h0 = await fs.open('/', 'r');
  await h0.sync();
  fs.writeFileSync('/d/seed', enc(''));
  await fs.rename('/d/seed', '/d/x');
  const h = await fs.open('/d', 'r');
  await rejectsWithCode(h.read(new Uint8Array(1), 0), 'EISDIR');
  await h.sync();
  await h.close();
  await h0.close();
  fs.crash();
  assert.deepEqual(fs.listAll(), ['/d/', '/d/x']);
});

test('bad read and write arguments throw RangeError or TypeError', async () => {
  const fs = new MemoryFileSystem();
  const h = await fs.open('/f', 'w');
  await assert.rejects(h.write('text' as unknown as Uint8Array), TypeError);
  await assert.rejects(h.write(enc('x'), -1), RangeError);
  await h.close();
  const r = await fs.open('/f', 'r');
  await assert.rejects(r.read(new Uint8Array(4), 0, 2, 3), RangeError);
  await assert.rejects(r.read(new Uint8Array(4), 1.5), RangeError);
  await r.close();
});

test('large sequential writes stay linear (1 MiB in 1 KiB appends, synced every 64)', async () => {
  const fs = new MemoryFileSystem();
  const h = await fs.open('/big', 'a');
  const chunk = new Uint8Array(1024).fill(1);
  for (let i = 0; i < 1024; i++) {
    await h.write(chunk);
    if (i % 64 === 63) await h.sync();
  }
  await h.close();
  assert.equal((await fs.stat('/big')).size, 1 << 20);
  assert.equal(fs.snapshotDurable().listAll().length, 0, 'the create itself was never made durable');
});
