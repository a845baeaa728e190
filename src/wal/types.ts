/**
 * The records the write-ahead log carries, as callers append them and as readers return them.
 */
import type { Id, Metadata, MetadataBytes } from '../engine/types.js';

/** Insert or replace an entry. */
export interface UpsertOp {
  type: 'upsert';
  id: Id;
  vector: ArrayLike<number>;
  metadata?: Metadata;
}

/** Remove an entry. */
export interface DeleteOp {
  type: 'delete';
  id: Id;
}

/** Replace an entry's metadata (`undefined` removes it). */
export interface UpdateMetadataOp {
  type: 'updateMetadata';
  id: Id;
  metadata?: Metadata;
}

/** Remove every entry. */
export interface ClearOp {
  type: 'clear';
}

/** A single change. */
export type WalOp = UpsertOp | DeleteOp | UpdateMetadataOp | ClearOp;

/** Several changes applied atomically: one record, one sequence number, all or nothing after a crash. */
export interface BatchOp {
  type: 'batch';
  ops: WalOp[];
}

/** What `WalWriter.append` accepts. */
export type WalRecord = WalOp | BatchOp;

/**
 * An upsert as read back. The vector is a Float32Array whose elements belong to this record alone,
 * but it may be a view into an ArrayBuffer shared with other decoded vectors: use
 * `vector.byteOffset`/`length` (or copy it) rather than `vector.buffer` as a whole.
 */
export interface DecodedUpsert {
  type: 'upsert';
  id: Id;
  vector: Float32Array;
  metadata?: Metadata;
  /** Only from `WalReader.replay`: the metadata still encoded, in place of `metadata` (see MetadataBytes). */
  metadataBytes?: MetadataBytes;
}

/** A single change as read back. */
export type DecodedOp = DecodedUpsert | DeleteOp | UpdateMetadataOp | ClearOp;

/** A record as read back. */
export type DecodedRecord = DecodedOp | { type: 'batch'; ops: DecodedOp[] };

/** One record of the log with its sequence number. */
export interface WalEntry {
  seq: number;
  record: DecodedRecord;
}

/** Durability of acknowledged appends; see docs/WAL.part.md "Durability modes". */
export type Durability = 'sync' | 'interval' | 'none';
