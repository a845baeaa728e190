/**
 * Streaming readers of the npy sidecars. Both work a window at a time and decode all complete
 * items of a window with one UTF-8 decode (plus one JSON.parse for ids): per-item decoding costs
 * more than the parse itself. When a window's items fail as a block, they are parsed again one by
 * one to report the exact item, line and byte offset.
 */
import { CorruptionError } from '../../errors.js';
import type { Id, Metadata } from '../../engine/types.js';
import type { ProgressCallback } from '../../util/progress.js';
import { isPlainObject } from '../../util/msgpack.js';
import { ByteWindow } from '../json/byte-window.js';
import { JsonSyntaxError, NEED_MORE, expected, parseJsonSlice, scanValue, skipWs } from '../json/tokenizer.js';
import { duplicateIdError } from '../reference/files.js';
import { skipBom } from '../reference/json-walk.js';
import { lastId, readId } from '../reference/values.js';
import type { ByteSource } from '../stream/sources.js';
import { windowSizeFor } from '../stream/window.js';
import { parseJsonText } from '../../util/json-text.js';

/** Options of the sidecar readers. */
export interface SidecarReadOptions {
  file: string;
  size: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Initial window size (tests use a tiny one so that items straddle windows). */
  windowSize?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

const S_START = 0;
const S_FIRST = 1;
const S_NEXT = 2;
const S_TRAILER = 3;

/** The ids file: `[id, id, ...]`, each a valid id, all distinct. */
class IdsReader extends ByteWindow {
  readonly ids: Id[] = [];
  private readonly firstAt = new Map<Id, number>();

  constructor(source: ByteSource, private readonly o: SidecarReadOptions) {
    super(source, { file: o.file, verifyChecksum: false, windowSize: o.windowSize ?? windowSizeFor(o.size), progressTotal: o.size, onProgress: o.onProgress, signal: o.signal });
  }

  async run(): Promise<Id[]> {
    for (;;) {
      this.checkAbort();
      await this.refill();
      this.parseResumable(() => this.step(), (err) => this.corruption(err));
      if (this.eof) break;
    }
    if (this.state !== S_TRAILER) throw new CorruptionError({ file: this.o.file, section: `[${this.ids.length}]`, offset: this.base + this.end }, 'the document ends early (the file is truncated)');
    return this.ids;
  }

  private corruption(err: unknown): unknown {
    if (!(err instanceof JsonSyntaxError)) return err;
    return new CorruptionError({ file: this.o.file, section: err.path || `[${this.ids.length}]`, offset: this.base + err.pos }, err.problem);
  }

  private step(): void {
    const buf = this.buf;
    const end = this.end;
    for (;;) {
      let pos = skipWs(buf, this.pos);
      const c = buf[pos];
      if (this.state === S_START) {
        pos = skipBom(buf, pos, this.base, end, 'a JSON array of ids');
        if (buf[pos] !== 91 /* [ */) expected(buf, pos, end, 'a JSON array of ids');
        this.commit(pos + 1, S_FIRST);
      } else if (this.state === S_TRAILER) {
        if (pos < end) throw new JsonSyntaxError(pos, 'unexpected data after the end of the array').withPath('$');
        this.commit(end, S_TRAILER);
        return;
      } else if (c === 93 /* ] */) {
        this.commit(pos + 1, S_TRAILER);
      } else if (this.state === S_FIRST) {
        this.elements(pos);
      } else if (c === 44 /* , */) {
        this.elements(skipWs(buf, pos + 1));
      } else {
        expected(buf, pos, end, '"," or "]" between ids');
      }
      if (this.pos >= end) throw NEED_MORE;
    }
  }

  /** Takes every complete element from `start` on (at least one, else NEED_MORE) and commits after the last. */
  private elements(start: number): void {
    const buf = this.buf;
    const end = this.end;
    let p = start;
    let lastEnd = -1;
    let n = 0;
    try {
      for (;;) {
        const e = scanValue(buf, p, end);
        const q = skipWs(buf, e);
        if (q >= end) break;
        n++;
        lastEnd = e;
        if (buf[q] !== 44 /* , */) break;
        p = skipWs(buf, q + 1);
      }
    } catch (err) {
      if (err !== NEED_MORE) {
        if (err instanceof JsonSyntaxError) err.path ||= `[${this.ids.length + n}]`;
        throw err;
      }
    }
    if (n === 0) throw NEED_MORE;
    this.take(start, lastEnd, n);
    this.commit(lastEnd, S_NEXT);
  }

  /** Adds the `n` elements in `buf[start..stop)`, parsed as one block. */
  private take(start: number, stop: number, n: number): void {
    let values: unknown;
    try {
      values = parseJsonText(`[${utf8.decode(this.buf.subarray(start, stop))}]`, 1);
    } catch {
      values = undefined;
    }
    const first = this.ids.length;
    if (Array.isArray(values) && values.length === n && this.takeValues(values)) return;
    // Undo the block and take the same elements one at a time: exact rules, errors that point at the element.
    for (let k = first; k < this.ids.length; k++) this.firstAt.delete(this.ids[k]);
    this.ids.length = first;
    this.takeOneByOne(start, n);
  }

  /** Adds parsed ids; false (possibly after adding some) at the first that needs the exact path. */
  private takeValues(values: unknown[]): boolean {
    for (let i = 0; i < values.length; i++) {
      let id = values[i];
      if (typeof id === 'number') {
        if (!Number.isSafeInteger(id)) return false;
        if (id === 0) id = 0; // -0 and 0 are one id
      } else if (typeof id !== 'string' || id.length === 0 || id.length > 21845 || /\p{Cs}/u.test(id)) {
        // Rare shapes (long strings, surrogates, other types) get the per-element rules and error.
        return false;
      }
      if (this.firstAt.has(id as Id)) return false;
      this.firstAt.set(id as Id, this.ids.length);
      this.ids.push(id as Id);
    }
    return true;
  }

  /** Parses elements one at a time from `start`: exact rules, and errors that point at the element. */
  private takeOneByOne(start: number, n: number): void {
    const buf = this.buf;
    let p = start;
    for (let i = 0; i < n; i++) {
      const index = this.ids.length;
      let e: number;
      try {
        e = readId(buf, p, this.end);
      } catch (err) {
        if (err instanceof JsonSyntaxError) err.path ||= `[${index}]`;
        throw err;
      }
      const id = lastId;
      const seen = this.firstAt.get(id);
      if (seen !== undefined) throw duplicateIdError(this.o.file, `[${index}]`, id, `[${seen}] (row ${seen})`, `[${index}] (row ${index})`, this.base + p);
      this.firstAt.set(id, index);
      this.ids.push(id);
      p = skipWs(buf, skipWs(buf, e) + 1);
    }
  }
}

/** Reads the ids file: a JSON array of valid, distinct ids. */
export function readIdsFile(source: ByteSource, o: SidecarReadOptions): Promise<Id[]> {
  return new IdsReader(source, o).run();
}

/** The metadata file, a window of complete lines at a time. */
class MetadataReader extends ByteWindow {
  readonly out: (Metadata | undefined)[] = [];

  constructor(source: ByteSource, private readonly rows: number, private readonly o: SidecarReadOptions) {
    super(source, { file: o.file, verifyChecksum: false, windowSize: o.windowSize ?? windowSizeFor(o.size), progressTotal: o.size, onProgress: o.onProgress, signal: o.signal });
  }

  async run(): Promise<(Metadata | undefined)[]> {
    for (;;) {
      this.checkAbort();
      await this.refill();
      const nl = this.buf.subarray(this.pos, this.end).lastIndexOf(10);
      if (nl >= 0) this.block(this.pos, this.pos + nl);
      if (this.eof) {
        if (this.pos < this.end) this.block(this.pos, this.end);
        break;
      }
    }
    if (this.out.length !== this.rows) {
      throw new CorruptionError({ file: this.o.file, section: `line ${this.out.length + 1}` }, `the file has ${this.out.length} lines for the ${this.rows} vectors of the .npy file (one line per vector)`);
    }
    return this.out;
  }

  /** Takes the lines of `buf[start..stop)` (`stop` is a newline or the end of the file). */
  private block(start: number, stop: number): void {
    let text: string | undefined;
    try {
      text = utf8.decode(this.buf.subarray(start, stop));
    } catch {
      text = undefined;
    }
    if (text === undefined) this.lineByLine(start, stop);
    else {
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        let value: unknown;
        try {
          value = parseJsonText(lines[i]);
        } catch {
          this.lineByLine(this.lineStart(start, i), stop);
          break;
        }
        this.add(value, start, i);
      }
    }
    this.commit(Math.min(stop + 1, this.end));
  }

  /** Window position where line `i` of the block at `start` begins (only needed for errors). */
  private lineStart(start: number, i: number): number {
    let p = start;
    for (let k = 0; k < i; k++) p = this.buf.indexOf(10, p) + 1;
    return p;
  }

  private fail(line: number, rel: number, problem: string): CorruptionError {
    return new CorruptionError({ file: this.o.file, section: `line ${line + 1}`, offset: this.base + rel }, problem);
  }

  private add(value: unknown, start: number, i: number): void {
    const n = this.out.length;
    if (n >= this.rows) throw this.fail(n, this.lineStart(start, i), `the file has more lines than the ${this.rows} vectors of the .npy file`);
    if (value === null) this.out.push(undefined);
    else if (isPlainObject(value)) this.out.push(value);
    else throw this.fail(n, this.lineStart(start, i), `metadata must be a JSON object or null, not ${Array.isArray(value) ? 'an array' : typeof value}`);
  }

  /** Parses lines from `start` one at a time until the failing one, which is reported exactly. */
  private lineByLine(start: number, stop: number): void {
    const buf = this.buf;
    let p = start;
    while (p <= stop) {
      const nl = buf.subarray(p, stop).indexOf(10);
      const e = nl < 0 ? stop : p + nl;
      let value: unknown;
      try {
        value = parseJsonSlice(buf, p, e);
      } catch (err) {
        const blank = buf.subarray(p, e).every((c) => c === 32 || c === 9 || c === 13);
        throw this.fail(this.out.length, p, blank ? 'the line is empty; every vector needs a line (null when it has no metadata)' : err instanceof JsonSyntaxError ? err.problem : String(err));
      }
      this.add(value, p, 0);
      p = e + 1;
    }
  }
}

/**
 * Reads the metadata file: exactly `rows` lines, each a JSON object or null. A blank line, a value
 * of another type or a line count other than `rows` is a CorruptionError naming the line.
 */
export function readMetadataFile(source: ByteSource, rows: number, o: SidecarReadOptions): Promise<(Metadata | undefined)[]> {
  return new MetadataReader(source, rows, o).run();
}
