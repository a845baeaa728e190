/**
 * The reference-004 VectorStoreManager: owns one store, connects it, reports on it. Connection
 * failures are never papered over with an empty fallback store: they are thrown (and remembered in
 * `getInfo().lastError`).
 */
import { InMemoryBackend } from './store.js';
import type { HealthCheckResult, VectorStore, VectorStoreConfig, VectorStoreInfo } from './types.js';

/** Lifecycle and reporting for one vector store. */
export class VectorStoreManager {
  private readonly store: InMemoryBackend;
  private attempts = 0;
  private lastError: Error | undefined;

  /** Validates `config` (VectorStoreError INVALID_ARGUMENT). */
  constructor(private readonly config: VectorStoreConfig) {
    this.store = new InMemoryBackend(config);
  }

  /** The configuration as given. */
  getConfig(): Readonly<VectorStoreConfig> {
    return this.config;
  }

  /** Connects the store (idempotent) and returns it; failures are typed VectorStoreErrors. */
  async connect(): Promise<VectorStore> {
    // Always queued behind the store's earlier connects and disconnects (a no-op when it stays connected).
    if (!this.store.isConnected()) this.attempts++;
    try {
      await this.store.connect();
      this.lastError = undefined;
      return this.store;
    } catch (err) {
      this.lastError = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  }

  /** Disconnects (flushes, checkpoints and releases the collection). */
  async disconnect(): Promise<void> {
    await this.store.disconnect();
  }

  /** The store when connected, else null. */
  getStore(): VectorStore | null {
    return this.store.isConnected() ? this.store : null;
  }

  isConnected(): boolean {
    return this.store.isConnected();
  }

  /** Connection state, persistence and any corruption recovery or reference import done at connect. */
  getInfo(): VectorStoreInfo {
    const s = this.store;
    const conn = s.getConnection();
    const durable = conn?.durable;
    return {
      connected: s.isConnected(),
      backend: { type: s.getBackendType(), connected: s.isConnected(), fallback: false, collectionName: s.getCollectionName(), dimension: s.getDimension() },
      connectionAttempts: this.attempts,
      lastError: this.lastError?.message,
      persistence: {
        enabled: this.config.annPersistIndex !== false,
        path: durable?.directory,
        durability: durable?.durability,
        count: conn?.db.len() ?? 0,
      },
      recoveredFromCorruption: s.getCorruptionRecovery(),
      importedReference: s.getReferenceImport(),
    };
  }

  /** Healthy when connected and the collection's log accepts writes. */
  async healthCheck(): Promise<HealthCheckResult> {
    if (!this.store.isConnected()) return { backend: false, overall: false, details: { backend: { status: 'not_connected' } } };
    const t0 = performance.now();
    const failure = this.store.getConnection()?.durable?.storeInfo().failure;
    const latency = performance.now() - t0;
    if (failure) return { backend: false, overall: false, details: { backend: { status: 'unhealthy', latency, error: failure.message } } };
    return { backend: true, overall: true, details: { backend: { status: 'healthy', latency } } };
  }
}
