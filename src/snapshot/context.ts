/**
 * What the snapshot operations share: the store and the manager's resolved settings. Passed to the
 * free functions the SnapshotManager delegates to, so each can be tested on its own.
 */
import type { SnapshotStore } from '../storage/store.js';
import type { Limiter } from './limiter.js';
import type { SnapshotCompression } from './layout.js';

/** Resolved manager settings plus the store. */
export interface SnapshotContext {
  store: SnapshotStore;
  compression: SnapshotCompression;
  compressionLevel: number;
  verifyChecksum: boolean;
  /** Bounds concurrent file and compression-block work. */
  io: Limiter;
  maxChainDepth: number;
  gcGraceMs: number;
}

/** Hard bound on chain length while walking baseIds (a loop or a hostile catalog must not hang us). */
export const MAX_CHAIN_WALK = 10_000;
