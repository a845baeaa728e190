import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDirDurable } from '../../src/env/durable-dir.js';
import { writeFileAtomic } from '../../src/env/atomic.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { NodeFileSystem } from '../../src/env/node-fs.js';
import { QuiverError } from '../../src/errors.js';

const data = new Uint8Array([1, 2, 3]);

test('a file published into a freshly made directory is lost with it unless the directory is durable', async () => {
  const plain = new MemoryFileSystem();
  await plain.mkdir('/store/col', { recursive: true });
  await writeFileAtomic(plain, '/store/col/file', data);
  plain.crash();
  assert.deepEqual(plain.listAll(), [], 'plain mkdir: the acknowledged file is gone');

  const durable = new MemoryFileSystem();
  assert.deepEqual(await ensureDirDurable(durable, '/store/col'), ['/store', '/store/col']);
  await writeFileAtomic(durable, '/store/col/file', data);
  durable.crash();
  assert.deepEqual(durable.listAll(), ['/store/', '/store/col/', '/store/col/file']);
  assert.deepEqual(durable.readFileSync('/store/col/file'), data);
});

test('ensureDirDurable leaves existing directories alone and refuses a file in the way', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/a/f', data);
  const faults = new FaultFileSystem(fs);
  assert.deepEqual(await ensureDirDurable(faults, '/a'), []);
  assert.deepEqual(faults.ops.map((o) => o.kind), ['stat']);
  await assert.rejects(ensureDirDurable(fs, '/a/f/g'), (e: unknown) => e instanceof QuiverError && e.code === 'ENOTDIR');
  await assert.rejects(ensureDirDurable(fs, '/a/f'), (e: unknown) => e instanceof QuiverError && e.code === 'ENOTDIR');
});

test('ensureDirDurable reports I/O errors with their OS code', async () => {
  for (const kind of ['mkdir', 'syncDir', 'stat'] as const) {
    const fs = new FaultFileSystem(new MemoryFileSystem()).failAt(1, 'EACCES', { kinds: [kind] });
    await assert.rejects(ensureDirDurable(fs, '/x/y'), (e: unknown) => e instanceof QuiverError && e.code === 'EACCES', kind);
  }
});

test('ensureDirDurable on a real directory', async () => {
  const base = await mkdtemp(join(tmpdir(), 'quiver-dir-'));
  try {
    const made = await ensureDirDurable(new NodeFileSystem(), join(base, 'a', 'b'));
    assert.deepEqual(made, [join(base, 'a'), join(base, 'a', 'b')]);
    assert.ok((await stat(join(base, 'a', 'b'))).isDirectory());
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
