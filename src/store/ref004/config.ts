/**
 * Validation of the reference-004 configuration (typed errors naming the field) and the collection
 * directory rules: every collection has its own subdirectory of `annIndexPath`, and its name can
 * never point anywhere else.
 */
import { join } from 'node:path';
import type { Metric } from '../../engine/types.js';
import { describe, MAX_DIMENSION, METRICS } from '../../engine/validate.js';
import type { FileSystem } from '../../env/fs.js';
import { nodeFs } from '../../env/node-fs.js';
import type { Durability } from '../../wal/types.js';
import { VectorStoreError } from './errors.js';
import type { VectorStoreConfig } from './types.js';

/** The configuration with defaults applied. */
export interface ResolvedConfig {
  collectionName: string;
  dimension: number;
  maxVectors: number;
  persist: boolean;
  annIndexPath: string;
  /** The collection's own directory. */
  dir: string;
  durability: Durability;
  recoverCorrupted: boolean;
  importReferenceFiles: boolean;
  readOnly: boolean;
  metric: Metric;
  checkpointBytes: number | undefined;
  checkpointRecords: number | undefined;
  intervalMs: number | undefined;
  fs: FileSystem;
}

/** Default parent directory of collections. */
export const DEFAULT_INDEX_PATH = './data/vector-storage';

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

function bad(field: string, problem: string): never {
  throw new VectorStoreError(`invalid vector store config: ${field} ${problem}`, 'config', undefined, 'INVALID_ARGUMENT');
}

/** Checks a collection name: 1-128 of letters, digits, `_`, `-`, `.`, not starting with `.` or `-`. */
export function checkCollectionName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    bad('collectionName', `must be 1-128 letters, digits, '_', '-' or '.', not starting with '.' or '-' (it names a directory), got ${describe(name)}`);
  }
  return name as string;
}

function positiveInt(v: unknown, field: string, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > max) bad(field, `must be an integer 1..${max}, got ${describe(v)}`);
  return v as number;
}

function bool(v: unknown, field: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') bad(field, `must be a boolean, got ${describe(v)}`);
  return v as boolean;
}

/** Validates `config` (VectorStoreError INVALID_ARGUMENT naming the field) and applies the reference's defaults. */
export function resolveConfig(config: VectorStoreConfig): ResolvedConfig {
  if (config === null || typeof config !== 'object') bad('', `must be an object, got ${describe(config)}`);
  if (config.type !== 'in-memory') bad('type', `must be 'in-memory' (the only backend of this store), got ${describe(config.type)}`);
  const collectionName = checkCollectionName(config.collectionName);
  const annIndexPath = config.annIndexPath ?? DEFAULT_INDEX_PATH;
  if (typeof annIndexPath !== 'string' || annIndexPath === '') bad('annIndexPath', `must be a non-empty path, got ${describe(annIndexPath)}`);
  const algo = config.annAlgorithm;
  if (algo !== undefined && algo !== 'flat' && algo !== 'brute-force') bad('annAlgorithm', `must be 'flat' or 'brute-force', got ${describe(algo)}`);
  const durability = config.durability ?? 'sync';
  if (durability !== 'sync' && durability !== 'interval' && durability !== 'none') bad('durability', `must be 'sync', 'interval' or 'none', got ${describe(durability)}`);
  const metric = config.metric ?? 'cosine';
  if (!METRICS.includes(metric)) bad('metric', `must be one of ${METRICS.join(', ')}, got ${describe(metric)}`);
  return {
    collectionName,
    dimension: positiveInt(config.dimension, 'dimension', 1536, MAX_DIMENSION),
    maxVectors: positiveInt(config.maxVectors, 'maxVectors', 10_000),
    persist: bool(config.annPersistIndex, 'annPersistIndex', true),
    annIndexPath,
    dir: join(annIndexPath, collectionName),
    durability,
    recoverCorrupted: bool(config.recoverCorrupted, 'recoverCorrupted', false),
    importReferenceFiles: bool(config.importReferenceFiles, 'importReferenceFiles', true),
    readOnly: bool(config.readOnly, 'readOnly', false),
    metric,
    checkpointBytes: config.checkpointBytes,
    checkpointRecords: config.checkpointRecords,
    intervalMs: config.intervalMs,
    fs: config.fs ?? nodeFs,
  };
}
