import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeFileSystem } from '../../src/env/node-fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { runFileSystemSuite } from './fs-suite.js';

runFileSystemSuite('NodeFileSystem', async () => {
  const root = await mkdtemp(join(tmpdir(), 'quiver-fs-'));
  return { fs: new NodeFileSystem(), root, cleanup: () => rm(root, { recursive: true, force: true }) };
});

runFileSystemSuite('NodeFileSystem with dsync as write + fdatasync (the path of macOS and Windows)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'quiver-fs-'));
  return { fs: new NodeFileSystem({ nativeDsync: false }), root, cleanup: () => rm(root, { recursive: true, force: true }) };
});

runFileSystemSuite('MemoryFileSystem', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/work/dir', { recursive: true });
  return { fs, root: '/work/dir' };
});

runFileSystemSuite('MemoryFileSystem at the root', async () => ({ fs: new MemoryFileSystem(), root: '/' }));

runFileSystemSuite('FaultFileSystem(MemoryFileSystem) without faults', async () => {
  const mem = new MemoryFileSystem();
  await mem.mkdir('/data');
  return { fs: new FaultFileSystem(mem), root: '/data' };
});

runFileSystemSuite('FaultFileSystem(NodeFileSystem) without faults', async () => {
  const root = await mkdtemp(join(tmpdir(), 'quiver-fault-'));
  return { fs: new FaultFileSystem(new NodeFileSystem()), root, cleanup: () => rm(root, { recursive: true, force: true }) };
});
