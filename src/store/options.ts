/**
 * Options of a durable store and their validation. Defaults are chosen so that reopening replays at
 * most a few seconds of log and a checkpoint is never rewritten for a handful of changes.
 */
import { QuiverError } from '../errors.js';
import type { Metric } from '../engine/types.js';
import { describe, METRICS } from '../engine/validate.js';
import type { FileSystem } from '../env/fs.js';
import { nodeFs } from '../env/node-fs.js';
import { MAX_RECORD_PAYLOAD } from '../wal/constants.js';
import { MAX_TIMER_MS } from '../util/long-timer.js';
import type { Durability } from '../wal/types.js';

/** Options of {@link DurableVectorDB.open} / `openVectorDB`. */
export interface DurableOptions {
  /** Vector dimension: required to create a store; when opening one, checked against it (DIMENSION_MISMATCH). */
  dimension?: number;
  /** Alias of `dimension` (the reference VectorDB spelling). */
  dimensions?: number;
  /** Metric for a new store (default cosine); when opening one, checked against it (INVALID_ARGUMENT). */
  metric?: Metric;
  /** Alias of `metric`. */
  distanceMetric?: Metric;
  /**
   * When a write's promise resolves: `sync` (default) after its log record is fsynced (concurrent
   * writes share one fsync), `interval` after it is written, fsynced within `intervalMs`; `none` after
   * it is written, fsynced only by checkpoints and close. See docs "Durability".
   */
  durability?: Durability;
  /** `interval` mode: the longest time an acknowledged write stays unsynced (default 100 ms). */
  intervalMs?: number;
  /** Checkpoint once this many bytes of log were written since the last one (default 64 MiB; Infinity: never). */
  checkpointBytes?: number;
  /** Checkpoint once this many log records were written since the last one (default 100,000; Infinity: never). */
  checkpointRecords?: number;
  /** Write a checkpoint on close (default true); false leaves the log to be replayed on the next open. */
  checkpointOnClose?: boolean;
  /** Start a new log segment beyond this size (default 64 MiB). */
  maxSegmentBytes?: number;
  /**
   * A batch whose log record would exceed this many bytes (default 128 MiB; the format's limit is
   * 256 MiB) is made durable by a checkpoint instead, still all-or-nothing.
   */
  batchRecordBytes?: number;
  /** Open without the lock and never write (recovery replays in memory); writes fail with EROFS. */
  readOnly?: boolean;
  /**
   * Recover from damage instead of failing: a damaged log is truncated at the first bad record, a
   * damaged or missing pointer or checkpoint falls back to the newest valid checkpoint. What was
   * dropped is reported in `db.recovery`. Off by default: damage is a CorruptionError.
   */
  repair?: boolean;
  /** Create the store when the directory holds none (default true); false makes that NOT_FOUND. */
  create?: boolean;
  /** The file system (default: Node's). Tests pass a memory or fault-injecting one. */
  fs?: FileSystem;
  /** Initial engine capacity in entries. */
  initialCapacity?: number;
}

/** Options with defaults applied. */
export interface ResolvedOptions {
  dimension: number | undefined;
  metric: Metric | undefined;
  durability: Durability;
  intervalMs: number;
  checkpointBytes: number;
  checkpointRecords: number;
  checkpointOnClose: boolean;
  maxSegmentBytes: number;
  batchRecordBytes: number;
  readOnly: boolean;
  repair: boolean;
  create: boolean;
  fs: FileSystem;
  initialCapacity: number | undefined;
}

/** Default `checkpointBytes`. */
export const DEFAULT_CHECKPOINT_BYTES = 64 * 1024 * 1024;
/** Default `batchRecordBytes`. */
export const DEFAULT_BATCH_RECORD_BYTES = 128 * 1024 * 1024;
/** Default `checkpointRecords`. */
export const DEFAULT_CHECKPOINT_RECORDS = 100_000;

function invalid(message: string): never {
  throw new QuiverError('INVALID_ARGUMENT', message);
}

function threshold(v: unknown, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (v === Infinity) return Infinity;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) invalid(`${name} must be a positive integer or Infinity, got ${describe(v)}`);
  return v as number;
}

function flag(v: unknown, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') invalid(`${name} must be a boolean, got ${describe(v)}`);
  return v as boolean;
}

/** Validates options (INVALID_ARGUMENT naming the option) and applies defaults. */
export function resolveOptions(o: DurableOptions | undefined): ResolvedOptions {
  if (o !== undefined && (o === null || typeof o !== 'object')) invalid(`options must be an object, got ${describe(o)}`);
  const opts = o ?? {};
  const dimension = opts.dimension ?? opts.dimensions;
  if (dimension !== undefined && (typeof dimension !== 'number' || !Number.isSafeInteger(dimension) || dimension < 1)) {
    invalid(`dimension must be a positive integer, got ${describe(dimension)}`);
  }
  const rawMetric = opts.metric ?? opts.distanceMetric;
  // Case-insensitive, as VectorDB's own options are ('COSINE' is 'cosine').
  const metric = typeof rawMetric === 'string' ? (rawMetric.toLowerCase() as Metric) : rawMetric;
  if (metric !== undefined && !METRICS.includes(metric)) invalid(`metric must be one of ${METRICS.join(', ')}, got ${describe(metric)}`);
  const durability = opts.durability ?? 'sync';
  if (durability !== 'sync' && durability !== 'interval' && durability !== 'none') invalid(`durability must be 'sync', 'interval' or 'none', got ${describe(durability)}`);
  const intervalMs = opts.intervalMs ?? 100;
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs <= 0 || intervalMs > MAX_TIMER_MS) invalid(`intervalMs must be a positive number of ms up to ${MAX_TIMER_MS}, got ${describe(intervalMs)}`);
  const maxSegmentBytes = threshold(opts.maxSegmentBytes, 'maxSegmentBytes', 64 * 1024 * 1024);
  if (maxSegmentBytes === Infinity) invalid('maxSegmentBytes must be finite');
  const fs = opts.fs ?? nodeFs;
  if (fs === null || typeof fs !== 'object' || typeof fs.open !== 'function') invalid('fs must be a FileSystem');
  return {
    dimension,
    metric,
    durability,
    intervalMs,
    checkpointBytes: threshold(opts.checkpointBytes, 'checkpointBytes', DEFAULT_CHECKPOINT_BYTES),
    checkpointRecords: threshold(opts.checkpointRecords, 'checkpointRecords', DEFAULT_CHECKPOINT_RECORDS),
    checkpointOnClose: flag(opts.checkpointOnClose, 'checkpointOnClose', true),
    maxSegmentBytes,
    batchRecordBytes: Math.min(threshold(opts.batchRecordBytes, 'batchRecordBytes', DEFAULT_BATCH_RECORD_BYTES), MAX_RECORD_PAYLOAD / 2),
    readOnly: flag(opts.readOnly, 'readOnly', false),
    repair: flag(opts.repair, 'repair', false),
    create: flag(opts.create, 'create', true),
    fs,
    initialCapacity: opts.initialCapacity,
  };
}
