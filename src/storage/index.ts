/**
 * Snapshot stores: the interface, the file-system, in-memory and S3 stores, and the retry and
 * hash-verification wrappers.
 */
export type { SnapshotStore, StoreBody, ChunkSink, StoreObjectInfo, StoreOpOptions, StoreReadOptions, ReadIntoOptions, PutResult } from './store.js';
export { readInto } from './store.js';
export { FileSystemSnapshotStore, type FileSystemStoreOptions } from './fs-store.js';
export { MemorySnapshotStore } from './memory-store.js';
export { S3SnapshotStore, MIN_PART_SIZE, type S3StoreOptions } from './s3-store.js';
export { RetryingSnapshotStore, isTransient, TRANSIENT_CODES, type RetryOptions, type RetryEvent } from './retry-store.js';
export { VerifyingSnapshotStore, type VerifyingStoreOptions } from './verify-store.js';
export { checkKey, checkPrefix, MAX_KEY_LENGTH, MAX_KEY_DEPTH, MAX_SEGMENT_LENGTH } from './keys.js';
