/**
 * The reference-004 in-memory vector store with automatic persistence, on top of the durable store:
 * every insert, update and delete is in the collection's write-ahead log before its promise resolves
 * (in the default `sync` durability), instead of every vector being rewritten as JSON.
 */
import { QuiverError } from '../../errors.js';
import { compileFilter } from '../../engine/filter.js';
import type { Id, Metadata, StoredEntry } from '../../engine/types.js';
import type { VectorDB } from '../../engine/vector-db.js';
import { describe } from '../../engine/validate.js';
import { resolveConfig, type ResolvedConfig } from './config.js';
import { connectCollection, type ConnectedCollection } from './connect.js';
import { VectorDimensionError, VectorStoreError } from './errors.js';
import { SerialQueue } from '../../util/serial.js';
import type { CorruptionRecovery, ReferenceImport, SearchFilters, VectorStore, VectorStoreConfig, VectorStoreResult } from './types.js';

function wrap(err: unknown, operation: string): unknown {
  if (err instanceof VectorStoreError || !(err instanceof QuiverError)) return err;
  if (err.code === 'DIMENSION_MISMATCH') {
    const d = err.details as { expected?: number; actual?: number };
    return new VectorDimensionError(err.message, Number(d.expected), Number(d.actual), err);
  }
  return new VectorStoreError(`${operation} failed: ${err.message}`, operation, err);
}

function toResult(e: StoredEntry, score: number): VectorStoreResult {
  return { id: e.id, score, vector: Array.from(e.vector), payload: e.metadata ?? {} };
}

/** The in-memory backend of reference 004, persisted by QuiverDB's durable store. */
export class InMemoryBackend implements VectorStore {
  private readonly cfg: ResolvedConfig;
  private conn: ConnectedCollection | undefined;
  /** Connects and disconnects: each runs after every one called before it (whatever their outcome). */
  private readonly transitions = new SerialQueue();

  /** Validates the configuration (VectorStoreError INVALID_ARGUMENT); `connect()` opens the collection. */
  constructor(config: VectorStoreConfig) {
    this.cfg = resolveConfig(config);
  }

  /**
   * Opens (or creates) the collection; see connectCollection for the corruption rules. Idempotent.
   * Connects and disconnects take effect one after another in the order they were called, so calls
   * made without awaiting each other end in the state of the last one.
   */
  connect(): Promise<void> {
    return this.transitions.run(async () => {
      if (!this.conn) this.conn = await connectCollection(this.cfg);
    });
  }

  /** Flushes and checkpoints the collection and releases its directory (memory-only: drops the data). */
  disconnect(): Promise<void> {
    return this.transitions.run(async () => {
      const c = this.conn;
      if (!c) return;
      this.conn = undefined;
      try {
        if (c.durable) await c.durable.close();
      } catch (err) {
        throw wrap(err, 'disconnect');
      }
    });
  }

  isConnected(): boolean {
    return this.conn !== undefined;
  }

  getBackendType(): string {
    return 'in-memory';
  }

  getDimension(): number {
    return this.cfg.dimension;
  }

  getCollectionName(): string {
    return this.cfg.collectionName;
  }

  /** QuiverDB: set when `recoverCorrupted` moved damaged files aside at connect. */
  getCorruptionRecovery(): CorruptionRecovery | undefined {
    return this.conn?.recovered;
  }

  /** QuiverDB: set when reference-004 files were imported at connect. */
  getReferenceImport(): ReferenceImport | undefined {
    return this.conn?.imported;
  }

  /** QuiverDB: the connected collection (the durable store when persistence is on). */
  getConnection(): ConnectedCollection | undefined {
    return this.conn;
  }

  private db(operation: string): VectorDB {
    if (!this.conn) throw new VectorStoreError(`the vector store is not connected; call connect() before ${operation}`, operation, undefined, 'CLOSED');
    return this.conn.db;
  }

  private checkVector(v: unknown, operation: string, what: string): number[] {
    if (!Array.isArray(v) && !(v instanceof Float32Array)) throw new VectorStoreError(`${what} must be an array of numbers, got ${describe(v)}`, operation, undefined, 'INVALID_VECTOR');
    if (v.length !== this.cfg.dimension) throw new VectorDimensionError(this.cfg.dimension, v.length);
    return v as number[];
  }

  /**
   * Inserts (or replaces) vectors with their ids and payloads, all or nothing, durably. Fails with
   * LIMIT_EXCEEDED, changing nothing, when the new ids would take the collection past `maxVectors`.
   */
  async insert(vectors: number[][], ids: (number | string)[], payloads: Record<string, unknown>[]): Promise<void> {
    const db = this.db('insert');
    if (!Array.isArray(vectors) || !Array.isArray(ids) || (payloads !== undefined && !Array.isArray(payloads))) {
      throw new VectorStoreError('insert needs arrays of vectors, ids and payloads', 'insert', undefined, 'INVALID_ARGUMENT');
    }
    if (vectors.length !== ids.length || (payloads !== undefined && payloads.length !== ids.length)) {
      throw new VectorStoreError(`insert got ${vectors.length} vectors, ${ids.length} ids and ${payloads?.length ?? 0} payloads; they must have the same length`, 'insert', undefined, 'INVALID_ARGUMENT');
    }
    vectors.forEach((v, i) => this.checkVector(v, 'insert', `vectors[${i}]`));
    const fresh = new Set<Id>();
    try {
      for (const id of ids) if (!db.has(id)) fresh.add(id);
    } catch (err) {
      throw wrap(err, 'insert');
    }
    // A store whose log failed refuses every write with that failure, before any limit is counted
    // (its memory may still hold the failed writes, which would count against maxVectors).
    const failure = this.conn?.durable?.storeInfo().failure;
    if (failure) throw wrap(failure, 'insert');
    // Only new ids count: replacing stored ones works even in a collection reopened above a lowered limit.
    if (fresh.size > 0 && db.len() + fresh.size > this.cfg.maxVectors) {
      throw new VectorStoreError(
        `inserting ${fresh.size} new vectors into collection "${this.cfg.collectionName}" (${db.len()} stored) would exceed maxVectors ${this.cfg.maxVectors}; nothing was inserted. Delete vectors or raise maxVectors (createVectorStore({ type: 'in-memory', collectionName, dimension, maxVectors }); the convenience factories keep the default of 10,000).`,
        'insert', undefined, 'LIMIT_EXCEEDED',
      );
    }
    try {
      await db.insertBatch(vectors.map((vector, i) => ({ id: ids[i], vector, metadata: (payloads?.[i] ?? {}) as Metadata })));
    } catch (err) {
      throw wrap(err, 'insert');
    }
  }

  /** Nearest vectors first; `score` is the cosine similarity (for the default metric); results include vectors. */
  async search(query: number[], limit = 10, filters?: SearchFilters): Promise<VectorStoreResult[]> {
    const db = this.db('search');
    this.checkVector(query, 'search', 'query');
    try {
      return db.search({ vector: query, k: limit, filter: filters }).map((r) => ({ id: r.id, score: r.score, vector: Array.from(r.vector), payload: r.metadata ?? {} }));
    } catch (err) {
      throw wrap(err, 'search');
    }
  }

  /** The vector with this id (score 1), or null. */
  async get(vectorId: number | string): Promise<VectorStoreResult | null> {
    const db = this.db('get');
    try {
      const e = db.get(vectorId);
      return e ? toResult(e, 1) : null;
    } catch (err) {
      throw wrap(err, 'get');
    }
  }

  /** Replaces the vector and payload of an existing id (NOT_FOUND when absent), durably. */
  async update(vectorId: number | string, vector: number[], payload: Record<string, unknown>): Promise<void> {
    const db = this.db('update');
    this.checkVector(vector, 'update', 'vector');
    let present: boolean;
    try {
      present = db.has(vectorId);
    } catch (err) {
      throw wrap(err, 'update');
    }
    if (!present) throw new VectorStoreError(`vector ${JSON.stringify(vectorId)} not found in collection "${this.cfg.collectionName}"; insert it first`, 'update', undefined, 'NOT_FOUND');
    try {
      await db.insert({ id: vectorId, vector, metadata: (payload ?? {}) as Metadata });
    } catch (err) {
      throw wrap(err, 'update');
    }
  }

  /** Deletes a vector (absent ids are ignored), durably. */
  async delete(vectorId: number | string): Promise<void> {
    const db = this.db('delete');
    try {
      await db.delete(vectorId);
    } catch (err) {
      throw wrap(err, 'delete');
    }
  }

  /** Removes every vector of this collection (and only this one), durably; the store stays connected. */
  async deleteCollection(): Promise<void> {
    const db = this.db('deleteCollection');
    try {
      await db.clear();
      // Reclaim the disk space now rather than at the next threshold or disconnect.
      await this.conn?.durable?.checkpoint();
    } catch (err) {
      throw wrap(err, 'deleteCollection');
    }
  }

  /**
   * Up to `limit` vectors matching `filters` and the total number matching, in storage order: insertion
   * order until ids are deleted, after which a new entry may take a freed place (sort if order matters).
   */
  async list(filters?: SearchFilters, limit = 100): Promise<[VectorStoreResult[], number]> {
    const db = this.db('list');
    if (typeof limit !== 'number' || !(limit >= 0) || !(Number.isInteger(limit) || limit === Infinity)) {
      throw new VectorStoreError(`limit must be a non-negative integer (or Infinity), got ${describe(limit)}`, 'list', undefined, 'INVALID_ARGUMENT');
    }
    let match: (md: Metadata | undefined) => boolean;
    try {
      match = filters === undefined ? () => true : compileFilter(filters);
    } catch (err) {
      throw wrap(err, 'list');
    }
    const out: VectorStoreResult[] = [];
    let total = 0;
    for (const id of db.ids()) {
      const e = db.get(id)!;
      if (!match(e.metadata)) continue;
      total++;
      if (out.length < limit) out.push(toResult(e, 1));
    }
    return [out, total];
  }
}
