/**
 * Snapshots: the SnapshotManager, its types, retention, and the layout helpers tools may need.
 */
export { SnapshotManager, SnapshotDependencyError } from './manager.js';
export { SnapshotSchedule } from './scheduler.js';
export { applyRetention, parseDuration, formatDuration, type RetentionInput, type RetentionPolicy, type RetentionResult } from './retention.js';
export { checkSnapshotId, checkSnapshotName, MAX_ID_LENGTH, MAX_NAME_LENGTH } from './ids.js';
export { SNAPSHOT_FORMAT_VERSION } from './layout.js';
export type { ResolvedSnapshotOptions } from './options.js';
export type {
  SnapshotManagerOptions, SnapshotInfo, SnapshotCompression, CreateSnapshotOptions, RestoreOptions, VerifyReport, VerifiedFile, VerifyOptions,
  SnapshotConfig, Snapshot, SnapshotType,
  DependentsPolicy, DeleteSnapshotOptions, DeleteResult, SnapshotUpdate, PruneOptions, PruneResult, GcResult, ScheduleOptions,
} from './types.js';
