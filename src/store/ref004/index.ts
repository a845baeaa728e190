/**
 * The reference-004 vector store interface (createVectorStore and friends) on the durable store.
 */
export { createVectorStore, createPersistentInMemoryStore, createDefaultVectorStore } from './factory.js';
export { VectorStoreManager } from './manager.js';
export { InMemoryBackend } from './store.js';
export { VectorStoreError, VectorStoreConnectionError, VectorDimensionError, CollectionNotFoundError } from './errors.js';
export { REFERENCE_METADATA_FILE, REFERENCE_PAYLOADS_FILE, IMPORTED_MARKER } from './reference-import.js';
export type {
  VectorStore, VectorStoreConfig, InMemoryVectorStoreConfig, VectorStoreResult, SearchFilters, VectorStoreInfo, HealthCheckResult,
  CorruptionRecovery, ReferenceImport,
} from './types.js';
