/**
 * `readJsonState`: loads a JSON state file (full or delta) into columns, streaming. The caller says
 * which compression the file uses (src/format/detect.ts finds out from its bytes).
 */
import { CorruptionError, QuiverError, ioError } from '../../errors.js';
import type { Columns, DeltaColumns } from '../../engine/types.js';
import type { FileSystem } from '../../env/fs.js';
import type { ProgressCallback } from '../../util/progress.js';
import { foreignJsonError, MEMBER, validateHeader, type JsonStateHeader } from './header.js';
import type { ExchangeSourceOptions } from '../stream/exchange-io.js';
import { checkedCap, fileByteSource, type ByteSource, type JsonCompression } from '../stream/sources.js';
import { StateParser } from './state-parser.js';

/** Options of {@link readJsonState}. */
export interface ReadJsonStateOptions {
  compression: JsonCompression;
  /** Verify the SHA-256 checksum (default true). When false a missing checksum is accepted. */
  verifyChecksum?: boolean;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Compressed files only: decompressing to more bytes than this is a CorruptionError (bomb guard). */
  maxDecompressedBytes?: number;
  /** Helper threads parsing in parallel (0 or 1; default: 1 for big files on multi-core machines). */
  workers?: number;
}

/** A decoded state file: a full state or a delta, with its header and stored checksum (hex). */
export type JsonStateReadResult =
  | { kind: 'full'; header: JsonStateHeader; columns: Columns; checksum: string }
  | { kind: 'delta'; header: JsonStateHeader; delta: DeltaColumns; checksum: string };

/**
 * Options of {@link readJsonStateFrom} (the source-level entry point; tests feed split chunks): the
 * source options every codec takes (`sizeBound` also decides on the helper thread) and the helper's.
 */
export interface ReadJsonSourceOptions extends ExchangeSourceOptions {
  /** Helper threads parsing in parallel (0 or 1; default: 1 when `sizeBound` is big). */
  workers?: number;
  /** Smallest window remainder handed partly to the helper (tests lower it). */
  splitMinBytes?: number;
}

const COMPRESSIONS: readonly JsonCompression[] = ['none', 'gzip', 'brotli'];
const HEX64 = /^[0-9a-f]{64}$/;
/** Generous ratio of JSON to compressed size, used only to bound an up-front allocation. */
const HINT_RATIO = 20;
const MIN_WINDOW = 1 << 16;
const MAX_WINDOW = 1 << 22;

/** Loads the JSON state file at `path`. Damaged content → CorruptionError naming the JSON path and offset. */
export async function readJsonState(fs: FileSystem, path: string, opts: ReadJsonStateOptions): Promise<JsonStateReadResult> {
  if (!COMPRESSIONS.includes(opts?.compression)) {
    throw new QuiverError('INVALID_ARGUMENT', `compression must be one of ${COMPRESSIONS.join(', ')} (got ${String(opts?.compression)}); detect it with detectFormat.`);
  }
  const max = checkedCap(opts.maxDecompressedBytes);
  let handle;
  let size: number;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    throw ioError(err, 'open', path);
  }
  try {
    try {
      size = await handle.size();
    } catch (err) {
      throw ioError(err, 'stat', path);
    }
    // No default cap (see checkedCap): the one-entry window (MAX_WINDOW_BYTES) bounds memory instead.
    const source = fileByteSource(handle, size, path, opts.compression, max);
    try {
      const sizeBound = opts.compression === 'none' ? size : Math.min(max ?? Infinity, size * HINT_RATIO);
      // Small files get a small window; big ones 4 MB (it grows if one entry needs more).
      const windowSize = Math.max(MIN_WINDOW, Math.min(MAX_WINDOW, sizeBound + 1));
      return await readJsonStateFrom(source, {
        file: path,
        verifyChecksum: opts.verifyChecksum,
        sizeBound,
        windowSize,
        progressTotal: size,
        onProgress: opts.onProgress,
        signal: opts.signal,
        workers: opts.workers,
      });
    } finally {
      await source.close();
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Parses a state document from any byte source (see {@link readJsonState}). */
export async function readJsonStateFrom(source: ByteSource, opts: ReadJsonSourceOptions): Promise<JsonStateReadResult> {
  const verify = opts.verifyChecksum ?? true;
  const file = opts.file;
  const parsed = await new StateParser(source, {
    file,
    verifyChecksum: verify,
    windowSize: opts.windowSize,
    sizeBound: opts.sizeBound,
    progressTotal: opts.progressTotal,
    onProgress: opts.onProgress,
    signal: opts.signal,
    workers: opts.workers,
    splitMinBytes: opts.splitMinBytes,
  }).run();
  const { members, builder } = parsed;
  // A foreign JSON document (none of our identifying members) is not damage; say what it is.
  if (![MEMBER.format, MEMBER.formatVersion, MEMBER.kind, MEMBER.seq].some((k) => members.has(k))) throw foreignJsonError(file, members);
  const stored = parsed.storedChecksum;
  const at = { file, section: MEMBER.checksum, offset: parsed.checksumOffset };
  if (stored !== undefined && (typeof stored !== 'string' || !HEX64.test(stored))) throw new CorruptionError(at, 'the checksum must be 64 lowercase hex digits');
  if (verify) {
    if (stored === undefined) throw new CorruptionError({ file, section: MEMBER.checksum }, 'the "checksum" member is missing (load with verifyChecksum: false to skip verification)');
    if (parsed.computedChecksum !== stored) {
      throw new CorruptionError(at, `checksum mismatch: the file says ${String(stored)} but its content hashes to ${parsed.computedChecksum}`, 'CHECKSUM_MISMATCH');
    }
  }
  const header = validateHeader(file, members, { entries: builder.count, dimension: builder.dimension, hasVectors: parsed.hasVectors, hasDeleted: parsed.hasDeleted });
  const dimension = header.stats.dimension;
  const columns: Columns = {
    dimension,
    metric: header.stats.metric,
    ids: builder.ids,
    vectors: builder.count === 0 ? new Float32Array(0) : builder.finalVectors(),
    metadata: builder.metadata,
  };
  const checksum = (stored as string | undefined) ?? '';
  if (header.kind === 'full') return { kind: 'full', header, columns, checksum };
  for (let i = 0; i < parsed.deleted.length; i++) {
    const id = parsed.deleted[i];
    if (builder.has(id)) throw new CorruptionError({ file, section: `${MEMBER.deleted}[${i}]` }, `id ${JSON.stringify(id)} is both deleted and upserted`);
  }
  const delta: DeltaColumns = { ...columns, cleared: header.cleared === true, deletedIds: parsed.deleted };
  return { kind: 'delta', header, delta, checksum };
}
