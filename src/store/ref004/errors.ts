/**
 * The typed errors of the reference-004 vector store interface. They are QuiverErrors with stable
 * codes, so callers can catch them either way: `err instanceof VectorDimensionError` (reference
 * style) or `err.code === 'DIMENSION_MISMATCH'` (QuiverDB style).
 */
import { QuiverError, type ErrorCode } from '../../errors.js';

function codeOf(cause: unknown, fallback: ErrorCode): ErrorCode {
  return cause instanceof QuiverError ? cause.code : fallback;
}

function detailsOf(cause: unknown): Record<string, unknown> {
  return cause instanceof QuiverError ? { ...cause.details } : {};
}

/** Base error of the vector store: `operation` names what failed ('insert', 'search', 'connection', ...). */
export class VectorStoreError extends QuiverError {
  readonly operation: string;

  /** `code` defaults to the cause's code when it is a QuiverError, else IO_ERROR. */
  constructor(message: string, operation: string, cause?: unknown, code?: ErrorCode) {
    super(code ?? codeOf(cause, 'IO_ERROR'), message, { ...detailsOf(cause), operation }, cause === undefined ? undefined : { cause });
    this.name = 'VectorStoreError';
    this.operation = operation;
  }
}

/** Connecting failed (damaged files: code CORRUPT/CHECKSUM_MISMATCH; another writer: LOCKED; OS errors keep their code). */
export class VectorStoreConnectionError extends VectorStoreError {
  readonly backendType: string;

  constructor(message: string, backendType = 'in-memory', cause?: unknown, code?: ErrorCode) {
    super(message, 'connection', cause, code);
    this.name = 'VectorStoreConnectionError';
    this.backendType = backendType;
  }
}

/**
 * A vector of the wrong dimension (code DIMENSION_MISMATCH). Accepts `(expected, actual)` or the
 * reference's `(message, expected, actual, cause?)`.
 */
export class VectorDimensionError extends VectorStoreError {
  readonly expectedDimension: number;
  readonly actualDimension: number;

  constructor(messageOrExpected: string | number, expectedOrActual: number, actual?: number, cause?: unknown) {
    const withMessage = typeof messageOrExpected === 'string';
    const expected = withMessage ? expectedOrActual : messageOrExpected;
    const got = withMessage ? (actual as number) : expectedOrActual;
    const message = withMessage ? messageOrExpected : `vector dimension mismatch: expected ${expected}, got ${got}; embed with the collection's model or use a collection of dimension ${got}`;
    super(message, 'dimension_mismatch', cause, 'DIMENSION_MISMATCH');
    this.name = 'VectorDimensionError';
    this.expectedDimension = expected;
    this.actualDimension = got;
  }

  /** Alias of `expectedDimension`. */
  get expected(): number {
    return this.expectedDimension;
  }

  /** Alias of `actualDimension`. */
  get actual(): number {
    return this.actualDimension;
  }
}

/** A collection that does not exist (code NOT_FOUND). Accepts `(collectionName)` or `(message, collectionName, cause?)`. */
export class CollectionNotFoundError extends VectorStoreError {
  readonly collectionName: string;

  constructor(messageOrName: string, collectionName?: string, cause?: unknown) {
    const name = collectionName ?? messageOrName;
    const message = collectionName === undefined ? `collection "${name}" does not exist` : messageOrName;
    super(message, 'collection_not_found', cause, 'NOT_FOUND');
    this.name = 'CollectionNotFoundError';
    this.collectionName = name;
  }
}
