/**
 * Record CRCs checked on the helper thread ahead of the scan. The read window's buffers are shared
 * memory; for each new window the scan asks the thread to walk its records (verifyRecordCrcs) and
 * then skips the CRC of every record the thread has counted good. Each window gets a progress word of
 * its own, never reused, and the window withdraws it before any byte of its buffer is overwritten, so
 * a count can only ever describe the bytes the scan is reading. The scan computes every CRC not
 * counted (the thread is late, busy, gone, or stopped at a bad record), so results never depend on it.
 */
import { checkRecordCrcsAhead } from '../util/hash-worker.js';
import { WITHDRAWN } from '../util/framed-crc.js';
import { RECORD_FRAMING } from './record-decode.js';

/** Progress words per shared array (a read of 64 GiB in 4 MiB windows uses ~16 of them). */
const WORDS = 1024;

/** The CRC checks requested for a read window's buffers (see the module comment). */
export class CrcAhead {
  private words = new Int32Array(new SharedArrayBuffer(4 * WORDS));
  private used = 0;
  /** The progress word of the window being scanned, when the thread was asked to check it. */
  private current: Int32Array | undefined;
  private currentWord = 0;
  /** Per buffer, the progress word of the window it holds. */
  private readonly held = new Map<ArrayBufferLike, { words: Int32Array; word: number }>();
  /** Records whose CRC the scan did not compute (for tests and diagnostics). */
  skipped = 0;

  /** Must be called before any byte of `buffer` changes: its window's count stops being trusted. */
  withdraw(buffer: ArrayBufferLike): void {
    const h = this.held.get(buffer);
    if (!h) return;
    Atomics.store(h.words, h.word, WITHDRAWN);
    this.held.delete(buffer);
    if (h.words === this.current && h.word === this.currentWord) this.current = undefined;
  }

  /**
   * A new window `buf` (unchanged until withdrawn) whose records start at `from`: asks the thread to
   * check them. Record k of the window (0 = the one at `from`) is then {@link good} once counted.
   */
  begin(buf: Buffer, from: number): void {
    this.current = undefined;
    if (!(buf.buffer instanceof SharedArrayBuffer) || from >= buf.length) return;
    if (this.used === WORDS) {
      this.words = new Int32Array(new SharedArrayBuffer(4 * WORDS));
      this.used = 0;
    }
    const word = this.used++;
    if (!checkRecordCrcsAhead(buf, from, buf.length, RECORD_FRAMING, this.words, word)) return;
    // The window withdrew this buffer's previous word before writing into it.
    this.held.set(buf.buffer, { words: this.words, word });
    this.current = this.words;
    this.currentWord = word;
  }

  /** True when record `k` of the current window matched its CRC on the helper thread. */
  good(k: number): boolean {
    const c = this.current;
    if (c === undefined || Atomics.load(c, this.currentWord) <= k) return false;
    this.skipped++;
    return true;
  }
}
