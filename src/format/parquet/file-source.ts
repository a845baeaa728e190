/**
 * Random access to a Parquet file through the FileSystem seam: exact range reads, hyparquet's
 * AsyncBuffer (served from ranges the reader has already read and checked, so nothing is read twice),
 * and a window over one column chunk whose first read starts as soon as it is opened (so a row group's
 * chunks are all in flight together).
 */
import type { AsyncBuffer } from 'hyparquet';
import { CorruptionError, ioError } from '../../errors.js';
import type { FileHandle } from '../../env/fs.js';

/** Most bytes of a column chunk held at once by a {@link ChunkWindow}. */
const WINDOW_BYTES = 64 << 20;

/** An open Parquet file of known size. */
export class ParquetFile implements AsyncBuffer {
  private readonly primed = new Map<number, { end: number; bytes: ArrayBuffer }>();

  constructor(private readonly handle: FileHandle, readonly file: string, readonly byteLength: number) {}

  /** Reads exactly [start, end) into fresh memory, or into the front of `into` when it is large enough. */
  async read(start: number, end: number, into?: Uint8Array): Promise<Uint8Array> {
    const out = into && into.length >= end - start ? into.subarray(0, end - start) : new Uint8Array(Buffer.allocUnsafeSlow(end - start).buffer);
    let got = 0;
    while (got < out.length) {
      let n: number;
      try {
        n = await this.handle.read(out, start + got, got, out.length - got);
      } catch (err) {
        throw ioError(err, 'read', this.file);
      }
      if (n <= 0) throw new CorruptionError({ file: this.file, section: 'file', offset: start + got }, 'the file ended early (it changed size while being read)');
      got += n;
    }
    return out;
  }

  /** Keeps `bytes` (the file's [start, start+length)) to answer hyparquet's next slice of that range. */
  prime(start: number, bytes: Uint8Array): void {
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
    this.primed.set(start, { end: start + bytes.length, bytes: own });
  }

  /** Forgets every primed range. */
  clearPrimed(): void {
    this.primed.clear();
  }

  /** AsyncBuffer: a primed range when it matches exactly, else a fresh read. */
  async slice(start: number, end: number = this.byteLength): Promise<ArrayBuffer> {
    const p = this.primed.get(start);
    if (p && p.end === end) return p.bytes;
    if (!(start >= 0 && start <= end && end <= this.byteLength)) {
      throw new CorruptionError({ file: this.file, section: 'file', offset: start }, `a column chunk [${start}, ${end}) lies outside the file's ${this.byteLength} bytes`);
    }
    return (await this.read(start, end)).buffer as ArrayBuffer;
  }
}

/**
 * A moving window over one column chunk [start, end). The first window is read as soon as the object is
 * made; later windows start where the caller asks.
 */
export class ChunkWindow {
  private bytes: Uint8Array = new Uint8Array(0);
  private at: number;
  private first: Promise<Uint8Array> | undefined;

  private constructor(private readonly pf: ParquetFile, readonly start: number, readonly end: number, first: Promise<Uint8Array>, private readonly reuse: Uint8Array | undefined) {
    first.catch(() => undefined);
    this.first = first;
    this.at = start;
  }

  /**
   * Reads up to 64 MiB at a time. `reuse`, when given, is memory the window may read into (untouched by
   * others until the window is done); {@link memory} hands it on to the next window.
   */
  static open(pf: ParquetFile, start: number, end: number, reuse?: Uint8Array): ChunkWindow {
    return new ChunkWindow(pf, start, end, pf.read(start, Math.min(end, start + WINDOW_BYTES), reuse), reuse);
  }

  /** Reads the whole chunk at once into `into` (at least end - start bytes long). */
  static whole(pf: ParquetFile, start: number, end: number, into: Uint8Array): ChunkWindow {
    return new ChunkWindow(pf, start, end, pf.read(start, end, into), undefined);
  }

  /** The chunk's bytes [pos, pos+len) (a view valid until the next call). */
  async get(pos: number, len: number): Promise<Uint8Array> {
    if (this.first) {
      this.bytes = await this.first;
      this.first = undefined;
    }
    const off = pos - this.at;
    if (off >= 0 && off + len <= this.bytes.length) return this.bytes.subarray(off, off + len);
    const stop = Math.min(this.end, Math.max(pos + len, pos + WINDOW_BYTES));
    this.bytes = await this.pf.read(pos, stop, this.reuse);
    this.at = pos;
    return this.bytes.subarray(0, len);
  }

  /** Bytes from `pos` to the end of the current window (at least `min` when the chunk has them). */
  async peek(pos: number, min: number): Promise<Uint8Array> {
    const want = Math.min(min, this.end - pos);
    await this.get(pos, want);
    const off = pos - this.at;
    return this.bytes.subarray(off);
  }

  /** The reusable memory this window read into, for the next window once this one is done. */
  memory(): Uint8Array | undefined {
    if (this.bytes.length === 0 || !this.reuse) return this.reuse;
    return this.bytes.buffer === this.reuse.buffer ? this.reuse : new Uint8Array(this.bytes.buffer, 0, this.bytes.buffer.byteLength);
  }

  /** Waits for a read still in flight (so no read outlives the file handle). */
  async settle(): Promise<void> {
    if (this.first) await this.first.catch(() => undefined);
  }
}
