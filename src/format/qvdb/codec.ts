/**
 * Per-section compression over node:zlib streams, chunk by chunk. Decompression is bounded by the
 * section's declared raw length: one byte more stops the stream at once (the zip-bomb guard).
 */
import { constants as Z, createBrotliCompress, createBrotliDecompress, createGunzip, createGzip, type BrotliOptions } from 'node:zlib';
import type { Transform } from 'node:stream';
import { QuiverError } from '../../errors.js';
import { Codec, DEFAULT_BROTLI_LEVEL, DEFAULT_GZIP_LEVEL, type CodecCode } from './constants.js';

/** Section compression as callers name it. */
export type Compression = 'none' | 'gzip' | 'brotli';

/** Resolves a compression name and optional level to a codec and a validated level. */
export function resolveCodec(compression: Compression | undefined, level: number | undefined): { codec: CodecCode; level: number } {
  const c = compression ?? 'none';
  const check = (min: number, max: number, dflt: number): number => {
    const l = level ?? dflt;
    if (!Number.isInteger(l) || l < min || l > max) {
      throw new QuiverError('INVALID_ARGUMENT', `compression level ${level} is invalid for ${c}; use an integer ${min}..${max}`, { compression: c, level });
    }
    return l;
  };
  if (c === 'none') return { codec: Codec.NONE, level: 0 };
  if (c === 'gzip') return { codec: Codec.GZIP, level: check(0, 9, DEFAULT_GZIP_LEVEL) };
  if (c === 'brotli') return { codec: Codec.BROTLI, level: check(0, 11, DEFAULT_BROTLI_LEVEL) };
  throw new QuiverError('INVALID_ARGUMENT', `unknown compression ${JSON.stringify(compression)}; use 'none', 'gzip' or 'brotli'`, { compression });
}

function compressor(codec: CodecCode, level: number): Transform {
  if (codec === Codec.GZIP) return createGzip({ level });
  const opts: BrotliOptions = { params: { [Z.BROTLI_PARAM_QUALITY]: level } };
  return createBrotliCompress(opts);
}

/** Waits for a chunk to be consumed by `z`, or for `z` to close (after destroy or error). */
function writeTo(z: Transform, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const onClose = (): void => resolve();
    z.once('close', onClose);
    z.write(chunk, () => {
      z.off('close', onClose);
      resolve();
    });
  });
}

function endOf(z: Transform): Promise<void> {
  return new Promise((resolve) => {
    if (z.destroyed) return resolve();
    z.once('close', resolve);
    z.once('end', resolve);
    z.end();
  });
}

/** Streams raw bytes through a compressor, handing compressed output to `out` in order. */
export class CompressStream {
  private readonly z: Transform;
  private queue: Buffer[] = [];
  private error: unknown;

  constructor(codec: CodecCode, level: number, private readonly out: (chunk: Uint8Array) => Promise<void>) {
    this.z = compressor(codec, level);
    this.z.on('data', (b: Buffer) => this.queue.push(b));
    this.z.on('error', (err) => {
      this.error = err;
    });
  }

  /** Compresses one chunk and writes whatever output it produced. */
  async write(chunk: Uint8Array): Promise<void> {
    await writeTo(this.z, chunk);
    await this.drain();
  }

  /** Flushes the compressor's tail. */
  async end(): Promise<void> {
    await endOf(this.z);
    await this.drain();
  }

  /** Stops the compressor (on abort or failure). */
  destroy(): void {
    this.z.destroy();
  }

  private async drain(): Promise<void> {
    if (this.error) throw this.error;
    while (this.queue.length > 0) {
      const q = this.queue;
      this.queue = [];
      for (const b of q) await this.out(b);
    }
  }
}

/** Thrown by DecompressStream when output exceeds or falls short of the declared raw length. */
export class RawLengthError extends Error {
  constructor(message: string, readonly produced: number) {
    super(message);
  }
}

/**
 * Streams stored bytes through a decompressor; each output chunk goes to `onOutput` synchronously, at
 * most `rawLength` bytes in all. Errors (corrupt stream, bound exceeded, thrown by `onOutput`) stop the
 * stream and are rethrown by `write`/`end`.
 */
export class DecompressStream {
  private readonly z: Transform;
  private produced = 0;
  private error: unknown;

  constructor(codec: CodecCode, private readonly rawLength: number, private readonly onOutput: (chunk: Uint8Array) => void) {
    this.z = codec === Codec.GZIP ? createGunzip() : createBrotliDecompress();
    this.z.on('data', (b: Buffer) => this.take(b));
    this.z.on('error', (err) => this.stop(err));
  }

  /** Bytes of output delivered so far. */
  get outputBytes(): number {
    return this.produced;
  }

  /** Feeds stored bytes. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.error === undefined) await writeTo(this.z, chunk);
    if (this.error !== undefined) throw this.error;
  }

  /** Ends the input and checks the output reached exactly the declared raw length. */
  async end(): Promise<void> {
    if (this.error === undefined) await endOf(this.z);
    if (this.error !== undefined) throw this.error;
    if (this.produced !== this.rawLength) throw new RawLengthError(`decompressed to ${this.produced} bytes, short of the declared ${this.rawLength}`, this.produced);
  }

  /** Stops decompressing (idempotent). */
  destroy(): void {
    this.z.destroy();
  }

  private take(b: Buffer): void {
    if (this.error !== undefined) return;
    if (this.produced + b.length > this.rawLength) {
      this.stop(new RawLengthError(`decompresses beyond its declared raw length of ${this.rawLength} bytes`, this.produced + b.length));
      return;
    }
    this.produced += b.length;
    try {
      this.onOutput(b);
    } catch (err) {
      this.stop(err);
    }
  }

  private stop(err: unknown): void {
    if (this.error === undefined) this.error = err;
    this.z.destroy();
  }
}
