/**
 * Every interchange codec in one list, and the operations over it: pick a codec by name, recognise a
 * file's format from its bytes (never its name), export an image, import a file into Columns, and
 * convert a file from any readable format to any writable one.
 */
import { QuiverError, ioError } from '../errors.js';
import type { FileSystem } from '../env/fs.js';
import type { CollectionImage } from '../engine/types.js';
import { probeHead } from '../format/detect.js';
import type { ExchangeCodec, ExchangeCompression, ExchangeFormat, ExchangeReadOptions, ExchangeWriteOptions, ExchangeWriteResult, ImportedColumns } from '../format/exchange.js';
import { binaryCodec, jsonCodec } from './native-codecs.js';
import { parquetCodec } from '../format/parquet/index.js';
import { npyCodec } from '../format/npy/index.js';
import { sqliteCodec } from '../format/sqlite/index.js';
import { msgpackCodec } from '../format/msgpack/index.js';
import { jsonlCodec } from '../format/jsonl/index.js';
import { reference000Codec, reference004Codec } from '../format/reference/index.js';
import { columnsImage } from './columns-image.js';

/** Codecs in sniffing order: formats with unambiguous magic first, then the JSON-text family. */
const CODECS: readonly ExchangeCodec[] = [binaryCodec, sqliteCodec, parquetCodec, npyCodec, msgpackCodec, jsonlCodec, jsonCodec, reference000Codec, reference004Codec];

/** The formats this build knows, in sniffing order. */
export function exchangeFormats(): ExchangeFormat[] {
  return CODECS.map((c) => c.format);
}

/** The codec of `format`; UNSUPPORTED_FORMAT naming the known ones otherwise. */
export function codecFor(format: string): ExchangeCodec {
  const c = CODECS.find((k) => k.format === format);
  if (!c) throw new QuiverError('UNSUPPORTED_FORMAT', `Unknown format "${format}"; use one of ${exchangeFormats().join(', ')}.`, { format });
  return c;
}

/** A format guessed from a file name's ending (for choosing an export format); undefined when unclear. */
export function formatForPath(path: string): { format: ExchangeFormat; compression: ExchangeCompression } | undefined {
  const lower = path.toLowerCase();
  for (const codec of CODECS) {
    if (!codec.canWrite) continue;
    for (const c of [...codec.compressions].reverse()) {
      const ext = codec.extension(c);
      // A compression whose files are named like uncompressed ones (.qvdb compresses per section) is
      // never what a name says.
      if (c !== 'none' && ext === codec.extension('none')) continue;
      if (lower.endsWith(ext)) return { format: codec.format, compression: c };
    }
  }
  return undefined;
}

/**
 * Why a writer that picks its format from the name must refuse `path`, or undefined: a format's own
 * extension followed by a compression suffix that format is never written with (`x.parquet.gz`,
 * `db.qvdb.br`, `x.sqlite.gz`). Such a file would hold something its name denies; taken as "no format
 * named", it would silently get the writer's default format under that name. `how` says how to name
 * the format instead (the option, or the command-line flag).
 */
export function nameDenial(path: string, how: string): string | undefined {
  const m = /^(.*)\.(gz|br)$/i.exec(path);
  if (!m) return undefined;
  const inner = formatForPath(m[1]);
  if (inner === undefined || inner.compression !== 'none' || formatForPath(path)?.format === inner.format) return undefined;
  return `${inner.format} files are never compressed as a whole, so the name ${path} says something no file of that format is; name it ${m[1]} or ${how}`;
}

/** The name `path` would have for `compression` in `format`, when that format's names tell compressions apart. */
export function nameFor(path: string, format: ExchangeFormat, compression: ExchangeCompression): string | undefined {
  const codec = codecFor(format);
  const named = formatForPath(path);
  if (named?.format !== format || !codec.compressions.includes(compression)) return undefined;
  const from = codec.extension(named.compression);
  return path.slice(0, path.length - from.length) + codec.extension(compression);
}

async function isDirectory(fs: FileSystem, path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).isDirectory;
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') throw new QuiverError('NOT_FOUND', `No file or directory at ${path}.`, { path });
    throw ioError(err, 'stat', path);
  }
}

/** Recognises the format of the file (or reference directory) at `path` from its content. */
export async function detectExchangeFormat(fs: FileSystem, path: string): Promise<{ codec: ExchangeCodec; compression: ExchangeCompression }> {
  if (await isDirectory(fs, path)) {
    const dirCodec = CODECS.find((c) => c.format === 'reference-004');
    if (dirCodec) return { codec: dirCodec, compression: 'none' };
    throw new QuiverError('UNSUPPORTED_FORMAT', `${path} is a directory; give the path of a file.`, { path });
  }
  const probe = await probeHead(fs, path);
  if (probe.head.length === 0 && !probe.brotliHead) throw new QuiverError('UNSUPPORTED_FORMAT', `${path} is empty; it holds no database in any format.`, { path });
  for (const codec of CODECS) if (codec.sniff(probe.head)) return { codec, compression: probe.compression };
  if (probe.brotliHead) for (const codec of CODECS) if (codec.sniff(probe.brotliHead)) return { codec, compression: 'brotli' };
  throw new QuiverError('UNSUPPORTED_FORMAT', `${path} is in no format QuiverDB reads (${exchangeFormats().join(', ')}); name its format (the 'format' option; --format on the command line) if you know what it is.`, { path });
}

/** Options of {@link exportImage}. */
export interface ExportImageOptions extends ExchangeWriteOptions {
  format: ExchangeFormat;
}

/** Writes `image` to `path` in `format`. */
export async function exportImage(fs: FileSystem, path: string, image: CollectionImage, options: ExportImageOptions): Promise<ExchangeWriteResult> {
  const codec = codecFor(options.format);
  if (!codec.canWrite) throw new QuiverError('UNSUPPORTED_FORMAT', `Format '${codec.format}' can be imported but not written; export to another format.`, { format: codec.format });
  const compression = options.compression ?? 'none';
  if (!codec.compressions.includes(compression)) {
    throw new QuiverError('UNSUPPORTED_FORMAT', `Format '${codec.format}' cannot be written with ${compression} compression; use ${codec.compressions.join(' or ')}.`, { format: codec.format, compression });
  }
  return codec.write(fs, path, image, { ...options, compression });
}

/** Options of {@link importFile}. */
export interface ImportFileOptions extends ExchangeReadOptions {
  /** Skip detection and read as this format. */
  format?: ExchangeFormat;
}

/** Reads a file in any known format (detected unless given) into Columns; touches no database. */
export async function importFile(fs: FileSystem, path: string, options: ImportFileOptions = {}): Promise<ImportedColumns & { format: ExchangeFormat }> {
  let codec: ExchangeCodec;
  if (options.format) codec = codecFor(options.format);
  else {
    const found = await detectExchangeFormat(fs, path);
    codec = found.codec;
    // A whole-file compression the format cannot be read through (.qvdb, SQLite and Parquet need
    // random access, .npy is read raw): say so, rather than let the reader call the bytes damaged.
    if (found.compression !== 'none' && !codec.readsCompressed) {
      const tool = found.compression === 'gzip' ? 'gunzip' : 'brotli -d';
      throw new QuiverError('UNSUPPORTED_FORMAT', `${path} is a ${codec.format} file compressed as a whole with ${found.compression}; decompress it first (${tool}): ${codec.format} files are read uncompressed.`, { path, format: codec.format, compression: found.compression });
    }
  }
  const read = await codec.read(fs, path, options);
  return { ...read, format: codec.format };
}

/** Options of {@link convertFile}. */
export interface ConvertOptions extends ExchangeWriteOptions {
  /** Target format. */
  format: ExchangeFormat;
  /** Source format (detected when absent). */
  fromFormat?: ExchangeFormat;
  verifyChecksum?: boolean;
  maxDecompressedBytes?: number;
}

/**
 * Converts `from` into `to`: every id (with its type), bit-exact vector and metadata value is kept
 * (formats without metadata, such as a bare .npy, say so in their docs).
 */
export async function convertFile(fs: FileSystem, from: string, to: string, options: ConvertOptions): Promise<ExchangeWriteResult & { fromFormat: ExchangeFormat }> {
  const input = await importFile(fs, from, { format: options.fromFormat, verifyChecksum: options.verifyChecksum, maxDecompressedBytes: options.maxDecompressedBytes, signal: options.signal });
  const user = options.user ?? input.user;
  const written = await exportImage(fs, to, columnsImage(input.columns), { ...options, user });
  return { ...written, fromFormat: input.format };
}
