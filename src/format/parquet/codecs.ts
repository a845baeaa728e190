/**
 * Page decompression for foreign Parquet files (QuiverDB writes uncompressed pages). SNAPPY through
 * hyparquet's decoder, GZIP and BROTLI through node:zlib, ZSTD when this Node.js has it. Every page's
 * declared size is charged to one budget for the whole file before anything is allocated: the bomb guard.
 */
import * as zlib from 'node:zlib';
import type { CompressionCodec, Compressors } from 'hyparquet';
import { snappyUncompress } from 'hyparquet/src/snappy.js';
import { CorruptionError, QuiverError } from '../../errors.js';

type Decoder = (input: Uint8Array, outputLength: number) => Uint8Array;

const zstd = (zlib as unknown as { zstdDecompressSync?: (b: Uint8Array, o: { maxOutputLength: number }) => Buffer }).zstdDecompressSync;

const DECODERS: Partial<Record<CompressionCodec, Decoder>> = {
  SNAPPY: (input, size) => {
    const out = new Uint8Array(size);
    snappyUncompress(input, out);
    return out;
  },
  GZIP: (input, size) => zlib.unzipSync(input, { maxOutputLength: Math.max(1, size) }),
  BROTLI: (input, size) => zlib.brotliDecompressSync(input, { maxOutputLength: Math.max(1, size) }),
  ...(zstd ? { ZSTD: (input: Uint8Array, size: number) => zstd(input, { maxOutputLength: Math.max(1, size) }) } : {}),
};

/** Throws UNSUPPORTED_FORMAT when pages compressed with `codec` cannot be read here. */
export function checkCodec(codec: CompressionCodec | undefined, file: string, column: string): void {
  if (codec === 'UNCOMPRESSED' || (codec !== undefined && DECODERS[codec])) return;
  const supported = ['UNCOMPRESSED', ...Object.keys(DECODERS)].join(', ');
  throw new QuiverError(
    'UNSUPPORTED_FORMAT',
    `${file}: column "${column}" uses ${String(codec)} page compression, which this reader cannot decompress (supported: ${supported}). Rewrite the file with one of those, e.g. DuckDB COPY ... (FORMAT parquet, COMPRESSION snappy).`,
    { file, codec },
  );
}

/** Decompresses pages against one budget of decompressed bytes for the whole file. */
export class Inflater {
  private used = 0;

  constructor(private readonly file: string, private readonly cap: number) {}

  /** Decompresses one page body to exactly `size` bytes. */
  inflate(codec: CompressionCodec, input: Uint8Array, size: number, section: string): Uint8Array {
    if (codec === 'UNCOMPRESSED') return input;
    const decode = DECODERS[codec];
    if (!decode) throw new QuiverError('UNSUPPORTED_FORMAT', `${this.file}: ${section} uses ${codec} page compression, which this reader cannot decompress.`);
    if (!(Number.isSafeInteger(size) && size >= 0)) throw new CorruptionError({ file: this.file, section }, `a page declares an uncompressed size of ${size}`);
    if (this.used + size > this.cap) {
      throw new CorruptionError({ file: this.file, section }, `its pages decompress to more than the allowed ${this.cap} bytes (pass a larger maxDecompressedBytes if the file is genuine)`);
    }
    this.used += size;
    let out: Uint8Array;
    try {
      out = decode(input, size);
    } catch (err) {
      throw new CorruptionError({ file: this.file, section }, `a ${codec} page cannot be decompressed (${(err as Error).message})`, 'CORRUPT', { cause: err });
    }
    if (out.length !== size) throw new CorruptionError({ file: this.file, section }, `a ${codec} page decompresses to ${out.length} bytes, not the ${size} its header declares`);
    return out;
  }

  /** The same decompressors for hyparquet, charging the same budget. */
  compressors(section: () => string): Compressors {
    const out: Compressors = {};
    for (const codec of Object.keys(DECODERS) as CompressionCodec[]) {
      out[codec] = (input, size) => this.inflate(codec, input, size, section());
    }
    return out;
  }
}
