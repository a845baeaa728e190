/**
 * The reference-004 vector store interface: configuration, results, filters, the store and the
 * manager's reports. Names and defaults follow the reference; QuiverDB additions are marked.
 */
import type { Filter, Metric } from '../../engine/types.js';
import type { FileSystem } from '../../env/fs.js';
import type { Durability } from '../../wal/types.js';

/** Configuration of the in-memory store with automatic persistence. */
export interface InMemoryVectorStoreConfig {
  /**
   * Must be 'in-memory' (checked when the store is made). Typed as any string too, so that a config
   * written as a plain object literal, as the reference's examples do, type-checks without `as const`.
   */
  type: 'in-memory' | (string & {});
  /** Name of the collection; also the name of its subdirectory of `annIndexPath` (letters, digits, `_`, `-`, `.`; at most 128). */
  collectionName: string;
  /** Vector dimension (default 1536). */
  dimension?: number;
  /** Most vectors the collection may hold (default 10,000); an insert that would exceed it fails and changes nothing. */
  maxVectors?: number;
  /** Accepted for compatibility; search is exact (flat) either way. */
  annAlgorithm?: 'flat' | 'brute-force';
  /** Persist the collection (default true); false keeps it in memory only and writes nothing to disk. */
  annPersistIndex?: boolean;
  /** Parent directory of the collection directories (default './data/vector-storage'). */
  annIndexPath?: string;
  /** QuiverDB: durability of acknowledged writes (default 'sync'); see README "Durability". */
  durability?: Durability;
  /** QuiverDB: on damaged files, move the collection directory aside and start empty (default false: connect fails). */
  recoverCorrupted?: boolean;
  /** QuiverDB: import reference-004 files (`ann_metadata.json`, `payloads.json`) found in `annIndexPath` once (default true). */
  importReferenceFiles?: boolean;
  /** QuiverDB: open without writing (connect fails with CollectionNotFoundError when the collection does not exist). */
  readOnly?: boolean;
  /** QuiverDB: metric (default cosine, as in the reference: scores are cosine similarities). */
  metric?: Metric;
  /** QuiverDB: checkpoint thresholds and interval, passed to the durable store. */
  checkpointBytes?: number;
  checkpointRecords?: number;
  intervalMs?: number;
  /** QuiverDB: file system (tests). */
  fs?: FileSystem;
}

/** The store configuration (only the in-memory type exists). */
export type VectorStoreConfig = InMemoryVectorStoreConfig;

/** Filters: `{ key: value | { gte?, gt?, lte?, lt? } | { any: [...] } | { all: [...] } }`, keys AND-ed. */
export type SearchFilters = Filter;

/** A result: `vector` is always included (as numbers); `score` for search (cosine similarity) and 1 for get/list. */
export interface VectorStoreResult {
  id: number | string;
  score?: number;
  vector?: number[];
  payload: Record<string, unknown>;
}

/** The vector store interface of reference 004. */
export interface VectorStore {
  insert(vectors: number[][], ids: (number | string)[], payloads: Record<string, unknown>[]): Promise<void>;
  search(query: number[], limit?: number, filters?: SearchFilters): Promise<VectorStoreResult[]>;
  get(vectorId: number | string): Promise<VectorStoreResult | null>;
  update(vectorId: number | string, vector: number[], payload: Record<string, unknown>): Promise<void>;
  delete(vectorId: number | string): Promise<void>;
  deleteCollection(): Promise<void>;
  list(filters?: SearchFilters, limit?: number): Promise<[VectorStoreResult[], number]>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  isConnected(): boolean;
  getBackendType(): string;
  getDimension(): number;
  getCollectionName(): string;
}

/** Reported when `recoverCorrupted` moved damaged files aside (also printed with console.warn). */
export interface CorruptionRecovery {
  /** When it happened (ISO 8601). */
  at: string;
  collectionName: string;
  /** The damaged file the error named. */
  file: string | undefined;
  /** The error code (CORRUPT, CHECKSUM_MISMATCH). */
  code: string;
  message: string;
  /** Where the damaged collection directory now is (renamed, not deleted). */
  movedTo: string;
}

/** Reported when reference-004 files were imported. */
export interface ReferenceImport {
  from: string;
  count: number;
  at: string;
}

/** `manager.getInfo()`. */
export interface VectorStoreInfo {
  connected: boolean;
  backend: { type: string; connected: boolean; fallback: boolean; collectionName: string; dimension: number };
  connectionAttempts: number;
  lastError: string | undefined;
  /** QuiverDB: where the collection lives and how durable it is. */
  persistence: { enabled: boolean; path: string | undefined; durability: Durability | undefined; count: number };
  /** QuiverDB: set when damaged files were moved aside at connect (the collection started empty). */
  recoveredFromCorruption: CorruptionRecovery | undefined;
  /** QuiverDB: set when reference-004 files were imported at connect. */
  importedReference: ReferenceImport | undefined;
}

/** `manager.healthCheck()`. */
export interface HealthCheckResult {
  backend: boolean;
  overall: boolean;
  details?: { backend?: { status: string; latency?: number; error?: string } };
}
