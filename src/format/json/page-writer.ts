/**
 * Formats a document into two alternating pages (one being written while the other fills) and feeds
 * the bytes to a running SHA-256 until `digest()` (the checksum covers everything before it).
 */
import { createHash, type Hash } from 'node:crypto';
import type { TextSink } from '../stream/sink.js';

const PAGE_SIZE = 1 << 20;

/** Page-buffered, hashing writer of document bytes. */
export class PageWriter {
  /** The page being filled; callers write at `pos` after `room(n)`. */
  page: Buffer;
  pos = 0;
  private other: Buffer;
  private otherBusy: Promise<void> = Promise.resolve();
  private hash: Hash | undefined = createHash('sha256');
  private hashedTo = 0;

  constructor(private readonly sink: TextSink, pageSize = PAGE_SIZE) {
    this.page = Buffer.allocUnsafe(pageSize);
    this.other = Buffer.allocUnsafe(pageSize);
  }

  /** Ensures `n` bytes of room at `pos` (flushing, and growing the page for outsized items). */
  async room(n: number): Promise<void> {
    if (this.pos + n <= this.page.length) return;
    await this.flush();
    if (n > this.page.length) this.page = Buffer.allocUnsafe(n);
  }

  /** Hands the filled part of the page to the sink and switches pages. */
  async flush(): Promise<void> {
    if (this.pos === 0) return;
    this.hashPage();
    const full = this.page;
    // One write in flight at a time: the other page's write must finish before this one starts.
    await this.otherBusy;
    const written = this.sink.write(full.subarray(0, this.pos));
    // Marked handled now; a failure still surfaces when the promise is awaited at the next flush or drain.
    written.catch(() => undefined);
    this.otherBusy = written;
    this.page = this.other;
    this.other = full;
    this.pos = 0;
    this.hashedTo = 0;
  }

  /** Waits for every handed-over page to be written. */
  async drain(): Promise<void> {
    await this.flush();
    await this.otherBusy;
  }

  /** Writes a string as UTF-8. */
  async text(s: string): Promise<void> {
    if (s.length * 3 <= PAGE_SIZE) {
      await this.room(s.length * 3);
      this.pos += this.page.write(s, this.pos, 'utf8');
      return;
    }
    const bytes = Buffer.from(s, 'utf8');
    for (let off = 0; off < bytes.length; off += PAGE_SIZE) {
      const part = bytes.subarray(off, Math.min(bytes.length, off + PAGE_SIZE));
      await this.room(part.length);
      this.page.set(part, this.pos);
      this.pos += part.length;
    }
  }

  /** Writes a short ASCII string into room already ensured. */
  ascii(s: string): void {
    const page = this.page;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) page[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  private hashPage(): void {
    if (this.hash && this.pos > this.hashedTo) this.hash.update(this.page.subarray(this.hashedTo, this.pos));
    this.hashedTo = this.pos;
  }

  /** Ends the hashed part of the document here and returns its SHA-256 (hex). */
  digest(): string {
    this.hashPage();
    const hex = this.hash!.digest('hex');
    this.hash = undefined;
    return hex;
  }
}
