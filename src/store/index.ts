/**
 * The durable store: a directory holding checkpoints, a write-ahead log and a lock, behind a
 * VectorDB subclass (`openVectorDB`), plus the reference-004 vector store facade on top of it.
 */
export { DurableVectorDB, openVectorDB, type StoreInfo } from './durable-db.js';
export type { DurableOptions } from './options.js';
export type { RecoveryReport } from './recovery.js';
export type { StorePointer } from './pointer.js';
export type { CheckpointStats } from './checkpoint.js';
export { CURRENT_FILE, WAL_DIR, checkpointName } from './layout.js';
export * from './ref004/index.js';
