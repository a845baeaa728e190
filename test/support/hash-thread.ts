/**
 * Test helper: waits until the shared SHA-256 thread is up, so a test can rely on work being offloaded.
 */
import assert from 'node:assert/strict';
import { startSha256, warmHashThread } from '../../src/util/hash-worker.js';

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
