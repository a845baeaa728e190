/**
 * Plumbing the MessagePack and JSONL codecs share: checking write options and images, the export
 * abort check, the extension names, and opening an input file with its compression found from its
 * bytes (gzip by its magic; otherwise plain when the codec's own sniff accepts the head; otherwise
 * brotli when a trial decompression of the head is accepted by the sniff).
 */
import { constants as Z, createBrotliDecompress } from 'node:zlib';
import { QuiverError, ioError } from '../../errors.js';
import type { CollectionImage } from '../../engine/types.js';
import { MAX_DIMENSION, METRICS } from '../../engine/validate.js';
import type { FileHandle, FileSystem } from '../../env/fs.js';
import { isPlainObject, jsonProblem } from '../../util/msgpack.js';
import type { ExchangeCompression, ExchangeReadOptions, ExchangeWriteOptions } from '../exchange.js';
import type { ProgressCallback } from '../../util/progress.js';
import { openFile } from './open-file.js';
import { DEFAULT_LEVEL, MAX_LEVEL } from './sink.js';
import { checkedCap, fileByteSource, type ByteSource } from './sources.js';
import { windowSizeFor } from './window.js';
import { throwIfAborted } from '../../util/abort.js';

/** Compressions both codecs write. */
export const EXCHANGE_COMPRESSIONS: readonly ExchangeCompression[] = ['none', 'gzip', 'brotli'];

/** Write options after validation. */
export interface CheckedWriteOptions {
  compression: ExchangeCompression;
  level: number;
  user: Record<string, unknown>;
}

/** Validates the options of a codec's `write` (INVALID_ARGUMENT naming the option). */
export function checkWriteOptions(options: ExchangeWriteOptions | undefined): CheckedWriteOptions {
  const o = options ?? {};
  const compression = o.compression ?? 'none';
  if (!EXCHANGE_COMPRESSIONS.includes(compression)) {
    throw new QuiverError('INVALID_ARGUMENT', `compression must be one of ${EXCHANGE_COMPRESSIONS.join(', ')} (got ${String(compression)}).`);
  }
  let level = 0;
  if (compression !== 'none') {
    level = o.level ?? DEFAULT_LEVEL[compression];
    if (!Number.isInteger(level) || level < 0 || level > MAX_LEVEL[compression]) {
      throw new QuiverError('INVALID_ARGUMENT', `${compression} level must be an integer from 0 to ${MAX_LEVEL[compression]} (got ${String(o.level)}).`);
    }
  }
  const user = o.user ?? {};
  if (!isPlainObject(user)) throw new QuiverError('INVALID_ARGUMENT', 'user must be a plain object of JSON values.');
  const problem = jsonProblem(user, 'user');
  if (problem) throw new QuiverError('INVALID_ARGUMENT', `user must be plain JSON: ${problem}.`);
  return { compression, level, user };
}

/** The image facts every reader insists on, checked before anything is written. */
export function checkImage(image: CollectionImage): void {
  if (!Number.isSafeInteger(image.dimension) || image.dimension < 1 || image.dimension > MAX_DIMENSION) {
    throw new QuiverError('INVALID_ARGUMENT', `The image dimension ${String(image.dimension)} is not an integer in 1..${MAX_DIMENSION}.`);
  }
  if (!METRICS.includes(image.metric)) throw new QuiverError('INVALID_ARGUMENT', `The image metric ${String(image.metric)} is not one of ${METRICS.join(', ')}.`);
  if (!Number.isSafeInteger(image.count) || image.count < 0 || image.ids.length < image.count || image.metadata.length < image.count) {
    throw new QuiverError('INVALID_ARGUMENT', `The image count ${String(image.count)} does not match its ids (${image.ids.length}) and metadata (${image.metadata.length}).`);
  }
}

/** Throws ABORTED when an export's signal fired (the target file is left as it was). */
export function checkExportAbort(signal: AbortSignal | undefined): void {
  throwIfAborted(signal, 'The export was cancelled; the target file (if any) is unchanged.');
}

/** `base` plus '.gz' / '.br' for a compression. */
export function extensionFor(base: string, compression: ExchangeCompression): string {
  return compression === 'gzip' ? `${base}.gz` : compression === 'brotli' ? `${base}.br` : base;
}

/** Generous ratio of decompressed to compressed size, used only to bound up-front allocations. */
const HINT_RATIO = 20;

/** Bytes of a file examined to detect its compression (the `head` handed to a sniff). */
export const HEAD_BYTES = 4096;

/**
 * The first (up to HEAD_BYTES) bytes `head` decompresses to as brotli, or undefined when it is not
 * brotli. Streamed and stopped early: a one-shot decompression with an output limit throws instead of
 * truncating when a few KB expand to more than the limit (as highly compressible data does).
 */
function brotliHead(head: Uint8Array): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const z = createBrotliDecompress({ finishFlush: Z.BROTLI_OPERATION_FLUSH });
    const parts: Buffer[] = [];
    let n = 0;
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      z.destroy();
      resolve(ok || n > 0 ? Buffer.concat(parts).subarray(0, HEAD_BYTES) : undefined);
    };
    z.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      n += chunk.length;
      if (n >= HEAD_BYTES) finish(true);
    });
    // A head cut from a longer stream ends early: what it produced so far is the answer.
    z.on('error', () => finish(false));
    z.on('end', () => finish(true));
    z.end(head);
  });
}

/**
 * The compression of a file whose first bytes are `head`: gzip by magic, 'none' when `sniff` accepts
 * the plain bytes, brotli when `sniff` accepts a trial decompression, else 'none' (the reader then
 * reports what is wrong with the bytes).
 */
export async function detectCompression(head: Uint8Array, sniff: (head: Uint8Array) => boolean): Promise<ExchangeCompression> {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (sniff(head)) return 'none';
  const inner = await brotliHead(head);
  return inner !== undefined && inner.length > 0 && sniff(inner) ? 'brotli' : 'none';
}

/** An input file opened for streaming. */
export interface ExchangeInput {
  source: ByteSource;
  /** Size of the file on disk. */
  size: number;
  compression: ExchangeCompression;
  /** Most bytes the source can produce: the file size, or the decompression cap (Infinity without one). */
  sizeBound: number;
  /**
   * A plausible bound for sizing buffers up front: the file size, or for compressed files 20 times
   * it (or the cap, when lower; buffers still grow past the hint if needed).
   */
  hintBound: number;
  close(): Promise<void>;
}

async function readHead(handle: FileHandle, size: number, path: string): Promise<Uint8Array> {
  const head = new Uint8Array(Math.min(HEAD_BYTES, size));
  let n = 0;
  try {
    while (n < head.length) {
      const got = await handle.read(head, n, n, head.length - n);
      if (got <= 0) break;
      n += got;
    }
  } catch (err) {
    throw ioError(err, 'read', path);
  }
  return head.subarray(0, n);
}

/** Opens `path`, detects its compression and returns a decompressing byte source with the bomb cap applied. */
export async function openExchangeInput(fs: FileSystem, path: string, sniff: (head: Uint8Array) => boolean, options: ExchangeReadOptions | undefined): Promise<ExchangeInput> {
  const max = checkedCap(options?.maxDecompressedBytes); // checked before any I/O
  throwIfAborted(options?.signal, `Loading ${path} was cancelled; nothing was changed.`);
  const { handle, size } = await openFile(fs, path);
  try {
    const compression = await detectCompression(await readHead(handle, size, path), sniff);
    const plain = compression === 'none';
    const source = fileByteSource(handle, size, path, compression, plain ? undefined : max);
    return {
      source,
      size,
      compression,
      sizeBound: plain ? size : (max ?? Infinity),
      hintBound: plain ? size : Math.min(max ?? Infinity, size * HINT_RATIO),
      async close() {
        await source.close().catch(() => undefined);
        await handle.close().catch(() => undefined);
      },
    };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

/** The source-level read options both codecs take (their `read…From` entry points add their own). */
export interface ExchangeSourceOptions {
  /** File name used in messages. */
  file: string;
  verifyChecksum?: boolean;
  /** Plausible upper bound of the bytes the source produces: caps capacity reserved up front (default: none). */
  sizeBound?: number;
  /** Progress units of the source's `consumed` (the file size). */
  progressTotal?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Initial window size in bytes. */
  windowSize?: number;
}

/**
 * Opens `path` with {@link openExchangeInput} and runs a codec's source-level reader over it with
 * the options derived from the file; the input is always closed afterwards.
 */
export async function readExchangeFile<T>(
  fs: FileSystem,
  path: string,
  sniff: (head: Uint8Array) => boolean,
  options: ExchangeReadOptions | undefined,
  read: (source: ByteSource, opts: ExchangeSourceOptions, input: ExchangeInput) => Promise<T>,
): Promise<T> {
  const input = await openExchangeInput(fs, path, sniff, options);
  try {
    const opts: ExchangeSourceOptions = {
      file: path,
      verifyChecksum: options?.verifyChecksum,
      sizeBound: input.hintBound,
      progressTotal: input.size,
      onProgress: options?.onProgress,
      signal: options?.signal,
      windowSize: windowSizeFor(input.sizeBound),
    };
    return await read(input.source, opts, input);
  } finally {
    await input.close();
  }
}

/** `"id"` or `7` for messages. */
export function idLabel(id: string | number): string {
  return typeof id === 'string' ? JSON.stringify(id) : String(id);
}
