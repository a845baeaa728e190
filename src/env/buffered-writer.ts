/**
 * Sequential writer over a FileHandle: coalesces small writes into large ones, passes large buffers
 * straight through, tracks the byte position and (optionally) feeds every byte to a running hash.
 */
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from './fs.js';

const DEFAULT_BUFFER = 1 << 20;

/**
 * Buffers writes to `handle`, starting at `start`. Call `flush()` before syncing or closing. One caller at
 * a time: await each `write` before the next (positions advance only after the await).
 */
export class BufferedWriter {
  private buf: Buffer;
  private used = 0;
  private pos: number;
  private hash: Hash | undefined;

  constructor(private readonly handle: FileHandle, start = 0, bufferSize = DEFAULT_BUFFER) {
    this.buf = Buffer.allocUnsafe(bufferSize);
    this.pos = start;
  }

  /** Bytes written so far (including buffered ones), as an absolute file position. */
  get position(): number {
    return this.pos + this.used;
  }

  /** Starts hashing every byte written from now on with SHA-256. */
  startHash(): void {
    this.hash = createHash('sha256');
  }

  /** Stops hashing and returns the digest of the bytes written since `startHash`. */
  endHash(): Buffer {
    if (!this.hash) throw new Error('endHash without startHash');
    const d = this.hash.digest();
    this.hash = undefined;
    return d;
  }

  async write(data: Uint8Array): Promise<void> {
    this.hash?.update(data);
    if (data.length >= this.buf.length) {
      await this.flush();
      await this.handle.write(data, this.pos);
      this.pos += data.length;
      return;
    }
    if (this.used + data.length > this.buf.length) await this.flush();
    this.buf.set(data, this.used);
    this.used += data.length;
  }

  /** Writes a string as UTF-8. */
  writeString(s: string): Promise<void> {
    return this.write(Buffer.from(s, 'utf8'));
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const chunk = this.buf.subarray(0, this.used);
    await this.handle.write(chunk, this.pos);
    this.pos += this.used;
    // The handle may still hold a reference to the chunk until the write settles; it has, so reuse is safe.
    this.used = 0;
  }
}
