/**
 * The byte window a streaming JSON parser works on: `buf[0..end)` holds document bytes starting at
 * document offset `base`, with a 0 sentinel at `buf[end]`. Bytes before `mark` are committed (parsed
 * for good); `refill` hashes them, drops them, keeps the uncommitted tail, grows the window when that
 * tail fills more than half of it, and reads until the window is full or the source ends.
 */
import { createHash, type Hash } from 'node:crypto';
import { ProgressReporter, type ProgressCallback } from '../../util/progress.js';
import type { ByteSource } from '../stream/sources.js';
import { NEED_MORE } from './tokenizer.js';
import { throwIfAborted } from '../../util/abort.js';
import { CorruptionError } from '../../errors.js';

/**
 * Largest window: one entry (with the whitespace around it) longer than this is refused as damage.
 * No writer makes one (a 65,536-d vector is ~1 MB of text; metadata of tens of MB is accepted), and
 * a run of whitespace from a crafted file would otherwise grow the window until memory or the 4 GiB
 * typed-array limit ran out.
 */
export const MAX_WINDOW_BYTES = 512 << 20;

/** Options of {@link ByteWindow}. */
export interface ByteWindowOptions {
  /** File name used in messages. */
  file: string;
  /** Hash the committed bytes with SHA-256. */
  verifyChecksum: boolean;
  /** Initial window size in bytes (default 4 MB). */
  windowSize?: number;
  /** Total progress units (file bytes) for the progress reporter (default 0). */
  progressTotal?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** A refillable, hashing window over a ByteSource. */
export class ByteWindow {
  protected buf: Uint8Array;
  protected end = 0;
  protected pos = 0;
  protected mark = 0;
  /** Absolute document offset of buf[0]. */
  protected base = 0;
  protected eof = false;
  private readonly hash: Hash | undefined;
  private hashedTo = 0;
  /** Absolute offset where hashing stops (the comma before "checksum"); -1 until known. */
  protected hashLimit = -1;
  protected readonly progress: ProgressReporter;
  /** The parser's state: which unit comes next (each parser numbers its own states, starting at 0). */
  protected state = 0;

  constructor(private readonly source: ByteSource, private readonly windowOpts: ByteWindowOptions) {
    this.buf = new Uint8Array((windowOpts.windowSize ?? 1 << 22) + 1);
    this.hash = windowOpts.verifyChecksum ? createHash('sha256') : undefined;
    this.progress = new ProgressReporter('load', windowOpts.progressTotal ?? 0, windowOpts.onProgress);
  }

  /** Marks the bytes before window offset `pos` as parsed for good, and moves to `state`. */
  protected commit(pos: number, state = this.state): void {
    this.pos = this.mark = pos;
    this.state = state;
  }

  /**
   * Runs a parser's resumable `step` over the window. When it runs into the window's end (throws
   * NEED_MORE) the position goes back to the last commit, where the next call resumes after a refill;
   * any other error goes through `problem` (which names the file, section and offset) and is thrown.
   */
  protected parseResumable(step: () => void, problem: (err: unknown) => unknown): void {
    try {
      step();
    } catch (err) {
      if (err !== NEED_MORE) throw problem(err);
      this.pos = this.mark;
    }
  }

  /** Reports the whole document parsed, then 100% (the parser's last step). */
  protected finishProgress(message: string): void {
    this.progress.update(this.source.consumed, 'parsed');
    this.progress.finish(message);
  }

  /** Throws ABORTED when the caller's signal fired. */
  protected checkAbort(): void {
    throwIfAborted(this.windowOpts.signal, `Loading ${this.windowOpts.file} was cancelled; nothing was changed.`);
  }

  /** Feeds the bytes up to window offset `rel` (bounded by the hash limit) to the hash. */
  protected hashUpTo(rel: number): void {
    if (!this.hash) return;
    let lim = this.base + rel;
    if (this.hashLimit >= 0 && lim > this.hashLimit) lim = this.hashLimit;
    if (lim > this.hashedTo) {
      this.hash.update(this.buf.subarray(this.hashedTo - this.base, lim - this.base));
      this.hashedTo = lim;
    }
  }

  /** The digest of everything hashed (call once, at the end). */
  protected digest(): string | undefined {
    return this.hash?.digest('hex');
  }

  /** Drops committed bytes, grows the window if one unit fills most of it, and reads more. */
  protected async refill(): Promise<void> {
    // Reported here, once the previous window was parsed: a parser that learns the entry count from
    // the document's first window (countItems) has done so before the first report.
    if (this.source.consumed > 0) this.progress.update(this.source.consumed, 'reading');
    this.hashUpTo(this.mark);
    const keep = this.end - this.mark;
    const cap = this.buf.length - 1;
    if (keep > cap >> 1) {
      if (cap >= MAX_WINDOW_BYTES) {
        throw new CorruptionError({ file: this.windowOpts.file, section: 'entry', offset: this.base + this.mark }, `one entry, with the whitespace around it, runs over ${MAX_WINDOW_BYTES} bytes, which no writer produces`);
      }
      const grown = new Uint8Array(Math.min(cap * 2, MAX_WINDOW_BYTES) + 1);
      grown.set(this.buf.subarray(this.mark, this.end));
      this.buf = grown;
    } else if (this.mark > 0) {
      this.buf.copyWithin(0, this.mark, this.end);
    }
    this.base += this.mark;
    this.pos -= this.mark;
    this.mark = 0;
    this.end = keep;
    const room = this.buf.length - 1;
    // Fill the window: fewer, larger windows keep the per-window costs (and re-parsing) small.
    while (this.end < room) {
      const n = await this.source.read(this.buf, this.end, room - this.end);
      if (n === 0) {
        this.eof = true;
        break;
      }
      this.end += n;
    }
    this.buf[this.end] = 0;
  }
}
