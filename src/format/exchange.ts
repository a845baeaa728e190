/**
 * The contract every interchange codec implements (docs/FORMAT.md has one section per format). A codec
 * writes a frozen CollectionImage to a file as a stream, published atomically, and reads a file back
 * into Columns without touching any database: the caller applies the Columns in one engine call, so
 * a failed import leaves the target exactly as it was.
 */
import type { FileSystem } from '../env/fs.js';
import type { CollectionImage, Columns, Metric } from '../engine/types.js';
import type { ProgressCallback } from '../util/progress.js';

/** Whole-file compression a codec may apply (each codec lists the ones it supports). */
export type ExchangeCompression = 'none' | 'gzip' | 'brotli';

/**
 * Every format QuiverDB can write or read. `binary` (.qvdb) and `json` are DatabasePersistence's
 * own; `reference-000` and `reference-004` are import-only migration paths from the reference systems.
 */
export type ExchangeFormat =
  | 'binary'
  | 'json'
  | 'sqlite'
  | 'msgpack'
  | 'jsonl'
  | 'parquet'
  | 'npy'
  | 'reference-000'
  | 'reference-004';

/** Options of {@link ExchangeCodec.write}. */
export interface ExchangeWriteOptions {
  /** Default 'none'. A codec that cannot compress rejects anything else with UNSUPPORTED_FORMAT. */
  compression?: ExchangeCompression;
  /** zlib level for gzip (1-9) or brotli (0-11); the codec's default when absent. */
  level?: number;
  /** Free-form string-keyed data stored in the file where the format has room for it. */
  user?: Record<string, unknown>;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** Options of {@link ExchangeCodec.read}. */
export interface ExchangeReadOptions {
  /** Check the file's own checksum where it has one (default true). */
  verifyChecksum?: boolean;
  /**
   * Bomb guard for compressed input: decompressing to more bytes than this is a CorruptionError.
   * Default: none for whole-file compression (JSONL, MessagePack; a reader's one-entry window bounds
   * memory); Parquet pages: `decompressionCap` of src/format/stream/sources.ts (64 MiB + 256 x file size).
   */
  maxDecompressedBytes?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** What a codec wrote. */
export interface ExchangeWriteResult {
  /** The main file (formats that write more than one file list the others in `files`). */
  path: string;
  /** Every file written, main file first. */
  files: string[];
  /** Bytes of all files written. */
  bytes: number;
  /** Entries written. */
  count: number;
  /** SHA-256 (lowercase hex) the format records for itself, when it records one. */
  checksum?: string;
}

/** A file read back: the entries as Columns plus what the file says about itself. */
export interface ImportedColumns {
  columns: Columns;
  /** True when the file named its metric (false: `columns.metric` is only a default, 'cosine'). */
  metricKnown: boolean;
  /** The `user` map the writer stored, {} when the format has none. */
  user: Record<string, unknown>;
  /** The file's recorded checksum, when it has one. */
  checksum?: string;
}

/** One interchange format. */
export interface ExchangeCodec {
  readonly format: ExchangeFormat;
  /** Compressions `write` accepts ('none' always first); reading detects compression itself. */
  readonly compressions: readonly ExchangeCompression[];
  /** False for import-only formats (the reference systems). */
  readonly canWrite: boolean;
  /** True when `read` takes a file compressed as a whole (gzip or brotli) and decompresses it itself. */
  readonly readsCompressed: boolean;
  /** Conventional file name ending, with the dot, for a compression (e.g. '.jsonl.gz'). */
  extension(compression: ExchangeCompression): string;
  /**
   * True when the first bytes of a file (up to 4 KiB, fewer for short files; already decompressed
   * when the file was gzip or brotli) are this format. Directory formats are probed by path instead.
   */
  sniff(head: Uint8Array): boolean;
  /** Streams `image` to `path`, published atomically (temp file, fsync, rename, directory fsync). */
  write(fs: FileSystem, path: string, image: CollectionImage, options?: ExchangeWriteOptions): Promise<ExchangeWriteResult>;
  /**
   * Reads the whole file into Columns, validating as it goes: every problem is a QuiverError or
   * CorruptionError that names the file. Never returns partial data.
   */
  read(fs: FileSystem, path: string, options?: ExchangeReadOptions): Promise<ImportedColumns>;
}

/** The metric a file without one is read as. */
export const DEFAULT_IMPORT_METRIC: Metric = 'cosine';
