/**
 * Formats a document into two alternating pages (one being written while the other fills) and feeds
 * the bytes to a running SHA-256 until `digest()` (the checksum covers everything before it).
 *
 * With `offloadHash` the SHA-256 runs on the helper thread: the pages are shared memory, and a page is
 * refilled only once both its write and its hash are done. The hash job keeps no bytes, so if the
 * thread stops mid-document the writer fails with HashThreadLostError and the document must be written
 * again, hashed here: writeWithHashRetry (env/hash-retry.ts) does that.
 */
import { createHash, type Hash } from 'node:crypto';
import { HashThreadLostError, startSha256, type Sha256Job } from '../../util/hash-worker.js';
import type { TextSink } from '../stream/sink.js';

const PAGE_SIZE = 1 << 20;

/** Options of {@link PageWriter}. */
export interface PageWriterOptions {
  /** Page size in bytes (default 1 MiB). */
  pageSize?: number;
  /** Hash on the helper thread when it can (see the module comment). */
  offloadHash?: boolean;
}

/** Page-buffered, hashing writer of document bytes. */
export class PageWriter {
  /** The page being filled; callers write at `pos` after `room(n)`. */
  page: Buffer;
  pos = 0;
  private other: Buffer;
  private otherBusy: Promise<void> = Promise.resolve();
  /** The hash computed here; undefined when offloaded or after `digest`. */
  private hash: Hash | undefined;
  /** The hash on the helper thread; undefined when local or after `digest`. */
  private job: Sha256Job | undefined;
  private hashedTo = 0;

  constructor(private readonly sink: TextSink, options: PageWriterOptions = {}) {
    if (options.offloadHash) {
      const job = startSha256({ offload: true, retainViews: false });
      if (job.offloaded) this.job = job;
      else job.abandon();
    }
    if (!this.job) this.hash = createHash('sha256');
    const size = options.pageSize ?? PAGE_SIZE;
    this.page = this.alloc(size);
    this.other = this.alloc(size);
  }

  /** True when the hash runs on the helper thread. */
  get offloaded(): boolean {
    return this.job !== undefined;
  }

  /** Ensures `n` bytes of room at `pos` (flushing, and growing the page for outsized items). */
  async room(n: number): Promise<void> {
    if (this.pos + n <= this.page.length) return;
    await this.flush();
    if (n > this.page.length) this.page = this.alloc(n);
  }

  /** Hands the filled part of the page to the sink and switches pages. */
  async flush(): Promise<void> {
    if (this.pos === 0) return;
    const hashed = this.hashPage();
    const full = this.page;
    // One write in flight at a time: the other page's write (and hash) must finish before this one starts.
    await this.otherBusy;
    const written = this.sink.write(full.subarray(0, this.pos));
    const busy = hashed === undefined ? written : Promise.all([written, hashed]).then(([, ok]) => {
      if (!ok) throw new HashThreadLostError();
    });
    // Marked handled now; a failure still surfaces when the promise is awaited at the next flush or drain.
    busy.catch(() => undefined);
    this.otherBusy = busy;
    this.page = this.other;
    this.other = full;
    this.pos = 0;
    this.hashedTo = 0;
  }

  /**
   * Writes `bytes` as the next document bytes without copying them into a page (the page so far goes
   * first). They must stay unchanged until `release` is called, once their write and hash are done;
   * with the hash offloaded only shared memory is adopted, other bytes are copied through pages.
   */
  async adopt(bytes: Uint8Array, release: () => void): Promise<void> {
    if (this.job && !(bytes.buffer instanceof SharedArrayBuffer)) {
      for (let off = 0; off < bytes.length; off += this.page.length) {
        const part = bytes.subarray(off, Math.min(bytes.length, off + this.page.length));
        await this.room(part.length);
        this.page.set(part, this.pos);
        this.pos += part.length;
      }
      release();
      return;
    }
    await this.flush();
    let hashed: Promise<boolean> | undefined;
    if (this.hash) this.hash.update(bytes);
    else if (this.job) {
      this.job.update(bytes);
      hashed = this.job.barrier();
    }
    await this.otherBusy;
    const written = this.sink.write(bytes);
    const busy = (hashed === undefined ? written : Promise.all([written, hashed]).then(([, ok]) => {
      if (!ok) throw new HashThreadLostError();
    })).then(release);
    busy.catch(() => undefined);
    this.otherBusy = busy;
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

  /** Ends the hashed part of the document here and returns its SHA-256 (hex). */
  async digest(): Promise<string> {
    this.hashPage();
    const { hash, job } = this;
    this.hash = undefined;
    this.job = undefined;
    if (hash) return hash.digest('hex');
    return (await (job as Sha256Job).digest()).toString('hex');
  }

  /**
   * After a failure: drops an offloaded hash (the thread skips its queued pages) and waits for the
   * write in flight to settle, so nothing lands in the file after this resolves.
   */
  async abort(): Promise<void> {
    this.job?.abandon();
    this.job = undefined;
    await this.otherBusy.catch(() => undefined);
  }

  private alloc(n: number): Buffer {
    return this.job ? Buffer.from(new SharedArrayBuffer(n)) : Buffer.allocUnsafe(n);
  }

  /** Hashes the page's bytes not hashed yet; with the helper, resolves when it has (false: thread lost). */
  private hashPage(): Promise<boolean> | undefined {
    if (this.pos <= this.hashedTo) return undefined;
    const view = this.page.subarray(this.hashedTo, this.pos);
    this.hashedTo = this.pos;
    if (this.hash) this.hash.update(view);
    if (!this.job) return undefined;
    this.job.update(view);
    return this.job.barrier();
  }
}
