/**
 * The reference-000 checksum: SHA-256 (hex) of `JSON.stringify(state)` without its "checksum"
 * member, compact, members in file order. A file the reference wrote (pretty with indent 2, or
 * compact when compressed) is that text plus whitespace, so the fast way to verify is to hash the
 * document with whitespace outside strings removed; the entry parser echoes each token it reads
 * into the stage (one extra store per byte instead of a second pass over the text). Only when that
 * does not match is the document re-read and re-serialised value by value (files re-saved by other
 * tools: other number spellings, other string escapes), to tell such a file from a damaged one.
 */
import { createHash, type Hash } from 'node:crypto';

const STAGE = 1 << 20;

/** Accumulates canonical document text into a SHA-256. */
export class CanonicalHash {
  private readonly hash: Hash = createHash('sha256');
  private stage = Buffer.allocUnsafe(STAGE);
  private used = 0;

  /** Adds text that is already canonical. */
  text(s: string): void {
    if (this.used + s.length * 3 > this.stage.length) this.flush(s.length * 3);
    this.used += this.stage.write(s, this.used, 'utf8');
  }

  /**
   * Makes room for `n` more bytes now, so that nothing staged after this call is hashed before the
   * next reserve: a unit added after it can be taken back with {@link rewind}.
   */
  reserve(n: number): void {
    if (this.used + n > this.stage.length) this.flush(n);
  }

  /** The staging position, for {@link rewind}. */
  get mark(): number {
    return this.used;
  }

  /** Drops what was added since `mark` (a unit that has to be parsed again). */
  rewind(mark: number): void {
    this.used = mark;
  }

  /** Adds one byte (room reserved by the caller). */
  byte(c: number): void {
    this.stage[this.used++] = c;
  }

  /** Adds `buf[start..end)` as it is (room reserved by the caller): a token that is canonical already. */
  copy(buf: Uint8Array, start: number, end: number): void {
    const out = this.stage;
    let at = this.used;
    for (let i = start; i < end; i++) out[at++] = buf[i];
    this.used = at;
  }

  /** Adds `buf[start..end)` (whole JSON values, so it starts and ends outside strings) minus whitespace outside strings. */
  stripped(buf: Uint8Array, start: number, end: number): void {
    this.reserve(end - start);
    const out = this.stage;
    let at = this.used;
    let inString = false;
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (inString) {
        out[at++] = c;
        if (c === 92 /* \ */) out[at++] = buf[++i];
        else if (c === 34 /* " */) inString = false;
      } else if (c === 34) {
        inString = true;
        out[at++] = c;
      } else if (c !== 32 && c !== 10 && c !== 13 && c !== 9) {
        out[at++] = c;
      }
    }
    this.used = at;
  }

  /** Feeds the staged bytes to the hash and makes room for `need` more. */
  private flush(need: number): void {
    if (this.used > 0) this.hash.update(this.stage.subarray(0, this.used));
    this.used = 0;
    if (need > this.stage.length) this.stage = Buffer.allocUnsafe(need);
  }

  /** The hex digest of everything added (call once). */
  digest(): string {
    this.flush(0);
    return this.hash.digest('hex');
  }
}
