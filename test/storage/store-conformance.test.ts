import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemorySnapshotStore } from '../../src/storage/memory-store.js';
import { FileSystemSnapshotStore } from '../../src/storage/fs-store.js';
import { RetryingSnapshotStore } from '../../src/storage/retry-store.js';
import { VerifyingSnapshotStore } from '../../src/storage/verify-store.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { runStoreSuite } from './store-suite.js';

runStoreSuite('MemorySnapshotStore', async () => ({ store: new MemorySnapshotStore() }));

runStoreSuite('FileSystemSnapshotStore on disk', async () => {
  const root = await mkdtemp(join(tmpdir(), 'quiver-store-'));
  return { store: new FileSystemSnapshotStore(join(root, 'snapshots')), cleanup: () => rm(root, { recursive: true, force: true }) };
});

runStoreSuite('FileSystemSnapshotStore on MemoryFileSystem', async () => ({ store: new FileSystemSnapshotStore('/data/snaps', { fs: new MemoryFileSystem() }) }));

runStoreSuite('FileSystemSnapshotStore on FaultFileSystem without faults', async () => ({
  store: new FileSystemSnapshotStore('/snaps', { fs: new FaultFileSystem(new MemoryFileSystem(), { log: false }) }),
}));

runStoreSuite('RetryingSnapshotStore(MemorySnapshotStore)', async () => ({ store: new RetryingSnapshotStore(new MemorySnapshotStore()) }));

runStoreSuite('VerifyingSnapshotStore(FileSystemSnapshotStore on disk)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'quiver-store-'));
  return { store: new VerifyingSnapshotStore(new FileSystemSnapshotStore(root)), cleanup: () => rm(root, { recursive: true, force: true }) };
});
