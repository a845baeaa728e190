/**
 * QuiverDB public API.
 */
export { VectorDB } from './engine/vector-db.js';
export type {
  Id,
  Metric,
  Metadata,
  VectorEntry,
  StoredEntry,
  SearchQuery,
  SearchResult,
  Filter,
  FieldCondition,
  RangeCondition,
  DbStats,
  VectorDBOptions,
  DbOptions,
  Columns,
  DeltaColumns,
} from './engine/types.js';
export { DatabasePersistence } from './persistence/database-persistence.js';
export { formatFileSize, formatTimestamp, estimateMemoryUsage } from './persistence/utils.js';
export type {
  PersistenceOptions,
  PersistenceFormat,
  CompressionType,
  SaveOptions,
  IncrementalSaveOptions,
  LoadOptions,
  ExportOptions,
  ExportFormat,
  ImportOptions,
  ImportFormat,
  SnapshotMetadata,
  SnapshotRestoreOptions,
  DatabaseState,
  StateEntry,
  SaveEvent,
  ProgressCallback,
  Progress,
} from './persistence/types.js';
export * from './interchange/index.js';
export { QuiverError, CorruptionError, isQuiverError } from './errors.js';
export type { ErrorCode, CorruptionLocation } from './errors.js';
export type { FileSystem, FileHandle, FileStat, OpenMode } from './env/fs.js';
export { NodeFileSystem, nodeFs } from './env/node-fs.js';
export { dropSpares } from './env/spares.js';
export * from './snapshot/index.js';
export * from './storage/index.js';
export { DurableVectorDB, openVectorDB } from './store/index.js';
export type { DurableOptions, RecoveryReport, StoreInfo, StorePointer } from './store/index.js';
export * from './store/ref004/index.js';
