/**
 * The reference-004 factories. Each connects before returning, so a damaged collection fails here
 * with a typed error instead of later.
 */
import { DEFAULT_INDEX_PATH } from './config.js';
import { VectorStoreManager } from './manager.js';
import type { VectorStore, VectorStoreConfig } from './types.js';

/** Creates a manager for `config`, connects it, and returns both. */
export async function createVectorStore(config: VectorStoreConfig): Promise<{ manager: VectorStoreManager; store: VectorStore }> {
  const manager = new VectorStoreManager(config);
  const store = await manager.connect();
  return { manager, store };
}

/** An in-memory store persisted in `<persistencePath>/<collectionName>/`. */
export function createPersistentInMemoryStore(collectionName: string, dimension = 1536, persistencePath = DEFAULT_INDEX_PATH): Promise<{ manager: VectorStoreManager; store: VectorStore }> {
  return createVectorStore({ type: 'in-memory', collectionName, dimension, annPersistIndex: true, annIndexPath: persistencePath });
}

/** The default store: collection 'default', persisted under './data/vector-storage'. */
export function createDefaultVectorStore(collectionName = 'default', dimension = 1536): Promise<{ manager: VectorStoreManager; store: VectorStore }> {
  return createVectorStore({ type: 'in-memory', collectionName, dimension });
}
