/**
 * Byte sources for the streaming readers: a plain file (positional reads with one read kept in
 * flight ahead of the parser), a gzip/brotli-compressed file (a node:zlib stream, with a cap on the
 * decompressed size as the bomb guard) and an in-memory list of chunks (tests split documents at
 * every byte with it).
 */
import { createBrotliDecompress, createGunzip } from 'node:zlib';
import type { Transform } from 'node:stream';
import { CorruptionError, QuiverError, ioError } from '../../errors.js';
import type { FileHandle } from '../../env/fs.js';

/** A pull source of document bytes. */
export interface ByteSource {
  /** Copies up to `length` (> 0) bytes into `into[offset..]`; returns how many, 0 at the end of data. */
  read(into: Uint8Array, offset: number, length: number): Promise<number>;
  /** Bytes of the underlying file consumed so far (progress is reported in these). */
  readonly consumed: number;
  /** Releases resources; safe to call more than once and after errors. */
  close(): Promise<void>;
}

/** Compression of a whole file. */
export type JsonCompression = 'none' | 'gzip' | 'brotli';

const READ_SIZE = 1 << 22;

/** Reads a file front to back, keeping the next read in flight while the caller parses. */
class FileSource implements ByteSource {
  consumed = 0;
  private filePos = 0;
  private ahead: Promise<number> | undefined;
  private spare = new Uint8Array(READ_SIZE);
  private spareLen = 0;
  private spareOff = 0;

  constructor(private readonly handle: FileHandle, private readonly size: number, private readonly file: string) {}

  private startAhead(): void {
    if (this.ahead || this.filePos >= this.size) return;
    const want = Math.min(READ_SIZE, this.size - this.filePos);
    const at = this.filePos;
    this.ahead = this.handle.read(this.spare, at, 0, want).then(
      (n) => n,
      (err: unknown) => {
        throw ioError(err, 'read', this.file);
      },
    );
    // Marked handled now: the parser may fail (and close) before it awaits this read.
    this.ahead.catch(() => undefined);
  }

  async read(into: Uint8Array, offset: number, length: number): Promise<number> {
    if (this.spareOff < this.spareLen) {
      const n = Math.min(length, this.spareLen - this.spareOff);
      into.set(this.spare.subarray(this.spareOff, this.spareOff + n), offset);
      this.spareOff += n;
      if (this.spareOff === this.spareLen) this.startAhead();
      return n;
    }
    if (this.ahead) {
      const n = await this.ahead;
      this.ahead = undefined;
      this.filePos += n;
      this.consumed = this.filePos;
      this.spareLen = n;
      this.spareOff = 0;
      if (n === 0) return 0;
      return this.read(into, offset, length);
    }
    if (this.filePos >= this.size) return 0;
    // Large requests go straight into the caller's buffer; the next chunk is fetched meanwhile.
    const want = Math.min(length, this.size - this.filePos);
    let n: number;
    try {
      n = await this.handle.read(into, this.filePos, offset, want);
    } catch (err) {
      throw ioError(err, 'read', this.file);
    }
    this.filePos += n;
    this.consumed = this.filePos;
    if (n > 0) this.startAhead();
    return n;
  }

  async close(): Promise<void> {
    if (this.ahead) await this.ahead.catch(() => undefined);
    this.ahead = undefined;
  }
}

/** Feeds a file through a zlib decompressor and hands out its output. */
class InflateSource implements ByteSource {
  consumed = 0;
  private readonly z: Transform;
  private readonly out: AsyncIterator<Buffer>;
  private cur: Uint8Array | undefined;
  private curOff = 0;
  private produced = 0;
  private readonly feeding: Promise<void>;
  private closed = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly size: number,
    private readonly kind: 'gzip' | 'brotli',
    private readonly maxBytes: number | undefined,
    private readonly file: string,
  ) {
    this.z = kind === 'gzip' ? createGunzip({ chunkSize: 1 << 18 }) : createBrotliDecompress({ chunkSize: 1 << 18 });
    this.out = this.z[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    this.feeding = this.feed().catch((err: unknown) => {
      this.z.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  }

  private async feed(): Promise<void> {
    let pos = 0;
    while (pos < this.size && !this.closed) {
      const chunk = new Uint8Array(Math.min(READ_SIZE, this.size - pos));
      let n: number;
      try {
        n = await this.handle.read(chunk, pos, 0, chunk.length);
      } catch (err) {
        throw ioError(err, 'read', this.file);
      }
      if (n === 0) break;
      pos += n;
      this.consumed = pos;
      if (this.closed) return;
      if (!this.z.write(chunk.subarray(0, n))) {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.z.off('drain', done);
            this.z.off('close', done);
            resolve();
          };
          this.z.on('drain', done);
          this.z.on('close', done);
        });
      }
    }
    if (!this.closed) this.z.end();
  }

  private corrupt(problem: string, cause?: unknown): CorruptionError {
    return new CorruptionError({ file: this.file, section: `${this.kind} stream` }, problem, 'CORRUPT', { cause });
  }

  async read(into: Uint8Array, offset: number, length: number): Promise<number> {
    while (!this.cur || this.curOff >= this.cur.length) {
      let r: IteratorResult<Buffer>;
      try {
        r = await this.out.next();
      } catch (err) {
        if (err instanceof QuiverError) throw err;
        throw this.corrupt(`the ${this.kind} data cannot be decompressed (${(err as Error).message})`, err);
      }
      if (r.done) return 0;
      this.cur = r.value;
      this.curOff = 0;
      this.produced += r.value.length;
      if (this.maxBytes !== undefined && this.produced > this.maxBytes) {
        throw this.corrupt(`it decompresses to more than the allowed ${this.maxBytes} bytes (a decompression bomb, or a file bigger than the cap: if you trust it, pass a larger maxDecompressedBytes)`);
      }
    }
    const n = Math.min(length, this.cur.length - this.curOff);
    into.set(this.cur.subarray(this.curOff, this.curOff + n), offset);
    this.curOff += n;
    return n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.z.destroy();
    await this.feeding;
  }
}

/** Serves fixed chunks (tests use it to split documents at chosen byte positions). */
class ChunkSource implements ByteSource {
  consumed = 0;
  private i = 0;
  private off = 0;

  constructor(private readonly chunks: readonly Uint8Array[]) {}

  async read(into: Uint8Array, offset: number, length: number): Promise<number> {
    while (this.i < this.chunks.length && this.off >= this.chunks[this.i].length) {
      this.i++;
      this.off = 0;
    }
    if (this.i >= this.chunks.length) return 0;
    const c = this.chunks[this.i];
    const n = Math.min(length, c.length - this.off);
    into.set(c.subarray(this.off, this.off + n), offset);
    this.off += n;
    this.consumed += n;
    return n;
  }

  async close(): Promise<void> {}
}

/** A source over an open file of `size` bytes, decompressing when asked. */
export function fileByteSource(handle: FileHandle, size: number, file: string, compression: JsonCompression, maxDecompressedBytes?: number): ByteSource {
  if (compression === 'none') return new FileSource(handle, size, file);
  return new InflateSource(handle, size, compression, maxDecompressedBytes, file);
}

/** A source that returns `chunks` one at a time (a read never spans two chunks). */
export function chunkByteSource(chunks: readonly Uint8Array[]): ByteSource {
  return new ChunkSource(chunks);
}

/** Decompressed bytes allowed for every compressed byte by Parquet's default cap (gzip's own ceiling is about 1032). */
export const DEFAULT_EXPANSION_LIMIT = 256;
/** Decompressed bytes Parquet's default cap always allows, whatever the compressed size. */
export const DEFAULT_EXPANSION_FLOOR = 64 * 1024 * 1024;

/**
 * The caller's `maxDecompressedBytes`, checked (a non-negative number, or undefined: no cap). Whole-file
 * compressed readers (JSON, JSONL, MessagePack, reference-000) have no default cap: QuiverDB's own files of
 * zero or sparse vectors decompress 250x (gzip) to thousands of times (brotli), past any ratio a bomb guard
 * could use, and their read window (one entry, at most MAX_WINDOW_BYTES) bounds the memory a bomb takes.
 */
export function checkedCap(maxDecompressedBytes: number | undefined): number | undefined {
  if (maxDecompressedBytes !== undefined && !(maxDecompressedBytes >= 0)) throw new QuiverError('INVALID_ARGUMENT', 'maxDecompressedBytes must be a non-negative number of bytes.');
  return maxDecompressedBytes;
}

/**
 * Parquet's decompression cap for a file of `compressedSize` bytes: the caller's `maxDecompressedBytes`
 * when given, else 64 MiB plus 256 bytes per compressed byte. Unlike the whole-file readers, the Parquet
 * reader sizes its vector column from the row count the footer declares, so it needs a bound to check
 * that count against before allocating.
 */
export function decompressionCap(compressedSize: number, maxDecompressedBytes?: number): number {
  return checkedCap(maxDecompressedBytes) ?? DEFAULT_EXPANSION_FLOOR + DEFAULT_EXPANSION_LIMIT * compressedSize;
}
