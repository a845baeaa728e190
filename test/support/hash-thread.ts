/**
 * Test helper: waits until the shared SHA-256 thread is up, so a test can rely on work being offloaded.
 */
import assert from 'node:assert/strict';
import type { FileSystem } from '../../src/env/fs.js';
import { patchingHandles } from './handle-hooks.js';
import type { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { startSha256, stopHashThreadForTests, warmHashThread } from '../../src/util/hash-worker.js';

/** Starts the hash thread and resolves once a job would be offloaded to it (fails after ~5 s). */
export async function hashThreadReady(): Promise<void> {
  warmHashThread();
  // A job with onlyIfReady stays local until the thread has said it is up.
  for (let i = 0; i < 500; i++) {
    const probe = startSha256({ offload: true, onlyIfReady: true });
    probe.abandon();
    if (probe.offloaded) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail('the hash thread did not start');
}

/**
 * A file system whose handles stop the helper thread at the `at`-th write of 64 KiB or more; counts
 * into `seen.truncates` the truncations (a writer starting over) when given.
 */
export function threadKilling(inner: MemoryFileSystem, at: number, seen?: { truncates: number }): FileSystem {
  let big = 0;
  return patchingHandles(inner, (h) => {
    const write = h.write.bind(h);
    const truncate = h.truncate.bind(h);
    h.truncate = (size: number) => {
      if (seen) seen.truncates++;
      return truncate(size);
    };
    h.write = (data: Uint8Array, position?: number) => {
      if (data.length >= 64 << 10 && ++big === at) stopHashThreadForTests();
      return write(data, position);
    };
  });
}
