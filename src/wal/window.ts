/**
 * The read window of a log scan: one buffer reused for every chunk of every segment a reader visits,
 * so a long replay does not allocate (and the GC does not sweep) a fresh chunk per few megabytes.
 * Reusing it means bytes in the window are overwritten by the next read: decoders copy everything
 * they hand out (strings, vectors) before asking for more.
 */
import { QuiverError } from '../errors.js';
import type { FileHandle } from '../env/fs.js';
import type { CrcAhead } from './crc-ahead.js';

/** Default read size. */
export const DEFAULT_CHUNK = 4 * 1024 * 1024;

/** Reads exactly `into.length` bytes at `pos`; a file that got shorter meanwhile is an IO_ERROR. */
export async function readExactly(h: FileHandle, into: Buffer, pos: number, path: string): Promise<void> {
  let got = 0;
  while (got < into.length) {
    const n = await h.read(into, pos + got, got, into.length - got);
    if (n === 0) throw new QuiverError('IO_ERROR', `${path} became shorter while it was being read; make sure no other process writes this log`, { path });
    got += n;
  }
}

/** A read of the bytes right after the window, started before they are asked for. */
interface Prefetch {
  pos: number;
  length: number;
  /** Pooled buffer; the bytes land at [headroom, headroom + length). */
  into: Buffer;
  done: Promise<void>;
}

/**
 * A window of one file's bytes that slides forward; attach it to each segment in turn. After each
 * fill it reads the next chunk ahead (into a second pooled buffer) so the file read overlaps the
 * decoding of the current chunk. Call `detach` before closing the file.
 */
export class ReadWindow {
  /** The window's bytes; [0, buf.length) hold the file's [start, start + buf.length). */
  buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private h: FileHandle | undefined;
  private size = 0;
  private path = '';
  /** At most two reusable buffers (one holds the window, the other takes the read ahead). */
  private pool: Buffer[] = [];
  private ahead: Prefetch | undefined;
  /** Room before prefetched bytes for the unread tail of the previous window (a partial record). */
  private readonly headroom: number;

  /**
   * With `crc`, the pooled buffers are shared memory, so that the helper thread can check the records'
   * CRCs in them, and each buffer's window is withdrawn from `crc` before its bytes change.
   */
  constructor(private readonly chunk: number = DEFAULT_CHUNK, readonly crc?: CrcAhead) {
    if (!Number.isSafeInteger(chunk) || chunk < 1) throw new RangeError(`chunkBytes must be a positive integer, got ${chunk}`);
    this.headroom = Math.max(4096, chunk >>> 2);
  }

  /** Points the window at another file (call `detach` for the previous one first). */
  attach(h: FileHandle, size: number, path: string): void {
    this.h = h;
    this.size = size;
    this.path = path;
    this.start = 0;
    this.buf = this.buf.subarray(0, 0);
  }

  /** Waits for a read ahead to finish (its result or error is dropped): the file may then be closed. */
  async detach(): Promise<void> {
    const a = this.ahead;
    this.ahead = undefined;
    if (a) await a.done.catch(() => undefined);
    this.h = undefined;
  }

  /**
   * The offset in `buf` of file bytes [pos, pos + n) when the window already holds them, else -1: the
   * synchronous fast path of {@link ensure} (a scan asks for every record; an await each costs more
   * than decoding the record).
   */
  at(pos: number, n: number): number {
    return pos >= this.start && pos + n <= this.start + this.buf.length ? pos - this.start : -1;
  }

  /**
   * Makes file bytes [pos, pos + n) available and returns their offset in `buf`. The caller has
   * checked pos + n <= size, so no buffer grows beyond what the file holds.
   */
  async ensure(pos: number, n: number): Promise<number> {
    const held = this.at(pos, n);
    if (held >= 0) return held;
    const end = this.start + this.buf.length;
    // Bytes of [pos, ...) already in the window are carried over instead of being read again.
    const keep = pos >= this.start && pos < end ? end - pos : 0;
    const a = this.ahead;
    this.ahead = undefined;
    if (a && a.pos === pos + keep && keep <= this.headroom && keep + a.length >= n) {
      await a.done;
      const from = pos - this.start;
      this.buf.copy(a.into, this.headroom - keep, from, from + keep);
      this.buf = a.into.subarray(this.headroom - keep, this.headroom + a.length);
    } else {
      if (a) await a.done.catch(() => undefined);
      await this.fill(pos, keep, Math.min(this.size - pos, Math.max(n, this.chunk)));
    }
    this.start = pos;
    this.readAhead();
    return 0;
  }

  /** Reads [pos, pos + want) into a buffer no read ahead is using, carrying `keep` bytes over. */
  private async fill(pos: number, keep: number, want: number): Promise<void> {
    const from = pos - this.start;
    // A pooled buffer that does not hold the current window, so the carried bytes survive; a record
    // bigger than the pool's buffers gets one of its own.
    const into = want <= this.chunk + this.headroom ? this.pooled(this.buf.buffer, want) : Buffer.allocUnsafe(want);
    if (keep > 0) this.buf.copy(into, 0, from, from + keep);
    // Forget the old range first: if the read fails, nothing stale can be served from the window.
    this.buf = this.buf.subarray(0, 0);
    await readExactly(this.h!, into.subarray(keep, want), pos + keep, this.path);
    this.buf = into.subarray(0, want);
  }

  /**
   * A pooled buffer of at least `need` bytes whose memory is not `busy`, about to be written. Buffers
   * are sized to what was needed, so reading small segments never allocates a whole chunk.
   */
  private pooled(busy: ArrayBufferLike, need: number): Buffer {
    const i = this.pool.findIndex((b) => b.buffer !== busy);
    if (i >= 0 && this.pool[i].length >= need) {
      // Its bytes are about to change.
      this.crc?.withdraw(this.pool[i].buffer);
      return this.pool[i];
    }
    const b = this.crc ? Buffer.from(new SharedArrayBuffer(need)) : Buffer.allocUnsafeSlow(need);
    if (i >= 0) {
      this.crc?.withdraw(this.pool[i].buffer);
      this.pool[i] = b;
    } else {
      this.pool.push(b);
    }
    return b;
  }

  private readAhead(): void {
    const pos = this.start + this.buf.length;
    if (pos >= this.size || this.h === undefined) return;
    const length = Math.min(this.chunk, this.size - pos);
    const into = this.pooled(this.buf.buffer, this.headroom + length);
    const done = readExactly(this.h, into.subarray(this.headroom, this.headroom + length), pos, this.path);
    // Awaited only if the bytes are needed; an error in an unneeded read must not go unhandled.
    done.catch(() => undefined);
    this.ahead = { pos, length, into, done };
  }
}
