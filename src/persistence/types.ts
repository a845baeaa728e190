/**
 * Public types of the DatabasePersistence face (the reference-000/001 names kept as they were).
 */
import type { ProgressCallback } from '../util/progress.js';
import type { Id, Metadata, Metric } from '../engine/types.js';
import type { FileSystem } from '../env/fs.js';
import type { SnapshotStore } from '../storage/store.js';

export type { ProgressCallback, Progress } from '../util/progress.js';

/** File formats DatabasePersistence can write. */
export type PersistenceFormat = 'json' | 'binary' | 'sqlite';

/** Compression applied to saved files. */
export type CompressionType = 'none' | 'gzip' | 'brotli';

/** Options of `new DatabasePersistence(db, options)`. */
export interface PersistenceOptions {
  /** Directory for default save files and snapshots (default './data'). */
  baseDir?: string;
  /** Default format (default 'binary'). */
  format?: PersistenceFormat;
  /** Default compression (default 'none'). */
  compression?: CompressionType;
  /** Compression level (gzip 1-9, default 6; brotli 0-11, default 4). */
  compressionLevel?: number;
  /**
   * When true, auto-save and `shutdown` save incrementally (`saveIncremental`) instead of writing full
   * files: delta files beside the last full file, or, when `autoSaveInterval` is also set, one fsynced
   * record per save in the save journal `<file>.wal/` (README "Save journal").
   */
  incremental?: boolean;
  /** Auto-save period in ms; 0 disables (default 0). */
  autoSaveInterval?: number;
  /** Snapshots kept by automatic cleanup (default 10). */
  maxSnapshots?: number;
  /** Accepted for the reference's sake and validated (a positive integer, default 1000), but without effect: saves and loads stream in their own buffer sizes. */
  batchSize?: number;
  /**
   * Journal size in bytes after which an incremental save writes a full file instead (default: the
   * larger of 64 MiB and a quarter of the last full file).
   */
  journalMaxBytes?: number;
  /**
   * Where the snapshot methods keep snapshots (default: `<baseDir>/snapshots` on the file system), e.g.
   * an `S3SnapshotStore` to keep them off the machine.
   */
  snapshotStore?: SnapshotStore;
  /** The file system to use (tests pass an in-memory or fault-injecting one). */
  fs?: FileSystem;
}

/** Options of `save`. */
export interface SaveOptions {
  /** Target file (default: `<baseDir>/database.<qvdb|json>[.gz|.br]`). */
  path?: string;
  format?: PersistenceFormat;
  /** true: use the configured compression (gzip when it is 'none'); false: none. */
  compress?: boolean;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** Options of `saveIncremental`. */
export interface IncrementalSaveOptions {
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** Options of `load`. */
export interface LoadOptions {
  /** File to load (default: the last full save of this instance, else the default path). */
  path?: string;
  /** Verify SHA-256 checksums (default true). */
  verifyChecksum?: boolean;
  /**
   * Cut a damaged save journal (incremental auto-save) at its first bad record and load the saves before
   * it, with a `QuiverRepairWarning` saying what was dropped (default false: the load fails, unchanged).
   */
  repair?: boolean;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/**
 * Formats `export` writes: the save formats plus the interchange formats (docs/FORMAT.md has each).
 */
export type ExportFormat = PersistenceFormat | 'msgpack' | 'jsonl' | 'parquet' | 'npy';

/** Options of `export`. */
export interface ExportOptions {
  path: string;
  format?: ExportFormat;
  compress?: boolean;
  /** Accepted for compatibility; the flat index has nothing to store. */
  includeIndex?: boolean;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** Formats `import` reads: every export format plus the reference systems' files. */
export type ImportFormat = ExportFormat | 'reference-000' | 'reference-004';

/** Options of `import`. */
export interface ImportOptions {
  path: string;
  /** Replace the current contents (true) or merge into them, file entries winning (false, the default). */
  clear?: boolean;
  /** Read as this format instead of detecting it from the file's bytes (directories: 'reference-004'). */
  format?: ImportFormat;
  /** Bomb guard for compressed files: decompressing past this many bytes stops the import (default: none, except Parquet pages: 64 MiB + 256 x the file size). */
  maxDecompressedBytes?: number;
  verifyChecksum?: boolean;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** Metadata of a snapshot (reference-001 shape). */
export interface SnapshotMetadata {
  id: string;
  name: string;
  timestamp: number;
  vectorCount: number;
  dimension: number;
  format: PersistenceFormat;
  compressed: boolean;
  fileSize: number;
  checksum: string;
  metadata?: Record<string, unknown>;
  /** 'full', or 'incremental' on `baseId`. */
  type: 'full' | 'incremental';
  baseId?: string;
}

/** Options of `restoreSnapshot`. */
export interface SnapshotRestoreOptions {
  /** Verify every file's SHA-256 before touching the database (default true). */
  verifyChecksum?: boolean;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** One entry of a JSON state document. */
export interface StateEntry {
  id: Id;
  vector: number[];
  metadata?: Metadata;
}

/** The JSON state document's shape (reference-001 `DatabaseState`), as written by the json format. */
export interface DatabaseState {
  /** "1.0.0" in the files QuiverDB writes (readers also accept a number from other writers). */
  version: string;
  options: { dimension: number; metric: Metric; [key: string]: unknown };
  stats: { count: number; dimension: number; metric: Metric; [key: string]: unknown };
  vectors: StateEntry[];
  timestamp: number;
  checksum?: string;
  [key: string]: unknown;
}

/** What a completed save reports through the `save` event. */
export interface SaveEvent {
  path: string;
  /** 'journal': one record appended to the save journal (`path` is the journal directory). */
  kind: 'full' | 'delta' | 'journal';
  bytes: number;
  /** Entries the save wrote: every entry for a full save; the changed (inserted or replaced) ones for a delta, a journal record or a SQLite file's in-place update. Deletions are not counted. */
  count: number;
  checksum: string;
  durationMs: number;
}
