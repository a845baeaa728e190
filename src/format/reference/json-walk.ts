/**
 * A streaming walk over a JSON document whose bulk is one array: either the document itself is that
 * array (`payloads.json`, an npy ids file) or one member of a top-level object holds it (`vectors` of
 * a reference-000 state or of `ann_metadata.json`). Every other member is small and handed over
 * parsed. Built on the JSON format's ByteWindow and tokenizer: a unit (a member, one element) that
 * runs past the window is parsed again after a refill, so handlers see each element exactly once
 * as a success.
 */
import { CorruptionError } from '../../errors.js';
import type { ProgressCallback } from '../../util/progress.js';
import { ByteWindow } from '../json/byte-window.js';
import { JsonSyntaxError, NEED_MORE, expected, lastStringWasPlain, parseJsonSlice, scanString, scanValue, skipWs, stringValue } from '../json/tokenizer.js';
import type { ByteSource } from '../stream/sources.js';

/** Options of {@link walkJson}. */
export interface WalkOptions {
  /** File named in errors. */
  file: string;
  /** Member of the top-level object that holds the bulk array; '' when the document is the array. */
  arrayMember: string;
  /** Initial window size in bytes (it grows when one unit needs more). */
  windowSize?: number;
  /** Total progress units (bytes of the file) for `onProgress`. */
  progressTotal?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** What the walk reports; `element` is the only required part. */
export interface WalkHandler {
  /**
   * A complete member other than the bulk array. `buf[start..end)` holds its raw `"name": value`
   * text (valid only during the call); `offset` is the file offset of `start`.
   */
  member?(name: string, value: unknown, buf: Uint8Array, start: number, end: number, offset: number): void;
  /** The bulk array's "[" was read. */
  arrayStart?(): void;
  /**
   * Parses element `index` at `buf[pos]` (no leading whitespace) and returns the position after
   * it. Throw NEED_MORE when it runs into `end`: it is called again for the same element with more
   * bytes, so nothing may be kept from a call that did not return.
   */
  element(buf: Uint8Array, pos: number, end: number, index: number, offset: number): number;
  /** The bulk array's "]" was read. */
  arrayEnd?(): void;
}

/** What a finished walk learned. */
export interface WalkResult {
  /** True when the bulk array was present. */
  sawArray: boolean;
  /** Elements in the bulk array. */
  count: number;
}

const S_START = 0;
const S_FIRST_MEMBER = 1;
const S_AFTER_MEMBER = 2;
const S_ARR_FIRST = 3;
const S_ARR_NEXT = 4;
const S_TRAILER = 5;

class Walker extends ByteWindow {
  private readonly seen = new Set<string>();
  private count = 0;
  private sawArray = false;
  private readonly isArray: boolean;

  constructor(source: ByteSource, private readonly o: WalkOptions, private readonly h: WalkHandler) {
    super(source, { file: o.file, verifyChecksum: false, windowSize: o.windowSize, progressTotal: o.progressTotal, onProgress: o.onProgress, signal: o.signal });
    this.isArray = o.arrayMember === '';
  }

  async run(): Promise<WalkResult> {
    for (;;) {
      this.checkAbort();
      await this.refill();
      this.parseAvailable();
      if (this.eof) break;
    }
    if (this.state !== S_TRAILER) throw this.corrupt(this.end, this.pathHere(), 'the document ends early (the file is truncated)');
    return { sawArray: this.sawArray, count: this.count };
  }

  private parseAvailable(): void {
    this.parseResumable(
      () => this.step(),
      (err) => (err instanceof JsonSyntaxError ? this.corrupt(err.pos, err.path || this.pathHere(), err.problem) : err),
    );
  }

  private corrupt(rel: number, section: string, problem: string): CorruptionError {
    return new CorruptionError({ file: this.o.file, section, offset: this.base + rel }, problem);
  }

  private pathHere(): string {
    if (this.state === S_ARR_FIRST || this.state === S_ARR_NEXT) return `${this.isArray ? '' : this.o.arrayMember}[${this.count}]`;
    return '$';
  }

  private afterArray(): number {
    return this.isArray ? S_TRAILER : S_AFTER_MEMBER;
  }

  private step(): void {
    const buf = this.buf;
    const end = this.end;
    for (;;) {
      let pos = skipWs(buf, this.pos);
      const c = buf[pos];
      switch (this.state) {
        case S_START: {
          pos = skipBom(buf, pos, this.base, end, this.isArray ? 'a JSON array' : 'a JSON object');
          const open = this.isArray ? 91 : 123;
          if (buf[pos] !== open) expected(buf, pos, end, this.isArray ? 'a JSON array' : 'a JSON object');
          if (this.isArray) this.openArray();
          this.commit(pos + 1, this.isArray ? S_ARR_FIRST : S_FIRST_MEMBER);
          break;
        }
        case S_FIRST_MEMBER:
          if (c === 125 /* } */) this.commit(pos + 1, S_TRAILER);
          else this.member(pos);
          break;
        case S_AFTER_MEMBER:
          if (c === 125 /* } */) this.commit(pos + 1, S_TRAILER);
          else if (c === 44 /* , */) this.member(skipWs(buf, pos + 1));
          else expected(buf, pos, end, '"," or "}" after a member');
          break;
        case S_ARR_FIRST:
          if (c === 93 /* ] */) this.closeArray(pos);
          else this.element(pos);
          break;
        case S_ARR_NEXT:
          if (c === 93 /* ] */) this.closeArray(pos);
          else if (c === 44 /* , */) this.element(skipWs(buf, pos + 1));
          else expected(buf, pos, end, '"," or "]" between elements');
          break;
        case S_TRAILER:
          if (pos < end) throw new JsonSyntaxError(pos, 'unexpected data after the end of the document');
          this.commit(end, S_TRAILER);
          return;
      }
      if (this.pos >= end) throw NEED_MORE;
    }
  }

  private openArray(): void {
    this.sawArray = true;
    this.h.arrayStart?.();
  }

  private closeArray(pos: number): void {
    this.h.arrayEnd?.();
    this.commit(pos + 1, this.afterArray());
  }

  private element(pos: number): void {
    const e = this.h.element(this.buf, pos, this.end, this.count, this.base + pos);
    this.count++;
    this.commit(e, S_ARR_NEXT);
  }

  private member(pos: number): void {
    const buf = this.buf;
    const end = this.end;
    if (buf[pos] !== 34 /* " */) expected(buf, pos, end, 'a member name');
    const keyEnd = scanString(buf, pos, end);
    const name = stringValue(buf, pos, keyEnd, lastStringWasPlain);
    let p = skipWs(buf, keyEnd);
    if (buf[p] !== 58 /* : */) expected(buf, p, end, '":"');
    p = skipWs(buf, p + 1);
    if (this.seen.has(name)) throw new JsonSyntaxError(pos, `member ${JSON.stringify(name)} appears twice`);
    if (!this.isArray && name === this.o.arrayMember) {
      if (buf[p] !== 91 /* [ */) {
        if (p >= end) throw NEED_MORE;
        throw new JsonSyntaxError(p, `"${name}" must be an array`).withPath(name);
      }
      this.seen.add(name);
      this.openArray();
      this.commit(p + 1, S_ARR_FIRST);
      return;
    }
    const valueEnd = scanValue(buf, p, end);
    const value = parseJsonSlice(buf, p, valueEnd, name);
    this.seen.add(name);
    this.h.member?.(name, value, buf, pos, valueEnd, this.base + pos);
    this.commit(valueEnd, S_AFTER_MEMBER);
  }
}

/**
 * Walks the document `source` yields, calling `handler` for its members and bulk-array elements.
 * Anything that is not well-formed JSON of the expected shape is a CorruptionError naming the file,
 * the JSON path and the byte offset (of the decompressed document).
 */
export function walkJson(source: ByteSource, options: WalkOptions, handler: WalkHandler): Promise<WalkResult> {
  return new Walker(source, options, handler).run();
}

/**
 * Where a document's first value starts when `pos` is the first non-blank byte of the window: past a
 * UTF-8 BOM at the very start of the document. NEED_MORE while the BOM is incomplete; a broken one
 * is reported as not being `what`.
 */
export function skipBom(buf: Uint8Array, pos: number, base: number, end: number, what: string): number {
  if (base + pos !== 0 || buf[pos] !== 0xef) return pos;
  if (pos + 3 > end) throw NEED_MORE;
  if (buf[1] !== 0xbb || buf[2] !== 0xbf) expected(buf, 0, end, what);
  return skipWs(buf, 3);
}
