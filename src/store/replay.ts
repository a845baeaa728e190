/**
 * Applying write-ahead log records to the engine during recovery. Records passed their CRC, so a
 * record the engine refuses (wrong dimension, bad id) is damage the CRC could not see: it is reported
 * as a CorruptionError naming the log and the record's sequence number, never skipped.
 */
import { CorruptionError, QuiverError } from '../errors.js';
import { checkId, checkVector } from '../engine/validate.js';
import { cloneMetadata } from '../engine/metadata.js';
import type { Id, Metadata, MetadataBytes } from '../engine/types.js';
import type { VectorDB } from '../engine/vector-db.js';
import type { WalOpSink } from '../wal/reader.js';
import type { DecodedOp } from '../wal/types.js';

/** A database that can take logged upserts without re-validating and copying their metadata. */
export interface ReplayTarget extends VectorDB {
  upsertLogged(id: Id, vector: Float32Array, metadata: Metadata | undefined, encoded?: MetadataBytes): void;
}

function applyOp(db: ReplayTarget, op: DecodedOp): void {
  switch (op.type) {
    case 'upsert':
      db.upsertLogged(op.id, op.vector, op.metadata, op.metadataBytes);
      return;
    case 'delete':
      void db.delete(op.id);
      return;
    case 'updateMetadata':
      if (op.metadata !== undefined) {
        void db.updateMetadata(op.id, op.metadata);
      } else {
        // "Remove the metadata": the engine has no such call, so the entry is rewritten without it.
        const e = db.get(op.id);
        if (e) void db.insert({ id: op.id, vector: e.vector });
      }
      return;
    case 'clear':
      void db.clear();
      return;
  }
}

/**
 * The sink that applies replayed ops to `db` (the engine copies each vector into its slab during the
 * call, as WalReader.replay requires). Throws CorruptionError (file `logDir`, section `record <seq>`)
 * when the engine refuses an op; ops before it stay applied.
 */
export function logApplier(db: ReplayTarget, logDir: string): WalOpSink {
  return (seq, op) => {
    try {
      applyOp(db, op);
    } catch (err) {
      if (!(err instanceof QuiverError)) throw err;
      throw new CorruptionError({ file: logDir, section: `record ${seq}` }, `the record passed its checksum but cannot be applied (${err.message})`, 'CORRUPT', { cause: err });
    }
  };
}

/**
 * Why `op` cannot be applied to `db` (an invalid id, a vector of another dimension or with a
 * non-finite value), or undefined. A repair checks every op of a record with it before applying any
 * (WalReader.replay's `check`), so that a record the log is cut at leaves nothing of itself behind.
 */
export function opProblem(db: VectorDB, op: DecodedOp): string | undefined {
  if (op.type === 'clear') return undefined;
  try {
    checkId(op.id, 'logged id');
    if (op.type === 'upsert') checkVector(op.vector, db.dimension, 'logged vector');
    // What updateMetadata will refuse (deeper than insert takes, too many members), as applyOp calls it.
    if (op.type === 'updateMetadata' && op.metadata !== undefined) cloneMetadata(op.metadata, 'logged metadata');
    return undefined;
  } catch (err) {
    if (err instanceof QuiverError) return err.message;
    throw err;
  }
}
