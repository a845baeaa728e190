/**
 * Public types of the SnapshotManager (reference 002 in TypeScript).
 */
import type { FileSystem } from '../env/fs.js';
import type { Metric } from '../engine/types.js';
import type { VectorDB } from '../engine/vector-db.js';
import type { SnapshotStore } from '../storage/store.js';
import type { ProgressCallback } from '../util/progress.js';
import type { RetentionPolicy, RetentionResult } from './retention.js';
import type { SnapshotCompression } from './layout.js';

export type { SnapshotCompression } from './layout.js';

/** Options of `new SnapshotManager(...)`. Give `snapshotDir` or `store`. */
export interface SnapshotManagerOptions {
  /** Directory of a file-system store (created on first write). */
  snapshotDir?: string;
  /** Any SnapshotStore (memory, wrapped, remote); wins over `snapshotDir`. */
  store?: SnapshotStore;
  /** File system for `snapshotDir` (default node's; tests pass memory or fault-injecting ones). */
  fs?: FileSystem;
  /** 'gzip' (default; `true` is accepted too) or 'none' (`false`). */
  compression?: SnapshotCompression | boolean;
  /** gzip level 0..9 (default 6). */
  compressionLevel?: number;
  /** Verify SHA-256 of every file when restoring (default true; verifySnapshot always does). */
  verifyChecksum?: boolean;
  /** Files and compression blocks worked on at once (default 4). */
  maxConcurrentIo?: number;
  /** Longest incremental chain; an incremental that would be deeper is taken as a full snapshot (default 8). */
  maxChainDepth?: number;
  /**
   * Snapshot folders without metadata.json (interrupted creates and deletes) and temporaries are
   * garbage-collected once their newest file is this old, in ms (default 10 minutes; protects
   * snapshots another process is writing right now).
   */
  gcGraceMs?: number;
  /** Reference 002's (Rust) spelling of `snapshotDir`; so are the four below of their camelCase names. */
  snapshot_dir?: string;
  compression_level?: number;
  verify_checksum?: boolean;
  max_concurrent_io?: number;
}

/** What every snapshot reports (and `metadata.json` stores). */
export interface SnapshotInfo {
  id: string;
  name: string;
  /** Creation time, ms since the epoch (UTC). */
  createdAt: number;
  type: 'full' | 'incremental';
  /** The snapshot an incremental applies to. */
  baseId?: string;
  /** Incremental links below this snapshot down to its full base (0 for a full snapshot). */
  chainDepth: number;
  /** Entries in the database state this snapshot restores to. */
  vectorCount: number;
  /** Entries stored in this snapshot (all of them for a full one; upserted ones for an incremental). */
  changedCount: number;
  /** Ids an incremental deletes. */
  deletedCount: number;
  dimension: number;
  metric: Metric;
  /** Bytes of every file of the snapshot except metadata.json. */
  sizeBytes: number;
  /** SHA-256 (hex) of the snapshot's checksum file, which holds the SHA-256 of every data file. */
  checksum: string;
  compression: SnapshotCompression;
  /** The caller's metadata (plain JSON). */
  metadata: Record<string, unknown>;
  /** Pinned snapshots are never removed by retention. */
  pinned: boolean;
  tags: string[];
  formatVersion: number;
  /** Why the snapshot is not what was asked for (an incremental taken as full), when it is not. */
  note?: string;
  /** When a base deletion folded this incremental into a full snapshot: the base it had. */
  foldedFrom?: string;
}

/** Options of the create calls. */
export interface CreateSnapshotOptions {
  metadata?: Record<string, unknown>;
  pinned?: boolean;
  tags?: string[];
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** Options of restores. */
export interface RestoreOptions {
  /** Overrides the manager's `verifyChecksum` for this restore. */
  verifyChecksum?: boolean;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** One file checked by `verifySnapshot`; `name` is the store key, e.g. `snapshot-X/vectors.bin.gz`. */
export interface VerifiedFile {
  name: string;
  snapshotId: string;
  ok: boolean;
  error?: string;
}

/** What `verifySnapshot` returns: ok only when every file of the snapshot and of its base chain is. */
export interface VerifyReport {
  id: string;
  ok: boolean;
  /** Ids checked, the snapshot first and its full base last (as far as the chain could be followed). */
  chain: string[];
  files: VerifiedFile[];
}

/** Options of `verifySnapshot`. */
export interface VerifyOptions {
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** What to do with snapshots that depend on one being deleted. */
export type DependentsPolicy = 'refuse' | 'cascade' | 'fold';

/** Options of `deleteSnapshot`. */
export interface DeleteSnapshotOptions {
  /** 'refuse' (default): fail with SnapshotDependencyError; 'cascade': delete them too; 'fold': rewrite direct dependents as full snapshots first. */
  dependents?: DependentsPolicy;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** What `deleteSnapshot` did. */
export interface DeleteResult {
  /** Ids removed, dependents before their bases. */
  deleted: string[];
  /** Ids rewritten as full snapshots. */
  folded: string[];
}

/** Changes `updateSnapshot` can make (written atomically into metadata.json). */
export interface SnapshotUpdate {
  name?: string;
  pinned?: boolean;
  tags?: string[];
  metadata?: Record<string, unknown>;
}

/** Options of `prune`. */
export interface PruneOptions {
  /** Report what would be removed without removing anything (also `policy.dryRun`). */
  dryRun?: boolean;
  /**
   * Snapshots kept whatever the policy says, with the bases they are built on (reason `protected`): a
   * schedule protects the snapshot it just took, which a snapshot dated in the future by another
   * clock would otherwise push out of `keepLast`.
   */
  protect?: readonly string[];
  /** Clock for the policy's `keepWithin` (default Date.now()). */
  now?: number;
  /** Progress, counted in snapshots deleted. */
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** What `prune` did: the retention decision plus the ids physically removed. */
export interface PruneResult extends RetentionResult {
  deleted: string[];
  dryRun: boolean;
}

/** What `collectGarbage` removed. */
export interface GcResult {
  /** Incomplete snapshot folders removed (ids). */
  incomplete: string[];
  /** Objects inside complete snapshots that metadata.json does not reference. */
  strayFiles: string[];
  /** Store leftovers (temporaries, empty folders). */
  leftovers: string[];
}

/** Options of `schedule`. */
export interface ScheduleOptions {
  /** The database to snapshot. */
  db: VectorDB;
  /** Period in ms, or a duration string such as '15m', '6h', '1d'. */
  every: number | string;
  /** Take incrementals on the previous scheduled snapshot (fulls when the chain limit is reached). */
  incremental?: boolean;
  /** Applied (physically) after every successful snapshot. */
  retention?: RetentionPolicy;
  /** Name of each snapshot (default `scheduled <ISO time>`). */
  name?: (at: Date) => string;
  /** User metadata of each snapshot. */
  metadata?: Record<string, unknown>;
  tags?: string[];
  /** Take the first snapshot at once instead of after one period (default false). */
  immediate?: boolean;
}

/** Reference 002's name for {@link SnapshotManagerOptions}. */
export type SnapshotConfig = SnapshotManagerOptions;

/** Reference 002's name for {@link SnapshotInfo}. */
export type Snapshot = SnapshotInfo;

/** Reference 002's snapshot kinds (its `SnapshotType::Full` / `Incremental { base_id }`, here `type` and `baseId`). */
export type SnapshotType = SnapshotInfo['type'];
